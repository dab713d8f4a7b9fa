// Issue 16 item 5: read_file checks its path on the host, but what it reads must be decided
// inside the sandbox, relative to the workspace, in the same operation as the open. A host
// thread swaps a directory of the workspace with a symlink to /etc (renameat2 RENAME_EXCHANGE)
// as fast as it can while 300 read_file calls of a file in that directory run through
// `tooljail serve`: each call reads the workspace's file or fails, and none reads the sandbox's
// own /etc/passwd (the generated one, whose first line is root's).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kCalls = 300;
constexpr int kInFlight = 4;  // calls sent before their responses are read

}  // namespace

TEST_CASE("read_file race: a directory swapped on the host never leads outside the workspace",
          "[read_file][integration]") {
    tjtest::TempDir dir("tooljail-read-race-");
    const std::string ws = dir.path() + "/ws";
    fs::create_directories(ws + "/d");
    fs::permissions(ws, fs::perms(0755));
    fs::permissions(ws + "/d", fs::perms(0755));
    tjtest::write_host_file(ws + "/d/passwd", "inside the workspace\n", 0644);
    fs::create_symlink("/etc", ws + "/l");

    tjtest::ServeProcess s({"--workspace", ws, "--records", dir.path() + "/store"});
    s.initialize();

    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread swapper([&] {
        while (!stop.load()) {
            if (syscall(SYS_renameat2, AT_FDCWD, (ws + "/d").c_str(), AT_FDCWD, (ws + "/l").c_str(),
                        RENAME_EXCHANGE) == 0)
                ++swaps;
        }
    });

    int read_inside = 0, refused = 0, escaped = 0;
    std::string first_escape;
    for (int sent = 0, done = 0; done < kCalls;) {
        while (sent < kCalls && sent - done < kInFlight) {
            s.call(++sent, "read_file", {{"path", "d/passwd"}});
        }
        json r = s.response(++done);
        const json& result = r.value("result", json::object());
        std::string out = result.value("structuredContent", json::object()).value("stdout", "");
        if (out.find("root:") != std::string::npos) {
            ++escaped;
            if (first_escape.empty()) first_escape = r.dump();
        } else if (out.find("inside the workspace") != std::string::npos) {
            ++read_inside;
        } else {
            ++refused;
        }
    }
    stop = true;
    swapper.join();

    INFO("swaps=" << swaps.load() << " inside=" << read_inside << " refused=" << refused
                  << " escaped=" << escaped << "\nfirst escape: " << first_escape);
    CHECK(escaped == 0);
    CHECK(read_inside > 0);  // the race ran while the file was readable, not only refused
    CHECK(swaps.load() > kCalls);
}
