#include "sandbox/prepared.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/base/sys.h"
#include "sandbox/mounts.h"

namespace sandbox {

void fill_child_plan(const Prepared& p, child::Plan& plan) {
    plan.uid = p.ids.inside_uid;
    plan.gid = p.ids.inside_gid;
    plan.allow_setgroups = p.ids.allow_setgroups;
    plan.hostname = p.config.hostname.c_str();
    plan.loopback = p.config.loopback;
    plan.mounts = &p.mounts;
    plan.caps = &p.caps;
    plan.rlimits = &p.rlimits;
    plan.landlock = &p.landlock;
    plan.seccomp = &p.seccomp;
    plan.envp = p.envp.data();
    plan.path_dirs = p.path_ptrs.data();
}

Result<std::optional<child::Failure>> read_report(int report_fd, int timeout_ms) {
    child::Failure failure{};
    size_t got = 0;
    while (got < sizeof failure) {
        pollfd p{report_fd, POLLIN, 0};
        int rc = ::poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return fail(sys_error("launch: poll(report pipe)"));
        if (rc == 0) return fail(make_error(Errc::Timeout, "launch: child setup did not finish"));
        ssize_t n = ::read(report_fd, reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("launch: read(report pipe)"));
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got == 0) return std::optional<child::Failure>{};
    if (got != sizeof failure) return fail(make_error(Errc::Internal, "launch: short failure record"));
    return std::optional<child::Failure>{failure};
}

Error child_failure_error(const Prepared& p, const child::Failure& failure, const std::string& argv0) {
    std::string step = child::step_name(failure.step);
    std::string detail;
    const auto idx = static_cast<size_t>(failure.detail);
    if (step == "mount sources" && failure.detail >= 0 && idx < p.mounts.bind_sources.size())
        detail = ": open_tree " + p.mounts.bind_sources[idx];
    if (step == "mounts" && failure.detail >= 0 && idx < p.mounts.ops.size())
        detail = ": /" + p.mounts.ops[idx].target;
    if (step == "mounts" && failure.detail == mounts::kFailedPivot) detail = ": pivot_root";
    if (step == "mounts" && failure.detail == mounts::kFailedStaging)
        detail = ": staging root " + p.mounts.staging;
    if (step == "mounts" && failure.detail == mounts::kFailedCwd)
        detail = ": the sandbox user (host uid " + std::to_string(p.ids.host_uid) +
                 ") cannot enter the workspace " + p.config.workspace +
                 " (it needs search permission for others, or a host_uid that owns it)";
    if (step == "execve") detail = ": " + argv0;
    return Error{failure.err == ENOENT                                 ? Errc::NotFound
                 : (failure.err == EPERM || failure.err == EACCES) ? Errc::PermissionDenied
                                                                   : Errc::Syscall,
                 failure.err, step + detail};
}

void kill_and_reap(int pidfd) {
    if (pidfd < 0) return;
    sys::pidfd_signal(pidfd, SIGKILL);
    siginfo_t info;
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
    }
}

Result<Spawned> spawn_child(const Prepared& p, cgroup::Leaf& leaf, const child::Plan& plan,
                            void (*entry)(const child::Plan&), int go_write,
                            std::initializer_list<UniqueFd*> child_ends) {
    auto cloned = namespaces::clone_child(leaf.v2_dir_fd());
    if (!cloned) return fail(std::move(cloned).error().with_prefix("namespaces: "));
    if (cloned->pid == 0) entry(plan);  // never returns
    Spawned s{cloned->pid, UniqueFd(cloned->pidfd)};
    for (UniqueFd* fd : child_ends) fd->reset();
    auto abort_child = [&](Error e) {
        kill_and_reap(s.pidfd.get());
        return fail(std::move(e));
    };
    if (auto maps = namespaces::write_id_maps(s.pid, p.ids); !maps) return abort_child(std::move(maps).error());
    // cgroup v1: a cgroup.procs write, which can wait for an RCU grace period after an idle
    // spell (docs/CGROUPS.md); v2 children are born in the leaf (CLONE_INTO_CGROUP).
    if (leaf.v2_dir_fd() < 0) {
        if (auto attached = leaf.attach(s.pid); !attached) return abort_child(std::move(attached).error());
    }
    if (::write(go_write, "g", 1) != 1) return abort_child(sys_error("launch: go byte"));
    return s;
}

}  // namespace sandbox
