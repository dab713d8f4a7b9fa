// Seccomp profiles, compiled with libseccomp in the parent and installed as raw BPF in the child.
// docs/SECCOMP.md lists every rule with its reason; this file carries the mechanics.
//
// Three libseccomp 2.5.4 behaviours shape the code below:
//  * Argument comparisons are 64-bit, but the kernel truncates int/unsigned-int arguments (ioctl
//    cmd, personality, clone flags via lower_32_bits, socket family). A plain EQ on TIOCSTI is
//    bypassed by TIOCSTI | 1<<32, so every check on such an argument masks the low 32 bits.
//  * One rule may test each argument only once (two NE on arg0 is EINVAL), so "not in {a, b}"
//    is built from several single-comparison rules (add_unless_lo32_in).
//  * An unconditional rule swallows later conditional rules for the same syscall with another
//    action (ALLOW ioctl + ERRNO ioctl(TIOCSTI) exports as a bare ALLOW). So the strict profile
//    never allows ioctl unconditionally; it allows the complement of the banned commands.
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <initializer_list>

#include "sandbox/base/unique_fd.h"

namespace sandbox::seccomp {
namespace {

// Namespace-creating clone flags. CLONE_NEWTIME (0x80) overlaps the exit-signal byte of clone(2)
// and only takes effect through clone3, which is ENOSYS anyway; testing it costs nothing, since
// no valid signal number has that bit set.
constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,     CLONE_NEWUSER, CLONE_NEWPID,
                                        CLONE_NEWNET,    CLONE_NEWIPC,  CLONE_NEWUTS,
                                        CLONE_NEWCGROUP, CLONE_NEWTIME};
constexpr uint64_t kLow32 = 0xffffffffu;

// Ioctls that push input into a terminal or poke the console (TIOCSTI: CVE-2017-5226 and the
// classic sandbox escape through an inherited tty; TIOCLINUX: selection/console injection).
constexpr uint32_t kBannedIoctl[2] = {TIOCSTI, TIOCLINUX};

// personality(2): PER_LINUX and the query value. Everything else (ADDR_NO_RANDOMIZE,
// READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, other execution domains) weakens the process.
constexpr uint32_t kPersonalityLinux = 0;
constexpr uint32_t kPersonalityQuery = 0xffffffffu;

// Socket families a tool may create. The network namespace is empty, so INET/INET6 reach at
// most loopback; NETLINK only for NETLINK_ROUTE, which glibc's getaddrinfo/if_nameindex use.
// Everything else is denied: AF_VSOCK is not namespaced and reaches the hypervisor host;
// AF_PACKET, AF_KEY, AF_ALG, nf_tables over NETLINK_NETFILTER etc. are exploit surface.
constexpr uint64_t kAllowedFamilies[] = {AF_UNIX, AF_INET, AF_INET6};

// "default" profile: allowed unless listed. Names the native arch lacks are skipped.
constexpr const char* kDefaultDenied[] = {
    // mount table and root: the sandbox built its tree; tools must not change it
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    // namespaces (clone's namespace flags are handled separately)
    "unshare",
    "setns",
    // other processes' memory and descriptors
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "process_mrelease",
    "move_pages",
    "migrate_pages",
    // large kernel attack surface, not needed by CLI tools
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "fanotify_init",
    "name_to_handle_at",
    "open_by_handle_at",
    "lookup_dcookie",
    "modify_ldt",
    "memfd_secret",
    // host administration
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "vhangup",
    "iopl",
    "ioperm",
    "sethostname",
    "setdomainname",
    // obsolete or unimplemented: deny so a future kernel cannot give them meaning
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "nfsservctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "vm86",
    "vm86old",
    "afs_syscall",
    "tuxcall",
    "security",
    "vserver",
    "putpmsg",
    "getpmsg",
};

// Syscalls newer than libseccomp 2.5.4's table, denied by number (x86_64).
struct RawSyscall {
    int nr;
    const char* name;
};
constexpr RawSyscall kDefaultDeniedRaw[] = {
    {467, "open_tree_attr"},  // Linux 6.15: open_tree with mount attributes
};

// "strict" profile: denied unless listed. Chosen from strace runs of coreutils, dash, bash,
// python3 (subprocess, threads, multiprocessing, asyncio, sqlite), git, grep, find, tar, gzip
// and the static probe, plus their obvious siblings. clone, ioctl, personality and socket are
// added below with argument rules.
constexpr const char* kStrictAllowed[] = {
    // process lifetime, memory, threads
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "membarrier",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "futex",
    "futex_waitv",
    "prctl",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "getrusage",
    "sysinfo",
    "uname",
    "getrandom",
    "umask",
    "getcpu",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "getpriority",
    "setpriority",
    "capget",
    "seccomp",
    // identity (read-only) and sessions
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgrp",
    "getpgid",
    "getsid",
    "setpgid",
    "setsid",
    // signals
    "kill",
    "tgkill",
    "tkill",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "pause",
    "alarm",
    "restart_syscall",
    "pidfd_open",
    "pidfd_send_signal",
    // time
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "times",
    "getitimer",
    "setitimer",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    // file descriptors and I/O
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "lseek",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "ftruncate",
    "truncate",
    "fallocate",
    "fadvise64",
    "readahead",
    "sendfile",
    "copy_file_range",
    "splice",
    "tee",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    // filesystem namespace operations (Landlock and the mount tree decide what is writable)
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mknod",
    "mknodat",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    // sockets (socket itself has an argument rule)
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "setsockopt",
    "getsockopt",
    // System V shared memory and semaphores, private to the sandbox's IPC namespace
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
};

// RAII for the libseccomp context; the BPF bytes outlive it.
class FilterCtx {
public:
    explicit FilterCtx(uint32_t default_action) : ctx_(seccomp_init(default_action)) {}
    ~FilterCtx() {
        if (ctx_) seccomp_release(ctx_);
    }
    FilterCtx(const FilterCtx&) = delete;
    FilterCtx& operator=(const FilterCtx&) = delete;
    scmp_filter_ctx get() const { return ctx_; }

private:
    scmp_filter_ctx ctx_;
};

// libseccomp returns -errno; flip it and build the Error from it.
Error seccomp_error(int rc, const std::string& context) {
    errno = -rc;
    return sys_error("seccomp: " + context);
}

scmp_arg_cmp masked_eq(unsigned arg, uint64_t mask, uint64_t value) {
    return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, mask, value};
}

