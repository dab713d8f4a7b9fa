// Seccomp profiles against the real kernel. Each attempt runs in a forked child that sets
// NO_NEW_PRIVS (so no privilege is needed), installs the compiled program and makes one call;
// the result comes back through a pipe, or as the signal that ended the child. Most attempts
// use arguments the kernel would reject for another reason (ENOENT, EBADF, ENOTTY...) and run
// once more without the filter, so a test cannot pass because the host said EPERM by itself.
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

using namespace sandbox;
using sandbox::seccomp::Program;

const Program& program(const std::string& profile, SeccompAction action) {
    static std::map<std::pair<std::string, SeccompAction>, Program> cache;
    auto key = std::make_pair(profile, action);
    auto it = cache.find(key);
    if (it == cache.end()) {
        auto compiled = seccomp::compile(SeccompConfig{profile, action});
        INFO((compiled ? "" : compiled.error().message()));
        REQUIRE(compiled);
        it = cache.emplace(key, std::move(*compiled)).first;
    }
    return it->second;
}
const Program& default_errno() { return program("default", SeccompAction::Errno); }
const Program& default_kill() { return program("default", SeccompAction::Kill); }
const Program& strict_errno() { return program("strict", SeccompAction::Errno); }
const Program& strict_kill() { return program("strict", SeccompAction::Kill); }

struct Attempt {
    bool exited = false;  // the child reached _exit after the call
    int signal = 0;       // the signal that killed it instead
    long ret = 0;
    int err = 0;
    std::string describe() const {
        if (!exited)
            return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
        return "returned " + std::to_string(ret) + " errno " + std::to_string(err) + " (" +
               strerror(err) + ")";
    }
};

// Runs call() in a child with `filter` installed (nullptr: unfiltered control run).
Attempt attempt(const Program* filter, long (*call)()) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
        if (filter && seccomp::install(*filter) != 0) _exit(121);
        errno = 0;
        long msg[2] = {call(), 0};
        msg[1] = errno;
        _exit(write(fds[1], msg, sizeof msg) == sizeof msg ? 0 : 122);
    }
    close(fds[1]);
    long msg[2] = {0, 0};
    ssize_t n;
    do n = read(fds[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    Attempt a;
    if (WIFSIGNALED(status)) {
        a.signal = WTERMSIG(status);
        return a;
    }
    INFO("child exit status " << WEXITSTATUS(status) << " (120: prctl, 121: install failed)");
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(n == sizeof msg);
    a.exited = true;
    a.ret = msg[0];
    a.err = static_cast<int>(msg[1]);
    return a;
}

// The filter turns the call into -1/expected_errno; without it the call ends differently.
void check_fails_with(const Program& filter, long (*call)(), int expected_errno) {
    Attempt filtered = attempt(&filter, call);
    INFO("filtered: " << filtered.describe());
    CHECK(filtered.exited);
    CHECK(filtered.ret == -1);
    CHECK(filtered.err == expected_errno);
    Attempt control = attempt(nullptr, call);
    if (control.exited && control.ret == -1 && control.err == expected_errno)
        WARN("unfiltered call fails the same way on this host; the check is not discriminating");
}

void check_killed(const Program& filter, long (*call)()) {
    Attempt filtered = attempt(&filter, call);
    INFO("filtered: " << filtered.describe());
    CHECK_FALSE(filtered.exited);
    CHECK(filtered.signal == SIGSYS);
}

void check_allowed(const Program& filter, long (*call)()) {
    Attempt filtered = attempt(&filter, call);
    INFO("filtered: " << filtered.describe());
    REQUIRE(filtered.exited);
    CHECK(filtered.ret >= 0);
}

// ---- the calls (arguments chosen so that an unfiltered call is harmless) ----

long call_mount() { return mount("none", "/nonexistent/tooljail", "tmpfs", 0, nullptr); }
long call_ptrace() { return ptrace(PTRACE_TRACEME, 0, nullptr, nullptr); }
long call_unshare_user() { return unshare(CLONE_NEWUSER); }
long call_setns() { return setns(-1, 0); }
long call_bpf() { return syscall(SYS_bpf, 9999, nullptr, 0); }
long call_keyctl() { return syscall(SYS_keyctl, 9999, 0, 0, 0, 0); }
long call_perf() { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }
long call_io_uring() { return syscall(SYS_io_uring_setup, 0, nullptr); }
long call_userfaultfd() { return syscall(SYS_userfaultfd, ~0U); }
long call_get_mempolicy() { return syscall(SYS_get_mempolicy, nullptr, nullptr, 0, nullptr, 0); }

// Raw clone without a new stack behaves like fork: the copy exits at once.
long raw_clone(unsigned long flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    int saved = errno;
    if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
    errno = saved;
    return pid;
}
long call_clone_plain() { return raw_clone(0); }
long call_clone_newuser() { return raw_clone(CLONE_NEWUSER); }
long call_clone_newns() { return raw_clone(CLONE_NEWNS); }
long call_clone_newnet() { return raw_clone(CLONE_NEWNET); }
// The kernel reads only the low 32 bits of clone's flags; the filter must not be fooled.
long call_clone_newuser_high() { return raw_clone((1UL << 32) | CLONE_NEWUSER); }
long call_clone3() { return syscall(SYS_clone3, nullptr, 0); }
long call_memfd_create() {
    long fd = syscall(SYS_memfd_create, "seccomp-test", 0);
    if (fd >= 0) close(static_cast<int>(fd));
    return fd;
}

// TIOCSTI on /dev/null: ENOTTY without the filter, so nothing is ever injected.
long ioctl_devnull(unsigned long cmd) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char c = 'x';
    long r = syscall(SYS_ioctl, fd, cmd, &c);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}
