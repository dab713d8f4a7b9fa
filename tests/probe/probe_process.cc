// tooljail-probe: identity, environment and process subcommands (getuid, caps, hostname, env,
// fds, rlimit, ps, kill, spin, fork-bomb, memory-bomb, daemon, signal).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "probe.h"

namespace probe {

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
        case SIGILL: asm volatile("ud2"); break;
        case SIGTRAP: asm volatile("int3"); break;
        case SIGFPE: {
            volatile int zero = 0;
            volatile int one = 1;
            one = one / zero;
            break;
        }
        default: raise(sig); break;
    }
    say("signal survived sig=%d pid=%d\n", sig, static_cast<int>(getpid()));
    _exit(0);
}

}  // namespace probe
