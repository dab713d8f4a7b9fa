// `tooljail run` end to end: the real binary, the shipped policies, the documented exit-status
// contract (README: 123 resource limit, 124 timeout, 125 tooljail failed, 126/127 exec) and the
// --json document.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sandbox/landlock.h"
#include "tests/integration/sandbox_fixture.h"

namespace {

struct Result {
    int status = -1;  // exit status, or 128+signal
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};
    std::chrono::milliseconds after_signal{0};  // from the signal to the exit
};

// Runs tooljail with args; feeds `input` to its stdin; optionally sends it `signal` once
// `ready(tooljail's pid)` holds (polled every 20 ms; a timing-free trigger, so a slow host
// cannot send the signal before tooljail has started the run).
Result tooljail(std::vector<std::string> args, const std::string& input = "", int signal = 0,
                const std::function<bool(pid_t)>& ready = {}) {
    args.insert(args.begin(), TOOLJAIL_BINARY);
    int in[2], out[2], err[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(99);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (!input.empty())
        REQUIRE(write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
    close(in[1]);
    Result r;
    bool signalled = signal == 0;
    auto signal_time = start;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        int rc = poll(fds, 2, signalled ? 60'000 : 20);
        REQUIRE(rc >= 0);
        if (!signalled && (!ready || ready(pid))) {
            kill(pid, signal);
            signalled = true;
            signal_time = std::chrono::steady_clock::now();
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[65536];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
        }
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    auto end = std::chrono::steady_clock::now();
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(end - start);
    if (signal != 0)
        r.after_signal = std::chrono::duration_cast<std::chrono::milliseconds>(end - signal_time);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

}  // namespace

TEST_CASE("cli: the program's output and exit status pass through", "[cli][integration]") {
    auto hi = tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c", "echo hi"});
    CHECK(hi.status == 0);
    CHECK(hi.out == "hi\n");
    auto three =
        tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c", "echo oops >&2; exit 3"});
    CHECK(three.status == 3);
    CHECK(three.err == "oops\n");
}

TEST_CASE("cli: a signal death exits 128 plus the signal", "[cli][integration]") {
    tjtest::SandboxFixture fx;
    auto r = tooljail({"run", "--workspace", fx.workspace(), "--", tjtest::kProbe, "signal", "11"});
    CHECK(r.status == 128 + SIGSEGV);
}

TEST_CASE("cli: the wall-clock timeout exits 124", "[cli][integration]") {
    auto r = tooljail({"run", "--no-workspace", "--timeout", "0.5", "--", "/bin/sleep", "30"});
    CHECK(r.status == 124);
    CHECK(r.elapsed < std::chrono::seconds(10));
    CHECK(r.err.find("timeout") != std::string::npos);
}

TEST_CASE("cli: a memory limit kill exits 123 and --json says memory_limit", "[cli][integration]") {
    // 64 MiB (write_small_policy); a zero-filled 256 MiB bytearray touches every page.
    tjtest::TempDir dir("tooljail-cli-policy-");
    tjtest::write_small_policy(dir.path(), "small", 64);
    auto r = tooljail({"run", "--json", "--no-workspace", "--policy-dir", dir.path(), "--policy",
                       "small", "--", "python3", "-c", "b = bytearray(256 << 20)"});
    CHECK(r.status == 123);
    auto doc = nlohmann::json::parse(r.out);
    CHECK(doc["reason"] == "memory_limit");
    CHECK(doc["status"] == "failure");
    CHECK(doc["oom_kills"].get<int>() >= 1);
}

TEST_CASE("cli: a missing program exits 127 and a non-executable one 126", "[cli][integration]") {
    auto missing = tooljail({"run", "--no-workspace", "--", "/usr/bin/no-such-program"});
    CHECK(missing.status == 127);
    CHECK(missing.err.find("no-such-program") != std::string::npos);
    auto by_path = tooljail({"run", "--no-workspace", "--", "no-such-program"});
    CHECK(by_path.status == 127);
    auto not_exec = tooljail({"run", "--no-workspace", "--", "/etc/passwd"});
    CHECK(not_exec.status == 126);
}

TEST_CASE("cli: tooljail's own failures exit 125 with a clear message", "[cli][integration]") {
    auto no_policy = tooljail({"run", "--policy", "no-such-policy", "--", "/bin/true"});
    CHECK(no_policy.status == 125);
    CHECK(no_policy.err.find("no-such-policy") != std::string::npos);
    auto traversal = tooljail({"run", "--policy", "../policies/default", "--", "/bin/true"});
    CHECK(traversal.status == 125);
    auto no_program = tooljail({"run"});
    CHECK(no_program.status == 125);
    auto bad_workspace = tooljail({"run", "--workspace", "/no/such/dir", "--", "/bin/true"});
    CHECK(bad_workspace.status == 125);
    CHECK(bad_workspace.err.find("/no/such/dir") != std::string::npos);
    auto bad_timeout = tooljail({"run", "--timeout", "-1", "--", "/bin/true"});
    CHECK(bad_timeout.status == 125);
}

TEST_CASE("cli: --json reports the whole outcome", "[cli][integration]") {
    auto r =
        tooljail({"run", "--json", "--no-workspace", "--", "/bin/sh", "-c", "printf abc; exit 7"});
    CHECK(r.status == 7);
    auto doc = nlohmann::json::parse(r.out);  // stdout holds only the document
    CHECK(doc["status"] == "failure");
    CHECK(doc["reason"] == "exit");
    CHECK(doc["exit_code"] == 7);
    CHECK(doc["signal"].is_null());
    CHECK(doc["stdout"]["data"] == "abc");
    CHECK(doc["stdout"]["bytes"] == 3);
    CHECK(doc["stdout"]["truncated"] == false);
    CHECK(doc["stderr"]["bytes"] == 0);
    CHECK(doc["wall_ms"].is_number_integer());
    CHECK(doc["cpu_ms"].is_number_integer());
    CHECK(doc["peak_memory_bytes"].get<uint64_t>() > 0);
    CHECK(doc["policy"] == "default");
    CHECK(doc["run_id"].get<std::string>().rfind("run-", 0) == 0);
}

TEST_CASE("cli: output beyond the cap is truncated and reported", "[cli][integration]") {
    tjtest::SandboxFixture fx;
    auto r = tooljail({"run", "--json", "--workspace", fx.workspace(), "--", tjtest::kProbe, "spew",
                       std::to_string(3 << 20)});
    CHECK(r.status == 0);
    auto doc = nlohmann::json::parse(r.out);
    CHECK(doc["stdout"]["truncated"] == true);
    CHECK(doc["stdout"]["bytes"] == (3 << 20));
    CHECK(doc["stdout"]["captured_bytes"] == (1 << 20));  // policies/default.json stdout_bytes
    auto plain = tooljail({"run", "--workspace", fx.workspace(), "--", tjtest::kProbe, "spew",
                           std::to_string(3 << 20)});
    CHECK(plain.out.size() == (1u << 20));
    CHECK(plain.err.find("output truncated") != std::string::npos);
}

TEST_CASE("cli: --stdin feeds the program and without it stdin is empty", "[cli][integration]") {
    auto fed =
        tooljail({"run", "--stdin", "--no-workspace", "--", "/bin/cat"}, "through the sandbox\n");
    CHECK(fed.status == 0);
    CHECK(fed.out == "through the sandbox\n");
    auto empty = tooljail({"run", "--no-workspace", "--", "/bin/cat"}, "not forwarded\n");
    CHECK(empty.status == 0);
    CHECK(empty.out.empty());
}

TEST_CASE("cli: the workspace is the working directory and read-only", "[cli][integration]") {
    tjtest::SandboxFixture fx;
    auto r = tooljail({"run", "--workspace", fx.workspace(), "--", "/bin/sh", "-c",
                       "pwd; cat data.txt; echo x > data.txt"});
    CHECK(r.out == std::string("/workspace\n") + tjtest::SandboxFixture::kDataText);
    CHECK(r.status != 0);
    CHECK(r.err.find("Read-only file system") != std::string::npos);
}

TEST_CASE("cli: SIGTERM to tooljail cancels the run and kills its tree", "[cli][integration]") {
    // Each background shell keeps the token in its argv (a command follows the sleep, so sh does
    // not exec it away): a survivor would show up in a host-wide /proc scan.
    std::string token = tjtest::unique_token("tooljail-cli-cancel-");
    std::string child = "sh -c 'sleep 60; : " + token + "'";
    // The signal goes once the whole tree runs: the outer shell and both children (tooljail's
    // own argv holds the token too).
    auto r = tooljail({"run", "--no-workspace", "--", "/bin/sh", "-c",
                       child + " & " + child + " & wait; : " + token},
                      "", SIGTERM, [&](pid_t tooljail_pid) {
                          auto pids = tjtest::host_pids_with(token);
                          return std::count_if(pids.begin(), pids.end(),
                                               [&](pid_t p) { return p != tooljail_pid; }) >= 3;
                      });
    CHECK(r.status == 128 + SIGTERM);
    CHECK(r.after_signal < std::chrono::seconds(10));
    CHECK(r.err.find("cancelled") != std::string::npos);
    CHECK(tjtest::host_pids_with(token).empty());
}

TEST_CASE("cli: python3 and git run under the ci policy", "[cli][integration]") {
    auto py = tooljail({"run", "--policy", "ci", "--stdin", "--no-workspace", "--", "python3"},
                       "import sys; print(sum(range(10)), sys.version_info[0])\n");
    CHECK(py.status == 0);
    CHECK(py.out == "45 3\n");
    auto git = tooljail({"run", "--policy", "ci", "--no-workspace", "--", "git", "--version"});
    CHECK(git.status == 0);
    CHECK(git.out.rfind("git version", 0) == 0);
}

TEST_CASE("cli: a loopback policy allows local TCP and the default denies it",
          "[cli][integration]") {
    const std::string server =
        "import socket\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n"
        "c.send(b'ok'); print(a.recv(2).decode())\n";
    auto ci =
        tooljail({"run", "--policy", "ci", "--stdin", "--no-workspace", "--", "python3"}, server);
    CHECK(ci.status == 0);
    CHECK(ci.out == "ok\n");
    auto def = tooljail({"run", "--stdin", "--no-workspace", "--", "python3"}, server);
    CHECK(def.status == 1);
    // Landlock ABI 4 (Linux 6.7) and later deny TCP bind/connect: EACCES. Before that the
    // default policy's empty network namespace (lo down) is the whole defence: the bind or
    // connect finds no route (ENETUNREACH, EADDRNOTAVAIL).
    if (sandbox::landlock::abi_version() >= 4)
        CHECK(def.err.find("PermissionError") != std::string::npos);
    else
        CHECK((def.err.find("Network is unreachable") != std::string::npos ||
               def.err.find("Cannot assign requested address") != std::string::npos));
}

TEST_CASE("cli: a workspace the sandbox user cannot enter is refused with a clear message",
          "[cli][integration]") {
    tjtest::TempDir private_dir("tooljail-cli-private-", "/tmp", tjtest::unenterable_mode());
    auto r = tooljail({"run", "--workspace", private_dir.path(), "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(r.err.find("cannot enter the workspace " + private_dir.path()) != std::string::npos);
}
