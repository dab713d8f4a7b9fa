// Landlock (landlock(7)). glibc has no wrappers and Debian 12's linux/landlock.h stops at ABI 2
// (and its struct landlock_ruleset_attr lacks the ABI 4/6 fields), so the syscalls go through
// syscall(2) and the newer constants and the full attribute struct are defined here.
#include "sandbox/landlock.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sandbox::landlock {
namespace {

// Filesystem rights, by the ABI that introduced them.
constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;       // ABI 2: link/rename across directories
constexpr uint64_t kFsTruncate = 1ULL << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;    // ABI 5: ioctl on char/block devices
// Network rights (ABI 4) and scopes (ABI 6).
constexpr uint64_t kNetBindTcp = 1ULL << 0;
constexpr uint64_t kNetConnectTcp = 1ULL << 1;
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0;
constexpr uint64_t kScopeSignal = 1ULL << 1;
// ABI 7 only adds landlock_restrict_self() audit-logging flags; the default (log denials of
// the process that restricted itself until it execs) is kept, so nothing changes here.
constexpr int kNewestKnownAbi = 7;

// The ABI-6 layout of struct landlock_ruleset_attr. The kernel takes the size we pass, so an
// older kernel gets only the prefix it understands.
struct RulesetAttr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

constexpr uint64_t kReadExec =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
// Rights the kernel accepts on a rule whose fd is not a directory (EINVAL otherwise).
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | kFsTruncate | kFsIoctlDev;

// Adds one path_beneath rule. Returns 0, or errno; a missing path is not an error.
int add_path(int ruleset_fd, const char* path, uint64_t dir_access, uint64_t file_access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0) {
        err = errno;
    } else {
        landlock_path_beneath_attr rule{};
        rule.allowed_access = S_ISDIR(st.st_mode) ? dir_access : file_access;
        rule.parent_fd = fd;
        if (rule.allowed_access != 0 &&
            syscall(__NR_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
            err = errno;
    }
    close(fd);
    return err;
}

}  // namespace

int abi_version() {
    long abi = syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : static_cast<int>(abi);
}

Result<Plan> plan(const LandlockConfig& config, std::vector<std::string> read_exec_paths,
                  std::vector<std::string> writable_paths, bool allow_tcp,
                  std::vector<std::string> exec_paths) {
    Plan p;
    if (config.mode == LandlockMode::Off) {
        // Only Landlock can tell executables apart: running without it would run anything.
        if (!exec_paths.empty())
            return fail(Errc::InvalidArgument,
                        "landlock: an executables list needs Landlock (mode is off)");
        return p;
    }

    for (const auto* list : {&read_exec_paths, &writable_paths, &exec_paths})
        for (const auto& path : *list)
            if (path.empty() || path[0] != '/')
                return fail(Errc::InvalidArgument, "landlock: path '" + path + "' is not absolute");

    int abi = abi_version();
    int required = std::max(config.min_abi, 1);
    if (abi < required)
        return fail(Errc::Unsupported,
                    abi == 0 ? "landlock: not available on this kernel (disabled or too old); "
                               "the policy requires ABI " +
                                   std::to_string(required)
                             : "landlock: kernel ABI " + std::to_string(abi) +
                                   " is older than the required ABI " + std::to_string(required));

    int usable = std::min(abi, kNewestKnownAbi);
    uint64_t fs = kFsAbi1;
    if (usable >= 2) fs |= kFsRefer;
    if (usable >= 3) fs |= kFsTruncate;
    if (usable >= 5) fs |= kFsIoctlDev;

    p.enabled = true;
    p.abi = abi;
    p.read_exec_paths = std::move(read_exec_paths);
    p.writable_paths = std::move(writable_paths);
    p.handled_fs = fs;
    p.read_exec_dir = kReadExec & fs;
    p.read_exec_file = kReadExec & kFileRights & fs;
    p.writable_dir = fs;
    // A writable file (/dev/null) needs no EXECUTE; WRITE/READ/TRUNCATE/IOCTL_DEV as the ABI has.
    p.writable_file = (kFileRights & ~static_cast<uint64_t>(LANDLOCK_ACCESS_FS_EXECUTE)) & fs;
    if (!exec_paths.empty()) {
        // EXECUTE only where listed: not beneath "/", not in /tmp. The kernel asks for it on
        // execve's file and on the ELF interpreter it loads (open_exec), nowhere else.
        const uint64_t no_exec = ~static_cast<uint64_t>(LANDLOCK_ACCESS_FS_EXECUTE);
        p.read_exec_dir &= no_exec;
        p.read_exec_file &= no_exec;
        p.writable_dir &= no_exec;
        p.exec_paths = std::move(exec_paths);
        p.exec_dir = kReadExec & fs;
        p.exec_file = kReadExec & kFileRights & fs;
    }
    // Handled with no rule: no TCP bind or connect at all, on top of the empty network
    // namespace. A loopback policy wants local TCP servers (test suites), so it is left alone.
    if (usable >= 4 && !allow_tcp) p.handled_net = kNetBindTcp | kNetConnectTcp;
    // No abstract-unix connects to, or signals at, processes outside this Landlock domain.
    if (usable >= 6) p.scoped = kScopeAbstractUnix | kScopeSignal;
    return p;
}

int apply(const Plan& plan) {
    if (!plan.enabled) return 0;
    RulesetAttr attr{plan.handled_fs, plan.handled_net, plan.scoped};
    size_t size = plan.scoped != 0        ? sizeof(RulesetAttr)
                  : plan.handled_net != 0 ? 2 * sizeof(uint64_t)
                                          : sizeof(uint64_t);
    long ruleset = syscall(__NR_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) return errno;
    int ruleset_fd = static_cast<int>(ruleset);

    int err = 0;
    for (const auto& path : plan.read_exec_paths) {
        if (err) break;
        err = add_path(ruleset_fd, path.c_str(), plan.read_exec_dir, plan.read_exec_file);
    }
    for (const auto& path : plan.writable_paths) {
        if (err) break;
        err = add_path(ruleset_fd, path.c_str(), plan.writable_dir, plan.writable_file);
    }
    for (const auto& path : plan.exec_paths) {
        if (err) break;
        err = add_path(ruleset_fd, path.c_str(), plan.exec_dir, plan.exec_file);
    }
    if (!err && syscall(__NR_landlock_restrict_self, ruleset_fd, 0) != 0) err = errno;
    close(ruleset_fd);
    return err;
}

}  // namespace sandbox::landlock
