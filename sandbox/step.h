// The steps of a launch, by name: where a launch that failed before exec stopped. One enum from
// the child's failure record (child.h) through Error::step (base/result.h) to
// Outcome::failed_step (spec.h), so that nothing compares or cuts step names as text.
// step_name() gives the names records and `tooljail run --json` carry; parse_step() reads them
// back. Both are pure; neither allocates.
#pragma once

#include <cstdint>
#include <string_view>

namespace sandbox {

// base/result.h declares this enum (opaquely, with the same underlying type) so that Error can
// carry a Step without knowing the steps; Error's default, Step{}, is Step::None.
enum class Step : std::uint8_t {
    None = 0,  // "": no step (the run did not fail to launch, or the record names none)

    // Parent, before the child execs, in launch order (launcher.cc, spawn.cc, warm_child.cc).
    Launch,  // "launch": the request's checks, the go byte, the report pipe, O_NONBLOCK
    Cgroup,  // "cgroup": the run's leaf: create and limit, v1 attach, v1 rename (warm); the
             // v1 attach is the child's own first step when the parent could open the leaf's
             // tasks files (child.cc), so a child's failure record may name it too
    Pipes,   // "pipe2": the go, report and stdio pipes
    Clone,   // "namespaces": clone3 into the new namespaces
    IdMaps,  // "user namespace": uid_map, setgroups, gid_map

    // Child (child.cc's step tables; a warm child runs the ones marked warm instead of or
    // besides the cold ones), in the order they run.
    Signals,          // "signals"
    ParentFds,        // "parent fds" (cold)
    InheritedFds,     // "inherited fds" (warm)
    Pdeathsig,        // "pdeathsig"
    Sync,             // "sync"
    CgroupNamespace,  // "cgroup namespace"
    MountSources,     // "mount sources"
    Identity,         // "identity"
    Mounts,           // "mounts"
    Hostname,         // "hostname"
    Loopback,         // "loopback"
    Stdio,            // "stdio"
    RequestBuffer,    // "request buffer" (warm)
    Fds,              // "fds"
    Capabilities,     // "capabilities"
    NoNewPrivs,       // "no_new_privs"
    Landlock,         // "landlock"
    Rlimits,          // "rlimits"
    Seccomp,          // "seccomp"
    Ready,            // "ready" (warm)
    Request,          // "request" (warm)
    Stdin,            // "stdin" (warm)
    StdinFile,        // "stdin file": the request's file beneath the workspace (cold: before
                      // seccomp; warm: after stdin)
    Execve,           // "execve"

    // Parent, after exec.
    Wait,  // "wait": Run::wait could not set up its timers

    Unknown,  // "unknown": a value this build does not know (e.g. a record's unknown name)
};

// The step's name as above; "unknown" for a value outside the enum.
const char* step_name(Step step);

// The Step whose step_name is `name`: "" is Step::None, a name no step has is Step::Unknown
// (not an error: a record written by another build may name a step this one lacks).
Step parse_step(std::string_view name);

}  // namespace sandbox
