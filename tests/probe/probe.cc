// tooljail-probe: the payload the integration tests run inside the sandbox.
//
// Each subcommand ATTEMPTS one thing (usually an escape) and reports what happened on stdout.
// The probe never decides whether the result is good; the test does. Exit status is 0 when the
// attempt was made, whatever its result, and 2 on probe misuse (unknown subcommand, bad args).
// A few subcommands end differently on purpose (`exit`, `signal`, `fork-bomb`), as documented.
//
// Output grammar (one line per attempt, written with write(2) so nothing sits in a buffer when
// the process is killed):
//     <label> ok [key=value ...]
//     <label> err errno=<ENAME>
// Listing subcommands (`ps`, `env`, `fds`, `cat`, `ls`) print one item per line instead.
//
// Linked statically so that it runs from the workspace bind whatever the policy mounts, and so
// that its own startup makes only a handful of syscalls (the "strict" seccomp profile must let
// it reach main()).
//
// Dangerous calls use arguments the kernel rejects after its permission checks (bad magic for
// reboot, NULL times for settimeofday, a missing file for swapon) so that running the probe by
// mistake on the host as root changes nothing.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

constexpr int kExitMisuse = 2;

// printf to an fd with write(2): unbuffered, so output survives a SIGKILL right after.
__attribute__((format(printf, 2, 3))) void say_fd(int fd, const char* fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += static_cast<size_t>(w);
    }
}
#define say(...) say_fd(1, __VA_ARGS__)

const char* ename(int err) {
    if (err == 0) return "0";
    const char* name = strerrorname_np(err);
    return name ? name : "E?";
}

// Reports a syscall-style result: rc < 0 means failure with errno already set.
void report(const char* label, long rc) {
    int saved = errno;
    if (rc < 0) {
        say("%s err errno=%s\n", label, ename(saved));
    } else {
        say("%s ok ret=%ld\n", label, rc);
    }
}

[[noreturn]] void misuse(const char* why) {
    say_fd(2, "tooljail-probe: %s\n", why);
    _exit(kExitMisuse);
}

long to_long(const char* s) {
    char* end = nullptr;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0') misuse("bad number");
    return v;
}

uint64_t to_u64(const char* s) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0') misuse("bad number");
    return static_cast<uint64_t>(v);
}

void sleep_ms(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool write_all(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        len -= static_cast<size_t>(w);
    }
    return true;
}

// ---- filesystem ---------------------------------------------------------------------------------

int cmd_write(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report("write", -1);
        return 0;
    }
    const char payload[] = "tooljail-probe was here\n";
    if (!write_all(fd, payload, sizeof payload - 1)) {
        report("write", -1);
    } else {
        say("write ok bytes=%zu\n", sizeof payload - 1);
    }
    close(fd);
    return 0;
}

int cmd_read(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report("read", -1);
        return 0;
    }
    char buf[65536];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            report("read", -1);
            close(fd);
            return 0;
        }
        if (n == 0) break;
        total += static_cast<uint64_t>(n);
    }
    close(fd);
    say("read ok bytes=%llu\n", static_cast<unsigned long long>(total));
    return 0;
}

// Dumps a file to stdout (for /proc files the tests parse), or "cat err errno=...".
int cmd_cat(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report("cat", -1);
        return 0;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        write_all(1, buf, static_cast<size_t>(n));
    }
    close(fd);
    return 0;
}

int cmd_ls(const char* path) {
    DIR* dir = opendir(path);
    if (!dir) {
        report("ls", -1);
        return 0;
    }
    while (dirent* entry = readdir(dir)) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        say("%s\n", entry->d_name);
    }
    closedir(dir);
    return 0;
}

int cmd_statfs(const char* path) {
    struct statvfs st {};
    if (statvfs(path, &st) != 0) {
        report("statfs", -1);
        return 0;
    }
    struct statfs raw {};
    statfs(path, &raw);
    say("statfs ok type=0x%lx size=%llu free=%llu rdonly=%d nosuid=%d nodev=%d noexec=%d\n",
        static_cast<unsigned long>(raw.f_type),
        static_cast<unsigned long long>(st.f_blocks) * st.f_frsize,
        static_cast<unsigned long long>(st.f_bfree) * st.f_frsize, (st.f_flag & ST_RDONLY) ? 1 : 0,
        (st.f_flag & ST_NOSUID) ? 1 : 0, (st.f_flag & ST_NODEV) ? 1 : 0,
        (st.f_flag & ST_NOEXEC) ? 1 : 0);
    return 0;
}

