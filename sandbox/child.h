// The child's side of a launch: an ordered list of steps from clone to execve, run over a plan
// the parent prepared. Post-fork rules apply to everything reachable from here (STYLE.md §3): no
// allocation, no std::string construction, no logging, no exceptions; each step returns 0 or an
// errno. The first failure is written to the report pipe as a Failure naming its Step, and the
// child exits.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "sandbox/caps.h"
#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"
#include "sandbox/step.h"

namespace sandbox::child {

// Everything the child reads. Pointers refer to memory the parent owns and keeps alive until
// the child has exec'd or failed (the child has its own copy-on-write image anyway).
struct Plan {
    int go_fd = -1;      // read end: one byte once id maps and cgroup are in place
    int report_fd = -1;  // write end, O_CLOEXEC: EOF at the parent means execve succeeded
    int stdin_fd = -1;   // read end of the stdin pipe, or -1 for /dev/null
    int stdout_fd = -1;
    int stderr_fd = -1;
    // The parent's ends of those pipes, inherited by clone: closed first thing, so that the
    // parent's death shows up as EOF/POLLHUP on the go pipe. -1 entries are skipped.
    int parent_fds[5] = {-1, -1, -1, -1, -1};
    // cgroup v1: the run's leaf's `tasks` files, opened for writing by the parent
    // (cgroup::Leaf::open_tasks). The child writes "0" to each and closes it, first thing, so it
    // is in the leaf before anything else runs. -1 entries are skipped (v2: born in the leaf;
    // v1 without them: the parent attaches the child before the go byte).
    int cgroup_tasks_fds[4] = {-1, -1, -1, -1};
    uid_t uid = 0;
    gid_t gid = 0;
    bool allow_setgroups = false;
    const char* hostname = nullptr;
    bool loopback = false;
    const mount_plan::Plan* mounts = nullptr;
    const caps::Plan* caps = nullptr;
    const rlimits::Plan* rlimits = nullptr;
    const landlock::Plan* landlock = nullptr;
    const seccomp::Program* seccomp = nullptr;
    char* const* argv = nullptr;
    // Cold: RunRequest::stdin_file (relative to workspace), opened as stdin before seccomp.
    const char* stdin_file = nullptr;
    const char* workspace = nullptr;  // inside the sandbox ("/workspace"); null without one
    char* const* envp = nullptr;
    const char* const* path_dirs = nullptr;  // NULL-terminated PATH entries for a bare argv[0]
};

// run_warm() reads the argv from go_fd after the go byte (sandbox/warm_request.h), so
// Plan::argv and Plan::stdin_file are unused there, and stdin_fd is always a pipe, dup'ed onto
// 0 only when the request says so (else stdin is /dev/null, or the request's stdin file).

// The fixed-size record a failing child writes to report_fd.
struct Failure {
    Step step;       // the step that failed (step_name() names it)
    int32_t err;     // errno; never 0 in a failure
    int32_t detail;  // step-specific index (the mount op or bind source), -1 if none
};

// The record a warm child writes once it is prepared and waiting for its request: not a
// failure, the "ready" signal. A failure of the ready step itself carries its errno, never 0.
inline constexpr Failure kReady{Step::Ready, 0, -1};
inline bool is_ready(const Failure& record) {
    return record.step == kReady.step && record.err == kReady.err;
}

// Runs the cold path's steps and execs. Never returns.
[[noreturn]] void run(const Plan& plan);

// A warm sandbox (sandbox/pool.h): runs every step up to and including seccomp, writes a
// kReady record to report_fd, then blocks on go_fd for the run request, puts stdin in
// place and execs the request's argv. EOF on go_fd before a whole request (the pool dismissed
// it, or the supervisor died) ends the child. Never returns.
[[noreturn]] void run_warm(const Plan& plan);

}  // namespace sandbox::child
