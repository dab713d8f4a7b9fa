// Tests for containment layers whose removal no other test noticed (found by disabling each layer
// in turn and running the whole suite; the "Mutation:" note on each test names the change it
// catches). Every test here fails with its layer taken out and passes with it in place; where it
// helps, a positive control shows the probe can tell the difference at all.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "sandbox/cgroup.h"
#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/skip.h"

using sandbox::Millis;
using sandbox::Outcome;
using sandbox::Termination;
using tjtest::attempt;
using tjtest::SandboxFixture;

namespace {

void require_ran(const Outcome& o) {
    TJ_SHOW(o);
    REQUIRE(o.reason == Termination::Exit);
    REQUIRE(o.exit_code == 0);
}

// Polls until no host process carries token in its command line, for at most timeout.
bool token_gone_within(const std::string& token, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (tjtest::host_pids_with(token).empty()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// SIGKILLs every host process carrying token: cleanup when a layer under test let one survive.
void kill_token(const std::string& token) {
    for (pid_t pid : tjtest::host_pids_with(token)) ::kill(pid, SIGKILL);
    token_gone_within(token, std::chrono::milliseconds(2000));
}

// SysV IPC objects created on the host with a fresh key, removed on destruction.
class HostSysvObjects {
public:
    HostSysvObjects() {
        std::random_device rd;
        for (int tries = 0; tries < 64 && shm_ < 0; ++tries) {
            key_ = static_cast<key_t>((rd() & 0x3fffffff) | 0x10000000);
            shm_ = shmget(key_, 4096, IPC_CREAT | IPC_EXCL | 0600);
            if (shm_ < 0 && errno != EEXIST) break;
        }
        if (shm_ < 0) return;
        msg_ = msgget(key_, IPC_CREAT | IPC_EXCL | 0600);
        sem_ = semget(key_, 1, IPC_CREAT | IPC_EXCL | 0600);
    }
    ~HostSysvObjects() {
        if (shm_ >= 0) shmctl(shm_, IPC_RMID, nullptr);
        if (msg_ >= 0) msgctl(msg_, IPC_RMID, nullptr);
        if (sem_ >= 0) semctl(sem_, 0, IPC_RMID);
    }
    HostSysvObjects(const HostSysvObjects&) = delete;
    HostSysvObjects& operator=(const HostSysvObjects&) = delete;
    bool ok() const { return shm_ >= 0 && msg_ >= 0 && sem_ >= 0; }
    key_t key() const { return key_; }

private:
    key_t key_ = 0;
    int shm_ = -1, msg_ = -1, sem_ = -1;
};

}  // namespace

// Mutation: CLONE_NEWIPC dropped from namespaces::clone_flags. Nothing else looks at System V
// IPC and the whole suite still passed. Objects the host creates must not be visible inside.
TEST_CASE("mutation gaps: host System V IPC objects are invisible",
          "[mutation][containment][integration]") {
    // Before anything is created: skip_test() exits without running destructors.
    if (access("/proc/sysvipc/shm", F_OK) != 0) skip_test("kernel without System V IPC");
    SandboxFixture fixture;
    HostSysvObjects host_objects;
    if (!host_objects.ok()) FAIL("creating host SysV IPC objects: " << strerror(errno));
    char key_text[16];
    snprintf(key_text, sizeof key_text, "%d", static_cast<int>(host_objects.key()));
    INFO("host key " << key_text);

    auto sb = fixture.prepare();
    for (const char* table : {"/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"}) {
        Outcome o = tjtest::run_probe(*sb, {"cat", table});
        INFO("cat " << table);
        require_ran(o);
        auto lines = tjtest::split_lines(o.out.data);
        // The table exists (a header line), so "empty" below is a real observation.
        REQUIRE(!lines.empty());
        CHECK(lines[0].find("key") != std::string::npos);
        // A fresh IPC namespace has no objects at all, the host's included.
        CHECK(lines.size() == 1);
        for (size_t i = 1; i < lines.size(); ++i) {
            std::istringstream fields(lines[i]);
            std::string first;
            fields >> first;
            INFO(table << ": " << lines[i]);
            CHECK(first != key_text);
        }
    }
}

// Mutation: Landlock's filesystem rules weakened (e.g. "/" added to the writable paths in
// Sandbox::prepare). Other tests only see Landlock's TCP rule; every filesystem write they try is
// already refused by a read-only mount, so the whole suite still passed. /proc is the one mount
// that flags and file modes leave writable; Landlock (read/execute everywhere, writes only in
// /tmp and the /dev nodes) refuses a write there. With Landlock off the same write succeeds,
// proving the check is not vacuous.
TEST_CASE("mutation gaps: Landlock refuses writes outside /tmp",
          "[mutation][containment][landlock][integration]") {
    // Before the fixture makes its workspace: skip_test() exits without running destructors.
    const int abi = tjtest::shared_host()->landlock_abi();
    if (abi <= 0) skip_test("Landlock unavailable on this kernel");
    SandboxFixture fixture;

    fixture.config.landlock.mode = sandbox::LandlockMode::Off;
    Outcome control = fixture.probe({"write", "/proc/self/comm"});
    require_ran(control);
    INFO("control run without Landlock");
    REQUIRE(attempt(control, "write") == "ok");

    fixture.config.landlock.mode = sandbox::LandlockMode::Required;
    fixture.config.loopback = false;
    auto sb = fixture.prepare();
    Outcome comm = tjtest::run_probe(*sb, {"write", "/proc/self/comm"});
    require_ran(comm);
    CHECK(attempt(comm, "write") == "EACCES");
    // /tmp stays writable under the same ruleset.
    Outcome tmp = tjtest::run_probe(*sb, {"write", "/tmp/landlock-ok"});
    require_ran(tmp);
    CHECK(attempt(tmp, "write") == "ok");
    if (abi >= 4) {
        // Without loopback Landlock also handles TCP: connect is refused before routing.
        Outcome tcp = tjtest::run_probe(*sb, {"connect", "127.0.0.1", "9"});
        require_ran(tcp);
        CHECK(attempt(tcp, "connect") == "EACCES");
    }
}

// Mutation: PR_SET_PDEATHSIG never set (neither in the pdeathsig step nor re-armed after the uid
// switch). No test SIGKILLs the supervisor (the CLI test sends SIGTERM, which tooljail handles).
// Here a forked process plays the supervisor, launches a long sleeper and is SIGKILLed; the
// sandbox must die with it.
TEST_CASE_METHOD(SandboxFixture, "mutation gaps: the sandbox dies when its supervisor is killed",
                 "[mutation][containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-orphan");
    auto sb = prepare();

    int report[2];
    REQUIRE(pipe2(report, O_CLOEXEC) == 0);
    pid_t supervisor = fork();
    REQUIRE(supervisor >= 0);
    if (supervisor == 0) {
        // Child: no Catch2 here. Launch, report the sandbox's pid, wait to be killed. Under
        // the pool it needs a Host and a pool of its own: the parent's warm sandboxes are not
        // this process's children (Sandbox::launch takes the cold path in a fork).
        close(report[0]);
        sandbox::RunRequest request;
        request.argv = {tjtest::kProbe, "sleep", "30000", token};
        std::shared_ptr<const sandbox::Sandbox> own = sb;
        if (tjtest::pool_size() > 0) {
            sandbox::HostOptions options;
            options.pool.per_sandbox = 1;
            auto host = sandbox::Host::open(options);
            if (!host) _exit(2);
            auto prepared = sandbox::Sandbox::prepare(config, *host);
            if (!prepared || !(*prepared)->wait_warm(1, std::chrono::seconds(10))) _exit(2);
            own = *prepared;
        }
        auto run = own->launch(request);
        if (tjtest::pool_size() > 0 && run && !(*run)->warm()) _exit(3);
        pid_t pid = run ? (*run)->pid() : -1;
        (void)!write(report[1], &pid, sizeof pid);
        for (;;) pause();
    }
    close(report[1]);
    pid_t sandbox_pid = -1;
    pollfd p{report[0], POLLIN, 0};
    bool reported = poll(&p, 1, 15000) == 1 && read(report[0], &sandbox_pid, sizeof sandbox_pid) ==
                                                   static_cast<ssize_t>(sizeof sandbox_pid);
    close(report[0]);

    const bool alive_before = reported && sandbox_pid > 0 && !tjtest::host_pids_with(token).empty();
    kill(supervisor, SIGKILL);
    // Wait for its death but leave it a zombie while we look: its pid stays taken, so a test
    // starting in parallel (Host::open removes the leaves of dead supervisors, killing their
    // members) cannot kill the sandbox for us and hide a missing parent-death signal.
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(supervisor), &info, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR) {
    }
    const bool died = token_gone_within(token, Millis{3000});

