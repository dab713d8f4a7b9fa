// Internal: the live run created by Sandbox::launch and driven by Run::wait (run.cc).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sandbox/base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/reaper.h"
#include "sandbox/run.h"
#include "sandbox/spec.h"

namespace sandbox {

struct RunParts {
    std::string id;
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd stdin_write;  // nonblocking; invalid when stdin is /dev/null
    std::string stdin_data;
    UniqueFd stdout_read;  // nonblocking
    UniqueFd stderr_read;  // nonblocking
    cgroup::Leaf leaf;
    Limits limits;
    Millis wall_timeout{0};
    std::chrono::steady_clock::time_point started;
    bool warm = false;  // came from the warm pool (sandbox/pool.h)
    // When set, the leaf is killed and removed there after the stats are read; else in wait().
    std::shared_ptr<Reaper> reaper;
};

std::unique_ptr<Run> make_run(RunParts parts);

}  // namespace sandbox