long call_tiocsti() { return ioctl_devnull(TIOCSTI); }
long call_tiocsti_high() { return ioctl_devnull((1UL << 32) | TIOCSTI); }
long call_tiocsti_all_high() { return ioctl_devnull(0xffffffff00000000UL | TIOCSTI); }
long call_tioclinux() { return ioctl_devnull(TIOCLINUX); }
long call_fionread_pipe() {
    int p[2];
    if (pipe(p) != 0) return -1;
    int avail = -1;
    long r = write(p[1], "abc", 3) == 3 ? ioctl(p[0], FIONREAD, &avail) : -1;
    close(p[0]);
    close(p[1]);
    return r == 0 ? avail : -1;
}

long call_personality_query() { return syscall(SYS_personality, 0xffffffffUL); }
long call_personality_linux() { return syscall(SYS_personality, 0UL); }
long call_personality_no_aslr() { return syscall(SYS_personality, ADDR_NO_RANDOMIZE); }
long call_personality_no_aslr_high() {
    return syscall(SYS_personality, (1UL << 32) | ADDR_NO_RANDOMIZE);
}

long open_socket(long family, int type, long protocol) {
    long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) close(static_cast<int>(fd));
    return fd;
}
long call_socket_unix() { return open_socket(AF_UNIX, SOCK_STREAM, 0); }
long call_socket_inet() { return open_socket(AF_INET, SOCK_DGRAM, 0); }
long call_socket_inet6() { return open_socket(AF_INET6, SOCK_DGRAM, 0); }
long call_socket_netlink_route() { return open_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); }
long call_socket_netlink_netfilter() {
    return open_socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
}
long call_socket_packet() { return open_socket(AF_PACKET, SOCK_RAW, 0); }
long call_socket_packet_high() { return open_socket((1L << 32) | AF_PACKET, SOCK_RAW, 0); }
long call_socket_vsock() { return open_socket(AF_VSOCK, SOCK_STREAM, 0); }
long call_socket_alg() { return open_socket(AF_ALG, SOCK_SEQPACKET, 0); }

long call_getpid() { return syscall(SYS_getpid) == getpid() ? getpid() : -1; }
long call_pipe_roundtrip() {
    int p[2];
    if (pipe(p) != 0) return -1;
    char buf[5] = {};
    bool ok =
        write(p[1], "hello", 5) == 5 && read(p[0], buf, 5) == 5 && memcmp(buf, "hello", 5) == 0;
    close(p[0]);
    close(p[1]);
    return ok ? 0 : -1;
}
long call_fork_wait() {
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : -1;
}

// x32: same x86_64 entry point, AUDIT_ARCH_X86_64, nr | 0x40000000 (__X32_SYSCALL_BIT).
long call_x32_getpid() { return syscall(0x40000000L | SYS_getpid); }
// i386 ABI from a 64-bit process: int $0x80 with eax = 20 (getpid), AUDIT_ARCH_I386.
long call_int80_getpid() {
    long ret;
    asm volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "cc", "r8", "r9", "r10", "r11");
    if (ret < 0) {
        errno = static_cast<int>(-ret);
        return -1;
    }
    return ret;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("seccomp: profile names", "[seccomp][unit]") {
    CHECK(seccomp::profile_names() == std::vector<std::string>{"default", "strict"});
}

