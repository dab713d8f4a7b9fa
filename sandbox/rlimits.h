// Resource limits applied with setrlimit(2) in the child.
#pragma once

#include <sys/resource.h>

#include <vector>

#include "sandbox/spec.h"

namespace sandbox::rlimits {

struct Entry {
    int resource;
    rlimit value;
};
using Plan = std::vector<Entry>;

// Parent: core 0, fsize, nofile, cpu (per process, a backstop for the cgroup CPU watchdog:
// ceil(seconds)+1 soft, +2 hard), msgqueue 0, memlock 64 KiB (see rlimits.cc). A 0 in Limits
// (file_size_bytes, open_files, cpu_time) leaves that limit as inherited. Values above the
// supervisor's own hard limit are clamped to it, since the child could not raise them anyway.
Plan plan(const Limits& limits);

// Child. Returns 0 or errno.
int apply(const Plan& plan);

}  // namespace sandbox::rlimits