// Writes /tmp/fill.<pid> in 1 MiB chunks until mb MiB are written or a write fails.
// SIGXFSZ is ignored so that RLIMIT_FSIZE shows up as EFBIG instead of a kill.
int cmd_fill_tmp(uint64_t mb) {
    signal(SIGXFSZ, SIG_IGN);
    char path[64];
    snprintf(path, sizeof path, "/tmp/fill.%d", static_cast<int>(getpid()));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        report("fill-tmp", -1);
        return 0;
    }
    static char chunk[1 << 20];
    memset(chunk, 'f', sizeof chunk);
    uint64_t written = 0;
    int err = 0;
    const uint64_t target = mb << 20;
    while (written < target) {
        ssize_t w = write(fd, chunk, sizeof chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            err = errno;
            break;
        }
        written += static_cast<uint64_t>(w);
    }
    close(fd);
    say("fill-tmp written=%llu errno=%s\n", static_cast<unsigned long long>(written), ename(err));
    return 0;
}

// ---- identity -----------------------------------------------------------------------------------

int cmd_getuid() {
    say("uid=%d gid=%d euid=%d egid=%d\n", static_cast<int>(getuid()), static_cast<int>(getgid()),
        static_cast<int>(geteuid()), static_cast<int>(getegid()));
    return 0;
}

// Prints the capability, no_new_privs and seccomp lines of /proc/self/status.
int cmd_caps() {
    FILE* f = fopen("/proc/self/status", "re");
    if (!f) {
        report("caps", -1);
        return 0;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs:", 11) == 0 ||
            strncmp(line, "Seccomp", 7) == 0) {
            say("%s", line);
        }
    }
    fclose(f);
    return 0;
}

int cmd_hostname() {
    utsname u{};
    uname(&u);
    say("hostname=%s domainname=%s\n", u.nodename, u.domainname);
    return 0;
}

int cmd_env() {
    for (char** e = environ; *e; ++e) say("%s\n", *e);
    return 0;
}

// Lists open fds with their targets, leaving out the fd opendir() itself uses.
int cmd_fds() {
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) {
        report("fds", -1);
        return 0;
    }
    int own = dirfd(dir);
    while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        int fd = atoi(entry->d_name);
        if (fd == own) continue;
        char target[512] = {};
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0) snprintf(target, sizeof target, "?");
        say("%d %s\n", fd, target);
    }
    closedir(dir);
    return 0;
}

int cmd_rlimit(const char* name) {
    struct Named {
        const char* name;
        int resource;
    };
    static const Named kLimits[] = {
        {"core", RLIMIT_CORE},       {"fsize", RLIMIT_FSIZE},       {"nofile", RLIMIT_NOFILE},
        {"cpu", RLIMIT_CPU},         {"nproc", RLIMIT_NPROC},       {"as", RLIMIT_AS},
        {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"stack", RLIMIT_STACK},
    };
    for (const Named& l : kLimits) {
        if (strcmp(l.name, name) != 0) continue;
        rlimit r{};
        if (getrlimit(l.resource, &r) != 0) {
            report("rlimit", -1);
            return 0;
        }
        auto show = [](rlim_t v) -> long long {
            return v == RLIM_INFINITY ? -1 : static_cast<long long>(v);
        };
        say("rlimit %s soft=%lld hard=%lld\n", name, show(r.rlim_cur), show(r.rlim_max));
        return 0;
    }
    misuse("unknown rlimit");
}

// ---- processes ----------------------------------------------------------------------------------

