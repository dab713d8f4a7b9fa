// Fault injection (issue 7 item 3) through the real binary and real sandboxes: hostile children,
// argv and environment at the kernel's limits, a workspace that is a symlink, read-only or
// deleted while serving, a record store that is full or read-only, and a client that goes away
// mid-call. docs/FAULTS.md maps every fault of the issue to the test that proves it.
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/skip.h"
#include "tests/integration/tmpfs_mount.h"
#include "tests/integration/tooljail_process.h"

namespace {

using nlohmann::json;
using tjtest::run_tooljail;
using tjtest::ServeProcess;
namespace fs = std::filesystem;

using tjtest::TmpfsMount;

// Waits up to 10 s for no host process to carry token in its argv.
bool none_left(const std::string& token) {
    for (int i = 0; i < 200 && !tjtest::host_pids_with(token).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return tjtest::host_pids_with(token).empty();
}

json records_of(const std::string& store) {
    auto listed = run_tooljail({"runs", "list", "--records", store, "--json", "--limit", "0"});
    INFO(listed.err);
    REQUIRE(listed.status == 0);
    return json::parse(listed.out);
}

void check_verifies(const std::string& store) {
    auto verify = run_tooljail({"runs", "verify", "--records", store});
    INFO(verify.out << verify.err);
    CHECK(verify.status == 0);
}

const json& error_of(const json& response) {
    INFO(response.dump());
    REQUIRE(response.contains("result"));
    return response.at("result").at("structuredContent").at("error");  // at(): a success throws
}

}  // namespace

// ---- hostile children -----------------------------------------------------------------------

TEST_CASE("faults: a child that ignores SIGTERM dies when tooljail is cancelled",
          "[faults][integration]") {
    tjtest::TempDir scratch("tooljail-faults-term-");
    std::string token = tjtest::unique_token("tooljail-faults-term");
    // Both shells ignore SIGTERM; the cancel must not depend on their cooperation.
    std::string script =
        "trap '' TERM; sh -c \"trap '' TERM; sleep 60; : " + token + "\" & wait; : " + token;
    auto started = std::chrono::steady_clock::now();
    std::thread canceller([&] {
        // tooljail's own argv carries the script too: wait for it and both shells.
        for (int i = 0; i < 200 && tjtest::host_pids_with("sleep 60; : " + token).size() < 3; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (pid_t pid : tjtest::host_pids_with(scratch.path() + "/store")) kill(pid, SIGTERM);
    });
    auto r = run_tooljail({"run", "--records", scratch.path() + "/store", "--no-workspace", "--",
                           "/bin/sh", "-c", script});
    canceller.join();
    INFO(r.err);
    CHECK(r.status == 128 + SIGTERM);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
    CHECK(none_left(token));
    auto records = records_of(scratch.path() + "/store");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["reason"] == "cancelled");
}

TEST_CASE("faults: a child that closes stdout early still has its stderr and exit reported",
          "[faults][integration]") {
    auto r = run_tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c",
                           "echo early; exec >&-; sleep 1; echo late >&2; exit 3"});
    CHECK(r.status == 3);
    CHECK(r.out == "early\n");
    CHECK(r.err.find("late\n") != std::string::npos);
}

TEST_CASE("faults: a setsid double-forked daemon does not outlive its run",
          "[faults][integration]") {
    std::string token = tjtest::unique_token("tooljail-faults-daemon");
    // setsid -f forks, the new session leader's shell forks sleep: a classic detached daemon
    // with its own session and no open stdio.
    auto r = run_tooljail(
        {"run", "--no-workspace", "--", "/bin/sh", "-c",
         "setsid -f sh -c 'sleep 60; : " + token + "' </dev/null >/dev/null 2>&1; echo detached"});
    CHECK(r.status == 0);
    CHECK(r.out == "detached\n");
    CHECK(none_left(token));
}

