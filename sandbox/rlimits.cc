// Per-process resource limits. The cgroup is the real enforcer for memory, pids and CPU; these
// cover what cgroups do not (file size, descriptors, core dumps, locked memory, mqueues) and
// back up the CPU watchdog.
#include "sandbox/rlimits.h"

#include <algorithm>
#include <cerrno>

namespace sandbox::rlimits {
namespace {

// mlock(2) budget. 0 would make gpg and crypto libraries that lock small key buffers fail or
// warn; locked pages are still charged to the run's memory cgroup, so 64 KiB (the historical
// kernel default) costs nothing in containment.
constexpr rlim_t kMemlockBytes = 64 << 10;

// Never ask for more than the supervisor itself has: raising a hard limit needs
// CAP_SYS_RESOURCE in the initial namespace, which setrlimit would refuse with EPERM. Clamping
// only ever tightens the limit.
rlimit clamp(int resource, rlim_t soft, rlim_t hard) {
    rlimit current{};
    if (getrlimit(resource, &current) == 0 && current.rlim_max != RLIM_INFINITY)
        hard = std::min(hard, current.rlim_max);
    return rlimit{std::min(soft, hard), hard};
}

}  // namespace

Plan plan(const Limits& limits) {
    Plan p;
    auto add = [&p](int resource, rlim_t soft, rlim_t hard) {
        p.push_back(Entry{resource, clamp(resource, soft, hard)});
    };
    // No core files: they would land in the workspace or /tmp and may hold secrets.
    add(RLIMIT_CORE, 0, 0);
    // 0 in Limits means "no limit" (spec.h convention): the supervisor's limit is inherited.
    if (limits.file_size_bytes > 0)
        add(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes);
    if (limits.open_files > 0) add(RLIMIT_NOFILE, limits.open_files, limits.open_files);
    // Per-process backstop for the cgroup CPU watchdog, which counts the whole run and fires
    // first: the soft limit (SIGXCPU) a second after the budget, the hard one (SIGKILL) after two.
    if (limits.cpu_time.count() > 0) {
        rlim_t seconds = static_cast<rlim_t>((limits.cpu_time.count() + 999) / 1000);
        add(RLIMIT_CPU, seconds + 1, seconds + 2);
    }
    // POSIX message queues are charged per real uid across the host; tools have no use for them.
    add(RLIMIT_MSGQUEUE, 0, 0);
    add(RLIMIT_MEMLOCK, kMemlockBytes, kMemlockBytes);
    return p;
}

int apply(const Plan& plan) {
    for (const Entry& e : plan)
        if (setrlimit(e.resource, &e.value) != 0) return errno;
    return 0;
}

}  // namespace sandbox::rlimits
