// Plain data in and out of the sandbox layer. runtime/policy turns a policy file into a
// SandboxConfig; the launcher prepares it once (Sandbox::prepare) and launches many RunRequests,
// each of which ends in one Outcome. Nothing here knows about JSON or MCP.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/step.h"

namespace sandbox {

using Millis = std::chrono::milliseconds;

// A read-only bind of a host path into the sandbox. A host symlink (e.g. /bin -> usr/bin on
// merged-/usr systems) is recreated as the same symlink instead of being bound.
struct BindMount {
    std::string source;     // absolute host path
    std::string target;     // absolute path inside the sandbox; empty = same as source
    bool optional = false;  // skip silently when the source does not exist
    bool noexec = false;
};

struct Limits {
    uint64_t memory_bytes = 256ull << 20;  // cgroup memory limit; swap is always 0. 0 = no limit
    uint32_t pids = 64;                    // cgroup pids.max. 0 = no limit
    uint32_t cpu_percent = 100;            // CPU bandwidth, 100 = one core. 0 = no limit
    // At most this percent of the CPUs the supervisor itself may use (Host::cpu_capacity_percent:
    // its affinity, and any CPU quota of the cgroups above its own), so that a quota stays one
    // on a small host. 0 = no such cap. Sandbox::prepare applies it: the prepared config's
    // cpu_percent is the smaller of the two (effective_cpu_percent, launcher.h).
    uint32_t cpu_host_percent = 0;
    Millis wall_timeout{30'000};         // whole run, from exec to exit
    Millis cpu_time{0};                  // total CPU of the whole cgroup; 0 = no limit
    uint64_t stdout_bytes = 1ull << 20;  // captured bytes per stream; the rest is counted, dropped
    uint64_t stderr_bytes = 1ull << 20;
    bool kill_on_output_cap = false;         // end the run (reason OutputCap) instead of dropping
    uint64_t tmpfs_bytes = 64ull << 20;      // size of the fresh /tmp
    uint64_t file_size_bytes = 64ull << 20;  // RLIMIT_FSIZE
    uint32_t open_files = 256;               // RLIMIT_NOFILE
    uint64_t stdin_bytes = 1ull << 20;       // largest stdin a request may supply
};

enum class SeccompAction { Errno, Kill };

struct SeccompConfig {
    std::string profile = "default";                    // see seccomp.h for the profiles
    SeccompAction on_violation = SeccompAction::Errno;  // EPERM, or kill the process (SIGSYS)
};

enum class LandlockMode { Off, Required };

struct LandlockConfig {
    LandlockMode mode = LandlockMode::Required;
    int min_abi = 1;  // refuse to run when the kernel's Landlock ABI is older
};

struct SandboxConfig {
    std::string name;  // policy name, used in error messages and records

    std::vector<BindMount> binds;                 // system directories (/usr, /lib, ...)
    std::vector<std::string> etc_entries;         // names under host /etc to expose read-only
    std::string workspace;                        // host directory, bound read-only; empty = none
    std::string workspace_target = "/workspace";  // fixed mount point and working directory
    bool workspace_noexec = false;
    // /tmp, the run's private tmpfs, is mounted noexec: nothing written there can be executed
    // or mapped as code (nor run through the dynamic loader).
    bool tmp_noexec = false;
    std::string hostname = "tooljail";
    bool loopback = false;  // bring up lo in the (otherwise empty) network namespace

    uid_t uid = 1000;  // identity inside the sandbox; never 0
    gid_t gid = 1000;
    // Host identity the inside ids map to. Only root may choose; otherwise the caller's own ids.
    std::optional<uid_t> host_uid;
    std::optional<gid_t> host_gid;

    std::vector<std::string> env;  // final "NAME=value" list, already filtered by the policy

    // Not empty: the only files (paths inside the sandbox; a directory covers what is beneath
    // it) that may be executed, the programs' ELF interpreter included, enforced by Landlock
    // (landlock.h), which must then be on. Empty: whatever the mounts let execute.
    std::vector<std::string> executables;