TEST_CASE("faults: a tight fork loop stops at the pids limit and the supervisor reports it",
          "[faults][integration]") {
    std::string token = tjtest::unique_token("tooljail-faults-forks");
    auto r = run_tooljail({"run", "--json", "--no-workspace", "--timeout", "5", "--", "/bin/sh",
                           "-c", "while :; do sh -c 'sleep 30; : " + token + "' & done"});
    INFO(r.err);
    CHECK(r.status == 123);  // a resource limit
    auto doc = json::parse(r.out);
    CHECK(doc["reason"] == "pids_limit");
    CHECK(doc["pids_limit_hits"].get<int>() > 0);
    CHECK(none_left(token));
}

TEST_CASE("faults: a tool's program that vanishes after start fails its calls, not the server",
          "[faults][integration]") {
    const char* source = TOOLJAIL_SOURCE_DIR;  // compiled in (tests/CMakeLists.txt)
    tjtest::TempDir dir("tooljail-faults-vanish-");
    const std::string ws = dir.path() + "/ws", tools = dir.path() + "/tools.d";
    fs::create_directory(ws);
    fs::permissions(ws, fs::perms(0755));
    fs::create_directory(tools);
    tjtest::write_host_file(ws + "/tool.sh", "#!/bin/sh\necho present\n", 0755);
    // The shipped git_status manifest (no arguments) pointed at a program in the workspace, which
    // the test can delete while the server runs, under the default policy (the git policy would
    // let only git execute).
    json manifest = json::parse(std::ifstream(std::string(source) + "/tools.d/git_status.json"));
    manifest["name"] = "workspace_tool";
    manifest["argv"] = {"/workspace/tool.sh"};
    manifest["policy"] = "default";
    tjtest::write_host_file(tools + "/workspace_tool.json", manifest.dump(), 0644);

    ServeProcess s({"--workspace", ws, "--tools-dir", tools, "--records", dir.path() + "/store"});
    s.initialize();
    s.call(1, "workspace_tool", json::object());
    CHECK(s.response(1)["result"]["structuredContent"]["stdout"] == "present\n");
    fs::remove(ws + "/tool.sh");
    s.call(2, "workspace_tool", json::object());
    auto response = s.response(2);
    INFO(response.dump());
    const json& gone = error_of(response);
    CHECK(gone["message"].get<std::string>().find("execve") != std::string::npos);
    CHECK(gone["message"].get<std::string>().find("ENOENT") != std::string::npos);
    s.send({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "ping"}});
    CHECK(s.response(3)["result"] == json::object());
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    auto records = records_of(dir.path() + "/store");
    REQUIRE(records.size() == 2);
    CHECK(records[1]["status"] == "error");
    check_verifies(dir.path() + "/store");
}

// ---- argv and environment at the kernel's limits ----------------------------------------------

