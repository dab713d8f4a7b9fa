// One warm sandbox, parent side: a child cloned into all of its namespaces, its id maps written,
// its cgroup leaf created, limited and holding it, its root built and every restriction up to
// seccomp applied, blocked on its request pipe (child::run_warm). Used for exactly one run.
//
//   auto warm = warm::fill(prepared);                    // pool's fill thread, off the call path
//   auto parts = warm::start(std::move(*warm), ...);     // the call: request -> exec seen
//
// Thread rule: fill() clones from the calling thread, and the child's parent-death signal is
// tied to that thread (prctl(2) PR_SET_PDEATHSIG), so fill must run on a thread that lives as
// long as the warm sandbox may: the pool's fill thread, which runs until the pool is destroyed.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/prepared.h"
#include "sandbox/reaper.h"
#include "sandbox/run_impl.h"
#include "sandbox/spawn.h"

namespace sandbox::warm {

class Child {
public:
    Child() = default;
    Child(Child&&) noexcept = default;
    Child& operator=(Child&&) = delete;  // would drop a live child without reaping it
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    // An unused warm sandbox is killed and reaped; its leaf's destructor kills what is left in
    // it and removes it (~Spawned). Blocks until the child is reaped (SIGKILL: promptly).
    ~Child() = default;

    pid_t pid() const { return spawned_.pid; }
    const std::string& leaf_name() const { return leaf_name_; }
    // False once the child has exited (its pidfd is readable): it must not be used.
    bool alive() const;
    // False when a bind source (the workspace above all) is no longer the directory this
    // sandbox mounted: replaced (a re-clone, a rename over it), deleted, or covered by a new
    // mount. Such a sandbox would show the old tree: it must not be used.
    bool binds_current(const Prepared& prepared) const;
    // Hands an unusable warm sandbox (found dead, or its start failed) to the reaper, which
    // kills and reaps it and removes its leaf off the caller's path. Leaves this Child empty.
    void retire(Reaper& reaper);

private:
    friend Result<Child> fill(const Prepared& prepared);
    friend Result<RunParts> start(Child& child, const Prepared& prepared,
                                  const std::string& request, bool has_stdin,
                                  std::string_view stdin_file, const std::string& run_id,
                                  bool* fall_back);
    Child(Spawned spawned, std::string leaf_name, std::vector<std::pair<dev_t, ino_t>> binds);

    // The child, its leaf and the parent's pipe ends. go_write carries the request after the go
    // byte; report_read sees the ready record, then EOF once the request's argv exec'd.
    Spawned spawned_;
    std::string leaf_name_;
    // (device, inode) of each bind source, taken before the clone: a change after that shows.
    std::vector<std::pair<dev_t, ino_t>> binds_;
};

// Parent, on the pool's fill thread. Runs the launch sequence the cold path runs (spawn.h:
// the leaf "run-<pid>-<hex>", a new_run_id() so cgroup::remove_stale_leaves cleans it up after
// a supervisor crash; the pipes, a stdin pipe always; clone3 into child::run_warm; the id maps;
// the v1 attach, v2 being born in the leaf; the go byte) and waits for the ready record; then
// resets the leaf's accounting so the run's stats start at the request. Any failure kills and reaps
// the child and removes the leaf: a warm sandbox that could not be prepared with every layer is
// never used. The error names the step like a cold launch's ("mounts: /usr").
Result<Child> fill(const Prepared& prepared);

// Parent, on the launching thread. request is warm_request::encode(argv, has_stdin,
// stdin_file); stdin_file (empty: none) only names the file in errors. On
// cgroup v1 renames the leaf to run_id (as the cold path names it; EEXIST like a cold launch's
// Leaf::create); v2 cannot rename. Sends the request and waits until the child has exec'd, then
// hands the pid, pidfd, pipes (nonblocking) and leaf over as RunParts; the caller fills in id,
// limits, deadline and stdin data. On error *fall_back says whether the warm sandbox was unusable
// before the request reached it (it had died, or the request could not be written): the caller
// should then run the call on the cold path. Otherwise the error is the run's own, exactly as the
// cold path reports it (e.g. "execve: /bin/nope", NotFound).
Result<RunParts> start(Child& child, const Prepared& prepared, const std::string& request,
                       bool has_stdin, std::string_view stdin_file, const std::string& run_id,
                       bool* fall_back);

}  // namespace sandbox::warm
