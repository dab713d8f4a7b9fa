// Internal to sandbox/: everything Sandbox::prepare builds once per policy, shared by the cold
// launch (launcher.cc) and the warm pool (warm_child.cc, pool.cc). Immutable once built; the pool
// keeps its own reference, so it never needs the Sandbox or the Host to fill a warm sandbox.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/child.h"
#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/namespaces.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"
#include "sandbox/spec.h"

namespace sandbox {

// Built in place and never moved: envp and path_ptrs point into config.env and path_dirs.
struct Prepared {
    SandboxConfig config;
    cgroup::Hierarchy cgroups;  // a copy of the Host's
    mount_plan::Plan mounts;
    seccomp::Program seccomp;
    caps::Plan caps;
    rlimits::Plan rlimits;
    landlock::Plan landlock;
    namespaces::IdMap ids{};
    cgroup::LeafLimits cgroup_limits;
    std::vector<std::string> path_dirs;
    std::vector<const char*> path_ptrs;  // NULL-terminated view of path_dirs
    std::vector<char*> envp;             // NULL-terminated view of config.env

    Prepared() = default;
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;
};

// How long a child may take from clone to execve (cold) or to ready (warm) before it is
// abandoned. Setup takes about a millisecond; this only bounds a wedged kernel path.
inline constexpr int kSetupTimeoutMs = 10'000;

// Parent: the parts of a child::Plan that come from the prepared sandbox (ids, hostname, mount
// plan, caps, rlimits, Landlock, seccomp, envp, PATH). The caller sets the fds and argv.
void fill_child_plan(const Prepared& p, child::Plan& plan);

// Parent: reads report_fd until EOF or one whole child::Failure record, for at most timeout_ms.
// nullopt = EOF with nothing read (the child exec'd: the pipe is O_CLOEXEC); a record = the
// child stopped at that step (or, warm, is ready). Timeout / a short record are errors.
Result<std::optional<child::Failure>> read_report(int report_fd, int timeout_ms);

// Parent: the Error for a child's failure record, "<step>: <detail>" (run_once and the CLI read
// the step back from the context). argv0 names the program for execve failures.
Error child_failure_error(const Prepared& p, const child::Failure& failure, const std::string& argv0);

// Parent: SIGKILL through the pidfd and reap. For a child that must not run on.
void kill_and_reap(int pidfd);

// Parent: the start every child shares, cold or warm. Clones into the sandbox's namespaces
// (born in `leaf` on cgroup v2) running entry(plan), closes the parent's copies of the child's
// pipe ends (child_ends), writes the id maps, attaches the child to `leaf` on cgroup v1 and
// writes the go byte to go_write. On any error after the clone the child is killed and reaped.
// The caller then reads the report pipe.
struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
};
Result<Spawned> spawn_child(const Prepared& p, cgroup::Leaf& leaf, const child::Plan& plan,
                            void (*entry)(const child::Plan&), int go_write,
                            std::initializer_list<UniqueFd*> child_ends);

}  // namespace sandbox