int cmd_ps() {
    DIR* dir = opendir("/proc");
    if (!dir) {
        report("ps", -1);
        return 0;
    }
    while (dirent* entry = readdir(dir)) {
        const char* n = entry->d_name;
        if (*n < '0' || *n > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/comm", n);
        char comm[64] = "?";
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = read(fd, comm, sizeof comm - 1);
            if (r > 0) {
                comm[r] = '\0';
                if (comm[r - 1] == '\n') comm[r - 1] = '\0';
            }
            close(fd);
        }
        say("%s %s\n", n, comm);
    }
    closedir(dir);
    return 0;
}

int cmd_kill(const char* pid, const char* sig) {
    report("kill", kill(static_cast<pid_t>(to_long(pid)), static_cast<int>(to_long(sig))));
    return 0;
}

// Burns CPU in `workers` processes (the probe itself plus workers-1 children) forever.
[[noreturn]] void cmd_spin(long workers) {
    for (long i = 1; i < workers; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            break;
        }
    }
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
}

// Forks until fork fails (the pids limit); children pause. Prints the count and the errno,
// then exits 1 so the run ends with the children still holding their pids.
int cmd_fork_bomb() {
    constexpr int kSafetyCap = 4096;  // never a real bomb if run outside a sandbox by mistake
    int forks = 0;
    int err = 0;
    while (forks < kSafetyCap) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (;;) pause();
        }
        ++forks;
    }
    say("fork-bomb forks=%d errno=%s\n", forks, ename(err));
    return 1;
}

// Allocates and touches mb MiB, 1 MiB at a time.
int cmd_memory_bomb(uint64_t mb) {
    uint64_t done = 0;
    for (; done < mb; ++done) {
        char* p = static_cast<char*>(malloc(1 << 20));
        if (!p) {
            say("memory-bomb err errno=%s mb=%llu\n", ename(errno),
                static_cast<unsigned long long>(done));
            return 0;
        }
        memset(p, 0x5a, 1 << 20);
    }
    say("memory-bomb ok mb=%llu\n", static_cast<unsigned long long>(done));
    return 0;
}

// Double fork + setsid: the grandchild is a daemon that keeps stdout/stderr open, ignores the
// polite signals and sleeps `ms`. Its cmdline carries `token` (every argv element is inherited),
// so the test can look for it on the host after the run. The probe itself exits 0 right away.
int cmd_daemon(long ms, const char* token) {
    pid_t child = fork();
    if (child < 0) {
        report("daemon", -1);
        return 0;
    }
    if (child == 0) {
        setsid();
        pid_t grandchild = fork();
        if (grandchild != 0) _exit(0);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        say("daemon pid=%d token=%s\n", static_cast<int>(getpid()), token);
        sleep_ms(ms);
        say("daemon survived token=%s\n", token);
        _exit(0);
    }
    waitpid(child, nullptr, 0);
    sleep_ms(50);  // let the grandchild print its line
    say("daemon ok parent-exiting\n");
    return 0;
}

// ---- network ------------------------------------------------------------------------------------

// TCP connect with a 2 s timeout (a dropped SYN must not turn into a test timeout).
int cmd_connect(const char* host, const char* port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(to_long(port)));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) misuse("connect: host must be IPv4");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        report("connect", -1);
        return 0;
    }
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int ready = poll(&p, 1, 2000);
        if (ready == 0) {
            errno = ETIMEDOUT;
            rc = -1;
        } else {
            int so_error = 0;
            socklen_t len = sizeof so_error;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            errno = so_error;
            rc = so_error == 0 ? 0 : -1;
        }
    }
    report("connect", rc);
    close(fd);
    return 0;
}

// Connects to a unix socket; "@name" is the abstract namespace.
int cmd_connect_unix(const char* name) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof addr.sun_path) misuse("connect-unix: bad name");
    memcpy(addr.sun_path, name, len);
    if (name[0] == '@') addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report("connect-unix", -1);
        return 0;
    }
    socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    report("connect-unix", connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len));
    close(fd);
    return 0;
}

// ---- dangerous syscalls -------------------------------------------------------------------------

long try_ptrace_attach() {
    // Attach to our own paused child: permitted by plain DAC (same uid, a descendant), so only
    // seccomp stands in the way.
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) pause();
    }
    long rc = ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
    int saved = errno;
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    errno = saved;
    return rc;
}

