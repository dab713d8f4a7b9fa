// The launch sequence both paths share (spawn.h). The order is the kernel's, not a choice:
// the leaf exists before the clone (v2 children are born in it); the id maps are written after
// the clone and before the go byte, because the child's first privileged step (the mounts)
// needs them; the v1 attach (the child's own first step, or the parent's fallback) also comes
// before the go byte, so the child unshares its cgroup namespace with the leaf as its root.
#include "sandbox/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iterator>
#include <string>
#include <vector>

#include "sandbox/base/sys.h"
#include "sandbox/mounts.h"
#include "sandbox/namespaces.h"
#include "sandbox/step.h"
#include "sandbox/workspace_access.h"

namespace sandbox {
namespace {

// The parts of a child::Plan that come from the prepared sandbox (ids, hostname, mount plan,
// caps, rlimits, Landlock, seccomp, envp, PATH); spawn() sets the fds and argv.
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
    if (!p.config.workspace.empty()) plan.workspace = p.config.workspace_target.c_str();
}

}  // namespace

Spawned::~Spawned() { sys::kill_and_reap(pidfd.get()); }

Result<Spawned> spawn(const Prepared& p, const SpawnOptions& options) {
    // From here on, leaving early destroys c: the child (once cloned) is killed and reaped, then
    // the leaf removed.
    Spawned c;
    auto leaf = cgroup::Leaf::create(p.cgroups, options.leaf_name, p.cgroup_limits);
    if (!leaf) return fail(std::move(leaf).error().at_step(Step::Cgroup));
    c.leaf = std::move(*leaf);

    // All O_CLOEXEC: the child's ends reach it through the plan, and it puts them in place itself.
    UniqueFd go_read, report_write, stdin_read, stdout_write, stderr_write;
    auto pipe = [](UniqueFd& read_end, UniqueFd& write_end) -> Result<void> {
        if (auto made = sys::make_pipe(read_end, write_end); !made)
            return fail(std::move(made).error().at_step(Step::Pipes));
        return {};
    };
    SBX_TRY(pipe(go_read, c.go_write));
    SBX_TRY(pipe(c.report_read, report_write));
    if (options.stdin_pipe) SBX_TRY(pipe(stdin_read, c.stdin_write));
    SBX_TRY(pipe(c.stdout_read, stdout_write));
    SBX_TRY(pipe(c.stderr_read, stderr_write));

    // cgroup v1: the child moves itself into the leaf, first thing, through these (child.cc,
    // step_cgroup), which spares the parent's cgroup.procs write its wait for an RCU grace
    // period. Without them (the files cannot be opened) the parent attaches it below, as before.
    std::vector<UniqueFd> tasks;
    // More files than the plan holds (not a v1 layout tooljail knows) would leave a controller
    // unattached: then the parent attaches instead, every one of them.
    if (c.leaf.v2_dir_fd() < 0) {
        if (auto opened = c.leaf.open_tasks()) tasks = std::move(*opened);
        if (tasks.size() > std::size(child::Plan{}.cgroup_tasks_fds)) tasks.clear();
    }

    child::Plan plan;
    fill_child_plan(p, plan);
    for (size_t i = 0; i < tasks.size(); ++i) plan.cgroup_tasks_fds[i] = tasks[i].get();
    plan.go_fd = go_read.get();
    plan.report_fd = report_write.get();
    plan.stdin_fd = stdin_read.get();
    plan.stdout_fd = stdout_write.get();
    plan.stderr_fd = stderr_write.get();
    // A cold child closes these first thing ("parent fds"); a warm one closes every inherited
    // descriptor but its own five ends instead ("inherited fds"), so it does not read them.
    plan.parent_fds[0] = c.go_write.get();
    plan.parent_fds[1] = c.report_read.get();
    plan.parent_fds[2] = c.stdout_read.get();
    plan.parent_fds[3] = c.stderr_read.get();
    plan.parent_fds[4] = c.stdin_write.get();
    plan.argv = options.argv;
    plan.stdin_file = options.stdin_file;

    auto cloned = namespaces::clone_child(c.leaf.v2_dir_fd());
    if (!cloned)
        return fail(std::move(cloned).error().with_prefix("namespaces: ").at_step(Step::Clone));
    if (cloned->pid == 0) options.entry(plan);  // never returns
    c.pid = cloned->pid;
    c.pidfd = UniqueFd(cloned->pidfd);
    // The child has its own copies now; ours would keep its pipes open past its death.
    for (UniqueFd* fd : {&go_read, &report_write, &stdin_read, &stdout_write, &stderr_write})
        fd->reset();
    tasks.clear();

    if (auto maps = namespaces::write_id_maps(c.pid, p.ids); !maps)
        return fail(std::move(maps).error().at_step(Step::IdMaps));
    // cgroup v1 when the child could not be handed the tasks files: a cgroup.procs write,
    // which can wait for an RCU grace period after an idle spell (docs/CGROUPS.md); v2
    // children are born in the leaf (CLONE_INTO_CGROUP).
    if (c.leaf.v2_dir_fd() < 0 && plan.cgroup_tasks_fds[0] < 0) {
        if (auto attached = c.leaf.attach(c.pid); !attached)
            return fail(std::move(attached).error().at_step(Step::Cgroup));
    }
    if (::write(c.go_write.get(), "g", 1) != 1)
        return fail(sys_error("launch: go byte").at_step(Step::Launch));
    return c;
}

