// Cgroups: one leaf per run holding memory (no swap), pids and CPU limits, on cgroup v2 or v1,
// detected at runtime.
//
// Layout. v2: <mount>/<parent>/run-<id> with memory, pids, cpu enabled in the parent's
// subtree_control. v1: <mount of controller>/<parent>/run-<id> for each of memory, pids, cpu,
// cpuacct. <parent> defaults to "<the supervisor's own cgroup>/tooljail" and can be overridden
// (e.g. a systemd-delegated subtree). docs/CGROUPS.md has the details and the fail-closed rules.
//
// All of this runs in the parent; nothing here is called between fork and exec (the child side
// of open_tasks() is one write(2) per fd, in child.cc). Nothing throws.
// Leaf::create/attach/stats/kill_all may run concurrently on different leaves; detect() and
// remove_stale_leaves() are meant for start-up.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"

namespace sandbox::cgroup {

enum class Version { V1, V2 };

struct LeafLimits {
    uint64_t memory_bytes = 0;   // 0 = none
    uint32_t pids = 0;           // 0 = none
    uint32_t cpu_percent = 0;    // 0 = none; 100 = one core
    bool need_cpu_usage = true;  // CPU time must be readable (v1: cpuacct)
};

struct Stats {
    uint64_t cpu_usec = 0;
    uint64_t peak_memory_bytes = 0;
    uint64_t oom_kills = 0;
    uint64_t pids_limit_hits = 0;
};

// The host's cgroup setup, detected once per supervisor.
class Hierarchy {
public:
    // mountinfo_path and proc_self_cgroup are parameters so unit tests can feed fakes.
    // parent_override: a path relative to the cgroup mount root ("/tooljail") or empty for the
    // default. Creates the parent directory (and on v2 enables controllers) if needed.
    //
    // Prefers v2 when its mount offers memory, pids and cpu; then v1 with memory and pids;
    // then v2 with memory and pids. On v2 it enables the controllers in cgroup.subtree_control
    // of every level from the mount root down to the parent; if the supervisor itself sits in
    // one of those groups (other than the real root) it first moves itself into a
    // "<group>/supervisor" leaf, because a group with processes cannot delegate controllers.
    // Errors: Unsupported "cgroup: no usable hierarchy (...)" naming what was found, or a level
    // not offered a controller, or a mount point that is not cgroupfs (overmounted);
    // InvalidArgument for an override that is relative or contains "." / ".."; PermissionDenied
    // / Syscall (EBUSY: other processes share the supervisor's group) from the writes.
    static Result<Hierarchy> detect(const std::string& parent_override,
                                    const std::string& mountinfo_path = "/proc/self/mountinfo",
                                    const std::string& proc_self_cgroup = "/proc/self/cgroup");

    Version version() const { return version_; }
    // "v2 memory,pids,cpu" / "v1 memory,pids,cpu,cpuacct" — for records and logs.
    std::string describe() const;
    // Absolute directories of the parent group: one on v2, one per controller on v1
    // (order: memory, pids, cpu, cpuacct; empty string for a controller that is missing).
    const std::vector<std::string>& parent_dirs() const { return parent_dirs_; }
    // The tightest CPU bandwidth limit set on the parent group or any group above it (v2
    // cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), in percent of one CPU: the most CPU
    // the supervisor and its runs may use together, e.g. inside a container limited to two
    // CPUs. 0 when no group sets one, or without a cpu controller. Reads the files now.
    uint32_t inherited_cpu_percent() const;

private:
    friend class Leaf;
    friend struct TestAccess;  // tests/unit/cgroup_test.cc: lets detect() accept a fake tree
    friend Result<std::vector<std::string>> remove_stale_leaves(const Hierarchy& hierarchy);

    Version version_ = Version::V2;
    std::vector<std::string> parent_dirs_;
    // Which of memory, pids, cpu, cpuacct a leaf gets (same order as parent_dirs_ on v1).
    // On v2 cpuacct is always false: CPU time comes from cpu.stat, which every v2 group has.
    bool present_[4] = {false, false, false, false};
    // The mount points are plain directories (unit tests), not cgroupfs: leaves may already
    // exist with pre-created control files, and removal unlinks those files first.
    bool fake_tree_ = false;
    static inline bool allow_fake_tree_ = false;
};

// Why detect() with no parent override could not use this process's own cgroup, without
// changing anything: on cgroup v2 the own cgroup (unless it is the root) must be delegated to
// this user and hold no other process. nullopt when it can, and when the host would use v1 or
// offers no usable hierarchy (detect() then says what is wrong). A caller can get a cgroup of
// its own first (runtime/cli/systemd_scope.h: a transient scope with Delegate=yes).
std::optional<std::string> own_cgroup_unusable(
    const std::string& mountinfo_path = "/proc/self/mountinfo",
    const std::string& proc_self_cgroup = "/proc/self/cgroup");

// One run's cgroup. Create it, limit it, put the child in it, read it back, kill and remove it.
class Leaf {
public:
    // Creates the leaf(s) and writes the limits. A limit whose controller is missing fails with
    // Unsupported and a context naming it ("cgroup: memory controller unavailable"); so does a
    // memory limit without a swap limit file on a host that has swap. An existing directory of
    // the same name is an error (EEXIST): its limits and members are unknown. Any failure
    // removes what was created. name must be one path component.
    static Result<Leaf> create(const Hierarchy& hierarchy, std::string_view name,
                               const LeafLimits& limits);

