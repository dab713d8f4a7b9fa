// The supervisor's own resource bounds (issue 7 item 4), worst cases through the real `tooljail
// serve`: its memory (VmRSS/VmHWM) and descriptors (/proc/<pid>/fd) stay within what
// docs/BOUNDS.md derives from the configuration, whatever clients send or children print. The
// margins are generous (other work shares the machine) but each is far below what the same load
// would cost without the bound.
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace {

using nlohmann::json;
using tjtest::kMiB;
using tjtest::ServeProcess;

// Slack for allocator and thread-stack noise on top of each derived bound.
constexpr uint64_t kSlack = 24 * kMiB;

// A python snippet that writes mib MiB to stdout and to stderr, in 1 MiB writes.
std::string spew(int mib) {
    return "import os\nb = b'x' * (1 << 20)\nfor _ in range(" + std::to_string(mib) +
           "):\n    os.write(1, b)\n    os.write(2, b)\n";
}

// Every calls with ids [first, first+n) answered.
void await_all(ServeProcess& s, int first, int n) {
    for (int id = first; id < first + n; ++id) s.response(id, std::chrono::seconds(120));
}

}  // namespace

TEST_CASE("bounds: a stdio line without end is dropped at the 4 MiB line cap",
          "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-line-");
    ServeProcess s({"--workspace", dir.path(), "--records", dir.path() + "/store"});
    s.initialize();
    auto before = tjtest::proc_usage(s.pid());
    // 256 MiB without a newline, then a ping: the reader keeps at most the cap of it.
    std::thread writer =
        s.send_in_background(std::string(256 * kMiB, 'x') + "\n" +
                             R"({"jsonrpc":"2.0","id":"after","method":"ping"})" + "\n");
    auto pong = s.response("after", std::chrono::seconds(120));
    writer.join();
    CHECK(pong["result"] == json::object());
    CHECK(s.responses().at("null")["error"]["code"] == -32700);
    auto after = tjtest::proc_usage(s.pid());
    INFO("before: " << describe(before) << ", after: " << describe(after));
    // The line buffer: the cap plus one read, which std::string growth rounds up to twice that.
    CHECK(after.hwm < before.rss + 2 * 4 * kMiB + kSlack);
}

TEST_CASE("bounds: four parallel calls printing 64 MiB per stream hold only the output caps",
          "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-spew-");
    ServeProcess s({"--workspace", dir.path(), "--records", dir.path() + "/store"});
    s.initialize();
    auto before = tjtest::proc_usage(s.pid());
    for (int id = 1; id <= 4; ++id) s.call(id, "run_python", {{"code", spew(64)}});
    await_all(s, 1, 4);
    for (int id = 1; id <= 4; ++id) {
        const json& sc = s.responses().at(std::to_string(id))["result"]["structuredContent"];
        INFO(sc.dump().substr(0, 1000));
        CHECK(sc["status"] == "success");
        CHECK(sc["stdout_truncated"] == true);
    }
    auto after = tjtest::proc_usage(s.pid());
    INFO("before: " << describe(before) << ", after: " << describe(after));
    // max_parallel x 4 x (stdout cap + stderr cap) (docs/BOUNDS.md), against 512 MiB written.
    CHECK(after.hwm < before.rss + 4 * 4 * 2 * kMiB + kSlack);
}

TEST_CASE("bounds: the kept-output archive stops growing at 64 MiB", "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-archive-");
    ServeProcess s({"--workspace", dir.path(), "--records", dir.path() + "/store"});
    s.initialize();
    auto before = tjtest::proc_usage(s.pid());
    // 64 runs of 1 MiB + 1 MiB captured: 128 MiB offered to a 64 MiB archive.
    for (int round = 0; round < 16; ++round) {
        for (int i = 1; i <= 4; ++i) s.call(round * 4 + i, "run_python", {{"code", spew(1)}});
        await_all(s, round * 4 + 1, 4);
    }
    auto after = tjtest::proc_usage(s.pid());
    INFO("before: " << describe(before) << ", after: " << describe(after));
    // The archive's 64 MiB plus the running calls' term, against 128 MiB kept without the cap.
    CHECK(after.rss < before.rss + 64 * kMiB + 4 * 4 * 2 * kMiB + kSlack);
    // The oldest run's output was evicted, the newest is still readable.
    s.send({{"jsonrpc", "2.0"},
            {"id", "old"},
            {"method", "resources/read"},
            {"params",
             {{"uri", s.responses().at("1")["result"]["structuredContent"]["stdout_resource"]}}}});
    CHECK(s.response("old").contains("error"));
    s.send({{"jsonrpc", "2.0"},
            {"id", "new"},
            {"method", "resources/read"},
            {"params",
             {{"uri", s.responses().at("64")["result"]["structuredContent"]["stdout_resource"]}}}});
    CHECK(s.response("new").contains("result"));
}

