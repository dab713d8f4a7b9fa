// tooljail-probe: network and syscall subcommands (connect, connect-unix, the denied-syscall
// table, foreign ABIs, terminal ioctls).
#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "probe.h"

namespace probe {

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

namespace {

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
}  // namespace

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

}  // namespace probe