Result<std::optional<child::Failure>> read_report(int report_fd, int timeout_ms) {
    child::Failure failure{};
    size_t got = 0;
    while (got < sizeof failure) {
        pollfd p{report_fd, POLLIN, 0};
        int rc = ::poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return fail(sys_error("launch: poll(report pipe)").at_step(Step::Launch));
        if (rc == 0)
            return fail(make_error(Errc::Timeout, "launch: child setup did not finish")
                            .at_step(Step::Launch));
        ssize_t n =
            ::read(report_fd, reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("launch: read(report pipe)").at_step(Step::Launch));
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got == 0) return std::optional<child::Failure>{};
    if (got != sizeof failure)
        return fail(
            make_error(Errc::Internal, "launch: short failure record").at_step(Step::Launch));
    return std::optional<child::Failure>{failure};
}

Error child_failure_error(const Prepared& p, const child::Failure& failure,
                          const LaunchNames& names) {
    std::string detail;
    const auto idx = static_cast<size_t>(failure.detail);
    switch (failure.step) {
        case Step::Cgroup:
            if (names.leaf && failure.detail >= 0)
                detail = ": attach: write(" + names.leaf->tasks_path(idx) + ", \"0\")";
            break;
        case Step::MountSources:
            if (failure.detail >= 0 && idx < p.mounts.bind_sources.size())
                detail = ": open_tree " + p.mounts.bind_sources[idx];
            break;
        case Step::Mounts:
            if (failure.detail >= 0 && idx < p.mounts.ops.size())
                detail = ": /" + p.mounts.ops[idx].target;
            else if (failure.detail == mounts::kFailedPivot)
                detail = ": pivot_root";
            else if (failure.detail == mounts::kFailedStaging)
                detail = ": staging root " + p.mounts.staging;
            else if (failure.detail == mounts::kFailedCwd)
                detail = ": " + workspace_denied(p.config.workspace, p.ids.host_uid);
            break;
        case Step::Execve: detail = ": " + std::string(names.argv0); break;
        case Step::StdinFile:
            detail = ": " + std::string(names.stdin_file);
            // openat2's refusals, in words: the errno names alone would mislead.
            if (failure.err == EXDEV)
                detail += " leads outside the workspace (a symlink or \"..\" on its way)";
            else if (failure.err == ELOOP)
                detail += " passes through a /proc magic link or too many symlinks";
            break;
        default: break;
    }
    Error e{failure.err == ENOENT                             ? Errc::NotFound
            : (failure.err == EPERM || failure.err == EACCES) ? Errc::PermissionDenied
                                                              : Errc::Syscall,
            failure.err, step_name(failure.step) + detail};
    return std::move(e).at_step(failure.step);
}

Result<RunParts> await_exec(Spawned& child, const Prepared& p, const LaunchNames& names) {
    auto report = read_report(child.report_read.get(), kSetupTimeoutMs);
    // The run's clock starts when the exec is seen: the wall timeout counts from here.
    const auto started = std::chrono::steady_clock::now();
    if (!report) return fail(std::move(report).error());
    if (*report) {
        LaunchNames with_leaf = names;
        with_leaf.leaf = &child.leaf;
        return fail(child_failure_error(p, **report, with_leaf));
    }

    // Run::wait polls these and must never block on them.
    for (UniqueFd* fd : {&child.stdin_write, &child.stdout_read, &child.stderr_read}) {
        if (fd->valid() && ::fcntl(fd->get(), F_SETFL, O_NONBLOCK) != 0)
            return fail(sys_error("launch: fcntl(O_NONBLOCK)").at_step(Step::Launch));
    }
    RunParts parts;
    parts.started = started;
    parts.pid = child.pid;
    parts.pidfd = std::move(child.pidfd);
    parts.stdin_write = std::move(child.stdin_write);
    parts.stdout_read = std::move(child.stdout_read);
    parts.stderr_read = std::move(child.stderr_read);
    parts.leaf = std::move(child.leaf);
    return parts;
}

}  // namespace sandbox
