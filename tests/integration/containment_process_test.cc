// Containment claims (REQUIREMENTS.md section 1) about processes, network and seccomp, each
// proven by attempting the escape from inside a real sandbox with tooljail-probe and asserting
// that it fails. Filesystem, identity and environment claims are in containment_test.cc.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "sandbox/base/unique_fd.h"
#include "tests/integration/sandbox_fixture.h"

using sandbox::Outcome;
using sandbox::Termination;
using tjtest::attempt;
using tjtest::require_ran;
using tjtest::SandboxFixture;

namespace {

// A TCP listener on the host: addr:0, returns the fd and the chosen port.
sandbox::UniqueFd host_listener(const char* addr, uint16_t& port) {
    sandbox::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    REQUIRE(fd.valid());
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, addr, &sa.sin_addr) == 1);
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(listen(fd.get(), 8) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port = ntohs(sa.sin_port);
    return fd;
}

// Nobody connected to the listener (the sandbox's attempt never reached the host).
bool nothing_accepted(int listen_fd) {
    int conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn >= 0) {
        close(conn);
        return false;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

// First non-loopback IPv4 address of the host, empty if none.
std::string host_external_ipv4() {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return {};
    std::string found;
    for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        if (std::string_view(buf).rfind("127.", 0) != 0) found = buf;
    }
    freeifaddrs(list);
    return found;
}

// Denied by the default profile with SeccompAction::Errno: EPERM, or (if the policy kills)
// death by SIGSYS. Anything else (ok, EINVAL, ENOSYS, EFAULT...) means the kernel processed the
// call, i.e. nothing in the sandbox stopped it.
bool denied_eperm_or_sigsys(const Outcome& o, const std::string& label) {
    if (o.reason == Termination::SeccompViolation) return true;
    if (o.reason == Termination::Signaled && o.signal == SIGSYS) return true;
    return o.reason == Termination::Exit && attempt(o, label) == "EPERM";
}

}  // namespace

// ---- network ------------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: no network and not even the host's loopback",
                 "[containment][integration]") {
    uint16_t lo_port = 0;
    sandbox::UniqueFd lo_listener = host_listener("127.0.0.1", lo_port);
    uint16_t any_port = 0;
    sandbox::UniqueFd any_listener = host_listener("0.0.0.0", any_port);
    const std::string external_ip = host_external_ipv4();

    // Abstract unix sockets are per network namespace: the host's must be unreachable.
    const std::string abstract_name = tjtest::unique_token("tooljail-abstract");
    sandbox::UniqueFd unix_listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    REQUIRE(unix_listener.valid());
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    std::memcpy(ua.sun_path + 1, abstract_name.data(), abstract_name.size());
    socklen_t ua_len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    REQUIRE(bind(unix_listener.get(), reinterpret_cast<sockaddr*>(&ua), ua_len) == 0);
    REQUIRE(listen(unix_listener.get(), 8) == 0);

    // Landlock (ABI >= 4) also refuses TCP connect, with EACCES, unless the policy asks for
    // loopback (then local TCP servers must work); running each case with Landlock off as well
    // proves the network namespace holds on its own.
    const int abi = tjtest::shared_host()->landlock_abi();
    std::vector<sandbox::LandlockMode> modes = {sandbox::LandlockMode::Off};
    if (abi > 0) modes.push_back(sandbox::LandlockMode::Required);
    for (sandbox::LandlockMode mode : modes) {
        for (bool loopback : {false, true}) {
            const bool landlock_net =
                mode == sandbox::LandlockMode::Required && abi >= 4 && !loopback;
            config.landlock.mode = mode;
            config.loopback = loopback;
            INFO("loopback=" << loopback << " landlock="
                             << (mode == sandbox::LandlockMode::Required ? "required" : "off")
                             << " abi=" << abi);
            auto sb = prepare();

            // The host's 127.0.0.1 is not this namespace's: with lo down it is unreachable,
            // with lo up nothing listens on it.
            Outcome lo = tjtest::run_probe(*sb, {"connect", "127.0.0.1", std::to_string(lo_port)});
            require_ran(lo);
            TJ_SHOW(lo);
            CHECK(attempt(lo, "connect") == (landlock_net ? "EACCES"
                                             : loopback   ? "ECONNREFUSED"
                                                          : "ENETUNREACH"));

            if (!external_ip.empty()) {
                INFO("host address " << external_ip);
                Outcome ext =
                    tjtest::run_probe(*sb, {"connect", external_ip, std::to_string(any_port)});
                require_ran(ext);
                TJ_SHOW(ext);
                CHECK(attempt(ext, "connect") == (landlock_net ? "EACCES" : "ENETUNREACH"));
            }
            Outcome internet = tjtest::run_probe(*sb, {"connect", "1.1.1.1", "53"});
            require_ran(internet);
            TJ_SHOW(internet);
            CHECK(attempt(internet, "connect") == (landlock_net ? "EACCES" : "ENETUNREACH"));

            // Abstract names live in the network namespace (Landlock ABI 6 also scopes them).
            Outcome ux = tjtest::run_probe(*sb, {"connect-unix", "@" + abstract_name});
            require_ran(ux);
            TJ_SHOW(ux);
            const std::string ux_result = attempt(ux, "connect-unix");
            CHECK((ux_result == "ECONNREFUSED" || (abi >= 6 && ux_result == "EPERM")));

            // Only lo exists (down, or up with loopback=true).
            Outcome dev = tjtest::run_probe(*sb, {"cat", "/proc/net/dev"});
            require_ran(dev);
            auto lines = tjtest::split_lines(dev.out.data);
            REQUIRE(lines.size() >= 2);  // two header lines
            std::vector<std::string> interfaces;
            for (size_t i = 2; i < lines.size(); ++i) {
                std::string name = lines[i].substr(0, lines[i].find(':'));
                name.erase(0, name.find_first_not_of(' '));
                interfaces.push_back(name);
            }
            TJ_SHOW(dev);
            CHECK(interfaces == std::vector<std::string>{"lo"});
        }
    }
    CHECK(nothing_accepted(lo_listener.get()));
    CHECK(nothing_accepted(any_listener.get()));
    CHECK(nothing_accepted(unix_listener.get()));
}