    Leaf() = default;
    Leaf(Leaf&&) noexcept;
    Leaf& operator=(Leaf&&) noexcept;
    Leaf(const Leaf&) = delete;
    Leaf& operator=(const Leaf&) = delete;
    ~Leaf();  // kill_all + remove, errors ignored (logged nowhere: best effort cleanup)

    // v2: an O_DIRECTORY fd of the leaf for clone3(CLONE_INTO_CGROUP); -1 on v1.
    int v2_dir_fd() const { return v2_dir_fd_.get(); }
    // Moves pid into the leaf (every controller on v1). Not needed after CLONE_INTO_CGROUP.
    // On v1 this write waits for an RCU grace period after an idle spell (docs/CGROUPS.md);
    // a child can avoid that by moving itself in through open_tasks() instead.
    Result<void> attach(pid_t pid) const;
    // v1: the `tasks` file of each of the leaf's directories (co-mounted controllers share
    // one), opened O_WRONLY|O_CLOEXEC, in the order of tasks_path(). A child cloned after this
    // joins the leaf by writing "0" (the calling thread) to each; the kernel checks the
    // opener's credentials, so the child may already be in its own user namespace. v2: empty.
    // Errors: those of open(2), e.g. EACCES when the files are not delegated to us.
    Result<std::vector<UniqueFd>> open_tasks() const;
    // The path behind open_tasks()[index], for error messages; "" for an index beyond it.
    std::string tasks_path(size_t index) const;
    // v2: cpu.stat usage_usec; v1: cpuacct.usage / 1000 (Unsupported without cpuacct).
    Result<uint64_t> cpu_usage_usec() const;  // cheap; polled by the CPU-time watchdog
    // Fields of a controller the leaf lacks are 0, as is peak memory before Linux 5.19 on v2.
    Result<Stats> stats() const;
    // Forgets what the leaf accounted so far, so that stats() describe what runs from now on
    // (a warm sandbox's own preparation is not the program's). v1: resets the memory
    // high-water mark to the current usage and cpuacct.usage to 0. v2: remembers the CPU usage
    // and subtracts it from then on; memory.peak cannot be reset and keeps the preparation's.
    Result<void> reset_accounting();
    // v1: renames the leaf's directories (same parent), e.g. to the run id a warm sandbox is
    // given at the call. v2 has no rename: Unsupported. An existing name is EEXIST; after a
    // failure part of the directories may carry the new name (remove() still finds them all).
    Result<void> rename(std::string_view new_name);
    // SIGKILLs every process in the leaf (v2: cgroup.kill; v1: repeat over cgroup.procs).
    void kill_all() const;
    // rmdir of every directory, retrying briefly while killed processes finish exiting.
    Result<void> remove();
    bool empty() const { return dirs_.empty(); }

private:
    friend Result<std::vector<std::string>> remove_stale_leaves(const Hierarchy& hierarchy);

    Version version_ = Version::V2;
    std::vector<std::string> dirs_;  // v2: one; v1: memory, pids, cpu, cpuacct (some empty)
    UniqueFd v2_dir_fd_;
    bool fake_tree_ = false;
    uint64_t cpu_base_usec_ = 0;  // v2: subtracted from cpu.stat (reset_accounting)
};

// Removes leftover run-* leaves under the parent (a supervisor that died mid-run), killing any
// process still in them. Returns the names removed.
// Only "run-<pid>-*" leaves are touched, and only when <pid> is gone: no such process, or the
// process with that pid started after the leaf was made (pid reuse). Supervisors sharing a
// parent must therefore share a pid namespace. Uncertain cases count as alive.
Result<std::vector<std::string>> remove_stale_leaves(const Hierarchy& hierarchy);

}  // namespace sandbox::cgroup