long try_clone_flags(unsigned long flags) {
    long rc = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return rc;
}

long try_clone3_newuser() {
    clone_args args{};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return rc;
}

long try_setns() {
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long rc = setns(fd, CLONE_NEWNET);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

long try_bpf() {
    bpf_attr attr{};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}

long try_perf_event_open() {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

long try_io_uring_setup() {
    io_uring_params params{};
    return syscall(SYS_io_uring_setup, 4, &params);
}

long try_tiocsti() {
    // Any terminal will do; in the sandbox there should be none, and the filter must refuse the
    // ioctl before the kernel even looks at the fd.
    char c = '#';
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    long rc = -1;
    int err = EBADF;
    for (int fd : {tty, 0, 1, 2}) {
        if (fd < 0) continue;
        rc = ioctl(fd, TIOCSTI, &c);
        err = errno;
        if (rc == 0 || err == EPERM) break;
    }
    if (tty >= 0) close(tty);
    errno = err;
    return rc;
}

long try_tioclinux() {
    char subcode = 12;  // TIOCL_GETSHIFTSTATE: harmless if it ever got through
    long rc = ioctl(0, TIOCLINUX, &subcode);
    return rc;
}

long try_open_by_handle_at() {
    struct {
        file_handle fh;
        unsigned char bytes[8];
    } handle{};
    handle.fh.handle_bytes = 8;
    handle.fh.handle_type = 1;
    return syscall(SYS_open_by_handle_at, AT_FDCWD, &handle.fh, O_RDONLY);
}

long try_mknod() {
    char path[64];
    snprintf(path, sizeof path, "/tmp/tooljail-probe-dev.%d", static_cast<int>(getpid()));
    long rc = mknod(path, S_IFCHR | 0600, makedev(1, 3));  // /dev/null's numbers
    if (rc == 0) unlink(path);
    return rc;
}

struct Attempt {
    const char* name;
    long (*run)();
};

const Attempt kAttempts[] = {
    {"ptrace_traceme", [] { return ptrace(PTRACE_TRACEME, 0, nullptr, nullptr); }},
    {"ptrace_attach", try_ptrace_attach},
    // The kernel checks the capability before it looks up the (missing) bind source, so this is
    // EPERM when refused and ENOENT (nothing mounted) when the call got through.
    {"mount",
     [] {
         return static_cast<long>(
             mount("/nonexistent-tooljail-probe", "/", nullptr, MS_BIND, nullptr));
     }},
    // Not a mount point: EPERM when refused, EINVAL when the call got through.
    {"umount", [] { return static_cast<long>(umount2("/proc/self/fd", MNT_DETACH)); }},
    {"unshare_user", [] { return static_cast<long>(unshare(CLONE_NEWUSER)); }},
    {"unshare_mnt", [] { return static_cast<long>(unshare(CLONE_NEWNS)); }},
    {"unshare_net", [] { return static_cast<long>(unshare(CLONE_NEWNET)); }},
    {"setns", try_setns},
    {"bpf", try_bpf},
    {"keyctl",
     [] { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1); }},
    {"add_key",
     [] {
         return syscall(SYS_add_key, "user", "tooljail-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
     }},
    {"perf_event_open", try_perf_event_open},
    {"io_uring_setup", try_io_uring_setup},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY); }},
    {"clone_newuser", [] { return try_clone_flags(CLONE_NEWUSER); }},
    {"clone_newns", [] { return try_clone_flags(CLONE_NEWNS); }},
    {"clone3_newuser", try_clone3_newuser},
    {"chroot", [] { return static_cast<long>(chroot("/tmp")); }},
    // may_mount() comes first: EPERM when refused, ENOENT when the call got through.
    {"pivot_root",
     [] { return syscall(SYS_pivot_root, "/nonexistent-tooljail-a", "/nonexistent-tooljail-b"); }},
    {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); }},
    {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); }},
    {"finit_module", [] { return syscall(SYS_finit_module, -1, "", 0); }},
    // Bad magic: after the capability check the kernel answers EINVAL and does nothing.
    {"reboot", [] { return syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, nullptr); }},
    {"swapon", [] { return syscall(SYS_swapon, "/nonexistent-swap", 0); }},
    // NULL time and zone: with the capability the kernel changes nothing.
    {"settimeofday", [] { return syscall(SYS_settimeofday, nullptr, nullptr); }},
    // CLOCK_MONOTONIC cannot be set: EINVAL if the call gets through, EPERM if filtered.
    {"clock_settime",
     [] {
         timespec ts{};
         return syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts);
     }},
    {"tiocsti", try_tiocsti},
    {"tioclinux", try_tioclinux},
    {"open_by_handle_at", try_open_by_handle_at},
    {"mknod", try_mknod},
    {"setuid0", [] { return static_cast<long>(setuid(0)); }},
    {"acct", [] { return syscall(SYS_acct, nullptr); }},
};