TEST_CASE("seccomp: unknown profile is rejected", "[seccomp][unit]") {
    auto r = seccomp::compile(SeccompConfig{"x", SeccompAction::Errno});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::InvalidArgument);
    CHECK(r.error().context == "seccomp: unknown profile 'x' (known: default, strict)");
}

TEST_CASE("seccomp: every profile compiles within the kernel's size limit", "[seccomp][unit]") {
    for (const auto& name : seccomp::profile_names()) {
        for (auto action : {SeccompAction::Errno, SeccompAction::Kill}) {
            const Program& p = program(name, action);
            CHECK(p.profile == name);
            CHECK_FALSE(p.filter.empty());
            CHECK(p.filter.size() <= BPF_MAXINSNS);
        }
    }
}

TEST_CASE("seccomp: install refuses an empty program", "[seccomp][unit]") {
    CHECK(seccomp::install(Program{"empty", {}}) == EINVAL);
}

TEST_CASE("seccomp default: mount is denied", "[seccomp][unit]") {
    check_fails_with(default_errno(), call_mount, EPERM);
}

TEST_CASE("seccomp default: ptrace(PTRACE_TRACEME) is denied", "[seccomp][unit]") {
    check_fails_with(default_errno(), call_ptrace, EPERM);
}

TEST_CASE("seccomp default: unshare(CLONE_NEWUSER) and setns are denied", "[seccomp][unit]") {
    check_fails_with(default_errno(), call_unshare_user, EPERM);
    check_fails_with(default_errno(), call_setns, EPERM);
}

TEST_CASE("seccomp default: kernel attack-surface syscalls are denied", "[seccomp][unit]") {
    SECTION("bpf") { check_fails_with(default_errno(), call_bpf, EPERM); }
    SECTION("keyctl") { check_fails_with(default_errno(), call_keyctl, EPERM); }
    SECTION("perf_event_open") { check_fails_with(default_errno(), call_perf, EPERM); }
    SECTION("io_uring_setup") { check_fails_with(default_errno(), call_io_uring, EPERM); }
    SECTION("userfaultfd") { check_fails_with(default_errno(), call_userfaultfd, EPERM); }
}

TEST_CASE("seccomp default: clone with namespace flags is denied", "[seccomp][unit]") {
    SECTION("CLONE_NEWUSER") { check_fails_with(default_errno(), call_clone_newuser, EPERM); }
    SECTION("CLONE_NEWNS") { check_fails_with(default_errno(), call_clone_newns, EPERM); }
    SECTION("CLONE_NEWNET") { check_fails_with(default_errno(), call_clone_newnet, EPERM); }
    SECTION("CLONE_NEWUSER with upper flag bits set") {
        check_fails_with(default_errno(), call_clone_newuser_high, EPERM);
    }
    SECTION("plain clone still works") { check_allowed(default_errno(), call_clone_plain); }
}

TEST_CASE("seccomp default: clone3 fails with ENOSYS", "[seccomp][unit]") {
    check_fails_with(default_errno(), call_clone3, ENOSYS);
    // Not a kill even when violations kill: libc must see ENOSYS to fall back to clone(2).
    check_fails_with(default_kill(), call_clone3, ENOSYS);
}

TEST_CASE("seccomp default: TIOCSTI and TIOCLINUX are denied, upper bits included",
          "[seccomp][unit]") {
    check_fails_with(default_errno(), call_tiocsti, EPERM);
    check_fails_with(default_errno(), call_tiocsti_high, EPERM);
    check_fails_with(default_errno(), call_tiocsti_all_high, EPERM);
    check_fails_with(default_errno(), call_tioclinux, EPERM);
    // Other ioctls pass: FIONREAD on a pipe reports the 3 buffered bytes.
    Attempt a = attempt(&default_errno(), call_fionread_pipe);
    INFO(a.describe());
    CHECK(a.ret == 3);
}

TEST_CASE("seccomp default: personality allows only PER_LINUX and the query", "[seccomp][unit]") {
    check_allowed(default_errno(), call_personality_query);
    check_allowed(default_errno(), call_personality_linux);
    check_fails_with(default_errno(), call_personality_no_aslr, EPERM);
    check_fails_with(default_errno(), call_personality_no_aslr_high, EPERM);
}