Result<void> add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char* name,
                      std::initializer_list<scmp_arg_cmp> cmps = {}) {
    int rc =
        seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()), cmps.begin());
    if (rc < 0) return fail(seccomp_error(rc, std::string("rule for ") + name));
    return {};
}

// Resolves against the native arch; a negative number means libseccomp does not know the
// name (__NR_SCMP_ERROR) or the arch lacks it (a pseudo-syscall number).
int resolve(const char* name) { return seccomp_syscall_resolve_name(name); }

Result<void> add_named(scmp_filter_ctx ctx, uint32_t action, const char* name,
                       std::initializer_list<scmp_arg_cmp> cmps = {}) {
    int nr = resolve(name);
    if (nr < 0) return {};
    return add_rule(ctx, action, nr, name, cmps);
}

// Makes `action` apply exactly when the low 32 bits x of argument `arg` are neither a nor b,
// using only single-comparison MASKED_EQ rules (upper 32 bits ignored, as the kernel does).
//  - On a bit where a and b agree, x differing there proves x is neither: one rule per bit.
//  - On the bits where they differ (d0..dk-1), y = (x ^ a) restricted to them is all-zero for
//    x == a and all-one for x == b. y is neither iff, going round the cycle d0..dk-1, some bit
//    is 1 and the next is 0: one two-bit rule per adjacent pair. (k == 1 needs no rule.)
// At most 32 rules; the filter tests them in a few instructions each.
Result<void> add_unless_lo32_in(scmp_filter_ctx ctx, uint32_t action, const char* name,
                                unsigned arg, uint32_t a, uint32_t b) {
    int nr = resolve(name);
    if (nr < 0) return {};
    uint32_t differ = a ^ b;
    int differ_bits[32];
    int k = 0;
    for (int bit = 0; bit < 32; ++bit) {
        uint32_t m = 1u << bit;
        if (differ & m) {
            differ_bits[k++] = bit;
            continue;
        }
        SBX_TRY(add_rule(ctx, action, nr, name, {masked_eq(arg, m, ~a & m)}));
    }
    if (k < 2) return {};
    for (int t = 0; t < k; ++t) {
        uint32_t one = 1u << differ_bits[t], zero = 1u << differ_bits[(t + 1) % k];
        SBX_TRY(
            add_rule(ctx, action, nr, name, {masked_eq(arg, one | zero, (~a & one) | (a & zero))}));
    }
    return {};
}

