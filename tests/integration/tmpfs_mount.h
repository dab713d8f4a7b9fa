// A tmpfs mounted for one test, for the full-disk and read-only-store cases (root only; without
// root or mount rights the test is skipped, never passed). Unmounted lazily on destruction.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/skip.h"

namespace tjtest {

class TmpfsMount {
public:
    TmpfsMount(const std::string& dir, const std::string& options) : dir_(dir) {
        if (geteuid() != 0) skip_test("mounting a tmpfs needs root");
        if (mount("tooljail-test", dir.c_str(), "tmpfs", 0, options.c_str()) != 0)
            skip_test(std::string("mount tmpfs: ") + strerror(errno));
    }
    ~TmpfsMount() { umount2(dir_.c_str(), MNT_DETACH); }
    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;
    void remount(unsigned long flags) {
        REQUIRE(mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | flags, nullptr) == 0);
    }

private:
    std::string dir_;
};

}  // namespace tjtest