TEST_CASE("seccomp default: socket families outside the allowlist are denied", "[seccomp][unit]") {
    check_allowed(default_errno(), call_socket_unix);
    check_allowed(default_errno(), call_socket_inet);
    check_allowed(default_errno(), call_socket_inet6);
    check_allowed(default_errno(), call_socket_netlink_route);
    check_fails_with(default_errno(), call_socket_netlink_netfilter, EPERM);
    check_fails_with(default_errno(), call_socket_packet, EPERM);
    check_fails_with(default_errno(), call_socket_packet_high, EPERM);
    check_fails_with(default_errno(), call_socket_vsock, EPERM);
    check_fails_with(default_errno(), call_socket_alg, EPERM);
}

TEST_CASE("seccomp default: ordinary syscalls still work", "[seccomp][unit]") {
    check_allowed(default_errno(), call_getpid);
    check_allowed(default_errno(), call_pipe_roundtrip);
    check_allowed(default_errno(), call_fork_wait);
    check_allowed(default_errno(), call_get_mempolicy);
}

TEST_CASE("seccomp default: x32 syscalls kill the process", "[seccomp][unit]") {
    // libseccomp 2.5.4 routes nr >= 0x40000000 under AUDIT_ARCH_X86_64 to the bad-arch action.
    Attempt control = attempt(nullptr, call_x32_getpid);
    INFO("unfiltered: " << control.describe());  // ENOSYS where CONFIG_X86_X32_ABI is off
    check_killed(default_errno(), call_x32_getpid);
    check_killed(strict_errno(), call_x32_getpid);
}

TEST_CASE("seccomp default: i386 int 0x80 syscalls kill the process", "[seccomp][unit]") {
    Attempt control = attempt(nullptr, call_int80_getpid);
    INFO("unfiltered: " << control.describe());
    if (!control.exited || control.ret <= 0) {
        WARN("int 0x80 does not work here without a filter (ia32 emulation off?): " +
             control.describe());
        return;
    }
    check_killed(default_errno(), call_int80_getpid);
    check_killed(strict_errno(), call_int80_getpid);
}

TEST_CASE("seccomp default with kill: a denied syscall ends the child with SIGSYS",
          "[seccomp][unit]") {
    check_killed(default_kill(), call_mount);
    check_killed(default_kill(), call_clone_newuser);
    check_killed(default_kill(), call_tiocsti_high);
    check_allowed(default_kill(), call_getpid);
    check_allowed(default_kill(), call_fork_wait);
}

// ---- strict: real programs under the filter ----

namespace {

struct Run {
    int status = 0;
    std::string output;  // stdout and stderr together
};

Run run_program(const Program* filter, std::vector<std::string> argv, const std::string& cwd) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::string home = "HOME=" + cwd;
    std::vector<char*> env = {const_cast<char*>("PATH=/usr/bin:/bin"), home.data(),
                              const_cast<char*>("LC_ALL=C"),
                              const_cast<char*>("GIT_CONFIG_NOSYSTEM=1"), nullptr};
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // Everything that allocates happens before the filter, as in the real child.
        if (dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0 || chdir(cwd.c_str()) != 0) _exit(125);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
        if (filter && seccomp::install(*filter) != 0) _exit(127);
        execve(args[0], args.data(), env.data());
        _exit(124);
    }
    close(fds[1]);
    Run r;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        r.output.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    REQUIRE(waitpid(pid, &r.status, 0) == pid);
    return r;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/tooljail-seccomp-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

void check_runs(const Program& filter, std::vector<std::string> argv, const std::string& expect) {
    TempDir dir;
    Run r = run_program(&filter, argv, dir.path);
    INFO(argv.back() << "\nstatus " << r.status << "\noutput:\n" << r.output);
    CHECK(WIFEXITED(r.status));
    CHECK(WEXITSTATUS(r.status) == 0);
    CHECK(r.output.find(expect) != std::string::npos);
}

}  // namespace