    // Cleanup before asserting: whatever survived, the supervisor, and its cgroup leaf.
    kill_token(token);
    int status = 0;
    while (waitpid(supervisor, &status, 0) < 0 && errno == EINTR) {
    }
    (void)sandbox::cgroup::remove_stale_leaves(tjtest::shared_host()->cgroups());

    INFO("sandbox pid " << sandbox_pid);
    REQUIRE(reported);
    REQUIRE(sandbox_pid > 0);
    REQUIRE(alive_before);
    CHECK(died);
}

// Mutation: Run::kill_tree made a no-op. Other tests catch that, but "containment: destroying a
// Run kills its whole tree" still passed (after 30 s): the destructor blocks in waitid until its
// sleeper ends on its own, and that test only looks afterwards. A destructor that forgot to kill
// would pass it too. Dropping a Run must end its tree promptly.
TEST_CASE_METHOD(SandboxFixture, "mutation gaps: destroying a running Run returns promptly",
                 "[mutation][containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-dropped");
    auto sb = prepare();
    sandbox::RunRequest request;
    request.argv = {tjtest::kProbe, "sleep", "30000", token};
    auto run = sb->launch(request);
    if (!run) FAIL("launch: " << run.error().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const bool alive_before = !tjtest::host_pids_with(token).empty();

    auto t0 = std::chrono::steady_clock::now();
    std::thread destroyer([&run] { (*run).reset(); });
    // Bound the wait ourselves: if the destructor hangs, kill the sleeper so it can return.
    bool finished = false;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) {
        if (tjtest::host_pids_with(token).empty()) {
            finished = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!finished) kill_token(token);
    destroyer.join();
    auto elapsed = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);

    INFO("destroying the Run took " << elapsed.count() << " ms");
    REQUIRE(alive_before);
    CHECK(finished);
    CHECK(elapsed < Millis{3000});
}
