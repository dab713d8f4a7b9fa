// The launcher: the only place that forks.
//
//   auto host = Host::open(options);              // once per process: cgroups, Landlock, dirs
//   auto sb = Sandbox::prepare(config, *host);    // once per policy: BPF, mount plan, env, caps
//   auto run = sb->launch(request);               // per call: clone, maps, cgroup, go, exec
//   Outcome o = run->wait(cancel_fd);             // pumps output, enforces deadlines, reaps
//
// A Sandbox is immutable after prepare() and may be launched from many threads at once.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/run.h"
#include "sandbox/run_id.h"
#include "sandbox/spec.h"

namespace sandbox {

namespace pool {
class Pool;
}
class Reaper;

// Process-wide host facts, detected once; owns the warm pool when options.pool asks for one.
class Host {
public:
    // With options.pool.per_sandbox > 0 this starts the pool's fill threads, which clone the
    // warm sandboxes: the threads live until the Host is destroyed, and the warm children die
    // with them (parent-death signal). Destroy the Host (after its Sandboxes) to stop the pool.
    static Result<std::shared_ptr<Host>> open(const HostOptions& options);
    Host();
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    const cgroup::Hierarchy& cgroups() const { return cgroups_; }
    const std::string& runtime_dir() const { return runtime_dir_; }
    int landlock_abi() const { return landlock_abi_; }
    bool is_root() const { return is_root_; }
    // The CPU the supervisor and its runs may use together, in percent of one CPU: the CPUs of
    // its affinity mask (sched_getaffinity(2)), lowered to the tightest CPU quota of the cgroups
    // above its own (cgroup::Hierarchy::inherited_cpu_percent). Detected once, at open().
    uint32_t cpu_capacity_percent() const { return cpu_capacity_percent_; }
    bool probe_cgroups() const { return probe_cgroups_; }  // HostOptions::probe_cgroups
    pool::Pool* pool() const { return pool_.get(); }       // null: pool off
    // With the pool on, finished runs' leaves are removed in the background; null otherwise.
    const std::shared_ptr<Reaper>& reaper() const { return reaper_; }

private:
    std::shared_ptr<Reaper> reaper_;
    std::unique_ptr<pool::Pool> pool_;
    cgroup::Hierarchy cgroups_;
    std::string runtime_dir_;
    int landlock_abi_ = 0;
    bool is_root_ = false;
    uint32_t cpu_capacity_percent_ = 0;
    bool probe_cgroups_ = true;
};

// The CPU quota a run gets, in percent of one CPU: limits.cpu_percent, lowered to
// limits.cpu_host_percent of capacity_percent (Host::cpu_capacity_percent) when both are set;
// never below 1. Pure.
uint32_t effective_cpu_percent(const Limits& limits, uint32_t capacity_percent);

// The defence layers a prepared sandbox puts in force; recorded with every run.
struct Layers {
    std::vector<std::string> namespaces;  // "user", "mnt", "pid", "net", "ipc", "uts", "cgroup"
    std::string seccomp_profile;
    std::string cgroup;    // Hierarchy::describe()
    int landlock_abi = 0;  // 0 = off
    uid_t uid = 0;         // inside
    uid_t host_uid = 0;    // what it maps to
};

class Sandbox {
public:
    // Parent. Validates the config and builds everything that does not depend on the call.
    // A layer the config asks for and the host cannot give fails here with Unsupported and a
    // context naming the layer.
    static Result<std::shared_ptr<const Sandbox>> prepare(const SandboxConfig& config,
                                                          std::shared_ptr<Host> host);
    ~Sandbox();

    // Parent. Starts the program in a sandbox of its own, which is never used again.
    // Warm path (the Host has a pool and one of this Sandbox's warm sandboxes is ready): sends
    // the argv to it; the warm child puts stdin in place and execs. Cold path (no pool, none
    // ready, one found dead, or an argv beyond warm_request::kMaxBytes): creates the run's
    // cgroup leaf (named request.run_id, or a new_run_id()), clones the child into fresh
    // namespaces, writes its id maps, places it in the cgroup and lets it run. Both return
    // once the child has exec'd the program, or with the error (named step + errno) that
    // stopped it before exec; a warm sandbox never turns into an error the cold path would not
    // give. An invalid request.run_id is InvalidArgument; on the cold path one whose leaf
    // already exists fails with EEXIST.
    Result<std::unique_ptr<Run>> launch(const RunRequest& request) const;

    // Blocks until `count` warm sandboxes (at most the target) are ready: true; false at the
    // timeout, when a fill failed, or without a pool. For tests and benchmarks.
    bool wait_warm(size_t count, Millis timeout) const;
    // What this Sandbox's pool did so far; target 0 when there is no pool.
    PoolStats pool_stats() const;

    const SandboxConfig& config() const;
    const Layers& layers() const;

    struct Impl;
    explicit Sandbox(std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

// The Outcome of a launch that failed before exec: reason SandboxError, failed_step the
// error's step (Error::step; every error of launch() names one), errno and message.
Outcome launch_failure(const Error& error);

// launch() + wait(); a launch failure becomes launch_failure(error).
Outcome run_once(const Sandbox& sandbox, const RunRequest& request, int cancel_fd = -1);

}  // namespace sandbox