TEST_CASE("seccomp strict: shells, coreutils, python3 and git run", "[seccomp][unit]") {
    for (const Program* filter : {&strict_errno(), &strict_kill()}) {
        INFO((filter == &strict_kill() ? "kill on violation" : "EPERM on violation"));
        check_runs(*filter, {"/bin/sh", "-c", "echo hi"}, "hi\n");
        check_runs(*filter, {"/usr/bin/python3", "-c", "print(1)"}, "1\n");
        check_runs(*filter, {"/usr/bin/git", "--version"}, "git version");
        check_runs(*filter, {"/bin/ls", "/"}, "usr");
        check_runs(*filter,
                   {"/bin/bash", "-c",
                    "x=$(echo abc | tr a-z A-Z); echo \"$x\" > f && cat f | grep -c ABC && "
                    "find . -name f -type f && sort -r f | wc -l"},
                   "./f");
        check_runs(*filter,
                   {"/bin/sh", "-c",
                    "git init -q r && cd r && echo x > f && git add f && "
                    "git -c user.name=t -c user.email=t@t commit -qm first && "
                    "git log --oneline | grep -q first && git status --short && echo done"},
                   "done");
        check_runs(*filter,
                   {"/usr/bin/python3", "-c",
                    "import subprocess, threading, tempfile, json\n"
                    "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
                    "out = subprocess.run(['echo', 'sub'], capture_output=True).stdout\n"
                    "with tempfile.TemporaryFile() as f: f.write(b'x')\n"
                    "print(json.dumps(out.decode().strip()))"},
                   "\"sub\"");
    }
}

TEST_CASE("seccomp strict: the static probe reaches main", "[seccomp][unit]") {
    // The probe is built next to the unit tests when the whole tree is built.
    auto probe = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tooljail-probe";
    if (!std::filesystem::exists(probe)) {
        WARN("tooljail-probe not built (" + probe.string() + "); skipping");
        return;
    }
    check_runs(strict_errno(), {probe.string(), "getuid"}, "uid=");
    check_runs(strict_errno(), {probe.string(), "write", "out"}, "write ok");
    check_runs(strict_errno(), {probe.string(), "sleep", "1"}, "sleep ok");
    check_runs(strict_errno(), {probe.string(), "syscall", "mount"}, "mount err errno=EPERM");
}

TEST_CASE("seccomp strict: syscalls outside the allowlist fail", "[seccomp][unit]") {
    check_fails_with(strict_errno(), call_mount, EPERM);
    check_fails_with(strict_errno(), call_ptrace, EPERM);
    check_fails_with(strict_errno(), call_get_mempolicy, EPERM);  // allowed by "default"
    check_fails_with(strict_errno(), call_clone_newuser, EPERM);
    check_fails_with(strict_errno(), call_clone_newuser_high, EPERM);
    check_fails_with(strict_errno(), call_clone3, ENOSYS);
    check_fails_with(strict_errno(), call_tiocsti, EPERM);
    check_fails_with(strict_errno(), call_tiocsti_high, EPERM);
    check_fails_with(strict_errno(), call_personality_no_aslr_high, EPERM);
    check_fails_with(strict_errno(), call_socket_packet, EPERM);
    check_fails_with(strict_errno(), call_socket_netlink_netfilter, EPERM);
    check_allowed(strict_errno(), call_socket_netlink_route);
    check_allowed(strict_errno(), call_personality_query);
    check_allowed(strict_errno(), call_clone_plain);
    Attempt a = attempt(&strict_errno(), call_fionread_pipe);
    INFO(a.describe());
    CHECK(a.ret == 3);
}

TEST_CASE("seccomp strict with kill: a denied syscall ends the child with SIGSYS",
          "[seccomp][unit]") {
    check_killed(strict_kill(), call_get_mempolicy);
    check_killed(strict_kill(), call_tiocsti_high);
    check_fails_with(strict_kill(), call_clone3, ENOSYS);
}

TEST_CASE("seccomp strict: memfd_create is ENOSYS in both modes, and allowed by default",
          "[seccomp][unit]") {
    // A memfd is executable through /proc/self/fd or execveat on any kernel before 6.3 (issue
    // 16 item 4); strict refuses it without killing, so callers fall back.
    check_fails_with(strict_errno(), call_memfd_create, ENOSYS);
    check_fails_with(strict_kill(), call_memfd_create, ENOSYS);
    check_allowed(default_errno(), call_memfd_create);
}

// ---- exhaustive-ish checks of the argument rules with a user-space BPF interpreter ----