Result<void> build_default(scmp_filter_ctx ctx, uint32_t deny) {
    for (const char* name : kDefaultDenied) SBX_TRY(add_named(ctx, deny, name));
    for (const auto& raw : kDefaultDeniedRaw) SBX_TRY(add_rule(ctx, deny, raw.nr, raw.name));
    // One rule per flag: any namespace flag set denies (the rules are OR-ed).
    for (uint64_t flag : kNamespaceFlags)
        SBX_TRY(add_named(ctx, deny, "clone", {masked_eq(0, flag, flag)}));
    for (uint32_t cmd : kBannedIoctl)
        SBX_TRY(add_named(ctx, deny, "ioctl", {masked_eq(1, kLow32, cmd)}));
    SBX_TRY(add_unless_lo32_in(ctx, deny, "personality", 0, kPersonalityLinux, kPersonalityQuery));
    // Socket family allowlist as deny rules: full 64-bit comparisons, so a value with upper
    // bits set is above AF_NETLINK and denied (fail closed) instead of truncated.
    SBX_TRY(add_named(ctx, deny, "socket", {scmp_arg_cmp{0, SCMP_CMP_GT, AF_NETLINK, 0}}));
    for (uint64_t family = 0; family < AF_NETLINK; ++family) {
        bool allowed = false;
        for (uint64_t ok : kAllowedFamilies) allowed = allowed || family == ok;
        if (!allowed)
            SBX_TRY(add_named(ctx, deny, "socket", {scmp_arg_cmp{0, SCMP_CMP_EQ, family, 0}}));
    }
    SBX_TRY(add_named(ctx, deny, "socket",
                      {scmp_arg_cmp{0, SCMP_CMP_EQ, AF_NETLINK, 0},
                       scmp_arg_cmp{2, SCMP_CMP_NE, NETLINK_ROUTE, 0}}));
    return {};
}

Result<void> build_strict(scmp_filter_ctx ctx) {
    const uint32_t allow = SCMP_ACT_ALLOW;
    for (const char* name : kStrictAllowed) SBX_TRY(add_named(ctx, allow, name));
    // A memfd lives on the kernel's internal tmpfs, which no noexec mount covers: written and
    // then run through execve("/proc/self/fd/N") or execveat(fd, "", AT_EMPTY_PATH), it would
    // undo the noexec workspace and /tmp. Sealing it non-executable (MFD_NOEXEC_SEAL, the
    // vm.memfd_noexec sysctl) needs Linux 6.3; refusing the call works on every kernel. ENOSYS,
    // not the violation action: callers (libffi, language runtimes) then take their path for
    // kernels without memfd instead of dying.
    SBX_TRY(add_named(ctx, SCMP_ACT_ERRNO(ENOSYS), "memfd_create"));
    uint64_t ns_mask = 0;
    for (uint64_t flag : kNamespaceFlags) ns_mask |= flag;
    SBX_TRY(add_named(ctx, allow, "clone", {masked_eq(0, ns_mask, 0)}));
    SBX_TRY(add_unless_lo32_in(ctx, allow, "ioctl", 1, kBannedIoctl[0], kBannedIoctl[1]));
    SBX_TRY(add_named(ctx, allow, "personality", {masked_eq(0, kLow32, kPersonalityLinux)}));
    SBX_TRY(add_named(ctx, allow, "personality", {masked_eq(0, kLow32, kPersonalityQuery)}));
    for (uint64_t family : kAllowedFamilies)
        SBX_TRY(add_named(ctx, allow, "socket", {masked_eq(0, kLow32, family)}));
    SBX_TRY(add_named(ctx, allow, "socket",
                      {masked_eq(0, kLow32, AF_NETLINK), masked_eq(2, kLow32, NETLINK_ROUTE)}));
    return {};
}

