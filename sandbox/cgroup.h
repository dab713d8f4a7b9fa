// Cgroups: one leaf per run holding memory (no swap), pids and CPU limits, on cgroup v2 or v1,
// detected at runtime.
//
// Layout. v2: <mount>/<parent>/run-<id> with memory, pids, cpu enabled in the parent's
// subtree_control. v1: <mount of controller>/<parent>/run-<id> for each of memory, pids, cpu,
// cpuacct. <parent> defaults to "<the supervisor's own cgroup>/tooljail" and can be overridden
// (e.g. a systemd-delegated subtree).
//
// All of this runs in the parent; nothing here is called between fork and exec.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"

namespace sandbox::cgroup {

enum class Version { V1, V2 };

struct LeafLimits {
    uint64_t memory_bytes = 0;  // 0 = none
    uint32_t pids = 0;          // 0 = none
    uint32_t cpu_percent = 0;   // 0 = none; 100 = one core
    bool need_cpu_usage = true; // CPU time must be readable (v1: cpuacct)
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
    static Result<Hierarchy> detect(const std::string& parent_override,
                                    const std::string& mountinfo_path = "/proc/self/mountinfo",
                                    const std::string& proc_self_cgroup = "/proc/self/cgroup");

    Version version() const { return version_; }
    // "v2 memory,pids,cpu" / "v1 memory,pids,cpu,cpuacct" — for records and logs.
    std::string describe() const;
    // Absolute directories of the parent group: one on v2, one per controller on v1
    // (order: memory, pids, cpu, cpuacct; empty string for a controller that is missing).
    const std::vector<std::string>& parent_dirs() const { return parent_dirs_; }

private:
    friend class Leaf;
    Version version_ = Version::V2;
    std::vector<std::string> parent_dirs_;
};

// One run's cgroup. Create it, limit it, put the child in it, read it back, kill and remove it.
class Leaf {
public:
    // Creates the leaf(s) and writes the limits. A limit whose controller is missing fails with
    // Unsupported and a context naming it ("cgroup: memory controller unavailable").
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
    Result<void> attach(pid_t pid) const;
    Result<uint64_t> cpu_usage_usec() const;  // cheap; polled by the CPU-time watchdog
    Result<Stats> stats() const;
    // SIGKILLs every process in the leaf (v2: cgroup.kill; v1: repeat over cgroup.procs).
    void kill_all() const;
    // rmdir of every directory, retrying briefly while killed processes finish exiting.
    Result<void> remove();
    bool empty() const { return dirs_.empty(); }

private:
    Version version_ = Version::V2;
    std::vector<std::string> dirs_;  // v2: one; v1: memory, pids, cpu, cpuacct (some empty)
    UniqueFd v2_dir_fd_;
};

// Removes leftover run-* leaves under the parent (a supervisor that died mid-run), killing any
// process still in them. Returns the names removed.
Result<std::vector<std::string>> remove_stale_leaves(const Hierarchy& hierarchy);

}  // namespace sandbox::cgroup