int cmd_syscall(const char* name) {
    for (const Attempt& a : kAttempts) {
        if (strcmp(a.name, name) != 0) continue;
        errno = 0;
        long rc = a.run();
        report(a.name, rc);
        return 0;
    }
    misuse("unknown syscall attempt");
}

int cmd_syscall_list() {
    for (const Attempt& a : kAttempts) say("%s\n", a.name);
    return 0;
}

// x32 ABI getpid (__X32_SYSCALL_BIT | 39). The pinned-arch filter should kill us first.
int cmd_x32() {
    errno = 0;
    long rc = syscall(0x40000000L | 39);
    report("x32", rc);
    return 0;
}

// i386 ABI getpid through int 0x80 (eax = 20). Returns the raw kernel value (-errno on error).
int cmd_int80() {
    long ret = 20;
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    if (ret < 0 && ret > -4096) {
        errno = static_cast<int>(-ret);
        report("int80", -1);
    } else {
        say("int80 ok ret=%ld\n", ret);
    }
    return 0;
}

// ---- output, input, ending ----------------------------------------------------------------------

int cmd_spew(uint64_t bytes, const char* stream) {
    int fd = 1;
    if (stream && strcmp(stream, "stderr") == 0)
        fd = 2;
    else if (stream && strcmp(stream, "stdout") != 0)
        misuse("spew: stream is stdout or stderr");
    signal(SIGPIPE, SIG_IGN);
    static char chunk[1 << 16];
    memset(chunk, 'y', sizeof chunk);
    uint64_t left = bytes;
    while (left > 0) {
        size_t n = left < sizeof chunk ? static_cast<size_t>(left) : sizeof chunk;
        ssize_t w = write(fd, chunk, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            say_fd(fd == 1 ? 2 : 1, "spew err errno=%s left=%llu\n", ename(errno),
                   static_cast<unsigned long long>(left));
            return 0;
        }
        left -= static_cast<uint64_t>(w);
    }
    return 0;
}

// FNV-1a 64 over all of stdin.
int cmd_stdin() {
    uint64_t hash = 1469598103934665603ull;
    uint64_t total = 0;
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            report("stdin", -1);
            return 0;
        }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            hash ^= static_cast<unsigned char>(buf[i]);
            hash *= 1099511628211ull;
        }
        total += static_cast<uint64_t>(n);
    }
    say("stdin bytes=%llu fnv=%016llx\n", static_cast<unsigned long long>(total),
        static_cast<unsigned long long>(hash));
    return 0;
}

// Dies of `sig`. As the pid-namespace init the probe cannot be killed by a signal it sends
// itself (the kernel drops it unless a handler exists), but faults the CPU raises are forced
// and do kill it, so the fault signals are produced by real faults.
[[noreturn]] void cmd_signal(int sig) {
    signal(sig, SIG_DFL);
    switch (sig) {
        case SIGSEGV: {
            volatile int* null_ptr = nullptr;
            *null_ptr = 1;
            break;
        }
        case SIGILL:
            asm volatile("ud2");
            break;
        case SIGTRAP:
            asm volatile("int3");
            break;
        case SIGFPE: {
            volatile int zero = 0;
            volatile int one = 1;
            one = one / zero;
            break;
        }
        default:
            raise(sig);
            break;
    }
    say("signal survived sig=%d pid=%d\n", sig, static_cast<int>(getpid()));
    _exit(0);
}