// libseccomp 2.5.4 has no export-to-memory; export into a memfd and read it back.
Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
    UniqueFd mem(memfd_create("tooljail-seccomp", MFD_CLOEXEC));
    if (!mem) return fail(sys_error("seccomp: memfd_create"));
    int rc = seccomp_export_bpf(ctx, mem.get());
    if (rc < 0) return fail(seccomp_error(rc, "export"));
    off_t size = lseek(mem.get(), 0, SEEK_END);
    if (size < 0) return fail(sys_error("seccomp: lseek(memfd)"));
    constexpr off_t kMaxBytes = BPF_MAXINSNS * static_cast<off_t>(sizeof(sock_filter));
    if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 || size > kMaxBytes)
        return fail(Errc::Internal, "seccomp: exported program has " + std::to_string(size) +
                                        " bytes (at most " + std::to_string(BPF_MAXINSNS) +
                                        " instructions)");
    std::vector<sock_filter> filter(static_cast<size_t>(size) / sizeof(sock_filter));
    auto* bytes = reinterpret_cast<char*>(filter.data());
    for (off_t done = 0; done < size;) {
        ssize_t n = pread(mem.get(), bytes + done, static_cast<size_t>(size - done), done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("seccomp: read(memfd)"));
        if (n == 0) return fail(Errc::Internal, "seccomp: exported program shrank");
        done += n;
    }
    return filter;
}

}  // namespace

std::vector<std::string> profile_names() { return {"default", "strict"}; }

Result<Program> compile(const SeccompConfig& config) {
    bool strict = config.profile == "strict";
    if (!strict && config.profile != "default")
        return fail(Errc::InvalidArgument,
                    "seccomp: unknown profile '" + config.profile + "' (known: default, strict)");
    const uint32_t violation =
        config.on_violation == SeccompAction::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
    FilterCtx ctx(strict ? violation : SCMP_ACT_ALLOW);
    if (!ctx.get()) return fail(Errc::Internal, "seccomp: seccomp_init failed");

    // Only the native x86_64 ABI passes. libseccomp checks AUDIT_ARCH first (i386 via int 0x80
    // fails it) and, for x86_64, sends nr >= 0x40000000 (x32; nr == -1 excepted) to the same
    // bad-arch action, which we make a process kill. NNP off: the child sets it itself, and we
    // never call seccomp_load. No TSYNC: the child is single-threaded. Binary-tree dispatch
    // keeps the strict allowlist cheap per syscall.
    struct Attr {
        scmp_filter_attr attr;
        uint32_t value;
        const char* name;
    };
    const Attr attrs[] = {
        {SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "ACT_BADARCH"},
        {SCMP_FLTATR_CTL_NNP, 0, "CTL_NNP"},
        {SCMP_FLTATR_CTL_TSYNC, 0, "CTL_TSYNC"},
        {SCMP_FLTATR_CTL_OPTIMIZE, 2, "CTL_OPTIMIZE"},
    };
    for (const auto& a : attrs) {
        int rc = seccomp_attr_set(ctx.get(), a.attr, a.value);
        if (rc < 0) return fail(seccomp_error(rc, std::string("attribute ") + a.name));
    }

    // clone3 passes its flags in memory the filter cannot read; ENOSYS (not EPERM, not a kill)
    // makes glibc fall back to clone(2), whose flags the profile rules inspect.
    SBX_TRY(add_named(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), "clone3"));
    SBX_TRY(strict ? build_strict(ctx.get()) : build_default(ctx.get(), violation));

    auto filter = export_bpf(ctx.get());
    if (!filter) return fail(std::move(filter).error());
    return Program{config.profile, std::move(*filter)};
}

int install(const Program& program) {
    // Refuse an empty program rather than installing nothing and reporting success.
    if (program.filter.empty() || program.filter.size() > BPF_MAXINSNS) return EINVAL;
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(program.filter.size());
    prog.filter = const_cast<sock_filter*>(program.filter.data());
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
    return 0;
}

}  // namespace sandbox::seccomp