namespace {

// Evaluates a classic-BPF seccomp program the way the kernel does, for the instruction subset
// libseccomp emits. Returns the SECCOMP_RET_* value.
uint32_t run_bpf(const Program& p, int nr, uint64_t arg0, uint64_t arg1) {
    seccomp_data data{};
    data.nr = nr;
    data.arch = AUDIT_ARCH_X86_64;
    data.args[0] = arg0;
    data.args[1] = arg1;
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
    for (size_t pc = 0; pc < p.filter.size(); ++pc) {
        const sock_filter& in = p.filter[pc];
        switch (in.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                if (in.k + 4 > sizeof data) FAIL("load beyond seccomp_data at " << pc);
                memcpy(&a, reinterpret_cast<const char*>(&data) + in.k, 4);
                break;
            case BPF_LD | BPF_MEM: a = mem[in.k]; break;
            case BPF_LDX | BPF_MEM: x = mem[in.k]; break;
            case BPF_ST: mem[in.k] = a; break;
            case BPF_STX: mem[in.k] = x; break;
            case BPF_ALU | BPF_AND | BPF_K: a &= in.k; break;
            case BPF_MISC | BPF_TAX: x = a; break;
            case BPF_MISC | BPF_TXA: a = x; break;
            case BPF_JMP | BPF_JA: pc += in.k; break;
            case BPF_JMP | BPF_JEQ | BPF_K: pc += a == in.k ? in.jt : in.jf; break;
            case BPF_JMP | BPF_JGT | BPF_K: pc += a > in.k ? in.jt : in.jf; break;
            case BPF_JMP | BPF_JGE | BPF_K: pc += a >= in.k ? in.jt : in.jf; break;
            case BPF_JMP | BPF_JSET | BPF_K: pc += (a & in.k) ? in.jt : in.jf; break;
            case BPF_RET | BPF_K: return in.k;
            default: FAIL("unsupported BPF opcode " << in.code << " at " << pc);
        }
    }
    FAIL("program fell off the end");
    return 0;
}

constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;

std::vector<uint64_t> interesting_values(uint32_t a, uint32_t b) {
    std::vector<uint64_t> lows;
    for (uint32_t v = 0; v < 0x10000; ++v) lows.push_back(v);
    for (int bit = 0; bit < 32; ++bit) {
        for (uint32_t base : {a, b, 0u, 0xffffffffu}) lows.push_back(base ^ (1u << bit));
    }
    for (uint32_t base : {a, b}) lows.push_back(base);
    std::mt19937_64 rng(42);
    for (int i = 0; i < 20000; ++i) lows.push_back(static_cast<uint32_t>(rng()));
    std::vector<uint64_t> out;
    for (uint64_t low : lows)
        for (uint64_t high : {0ULL, 1ULL, 0x80000000ULL, 0xffffffffULL})
            out.push_back(high << 32 | low);
    return out;
}

}  // namespace

TEST_CASE("seccomp filters: ioctl and personality rules match the low 32 bits exactly",
          "[seccomp][unit]") {
    SECTION("strict allows every ioctl but TIOCSTI and TIOCLINUX") {
        for (uint64_t cmd : interesting_values(TIOCSTI, TIOCLINUX)) {
            uint32_t low = static_cast<uint32_t>(cmd);
            bool banned = low == TIOCSTI || low == TIOCLINUX;
            uint32_t action = run_bpf(strict_errno(), SYS_ioctl, 3, cmd);
            if (action != (banned ? kEperm : SECCOMP_RET_ALLOW)) FAIL("ioctl cmd " << cmd);
        }
    }
    SECTION("default denies every personality but 0 and 0xffffffff") {
        for (uint64_t persona : interesting_values(0, 0xffffffffu)) {
            uint32_t low = static_cast<uint32_t>(persona);
            bool ok = low == 0 || low == 0xffffffffu;
            uint32_t action = run_bpf(default_errno(), SYS_personality, persona, 0);
            if (action != (ok ? SECCOMP_RET_ALLOW : kEperm)) FAIL("personality " << persona);
        }
    }
    SECTION("the interpreter agrees with the kernel on a plain deny") {
        CHECK(run_bpf(default_errno(), SYS_mount, 0, 0) == kEperm);
        CHECK(run_bpf(default_errno(), SYS_getpid, 0, 0) == SECCOMP_RET_ALLOW);
        CHECK(run_bpf(default_kill(), SYS_mount, 0, 0) == SECCOMP_RET_KILL_PROCESS);
        CHECK(run_bpf(default_errno(), 0x40000000 | SYS_getpid, 0, 0) == SECCOMP_RET_KILL_PROCESS);
    }
}