int cmd_exec(int argc, char** argv) {
    execve(argv[0], argv, environ);
    (void)argc;
    report("exec", -1);
    return 0;
}

void usage() {
    say_fd(2,
           "usage: tooljail-probe <command> [args]\n"
           "  write|read|cat|ls|mkdir|unlink|statfs <path>   fill-tmp <mb>\n"
           "  cwd | getuid | caps | hostname | env | fds | ps | cgroup | mounts | rlimit <name>\n"
           "  connect <ipv4> <port> | connect-unix <path|@abstract>\n"
           "  syscall <name> | syscall-list | x32 | int80\n"
           "  kill <pid> <sig> | spin [workers] | fork-bomb | memory-bomb <mb>\n"
           "  daemon <ms> <token> | sleep <ms> | spew <bytes> [stdout|stderr]\n"
           "  stdin | exit <code> | signal <sig> | exec <path> [args...]\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage();
        return kExitMisuse;
    }
    std::string_view cmd = argv[1];
    auto need = [&](int n) {
        if (argc < 2 + n) misuse("missing argument");
    };

    if (cmd == "write") return need(1), cmd_write(argv[2]);
    if (cmd == "read") return need(1), cmd_read(argv[2]);
    if (cmd == "cat") return need(1), cmd_cat(argv[2]);
    if (cmd == "ls") return need(1), cmd_ls(argv[2]);
    if (cmd == "mkdir") return need(1), report("mkdir", mkdir(argv[2], 0755)), 0;
    if (cmd == "unlink") return need(1), report("unlink", unlink(argv[2])), 0;
    if (cmd == "statfs") return need(1), cmd_statfs(argv[2]);
    if (cmd == "fill-tmp") return need(1), cmd_fill_tmp(to_u64(argv[2]));
    if (cmd == "cwd") {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd))
            say("cwd ok path=%s\n", cwd);
        else
            report("cwd", -1);
        return 0;
    }
    if (cmd == "getuid") return cmd_getuid();
    if (cmd == "caps") return cmd_caps();
    if (cmd == "hostname") return cmd_hostname();
    if (cmd == "env") return cmd_env();
    if (cmd == "fds") return cmd_fds();
    if (cmd == "ps") return cmd_ps();
    if (cmd == "cgroup") return cmd_cat("/proc/self/cgroup");
    if (cmd == "mounts") return cmd_cat("/proc/self/mountinfo");
    if (cmd == "rlimit") return need(1), cmd_rlimit(argv[2]);
    if (cmd == "connect") return need(2), cmd_connect(argv[2], argv[3]);
    if (cmd == "connect-unix") return need(1), cmd_connect_unix(argv[2]);
    if (cmd == "syscall") return need(1), cmd_syscall(argv[2]);
    if (cmd == "syscall-list") return cmd_syscall_list();
    if (cmd == "x32") return cmd_x32();
    if (cmd == "int80") return cmd_int80();
    if (cmd == "kill") return need(2), cmd_kill(argv[2], argv[3]);
    if (cmd == "spin") cmd_spin(argc > 2 ? to_long(argv[2]) : 1);
    if (cmd == "fork-bomb") return cmd_fork_bomb();
    if (cmd == "memory-bomb") return need(1), cmd_memory_bomb(to_u64(argv[2]));
    if (cmd == "daemon") return need(2), cmd_daemon(to_long(argv[2]), argv[3]);
    if (cmd == "sleep") {
        need(1);
        sleep_ms(to_long(argv[2]));
        say("sleep ok\n");
        return 0;
    }
    if (cmd == "spew") return need(1), cmd_spew(to_u64(argv[2]), argc > 3 ? argv[3] : nullptr);
    if (cmd == "stdin") return cmd_stdin();
    if (cmd == "exit") return need(1), static_cast<int>(to_long(argv[2]));
    if (cmd == "signal") {
        need(1);
        cmd_signal(static_cast<int>(to_long(argv[2])));
    }
    if (cmd == "exec") return need(1), cmd_exec(argc - 2, argv + 2);
    usage();
    return kExitMisuse;
}
