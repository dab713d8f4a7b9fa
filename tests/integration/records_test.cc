// Per-run records end to end (issue 4): the real `tooljail run` writing into a store, concurrent
// supervisors, a full disk, a supervisor killed with SIGKILL mid-run, tampering caught by
// `tooljail runs verify`, and `runs list/show` after a mixed session.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sandbox/base/sha256.h"
#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/skip.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Ran {
    int status = -1;
    std::string out;
    std::string err;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Starts tooljail with args; stdout/stderr go to files under dir (named by tag).
pid_t spawn(std::vector<std::string> args, const std::string& dir, const std::string& tag) {
    args.insert(args.begin(), TOOLJAIL_BINARY);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open((dir + "/" + tag + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open((dir + "/" + tag + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) _exit(98);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(99);
    }
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Ran collect(pid_t pid, const std::string& dir, const std::string& tag) {
    Ran r;
    r.status = wait_status(pid);
    r.out = slurp(dir + "/" + tag + ".out");
    r.err = slurp(dir + "/" + tag + ".err");
    return r;
}

Ran tooljail(const std::vector<std::string>& args, const std::string& scratch) {
    static int n = 0;
    std::string tag = "cmd" + std::to_string(++n);
    return collect(spawn(args, scratch, tag), scratch, tag);
}

std::vector<json> list_records(const std::string& store, const std::string& scratch) {
    auto r = tooljail({"runs", "list", "--records", store, "--json", "--limit", "0"}, scratch);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return json::parse(r.out).get<std::vector<json>>();
}

const json* find_run(const std::vector<json>& records, const std::string& run_id) {
    for (const auto& r : records)
        if (r["run_id"] == run_id) return &r;
    return nullptr;
}

// Directories named name anywhere under the host's cgroup mounts.
std::vector<std::string> cgroup_dirs_named(const std::string& name) {
    std::vector<std::string> found;
    std::ifstream mounts("/proc/self/mounts");
    for (std::string dev, dir, type, rest;
         mounts >> dev >> dir >> type && std::getline(mounts, rest);) {
        if (type != "cgroup" && type != "cgroup2") continue;
        std::error_code ec;
        for (fs::recursive_directory_iterator
                 it(dir, fs::directory_options::skip_permission_denied, ec),
             end;
             !ec && it != end; it.increment(ec)) {
            if (it->is_directory(ec) && it->path().filename() == name) found.push_back(it->path());
        }
    }
    return found;
}

}  // namespace

TEST_CASE("records: 8 parallel runs into one store give 8 complete records and verify passes",
          "[records][integration]") {
    tjtest::TempDir scratch("tooljail-rec-par-");
    std::string store = scratch.path() + "/store";
    std::vector<pid_t> pids;
    for (int i = 0; i < 8; ++i)
        pids.push_back(
            spawn({"run", "--records", store, "--no-workspace", "--", "/bin/sh", "-c",
                   "echo run " + std::to_string(i) + "; echo err " + std::to_string(i) + " >&2"},
                  scratch.path(), "p" + std::to_string(i)));
    for (int i = 0; i < 8; ++i) {
        auto r = collect(pids[static_cast<size_t>(i)], scratch.path(), "p" + std::to_string(i));
        INFO(r.err);
        CHECK(r.status == 0);
    }
    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 8);
    std::set<std::string> outputs;
    for (const auto& r : records) {
        CHECK(r["status"] == "success");
        CHECK(r["entries"].size() == 2);
        CHECK(r["stdout"]["bytes"] == 6);
        CHECK(r["layers"]["namespaces"].size() >= 6);
        CHECK(r["client"]["transport"] == "cli");
        auto show =
            tooljail({"runs", "show", "--records", store, "--json", r["run_id"]}, scratch.path());
        REQUIRE(show.status == 0);
        outputs.insert(json::parse(show.out)["stdout"].get<std::string>());
    }
    CHECK(outputs.size() == 8);  // each record has its own run's output
    auto verify = tooljail({"runs", "verify", "--records", store}, scratch.path());
    INFO(verify.out);
    CHECK(verify.status == 0);
    CHECK(verify.out.find("intact: 16 entries") != std::string::npos);
}

TEST_CASE("records: a full disk refuses the run with a clear error and loses nothing",
          "[records][integration]") {
    if (geteuid() != 0) skip_test("mounting a tmpfs needs root");
    tjtest::TempDir scratch("tooljail-rec-full-");
    std::string store = scratch.path() + "/store";
    fs::create_directory(store);
    if (mount("tooljail-test", store.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0)
        skip_test(std::string("mount tmpfs: ") + strerror(errno));
    struct Unmount {
        std::string dir;
        ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
    } unmount{store};

    auto first = tooljail(
        {"run", "--records", store, "--no-workspace", "--", "/bin/echo", "before"}, scratch.path());
    REQUIRE(first.status == 0);
    {
        // Fill the store's filesystem.
        int fd = open((store + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
        REQUIRE(fd >= 0);
        std::string block(4096, 'x');
        while (write(fd, block.data(), block.size()) > 0) {
        }
        std::string byte = "x";
        while (write(fd, byte.data(), 1) > 0) {
        }
        close(fd);
    }
    auto refused = tooljail(
        {"run", "--records", store, "--no-workspace", "--", "/bin/echo", "after"}, scratch.path());
    INFO(refused.err);
    CHECK(refused.status == 125);
    CHECK(refused.out.empty());  // the program never ran
    CHECK(refused.err.find("cannot record the start of the run in " + store) != std::string::npos);
    CHECK(refused.err.find("ENOSPC") != std::string::npos);
    CHECK(refused.err.find("--records-fail-open") != std::string::npos);

    auto fail_open = tooljail({"run", "--records", store, "--records-fail-open", "--no-workspace",
                               "--", "/bin/echo", "anyway"},
                              scratch.path());
    CHECK(fail_open.status == 0);
    CHECK(fail_open.out == "anyway\n");
    CHECK(fail_open.err.find("warning: running without a record") != std::string::npos);

    auto verify = tooljail({"runs", "verify", "--records", store}, scratch.path());
    INFO(verify.out << verify.err);
    CHECK(verify.status == 0);
    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 1);
    CHECK(records[0]["status"] == "success");
    CHECK(records[0]["argv"] == json({"/bin/echo", "before"}));
    CHECK(fs::is_empty(store + "/open"));
}

TEST_CASE(
    "records: a supervisor killed with SIGKILL leaves an interrupted record and nothing running",
    "[records][integration]") {
    tjtest::TempDir scratch("tooljail-rec-kill-");
    std::string store = scratch.path() + "/store";
    std::string token = tjtest::unique_token("tooljail-rec-kill");
    pid_t pid = spawn({"run", "--records", store, "--no-workspace", "--", "/bin/sh", "-c",
                       "sleep 30 & sleep 30; : " + token},
                      scratch.path(), "victim");
    // Wait until the run is recorded and its processes are up.
    std::string run_id;
    for (int i = 0;
         i < 500 && (run_id.empty() || tjtest::host_pids_with("sleep 30; : " + token).empty());
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::ifstream journal(store + "/journal-1.jsonl");
        for (std::string line; std::getline(journal, line);)
            if (line.find(token) != std::string::npos) run_id = json::parse(line)["run_id"];
    }
    REQUIRE_FALSE(run_id.empty());
    REQUIRE(kill(pid, SIGKILL) == 0);

    // The sandbox dies with its supervisor (PR_SET_PDEATHSIG on the namespace's pid 1).
    for (int i = 0; i < 500 && !tjtest::host_pids_with(token).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(tjtest::host_pids_with(token).empty());

    // The next supervisor marks the record and removes the run's cgroup leaf, even while the
    // killed one is still a zombie nobody has reaped.
    auto next =
        tooljail({"run", "--records", store, "--no-workspace", "--", "/bin/true"}, scratch.path());
    CHECK(wait_status(pid) == 128 + SIGKILL);
    INFO(next.err);
    CHECK(next.status == 0);
    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 2);
    const json* killed = find_run(records, run_id);
    REQUIRE(killed);
    CHECK((*killed)["status"] == "interrupted");
    CHECK((*killed)["reason"] == "interrupted");
    CHECK((*killed)["message"].get<std::string>().find("pid " + std::to_string(pid)) !=
          std::string::npos);
    CHECK(cgroup_dirs_named(run_id).empty());
    CHECK(fs::is_empty(store + "/open"));
    // Untampered, but not complete: verify names the run that has no outcome (exit 2).
    auto verify = tooljail({"runs", "verify", "--records", store}, scratch.path());
    INFO(verify.out);
    CHECK(verify.status == 2);
    CHECK(verify.out.find("run " + run_id) != std::string::npos);
    CHECK(verify.out.find("the chain is intact") != std::string::npos);
}

TEST_CASE("records: an edited record fails verify, which names it", "[records][integration]") {
    tjtest::TempDir scratch("tooljail-rec-edit-");
    std::string store = scratch.path() + "/store";
    for (const char* code : {"0", "3"})
        tooljail({"run", "--records", store, "--no-workspace", "--", "/bin/sh", "-c",
                  std::string("exit ") + code},
                 scratch.path());
    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 2);
    std::string failed_run = records[1]["run_id"];
    CHECK(records[1]["exit_code"] == 3);

    // Make the failed run look like a success.
    std::string journal = slurp(store + "/journal-1.jsonl");
    size_t pos = journal.find("\"exit_code\":3");
    REQUIRE(pos != std::string::npos);
    journal.replace(pos, 13, "\"exit_code\":0");
    std::ofstream(store + "/journal-1.jsonl", std::ios::trunc) << journal;

    auto verify = tooljail({"runs", "verify", "--records", store}, scratch.path());
    CHECK(verify.status == 1);
    CHECK(verify.out.find("TAMPERED") != std::string::npos);
    CHECK(verify.out.find("entry seq 4 (run " + failed_run + ") in journal-1.jsonl") !=
          std::string::npos);
    CHECK(verify.out.find("content edited (hash mismatch)") != std::string::npos);
    auto unreadable =
        tooljail({"runs", "verify", "--records", scratch.path() + "/none"}, scratch.path());
    CHECK(unreadable.status == 125);
}

TEST_CASE("records: a mixed session lists each run with the right reason",
          "[records][integration]") {
    tjtest::TempDir scratch("tooljail-rec-mixed-");
    std::string store = scratch.path() + "/store";
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"run", "--records", store, "--no-workspace"});
        return tooljail(args, scratch.path());
    };
    run({"--", "/bin/sh", "-c", "echo fine"});
    run({"--timeout", "0.5", "--", "/bin/sleep", "10"});
    tjtest::write_small_policy(scratch.path(), "small", 64);
    run({"--policy-dir", scratch.path(), "--policy", "small", "--", "python3", "-c",
         "b = bytearray(256 << 20)"});
    run({"--policy", "no-such-policy", "--", "/bin/true"});
    run({"--", "/usr/bin/no-such-program"});
    run({"--", "/bin/sh", "-c", "echo --password=hunter2 >/dev/null", "--api-key", "k3y"});
    // Cancelled once the program runs (not after a fixed delay, which a slow host can miss).
    const std::string token = tjtest::unique_token("tooljail-rec-cancel");
    pid_t cancelled = spawn({"run", "--records", store, "--no-workspace", "--", "/bin/sh", "-c",
                             "sleep 10; : " + token},
                            scratch.path(), "c");
    // The token is in tooljail's own argv too: wait for the sandboxed shell's.
    auto running = [&] {
        auto pids = tjtest::host_pids_with(token);
        return std::any_of(pids.begin(), pids.end(), [&](pid_t p) { return p != cancelled; });
    };
    for (int i = 0; i < 3000 && !running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(cancelled, SIGTERM);
    CHECK(wait_status(cancelled) == 128 + SIGTERM);

    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 7);
    std::vector<std::string> reasons, statuses;
    for (const auto& r : records) {
        reasons.push_back(r["reason"]);
        statuses.push_back(r["status"]);
    }
    CHECK(reasons == std::vector<std::string>{"exit", "timeout", "memory_limit", "policy_denied",
                                              "sandbox_error", "exit", "cancelled"});
    CHECK(statuses == std::vector<std::string>{"success", "failure", "failure", "refused", "error",
                                               "success", "failure"});
    CHECK(records[4]["error"]["step"] == "execve");
    CHECK(records[5]["redacted"] == true);
    CHECK(records[5]["argv"][2] == "echo --password=[REDACTED] >/dev/null");
    CHECK(records[5]["argv"][4] == "[REDACTED]");
    CHECK(slurp(store + "/journal-1.jsonl").find("hunter2") == std::string::npos);

    auto show =
        tooljail({"runs", "show", "--records", store, records[0]["run_id"]}, scratch.path());
    CHECK(show.status == 0);
    CHECK(show.out.find("--- stdout (5 bytes written, 5 captured) ---\nfine\n") !=
          std::string::npos);
    auto table =
        tooljail({"runs", "list", "--records", store, "--reason", "timeout"}, scratch.path());
    CHECK(table.status == 0);
    CHECK(table.out.find(records[1]["run_id"].get<std::string>()) != std::string::npos);
    CHECK(table.out.find(records[0]["run_id"].get<std::string>()) == std::string::npos);
    auto exported =
        tooljail({"runs", "export", "--records", store, "--since", "1h"}, scratch.path());
    CHECK(std::count(exported.out.begin(), exported.out.end(), '\n') == 7);
    auto missing = tooljail({"runs", "show", "--records", store, "run-0-nope"}, scratch.path());
    CHECK(missing.status == 1);
    CHECK(tooljail({"runs", "verify", "--records", store}, scratch.path()).status == 0);
}