// ---- processes ----------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: host processes are invisible and unkillable",
                 "[containment][integration]") {
    auto sb = prepare();

    Outcome ps = tjtest::run_probe(*sb, {"ps"});
    require_ran(ps);
    TJ_SHOW(ps);
    // The probe is pid 1 of its own pid namespace and the only process there.
    CHECK(tjtest::split_lines(ps.out.data) == std::vector<std::string>{"1 tooljail-probe"});

    // Our own host pid (SIGKILL: an escape would end this test visibly) and our parent's
    // (signal 0, a pure existence check): neither is visible, so neither is signalable.
    for (auto [target, sig] : {std::pair{getpid(), 9}, std::pair{getppid(), 0}}) {
        Outcome k = tjtest::run_probe(*sb, {"kill", std::to_string(target), std::to_string(sig)});
        INFO("kill " << target << " " << sig);
        require_ran(k);
        std::string r = attempt(k, "kill");
        CHECK((r == "ESRCH" || r == "EPERM"));
    }
    // kill(-1) reaches every process the caller may signal; inside, that is nobody else.
    Outcome all = tjtest::run_probe(*sb, {"kill", "-1", "9"});
    require_ran(all);
    CHECK(kill(getpid(), 0) == 0);
    CHECK(kill(getppid(), 0) == 0);
}

TEST_CASE_METHOD(SandboxFixture, "containment: concurrent runs cannot see or signal each other",
                 "[containment][integration]") {
    auto sb = prepare();
    sandbox::RunRequest sleeper;
    sleeper.argv = {tjtest::kProbe, "sleep", "1500"};
    auto first = sb->launch(sleeper);
    if (!first) FAIL("launch: " << first.error().message());
    const pid_t first_pid = (*first)->pid();

    Outcome ps = tjtest::run_probe(*sb, {"ps"});
    require_ran(ps);
    CHECK(tjtest::split_lines(ps.out.data) == std::vector<std::string>{"1 tooljail-probe"});
    Outcome k = tjtest::run_probe(*sb, {"kill", std::to_string(first_pid), "9"});
    require_ran(k);
    CHECK(attempt(k, "kill") == "ESRCH");

    // The first run was untouched and finishes normally.
    Outcome o = (*first)->wait();
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.exit_code == 0);
    CHECK(attempt(o, "sleep") == "ok");
}

TEST_CASE_METHOD(SandboxFixture, "containment: a double-forked daemon does not outlive the run",
                 "[containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-daemon");
    // The daemon would sleep 30 s holding stdout and stderr open.
    Outcome o = probe({"daemon", "30000", token});
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.exit_code == 0);
    CHECK(o.out.data.find("daemon pid=") != std::string::npos);  // it did start
    CHECK(o.out.data.find("daemon survived") == std::string::npos);
    CHECK(o.wall < sandbox::Millis{5000});  // the run did not wait for the daemon
    CHECK(tjtest::host_pids_with(token).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(tjtest::host_pids_with(token).empty());
}

