// Internal to sandbox/: the launch sequence the cold path (Sandbox::launch, launcher.cc) and the
// warm pool (warm::fill and warm::start, warm_child.cc) share. Everything here runs in the
// parent; the only child-side code it reaches is the `entry` it clones into.
//
//   auto child = spawn(prepared, options);     // leaf, pipes, plan, clone3, id maps, attach, go
//   [warm: read the ready record; later write the request to child.go_write]
//   auto parts = await_exec(child, ...);       // report pipe: EOF = exec'd -> RunParts
//
// What differs between the two paths is the caller's, and explicit: the leaf's name, the child
// entry (child::run runs every step and execs; child::run_warm closes every inherited fd, stops
// after seccomp and waits for the request), whether there is a stdin pipe, and the argv.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string_view>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/child.h"
#include "sandbox/prepared.h"
#include "sandbox/run_impl.h"

namespace sandbox {

// How long a child may take from clone to execve (cold) or to ready (warm) before it is
// abandoned. Setup takes about a millisecond; this only bounds a wedged kernel path.
inline constexpr int kSetupTimeoutMs = 10'000;

// What the caller decides about one child.
struct SpawnOptions {
    // The cgroup leaf: the run id (cold), or a new_run_id() the leaf keeps until the call (warm).
    std::string_view leaf_name;
    // child::run (cold) or child::run_warm. Never returns in the child.
    void (*entry)(const child::Plan&) = nullptr;
    // The program's argv, NULL-terminated, kept alive by the caller until spawn() returns (the
    // child reads its copy-on-write image of it). Null for a warm child: its argv comes with
    // the request.
    char* const* argv = nullptr;
    // Cold: the request's stdin file (RunRequest::stdin_file), kept alive like argv. Null for a
    // warm child (it comes with the request) and for a request without one.
    const char* stdin_file = nullptr;
    // A stdin pipe: cold, when the request carries data; warm, always (whether the call brings
    // data is only known at the request). Without one the child's stdin is /dev/null.
    bool stdin_pipe = false;
};

// One child from its clone on, as the parent holds it: the parent's pipe ends, the pidfd and
// the leaf it runs in. Destroying it SIGKILLs and reaps the child (unless the pidfd was handed
// on), then the leaf kills whatever is left in it and removes itself.
struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
    cgroup::Leaf leaf;
    UniqueFd go_write;     // the go byte went out on it; warm: the request follows
    UniqueFd report_read;  // child::Failure records; O_CLOEXEC in the child: EOF = exec'd
    UniqueFd stdin_write;  // invalid without SpawnOptions::stdin_pipe
    UniqueFd stdout_read;
    UniqueFd stderr_read;

    Spawned() = default;
    Spawned(Spawned&&) noexcept = default;
    Spawned& operator=(Spawned&&) = delete;  // would drop a live child without reaping it
    Spawned(const Spawned&) = delete;
    Spawned& operator=(const Spawned&) = delete;
    ~Spawned();
};

// Parent: the start every child shares, cold or warm, in this order: creates the cgroup leaf
// options.leaf_name with the prepared limits (cgroup.h: EEXIST for an existing one); creates the
// go, report, stdin (options.stdin_pipe), stdout and stderr pipes; builds the child::Plan from
// the prepared sandbox; clone3s into the sandbox's namespaces (namespaces.h; on cgroup v2 born
// in the leaf, CLONE_INTO_CGROUP; on v1 handed the leaf's tasks files, through which it moves
// itself in first thing) running options.entry(plan); closes the parent's copies of the child's
// ends; writes the id maps; on cgroup v1 when the tasks files could not be opened, writes the
// child into the leaf; writes the go byte. Any error before the clone removes the leaf; any error
// after it also kills and reaps the child. The caller then reads the report pipe (await_exec, or
// the warm ready record). Errors name their step: Cgroup (leaf, v1 attach), Pipes, Clone, IdMaps,
// Launch (go byte).
Result<Spawned> spawn(const Prepared& p, const SpawnOptions& options);

// Parent: reads report_fd until EOF or one whole child::Failure record, for at most timeout_ms.
// nullopt = EOF with nothing read (the child exec'd: the pipe is O_CLOEXEC); a record = the
// child stopped at that step (or, warm, is ready: child::is_ready). Timeout / a short record
// are errors at Step::Launch.
Result<std::optional<child::Failure>> read_report(int report_fd, int timeout_ms);

// What a launch was asked to run, for the messages of its failures.
struct LaunchNames {
    std::string_view argv0;              // names the program for execve failures
    std::string_view stdin_file;         // names the stdin file for its failures; may be empty
    const cgroup::Leaf* leaf = nullptr;  // the child's: names the file of a failed v1 attach
};

// Parent: the Error for a child's failure record: its step in Error::step, and the context
// "<step name>: <detail>" ("mounts: /usr", "execve: /bin/nope", "stdin file: a.txt",
// "cgroup: attach: write(...)").
Error child_failure_error(const Prepared& p, const child::Failure& failure,
                          const LaunchNames& names);

// Parent, after the go byte (cold) or the request (warm): reads the report pipe. EOF means the
// child exec'd: its pid, pidfd, leaf and pipes (made nonblocking) move into the returned
// RunParts, with `started` set; the caller fills in the id, limits, deadline, stdin data,
// reaper and warm. A failure record is the error child_failure_error gives. On any error
// `child` keeps the process, for its owner to kill (cold: ~Spawned; warm: the reaper).
Result<RunParts> await_exec(Spawned& child, const Prepared& p, const LaunchNames& names);

}  // namespace sandbox
