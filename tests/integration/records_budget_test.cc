// The record store's size budget on a real, small disk (issue 16 item 2; docs/RECORDS.md, "The
// size budget"; docs/FAULTS.md): `tooljail serve` with `runs retention --max-bytes` keeps the
// store under it while calls print megabytes, and a disk that fills during a run still gets the
// run's outcome recorded, with the output it had no room for marked as not stored.
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

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

// What the budget covers: journal segments and output files.
uint64_t budgeted_bytes(const std::string& store) {
    uint64_t total = 0;
    for (const auto& e : fs::directory_iterator(store))
        if (e.path().filename().string().rfind("journal-", 0) == 0) total += e.file_size();
    for (const auto& e : fs::directory_iterator(store + "/output")) total += e.file_size();
    return total;
}

uint64_t disk_used(const std::string& store) {
    struct statvfs space {};
    REQUIRE(statvfs(store.c_str(), &space) == 0);
    return (space.f_blocks - space.f_bfree) * space.f_frsize;
}

json records_of(const std::string& store) {
    auto listed = run_tooljail({"runs", "list", "--records", store, "--json", "--limit", "0"});
    INFO(listed.err);
    REQUIRE(listed.status == 0);
    return json::parse(listed.out);
}

// Fills every page of the store's filesystem: one big file, then one-byte files (a page each).
void fill_up(const std::string& store) {
    {
        std::ofstream out(store + "/filler", std::ios::binary);
        std::string block(4096, 'x');
        while (out.write(block.data(), block.size())) {
        }
    }
    for (int files = 0;; ++files) {
        std::ofstream out(store + "/filler-" + std::to_string(files), std::ios::binary);
        if (!(out.put('x') && out.flush())) break;
    }
    struct statvfs space {};
    REQUIRE(statvfs(store.c_str(), &space) == 0);
    REQUIRE(space.f_bavail == 0);
}

void remove_fillers(const std::string& store) {
    for (const auto& entry : fs::directory_iterator(store))
        if (entry.path().filename().string().rfind("filler", 0) == 0) fs::remove(entry.path());
}

}  // namespace

TEST_CASE(
    "records budget: 14 calls printing 8 MiB each keep a 16M store under 16M on a 96 MiB "
    "disk, every outcome recorded",
    "[records][faults][integration]") {
    tjtest::TempDir dir("tooljail-budget-");
    const std::string store = dir.path() + "/store";
    fs::create_directory(store);
    TmpfsMount mounted(store, "size=96m,mode=0700");
    // The setup: before the budget, the store grew to 89 MiB and the full disk left 17
    // runs interrupted, which verify called intact.
    auto set = run_tooljail({"runs", "retention", "--records", store, "--max-bytes", "16M"});
    INFO(set.err);
    REQUIRE(set.status == 0);
    const uint64_t max = uint64_t{16} << 20;
    ServeProcess s({"--workspace", dir.path(), "--records", store});
    s.initialize();
    for (int i = 1; i <= 14; ++i) {
        s.call(
            i, "run_python",
            {{"code",
              "import sys\nsys.stdout.write('o' * 4194304)\nsys.stderr.write('e' * 4194304)\n"}});
        json r = s.response(i);
        INFO("call " << i << ": " << r.dump().substr(0, 400));
        CHECK(r["result"]["structuredContent"]["status"] == "success");
        CHECK(budgeted_bytes(store) <= max);
        CHECK(disk_used(store) <= max + (uint64_t{1} << 20));
    }
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    CHECK(s.stderr_text().find("ENOSPC") == std::string::npos);

    json records = records_of(store);
    REQUIRE_FALSE(records.empty());
    for (const auto& r : records) {
        INFO(r.dump().substr(0, 400));
        CHECK(r["status"] == "success");
        // Retention made room for each: nothing had to be cut.
        CHECK(r["stdout"]["captured_bytes"] == 4194304);
        CHECK_FALSE(r["stdout"].contains("store_cut"));
    }
    auto verify = run_tooljail({"runs", "verify", "--records", store});
    INFO(verify.out << verify.err);
    CHECK(verify.status == 0);
    CHECK(verify.out.rfind("records: intact:", 0) == 0);
    CHECK(verify.out.find("removed by retention") != std::string::npos);
}