TEST_CASE_METHOD(SandboxFixture, "containment: destroying a Run kills its whole tree",
                 "[containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-abandoned");
    auto sb = prepare();
    {
        sandbox::RunRequest request;
        request.argv = {tjtest::kProbe, "daemon", "30000", token};
        auto run = sb->launch(request);
        if (!run) FAIL("launch: " << run.error().message());
        // Give the daemon time to exist, then drop the Run without wait().
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        request.argv = {tjtest::kProbe, "sleep", "30000", token};
        auto sleeper = sb->launch(request);
        if (!sleeper) FAIL("launch: " << sleeper.error().message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(!tjtest::host_pids_with(token).empty());  // the sleeper, at least, is alive
    }
    CHECK(tjtest::host_pids_with(token).empty());
}

// ---- syscalls -----------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: dangerous syscalls are denied (default profile)",
                 "[containment][seccomp][integration]") {
    const std::string name = GENERATE(
        as<std::string>{}, "ptrace_traceme", "ptrace_attach", "mount", "umount", "unshare_user",
        "unshare_mnt", "unshare_net", "setns", "bpf", "keyctl", "add_key", "perf_event_open",
        "io_uring_setup", "userfaultfd", "clone_newuser", "clone_newns", "chroot", "pivot_root",
        "kexec_load", "init_module", "finit_module", "reboot", "swapon", "settimeofday",
        "clock_settime", "tiocsti", "tioclinux", "open_by_handle_at", "mknod", "acct");
    INFO("syscall " << name);
    Outcome o = probe({"syscall", name});
    TJ_SHOW(o);
    CHECK(denied_eperm_or_sigsys(o, name));
}

TEST_CASE_METHOD(SandboxFixture, "containment: clone3 is refused so clone flags stay visible",
                 "[containment][seccomp][integration]") {
    Outcome o = probe({"syscall", "clone3_newuser"});
    TJ_SHOW(o);
    // seccomp.h: clone3 fails with ENOSYS so libc falls back to clone(2).
    bool refused = o.reason == Termination::SeccompViolation ||
                   (o.reason == Termination::Exit && (attempt(o, "clone3_newuser") == "ENOSYS" ||
                                                      attempt(o, "clone3_newuser") == "EPERM"));
    CHECK(refused);
}

TEST_CASE_METHOD(SandboxFixture, "containment: kill mode ends the run with SIGSYS",
                 "[containment][seccomp][integration]") {
    config.seccomp.on_violation = sandbox::SeccompAction::Kill;
    auto sb = prepare();
    for (const char* name : {"keyctl", "ptrace_traceme", "unshare_user", "io_uring_setup"}) {
        INFO("syscall " << name);
        Outcome o = tjtest::run_probe(*sb, {"syscall", name});
        TJ_SHOW(o);
        CHECK(o.reason == Termination::SeccompViolation);
        CHECK(o.signal == SIGSYS);
        CHECK(attempt(o, name) == "missing");  // it never returned
    }
}

TEST_CASE_METHOD(SandboxFixture,
                 "containment: strict profile allows ordinary work and kills the rest",
                 "[containment][seccomp][integration]") {
    config.seccomp.profile = "strict";
    config.seccomp.on_violation = sandbox::SeccompAction::Kill;
    auto sb = prepare();

    Outcome ok = tjtest::run_probe(*sb, {"getuid"});
    TJ_SHOW(ok);
    CHECK(ok.reason == Termination::Exit);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.data.find("uid=1000") != std::string::npos);

    for (const char* name : {"keyctl", "bpf", "ptrace_traceme", "perf_event_open"}) {
        INFO("syscall " << name);
        Outcome o = tjtest::run_probe(*sb, {"syscall", name});
        TJ_SHOW(o);
        CHECK(o.reason == Termination::SeccompViolation);
        CHECK(o.signal == SIGSYS);
    }
}

TEST_CASE_METHOD(SandboxFixture, "containment: foreign syscall ABIs (x32 and int 0x80) are refused",
                 "[containment][seccomp][integration]") {
    const std::string abi = GENERATE(as<std::string>{}, "x32", "int80");
    INFO("abi " << abi);
    Outcome o = probe({abi});
    TJ_SHOW(o);
    // seccomp.h promises a kill; a plain error return is also a refusal. What must never happen
    // is the call succeeding (int80 getpid would print "ok ret=1").
    bool killed = o.reason == Termination::SeccompViolation ||
                  (o.reason == Termination::Signaled && o.signal == SIGSYS);
    bool refused =
        o.reason == Termination::Exit && attempt(o, abi) != "ok" && attempt(o, abi) != "missing";
    CHECK((killed || refused));
    CHECK(attempt(o, abi) != "ok");
}
