// Issue 16 item 6: what a program inside a sandbox learns about the host from the mount table
// (docs/ARCHITECTURE.md, "What a sandbox learns about the host"). /proc/self/mountinfo names each
// mount's root as a path within its filesystem, so the workspace's mount shows where the
// workspace lies in its host filesystem, and the filesystem's device; tooljail cannot change
// that for a bind mount (the workspace is already bound from a detached clone). What it can and
// must keep out: every other host path, the supervisor's own directories among them. A
// workspace at the root of a filesystem of its own shows no host path at all.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/skip.h"

using sandbox::Outcome;
using tjtest::require_ran;
using tjtest::SandboxFixture;

namespace {

struct MountLine {
    std::string root;         // field 4: the mount's root within its filesystem
    std::string mount_point;  // field 5
    std::string text;         // the whole line
};

std::vector<MountLine> mountinfo_of(const Outcome& o) {
    std::vector<MountLine> out;
    for (const std::string& line : tjtest::split_lines(o.out.data)) {
        std::istringstream fields(line);
        std::string id, parent, devno;
        MountLine m;
        fields >> id >> parent >> devno >> m.root >> m.mount_point;
        m.text = line;
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST_CASE_METHOD(SandboxFixture,
                 "host view: only the workspace's own mount names a host path, its own",
                 "[containment][host_view][integration]") {
    auto sb = prepare();
    Outcome o = tjtest::run_probe(*sb, {"mounts"});
    require_ran(o);
    auto lines = mountinfo_of(o);
    const std::string runtime_dir = tjtest::shared_host()->runtime_dir();
    const std::string ws = std::filesystem::canonical(workspace()).string();
    int workspace_lines = 0;
    for (const MountLine& m : lines) {
        INFO("mountinfo: " << m.text);
        // The supervisor's runtime directory (the staging root lives there) never shows.
        CHECK(m.text.find(runtime_dir) == std::string::npos);
        if (m.mount_point == "/workspace") {
            ++workspace_lines;
            // Documented: the workspace's path within its host filesystem (a suffix of its
            // host path: all of it when the filesystem is the root one).
            CHECK(ws.size() >= m.root.size());
            CHECK(ws.compare(ws.size() - m.root.size(), m.root.size(), m.root) == 0);
            continue;
        }
        // No other mount mentions the workspace's host location.
        CHECK(m.text.find(ws) == std::string::npos);
        // Every other root names nothing beyond where the mount is: "/" (the generated tmpfs
        // mounts, procfs), or the tail of its own mount point (/usr, /etc/ld.so.cache, /null
        // of /dev/null in the host's devtmpfs, /sys of /proc/sys).
        const bool tail =
            m.mount_point.size() >= m.root.size() &&
            m.mount_point.compare(m.mount_point.size() - m.root.size(), m.root.size(), m.root) == 0;
        CHECK((m.root == "/" || tail));
    }
    CHECK(workspace_lines == 1);
}

TEST_CASE_METHOD(SandboxFixture,
                 "host view: a workspace at the root of its own filesystem shows no host path",
                 "[containment][host_view][integration]") {
    // The operator's remedy (docs/ARCHITECTURE.md): give the workspace a filesystem of its own.
    if (geteuid() != 0) skip_test("mounting a tmpfs needs root");
    tjtest::TempDir dir("tooljail-hostview-");
    const std::string ws = dir.path() + "/ws";
    REQUIRE(std::filesystem::create_directory(ws));
    if (mount("tooljail-hostview", ws.c_str(), "tmpfs", 0, "mode=0755") != 0)
        skip_test(std::string("mount tmpfs: ") + strerror(errno));
    struct Unmount {
        std::string path;
        ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
    } unmount{ws};
    std::filesystem::copy_file(workspace() + "/tooljail-probe", ws + "/tooljail-probe");
    config.workspace = ws;
    auto sb = prepare();
    Outcome o = tjtest::run_probe(*sb, {"mounts"});
    require_ran(o);
    bool found = false;
    for (const MountLine& m : mountinfo_of(o)) {
        INFO("mountinfo: " << m.text);
        CHECK(m.text.find(dir.path()) == std::string::npos);
        if (m.mount_point == "/workspace") {
            found = true;
            CHECK(m.root == "/");
        }
    }
    CHECK(found);
}