TEST_CASE(
    "records: the output sha256 covers every byte written beyond the cap, and trace context is "
    "kept",
    "[records][integration]") {
    tjtest::TempDir scratch("tooljail-rec-sha-");
    std::string store = scratch.path() + "/store";
    auto r = tooljail({"run", "--records", store, "--json", "--no-workspace", "--", "/bin/sh", "-c",
                       "head -c 3000000 /dev/zero"},
                      scratch.path());
    REQUIRE(r.status == 0);
    std::string all_zeros = sandbox::sha256_hex(std::string(3000000, '\0'));
    auto doc = json::parse(r.out);
    CHECK(doc["stdout"]["truncated"] == true);
    CHECK(doc["stdout"]["sha256"] == all_zeros);
    auto records = list_records(store, scratch.path());
    REQUIRE(records.size() == 1);
    CHECK(records[0]["stdout"]["sha256"] == all_zeros);
    CHECK(records[0]["stdout"]["bytes"] == 3000000);
    CHECK(records[0]["stdout"]["captured_bytes"] == (1 << 20));
    CHECK(records[0]["stdout"]["file_sha256"] == sandbox::sha256_hex(std::string(1 << 20, '\0')));
    CHECK(records[0]["trace_id"] == doc["trace_id"]);

    // A caller's W3C trace context is carried into the record.
    auto traced = tooljail({"run", "--records", store, "--traceparent",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "--no-workspace", "--", "/bin/true"},
                           scratch.path());
    REQUIRE(traced.status == 0);
    records = list_records(store, scratch.path());
    REQUIRE(records.size() == 2);
    CHECK(records[1]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(records[1]["parent_span_id"] == "00f067aa0ba902b7");
}
