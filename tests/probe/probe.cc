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
#include "probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace probe {

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
           "  stdin | exit <code> | signal <sig> | exec <path> [args...]\n"
           "  copy-exec <src> <dst> <path> [args...] | memfd-exec <src> <proc|at> <argv0> "
           "[args...]\n");
}

}  // namespace probe

using namespace probe;

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
    if (cmd == "copy-exec") return need(3), cmd_copy_exec(argc - 2, argv + 2);
    if (cmd == "memfd-exec") return need(3), cmd_memfd_exec(argc - 2, argv + 2);
    usage();
    return kExitMisuse;
}
