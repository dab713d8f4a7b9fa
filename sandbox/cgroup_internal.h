// Internal to sandbox/cgroup.cc and sandbox/cgroup_detect.cc: what the leaf code and the
// hierarchy detection both need. Not part of the cgroup interface; include it nowhere else.
// Like the rest of the module, these run in the parent only and never throw.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"

namespace sandbox::cgroup::internal {

// Index order of Hierarchy::parent_dirs_ / present_ and of Leaf::dirs_ on v1.
inline constexpr size_t kMemory = 0, kPids = 1, kCpu = 2, kCpuacct = 3, kNumCtl = 4;
inline constexpr const char* kCtlName[kNumCtl] = {"memory", "pids", "cpu", "cpuacct"};

// ---- text (defined in cgroup_detect.cc) ------------------------------------------------------

// Non-empty pieces of text between separators.
std::vector<std::string> split(std::string_view text, char sep);

inline bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// ---- control files (defined in cgroup.cc) ----------------------------------------------------

inline bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Writes value to a control file with a single write(2). Errors: those of open, or Syscall
// (with errno) naming the path and the value; a short write is Syscall without errno.
Result<void> write_control(const std::string& path, std::string_view value);

// The pids listed in a cgroup.procs file; empty if it cannot be read. Lines that are not a pid
// are skipped.
std::vector<pid_t> read_pids(const std::string& procs_path);

}  // namespace sandbox::cgroup::internal
