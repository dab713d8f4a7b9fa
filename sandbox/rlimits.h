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

// Parent: core 0, fsize, nofile, cpu (per process, a backstop for the cgroup CPU watchdog),
// msgqueue 0, memlock 0.
Plan plan(const Limits& limits);

// Child. Returns 0 or errno.
int apply(const Plan& plan);

}  // namespace sandbox::rlimits
