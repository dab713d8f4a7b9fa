// Internal to sandbox/: everything Sandbox::prepare builds once per policy, shared by the cold
// launch (launcher.cc) and the warm pool (warm_child.cc, pool.cc), which both start their
// children through spawn.h. Immutable once built; the pool keeps its own reference, so it never
// needs the Sandbox or the Host to fill a warm sandbox. Plain data: no functions here.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/namespaces.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"
#include "sandbox/spec.h"

namespace sandbox {

// Built in place and never moved: envp and path_ptrs point into config.env and path_dirs.
struct Prepared {
    SandboxConfig config;
    cgroup::Hierarchy cgroups;  // a copy of the Host's
    mount_plan::Plan mounts;
    seccomp::Program seccomp;
    caps::Plan caps;
    rlimits::Plan rlimits;
    landlock::Plan landlock;
    namespaces::IdMap ids{};
    cgroup::LeafLimits cgroup_limits;
    std::vector<std::string> path_dirs;
    std::vector<const char*> path_ptrs;  // NULL-terminated view of path_dirs
    std::vector<char*> envp;             // NULL-terminated view of config.env

    Prepared() = default;
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;
};

}  // namespace sandbox