    Limits limits;
    SeccompConfig seccomp;
    LandlockConfig landlock;
};

// The warm pool (sandbox/pool.h): sandboxes prepared ahead of the calls, each used once.
struct PoolOptions {
    // Warm sandboxes kept ready for each prepared Sandbox; 0 = pool off (every launch cold).
    size_t per_sandbox = 0;
    // All Sandboxes of one Host together: bounds the memory idle warm sandboxes hold
    // (docs/BENCHMARKS.md measures one).
    size_t max_total = 16;
    // Threads that fill warm sandboxes in the background.
    size_t fill_threads = 1;
    // Tests only: called on the fill thread before each fill; an error fails that fill.
    std::function<std::optional<std::string>()> before_fill;
};

// What a Sandbox's pool did so far (Sandbox::pool_stats).
struct PoolStats {
    size_t target = 0;            // warm sandboxes kept ready; 0 = no pool for this Sandbox
    size_t ready = 0;             // ready now
    uint64_t fills = 0;           // warm sandboxes prepared
    uint64_t fill_failures = 0;   // fills that failed (the launch went cold)
    uint64_t warm_launches = 0;   // launches that used a warm sandbox
    uint64_t cold_launches = 0;   // launches that took the cold path
    uint64_t dead_discarded = 0;  // warm sandboxes found dead, or their binds changed, at take time
    std::string last_fill_error;  // "" when the last fill succeeded
};

// Supervisor-wide settings that are not part of any policy.
struct HostOptions {
    std::string runtime_dir;    // empty = /run/tooljail (root) or $XDG_RUNTIME_DIR/tooljail
    std::string cgroup_parent;  // empty = auto-detect; see cgroup.h
    PoolOptions pool;           // off by default
    // Sandbox::prepare creates and removes a probe leaf with the policy's limits, so that a
    // policy the host's cgroups cannot enforce fails at load (serve), not at its first call.
    // false skips it, for a caller that launches once, right after prepare (tooljail run): the
    // launch creates the run's leaf with the same checks and fails closed the same way.
    bool probe_cgroups = true;
};

struct RunRequest {
    std::vector<std::string> argv;          // argv[0] is a path, or a name looked up in PATH
    std::optional<std::string> stdin_data;  // nullopt = /dev/null
    // A file to read as stdin instead, named relative to the workspace (not empty, no leading
    // '/', no NUL; "." is the workspace itself). The child opens it inside the sandbox, after
    // pivot_root and Landlock, with openat2(2) RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS from the
    // workspace: one operation resolves and opens it, so no symlink or "..", swapped in on the
    // host after a caller's check, can lead outside the workspace (EXDEV). Failures end the
    // launch at Step::StdinFile. Not with stdin_data, and only for a config with a workspace.
    std::optional<std::string> stdin_file;
    std::optional<Millis> wall_timeout;  // tighter than the policy's, never looser
    // The run id, also the cgroup leaf name; empty = the launcher makes one (new_run_id()).
    // Callers that must record the run before it starts (runtime/record_store) choose it first.
    // Must be 1..64 of [a-z0-9-] (launch() refuses anything else) and unique among the
    // supervisors sharing the cgroup parent. Use new_run_id(): only "run-<supervisor pid>-*"
    // leaves are removed by cgroup::remove_stale_leaves after a supervisor crash.
    std::string run_id;
};

enum class Termination {
    Exit,              // exited by itself (any exit code)
    Signaled,          // killed by a signal not caused by us
    Timeout,           // wall-clock deadline
    CpuLimit,          // CPU-time limit
    MemoryLimit,       // cgroup OOM kill
    PidsLimit,         // failed after hitting the pids limit
    OutputCap,         // output cap reached with kill_on_output_cap
    Cancelled,         // the caller cancelled
    SeccompViolation,  // SIGSYS from the seccomp filter
    SandboxError,      // a layer could not be applied or the program could not be executed
};

const char* termination_name(Termination t);  // "exit", "timeout", "memory_limit", ...

struct Capture {
    std::string data;    // at most the cap
    uint64_t total = 0;  // bytes the child wrote, including what was dropped
    bool truncated = false;
    // sha256 (64 hex digits) of all `total` bytes, the dropped ones included; "" when the run
    // never reached the output pumps (a launch failure).
    std::string sha256;
};

struct Outcome {
    Termination reason = Termination::SandboxError;
    int exit_code = -1;  // valid when reason is Exit (or a limit with an exit)
    int signal = 0;      // valid when the child died of a signal
    Millis wall{0};
    Millis cpu{0};
    uint64_t peak_memory_bytes = 0;
    uint64_t oom_kills = 0;
    uint64_t pids_limit_hits = 0;
    Capture out;
    Capture err;
    // For SandboxError: which layer or step failed (step.h; step_name() gives its name), and
    // errno. Step::Execve with ENOENT means the program does not exist inside the sandbox;
    // EACCES/ENOEXEC that it is not executable. Step::None otherwise.
    Step failed_step = Step::None;
    int failed_errno = 0;
    std::string error_message;
};

}  // namespace sandbox