TEST_CASE("bounds: thousands of pipelined calls are refused beyond the queue, fds stay bounded",
          "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-flood-");
    ServeProcess s({"--workspace", dir.path(), "--records", dir.path() + "/store", "--max-parallel",
                    "2", "--max-queued", "8"});
    s.initialize();
    // Let the warm pool fill, so its descriptors are part of the baseline.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto before = tjtest::proc_usage(s.pid());
    constexpr int kCalls = 2000;
    std::string flood;
    for (int id = 1; id <= kCalls; ++id)
        flood += json({{"jsonrpc", "2.0"},
                       {"id", id},
                       {"method", "tools/call"},
                       {"params",
                        {{"name", "run_python"},
                         {"arguments", {{"code", "import time\ntime.sleep(3)"}}}}}})
                     .dump() +
                 "\n";
    std::thread writer = s.send_in_background(std::move(flood));
    tjtest::ProcUsage peak = before;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (s.responses().size() < kCalls + 1 && std::chrono::steady_clock::now() < deadline) {
        REQUIRE(s.pump(50));
        tjtest::take_peak(peak, tjtest::proc_usage(s.pid()));
    }
    writer.join();
    REQUIRE(s.responses().size() == kCalls + 1);  // + initialize: every call answered once
    int ran = 0, busy = 0;
    for (int id = 1; id <= kCalls; ++id) {
        const json& r = s.responses().at(std::to_string(id));
        if (r.contains("error") && r["error"]["code"] == -32001) {
            CHECK(r["error"]["data"]["code"] == "RATE_LIMITED");
            ++busy;
        } else if (r.contains("result") && r["result"]["isError"] == false) {
            ++ran;
        }
    }
    CHECK(ran + busy == kCalls);
    CHECK(ran >= 10);             // 2 running + 8 queued at least
    CHECK(busy >= kCalls - 100);  // the rest refused at once, never buffered
    INFO("before: " << describe(before) << ", peak: " << describe(peak));
    // Per running call: cancel eventfd, pidfd, stdout/stderr/stdin/report pipes, timerfds and
    // cgroup files (<= 16); per queued call its eventfd; a little for the pool's refills (the
    // pool was full at the baseline). 2000 calls held at once would need 2000 or more.
    CHECK(peak.fds <= before.fds + 2 * 16 + 8 + 24);
    CHECK(peak.hwm < before.rss + 4 * kMiB + kSlack);
}

TEST_CASE("bounds: calls queued behind slow ones cost their text, not a tree 40 times larger",
          "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-queue-");
    ServeProcess s({"--workspace", dir.path(), "--records", dir.path() + "/store"});
    s.initialize();
    auto before = tjtest::proc_usage(s.pid());
    // Four calls occupy the four workers; 64 more would wait in the queue.
    for (int id = 1; id <= 4; ++id)
        s.call(id, "run_python", {{"code", "import time\ntime.sleep(60)"}});
    // Each a line just under the 4 MiB cap of empty objects: parsed, one would take ~160 MiB.
    std::string objects;
    while (objects.size() < 4 * kMiB - 200) objects += "{},";
    objects.pop_back();
    std::string flood;
    for (int id = 100; id < 164; ++id)
        flood += R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                 R"(,"method":"tools/call","params":{"name":"run_python","arguments":{"code":[)" +
                 objects + "]}}}\n";
    std::thread writer = s.send_in_background(std::move(flood));
    writer.join();
    s.send({{"jsonrpc", "2.0"}, {"id", "after"}, {"method", "ping"}});
    CHECK(s.response("after", std::chrono::seconds(120))["result"] == json::object());
    // Valid JSON, so each is answered with its own id (issue 16 item 9), its envelope read
    // without building the tree.
    for (int id = 100; id < 164; ++id) {
        const json& refused = s.responses().at(std::to_string(id));
        CHECK(refused["error"]["code"] == -32602);
        CHECK(refused["error"]["message"] == "message holds more than 10000 JSON values");
    }
    auto after = tjtest::proc_usage(s.pid());
    INFO("before: " << describe(before) << ", after: " << describe(after));
    CHECK(after.hwm < before.rss + 2 * 4 * kMiB + kSlack);
    s.close_stdin();  // cancels the four sleepers
    CHECK(s.wait_exit() == 0);
}
