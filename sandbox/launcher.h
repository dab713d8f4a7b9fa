// The launcher: the only place that forks.
//
//   auto host = Host::open(options);              // once per process: cgroups, Landlock, dirs
//   auto sb = Sandbox::prepare(config, *host);    // once per policy: BPF, mount plan, env, caps
//   auto run = sb->launch(request);               // per call: clone, maps, cgroup, go, exec
//   Outcome o = run->wait(cancel_fd);             // pumps output, enforces deadlines, reaps
//
// A Sandbox is immutable after prepare() and may be launched from many threads at once.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/spec.h"

namespace sandbox {

// Process-wide host facts, detected once.
class Host {
public:
    static Result<std::shared_ptr<Host>> open(const HostOptions& options);

    const cgroup::Hierarchy& cgroups() const { return cgroups_; }
    const std::string& runtime_dir() const { return runtime_dir_; }
    int landlock_abi() const { return landlock_abi_; }
    bool is_root() const { return is_root_; }

private:
    cgroup::Hierarchy cgroups_;
    std::string runtime_dir_;
    int landlock_abi_ = 0;
    bool is_root_ = false;
};

// The defence layers a prepared sandbox puts in force; recorded with every run.
struct Layers {
    std::vector<std::string> namespaces;  // "user", "mnt", "pid", "net", "ipc", "uts", "cgroup"
    std::string seccomp_profile;
    std::string cgroup;    // Hierarchy::describe()
    int landlock_abi = 0;  // 0 = off
    uid_t uid = 0;         // inside
    uid_t host_uid = 0;    // what it maps to
};

class Run;

class Sandbox {
public:
    // Parent. Validates the config and builds everything that does not depend on the call.
    // A layer the config asks for and the host cannot give fails here with Unsupported and a
    // context naming the layer.
    static Result<std::shared_ptr<const Sandbox>> prepare(const SandboxConfig& config,
                                                          std::shared_ptr<Host> host);
    ~Sandbox();

    // Parent. Creates the run's cgroup (named request.run_id, or a new_run_id()), clones the
    // child into fresh namespaces, writes its id maps, places it in the cgroup and lets it run.
    // Returns once the child has exec'd the program, or with the error (named step + errno) that
    // stopped it before exec. An invalid request.run_id is InvalidArgument; one whose leaf
    // already exists fails with EEXIST.
    Result<std::unique_ptr<Run>> launch(const RunRequest& request) const;

    const SandboxConfig& config() const;
    const Layers& layers() const;

    struct Impl;
    explicit Sandbox(std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

enum class Stream { Stdout, Stderr };
// Called from wait() with each chunk of captured output (only bytes within the cap).
using OutputObserver = std::function<void(Stream, std::string_view)>;
// Called from wait() about once a second while the run lasts, with the time since exec.
using TickObserver = std::function<void(Millis elapsed)>;

// One live run. Destroying it before wait() returns kills the whole process tree and reaps it.
class Run {
public:
    virtual ~Run() = default;

    // Blocks until the run ends. Becoming readable on cancel_fd (an eventfd or pipe, owned by
    // the caller) cancels it: the tree is killed and the reason is Cancelled.
    virtual Outcome wait(int cancel_fd = -1, const OutputObserver& observer = {},
                         const TickObserver& tick = {}) = 0;
    virtual pid_t pid() const = 0;  // host pid of the sandbox's pid 1
    virtual const std::string& id() const = 0;  // run id, also the cgroup leaf name
};

// A fresh run id, "run-<this process's pid>-<16 random hex digits>": unique across supervisors
// and restarts (the random part), and recognisable by cgroup::remove_stale_leaves (the pid).
std::string new_run_id();
// True for the ids RunRequest::run_id accepts: 1..64 characters of [a-z0-9-].
bool valid_run_id(std::string_view id);

// The Outcome of a launch that failed before exec: reason SandboxError, failed_step read from
// the error's "<step>: <detail>" context, errno and message.
Outcome launch_failure(const Error& error);

// launch() + wait(); a launch failure becomes launch_failure(error).
Outcome run_once(const Sandbox& sandbox, const RunRequest& request, int cancel_fd = -1);

}  // namespace sandbox