TEST_CASE("faults: argv and environment at the kernel's limits pass through intact",
          "[faults][integration]") {
    // MAX_ARG_STRLEN is 32 pages (131072 bytes) including the NUL: the longest string is 131071.
    const std::string longest(131071, 'a');
    auto one =
        run_tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c", "echo ${#1}", "sh", longest});
    INFO(one.err);
    CHECK(one.status == 0);
    CHECK(one.out == "131071\n");

    // 15 such strings are 1.97 MB, just under ARG_MAX (a quarter of the 8 MiB stack rlimit):
    // tooljail's own execve admits them, and so does the sandbox's.
    std::vector<std::string> args{"run", "--no-workspace", "--", "/bin/sh", "-c", "echo $#", "sh"};
    args.insert(args.end(), 15, longest);
    auto many = run_tooljail(args, "", {"PATH=/usr/bin:/bin"});
    INFO(many.err);
    CHECK(many.status == 0);
    CHECK(many.out == "15\n");

    // The default policy passes TERM through: "TERM=" + 131066 bytes is the longest env string.
    auto env = run_tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c", "echo ${#TERM}"}, "",
                            {"TERM=" + std::string(131066, 'x')});
    INFO(env.err);
    CHECK(env.status == 0);
    CHECK(env.out == "131066\n");
}

TEST_CASE_METHOD(tjtest::SandboxFixture,
                 "faults: an argv beyond the kernel's limit fails at execve with E2BIG",
                 "[faults][integration]") {
    // tooljail run cannot be handed such an argv (the kernel refuses tooljail's own execve
    // first), but a library caller can: the launch must name E2BIG, not crash or hang.
    auto sb = prepare();
    for (auto argv : {std::vector<std::string>{"/bin/echo", std::string(131072, 'a')},
                      std::vector<std::string>(40, std::string(100000, 'b'))}) {
        argv[0] = "/bin/echo";
        sandbox::RunRequest request;
        request.argv = argv;
        sandbox::Outcome o = sandbox::run_once(*sb, request);
        TJ_SHOW(o);
        CHECK(o.reason == sandbox::Termination::SandboxError);
        CHECK(o.failed_step == sandbox::Step::Execve);
        CHECK(o.failed_errno == E2BIG);
    }
}

TEST_CASE("faults: over MCP the argument limits refuse an over-long argv first",
          "[faults][integration]") {
    tjtest::TempDir ws("tooljail-faults-ws-");
    tjtest::TempDir store("tooljail-faults-store-");
    ServeProcess s({"--workspace", ws.path(), "--records", store.path()});
    s.initialize();
    s.call(1, "run_command", {{"program", "echo"}, {"args", {std::string(131072, 'a')}}});
    CHECK(error_of(s.response(1))["code"] == "VALIDATION_ERROR");
    // The most the schema admits (64 values of 4096 bytes) runs.
    s.call(2, "run_command", {{"program", "echo"}, {"args", json(60, std::string(4096, 'c'))}});
    auto ok = s.response(2);
    INFO(ok.dump().substr(0, 2000));
    CHECK(ok["result"]["isError"] == false);
    CHECK(ok["result"]["structuredContent"]["status"] == "success");
}

// ---- the workspace ----------------------------------------------------------------------------

TEST_CASE("faults: a workspace given as a symlink is resolved once, at start",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-link-");
    fs::create_directory(dir.path() + "/real");
    fs::create_directory(dir.path() + "/other");
    tjtest::write_host_file(dir.path() + "/real/which", "real\n", 0644);
    tjtest::write_host_file(dir.path() + "/other/which", "other\n", 0644);
    fs::create_directory_symlink(dir.path() + "/real", dir.path() + "/link");

    auto r = run_tooljail({"run", "--json", "--records", dir.path() + "/store", "--workspace",
                           dir.path() + "/link", "--", "/bin/cat", "which"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(json::parse(r.out)["stdout"]["data"] == "real\n");
    auto records = records_of(dir.path() + "/store");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["workspace"] == dir.path() + "/real");  // the record names the real path

    // serve resolves it at start: retargeting the link later does not move the workspace.
    ServeProcess s({"--workspace", dir.path() + "/link", "--records", dir.path() + "/store"});
    s.initialize();
    fs::remove(dir.path() + "/link");
    fs::create_directory_symlink(dir.path() + "/other", dir.path() + "/link");
    s.call(1, "read_file", {{"path", "which"}});
    auto read = s.response(1);
    INFO(read.dump());
    std::string shown = read["result"]["structuredContent"]["stdout"];
    CHECK(shown.find("real") != std::string::npos);  // read_file numbers the lines
    CHECK(shown.find("other") == std::string::npos);
}

TEST_CASE("faults: a workspace on a read-only filesystem works as usual", "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-rofs-");
    TmpfsMount ro(dir.path(), "size=64k,mode=0755");
    tjtest::write_host_file(dir.path() + "/data.txt", "on a read-only fs\n", 0644);
    ro.remount(MS_RDONLY);
    auto r = run_tooljail({"run", "--workspace", dir.path(), "--", "/bin/sh", "-c",
                           "cat data.txt; echo x > new.txt"});
    CHECK(r.status != 0);  // writing is refused, by the sandbox's read-only bind as always
    CHECK(r.out == "on a read-only fs\n");
    CHECK(r.err.find("Read-only file system") != std::string::npos);
}

TEST_CASE("faults: a workspace deleted while serving fails later calls clearly, not the server",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-gone-");
    const std::string ws = dir.path() + "/ws";
    fs::create_directory(ws);
    fs::permissions(ws, fs::perms(0755));
    ServeProcess s({"--workspace", ws, "--records", dir.path() + "/store"});
    s.initialize();
    // Deleted mid-run: the running call keeps its mount and finishes normally.
    s.call(1, "run_python", {{"code", "import time\ntime.sleep(1.5)\nprint('done')"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    fs::remove_all(ws);
    auto during = s.response(1);
    INFO(during.dump());
    CHECK(during["result"]["structuredContent"]["stdout"] == "done\n");

    // Tools with path arguments refuse at validation; others fail to launch naming the path,
    // from the first call on: the warm sandboxes filled before the deletion are not used.
    s.call(2, "list_directory", json::object());
    auto listed = error_of(s.response(2));
    CHECK(listed["code"] == "VALIDATION_ERROR");
    CHECK(listed["message"].get<std::string>().find("the workspace cannot be resolved") !=
          std::string::npos);
    for (int id = 3; id < 7; ++id) {
        s.call(id, "run_python", {{"code", "print('x')"}});
        json failed = error_of(s.response(id));
        INFO("call " << id << ": " << failed.dump());
        CHECK(failed["code"] == "SANDBOX_ERROR");
        CHECK(failed["message"].get<std::string>().find("open_tree " + ws) != std::string::npos);
        CHECK(failed["message"].get<std::string>().find("ENOENT") != std::string::npos);
    }

    // The server is fine, and a recreated workspace serves again.
    s.send({{"jsonrpc", "2.0"}, {"id", 10}, {"method", "ping"}});
    CHECK(s.response(10)["result"] == json::object());
    fs::create_directory(ws);
    fs::permissions(ws, fs::perms(0755));
    s.call(11, "run_python", {{"code", "print('back')"}});
    CHECK(s.response(11)["result"]["structuredContent"]["stdout"] == "back\n");
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    check_verifies(dir.path() + "/store");
}

TEST_CASE("faults: a workspace replaced while serving is seen at once, never the old tree",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-swap-");
    const std::string ws = dir.path() + "/ws";
    for (const auto& [path, marker] : {std::pair{ws, "old"}, std::pair{ws + ".next", "new"}}) {
        fs::create_directory(path);
        fs::permissions(path, fs::perms(0755));
        tjtest::write_host_file(path + "/marker", marker, 0644);
    }
    ServeProcess s({"--workspace", ws, "--records", dir.path() + "/store", "--pool-size", "2"});
    s.initialize();
    const json read_marker = {{"code", "print(open('/workspace/marker').read())"}};
    s.call(1, "run_python", read_marker);
    CHECK(s.response(1)["result"]["structuredContent"]["stdout"] == "old\n");
    // Let the pool refill with sandboxes that mount the old tree, then swap the directories
    // the way a deploy does (rename over the path; the old tree lives on elsewhere).
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    fs::rename(ws, ws + ".prev");
    fs::rename(ws + ".next", ws);
    for (int id = 2; id < 6; ++id) {
        s.call(id, "run_python", read_marker);
        auto r = s.response(id);
        INFO("call " << id << ": " << r.dump());
        CHECK(r["result"]["structuredContent"]["stdout"] == "new\n");
    }
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
}

// ---- the record store -------------------------------------------------------------------------

TEST_CASE("faults: a read-only record store refuses run and serve and still verifies",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-rostore-");
    const std::string store = dir.path() + "/store";
    fs::create_directory(store);
    TmpfsMount mounted(store, "size=1m,mode=0700");
    REQUIRE(run_tooljail({"run", "--records", store, "--no-workspace", "--", "/bin/true"}).status ==
            0);
    mounted.remount(MS_RDONLY);

    auto run = run_tooljail({"run", "--records", store, "--no-workspace", "--", "/bin/echo", "x"});
    CHECK(run.status == 125);
    CHECK(run.out.empty());  // the program never ran
    CHECK(run.err.find("cannot open the record store " + store) != std::string::npos);
    CHECK(run.err.find("EROFS") != std::string::npos);

    auto serve = run_tooljail({"serve", "--workspace", dir.path(), "--records", store});
    CHECK(serve.status == 125);
    CHECK(serve.out.empty());
    CHECK(serve.err.find("cannot open the run records") != std::string::npos);
    CHECK(serve.err.find("EROFS") != std::string::npos);

    check_verifies(store);
    CHECK(records_of(store).size() == 1);
}

TEST_CASE("faults: a record store that fills up while serving refuses calls with RECORD_ERROR",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-full-");
    const std::string store = dir.path() + "/store";
    fs::create_directory(store);
    TmpfsMount mounted(store, "size=256k,mode=0700");
    ServeProcess s({"--workspace", dir.path(), "--records", store});
    s.initialize();
    s.call(1, "run_command", {{"program", "echo"}, {"args", {"before"}}});
    REQUIRE(s.response(1)["result"]["structuredContent"]["status"] == "success");

    // Fill every page: one big file, then one-byte files (one page each, as the next run's start
    // marker would take) for whatever came free since.
    const std::string filler = store + "/filler";
    int files = 0;
    auto fill_up = [&] {
        if (files == 0) {
            std::ofstream out(filler, std::ios::binary);
            std::string block(4096, 'x');
            while (out.write(block.data(), block.size())) {
            }
        }
        for (;; ++files) {
            std::ofstream out(filler + "-" + std::to_string(files), std::ios::binary);
            if (!(out.put('x') && out.flush())) break;
        }
        struct statvfs space {};
        REQUIRE(statvfs(store.c_str(), &space) == 0);
        REQUIRE(space.f_bavail == 0);
    };
    // A page can come free after the fill: a warm sandbox cloned during the last run holds a copy
    // of the supervisor's fds (the run's start marker among them) until it closes them, and that
    // clone can wait ~tens of ms for a cgroup v1 attach elsewhere. A call let through by such a
    // page runs and is recorded; fill again and retry.
    json refused;
    for (int attempt = 0; attempt < 5; ++attempt) {
        fill_up();
        s.call(100 + attempt, "run_command", {{"program", "echo"}, {"args", {"refused"}}});
        refused = s.response(100 + attempt);
        INFO(refused.dump());
        REQUIRE(refused["result"]["structuredContent"].is_object());
        if (refused["result"]["structuredContent"].contains("error")) break;
        REQUIRE(refused["result"]["structuredContent"]["status"] == "success");
    }
    INFO(refused.dump());
    CHECK(error_of(refused)["code"] == "RECORD_ERROR");
    CHECK(refused["result"]["isError"] == true);
    CHECK(s.stderr_text().find("ENOSPC") != std::string::npos);  // the operator learns why

    // Space again: the next call runs and is recorded.
    for (const auto& entry : fs::directory_iterator(store))
        if (entry.path().filename().string().rfind("filler", 0) == 0) fs::remove(entry.path());
    s.call(3, "run_command", {{"program", "echo"}, {"args", {"after"}}});
    CHECK(s.response(3)["result"]["structuredContent"]["stdout"] == "after\n");
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    check_verifies(store);
    auto records = records_of(store);
    REQUIRE(records.size() >= 2);
    CHECK(records[0]["argv"].dump().find("before") != std::string::npos);
    CHECK(records.back()["argv"].dump().find("after") != std::string::npos);
    CHECK(fs::is_empty(store + "/open"));
}

// ---- the client going away --------------------------------------------------------------------

TEST_CASE("faults: a stdio client that disconnects mid-call gets its run killed and recorded",
          "[faults][integration]") {
    tjtest::TempDir dir("tooljail-faults-gone-client-");
    const std::string store = dir.path() + "/store";
    ServeProcess s({"--workspace", dir.path(), "--records", store});
    s.initialize();
    s.call(1, "run_python", {{"code", "import time\ntime.sleep(60)"}});
    // Wait until the run is up: its record is started.
    for (int i = 0; i < 200; ++i) {
        std::ifstream journal(store + "/journal-1.jsonl");
        std::string text((std::istreambuf_iterator<char>(journal)), {});
        if (text.find("\"start\"") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto start = std::chrono::steady_clock::now();
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    auto records = records_of(store);
    REQUIRE(records.size() == 1);
    CHECK(records[0]["tool"] == "run_python");
    CHECK(records[0]["status"] == "failure");    // the run's end, not a refusal before it
    CHECK(records[0]["reason"] == "cancelled");  // killed by the cancel, then completed
    CHECK(records[0].contains("ended_at"));
    CHECK(fs::is_empty(store + "/open"));
    check_verifies(store);
}