TEST_CASE(
    "records budget: a disk that fills during a run still gets its outcome recorded, and the "
    "output without room is marked not stored",
    "[records][faults][integration]") {
    tjtest::TempDir dir("tooljail-budget-full-");
    const std::string store = dir.path() + "/store";
    fs::create_directory(store);
    TmpfsMount mounted(store, "size=1m,mode=0700");
    // No warm sandboxes: a warm child holds copies of the supervisor's descriptors for a while,
    // which would free pages after the fill.
    ServeProcess s({"--workspace", dir.path(), "--records", store, "--pool-size", "0"});
    s.initialize();
    s.call(1, "run_python",
           {{"code", "import sys, time\ntime.sleep(2)\nsys.stdout.write('x' * 204800)\n"}});
    // Once the run has started (its start entry is on disk), the disk fills.
    for (int i = 0; i < 200; ++i) {
        std::ifstream journal(store + "/journal-1.jsonl");
        std::string text((std::istreambuf_iterator<char>(journal)), {});
        if (text.find("\"start\"") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    fill_up(store);
    json done = s.response(1);
    INFO(done.dump().substr(0, 400));
    CHECK(done["result"]["structuredContent"]["status"] == "success");
    // The end entry takes the reserve only when it does not fit in the slack of the journal's
    // last page (tmpfs allocates whole pages), which it usually does here: this test shows that
    // the end is recorded on a full disk, not which of the two made room for it.
    UNSCOPED_INFO("reserve given up: "
                  << (s.stderr_text().find("the reserve was given up to record the end of run") !=
                      std::string::npos));

    // Until there is room for the reserve again, new runs are refused (their end could not be
    // recorded). What the reserve gave back is taken first.
    fill_up(store);
    s.call(2, "run_command", {{"program", "echo"}, {"args", {"refused"}}});
    json refused = s.response(2);
    INFO(refused.dump());
    CHECK(refused["result"]["isError"] == true);
    CHECK(refused["result"]["structuredContent"]["error"]["code"] == "RECORD_ERROR");

    remove_fillers(store);
    s.call(3, "run_command", {{"program", "echo"}, {"args", {"after"}}});
    CHECK(s.response(3)["result"]["structuredContent"]["stdout"] == "after\n");
    s.close_stdin();
    CHECK(s.wait_exit() == 0);

    json records = records_of(store);
    REQUIRE(records.size() >= 2);  // the refusal itself found no room to be recorded
    const json& first = records[0];
    INFO(first.dump());
    CHECK(first["status"] == "success");  // before: "interrupted", no outcome
    CHECK(first["exit_code"] == 0);
    CHECK(first["stdout"]["captured_bytes"] == 204800);
    CHECK(first["stdout"]["store_cut"] == "write_error");
    CHECK(first["stdout"]["store_errno"] == "ENOSPC");
    CHECK(first["stdout"]["stored_bytes"] == 0);
    CHECK(first["stdout"]["file"].is_null());
    for (const auto& r : records) CHECK(r["status"] != "interrupted");
    CHECK(records.back()["status"] == "success");
    CHECK(records.back()["argv"].dump().find("after") != std::string::npos);
    auto verify = run_tooljail({"runs", "verify", "--records", store});
    INFO(verify.out << verify.err);
    CHECK(verify.status == 0);
    CHECK(verify.out.find("a write error: ENOSPC") != std::string::npos);
}

TEST_CASE("records budget: verify reports runs that ended interrupted, and exits 2",
          "[records][integration]") {
    tjtest::TempDir dir("tooljail-budget-verify-");
    const std::string store = dir.path() + "/store";
    REQUIRE(run_tooljail({"run", "--records", store, "--no-workspace", "--", "/bin/true"}).status ==
            0);
    // A supervisor that dies mid-run: its run is marked interrupted by the next open.
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execl(TOOLJAIL_BINARY, TOOLJAIL_BINARY, "run", "--records", store.c_str(), "--no-workspace",
              "--", "/bin/sleep", "30", static_cast<char*>(nullptr));
        _exit(127);
    }
    for (int i = 0; i < 400; ++i) {
        std::ifstream journal(store + "/journal-1.jsonl");
        std::string text((std::istreambuf_iterator<char>(journal)), {});
        if (text.find("/bin/sleep") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    REQUIRE(kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(records_of(store).size() == 2);  // runs list opens the store: the run is marked

    auto verify = run_tooljail({"runs", "verify", "--records", store});
    INFO(verify.out << verify.err);
    CHECK(verify.status == 2);
    CHECK(verify.out.rfind("records: INCOMPLETE: 1 run(s) have no outcome (0 because the store "
                           "could not write their end); the chain is intact",
                           0) == 0);
    CHECK(verify.out.find("interrupted, no outcome: the supervisor (pid " + std::to_string(pid)) !=
          std::string::npos);
    auto as_json = run_tooljail({"runs", "verify", "--records", store, "--json"});
    CHECK(as_json.status == 2);
    json report = json::parse(as_json.out);
    CHECK(report["intact"] == true);
    CHECK(report["complete"] == false);
    CHECK(report["interrupted"] == 1);
}
