#include "runtime/policy/merge.h"

#include <algorithm>

namespace runtime {

sandbox::SandboxConfig merge(const Policy& policy, const ToolLimits& tool, const RunSite& site) {
    sandbox::SandboxConfig config = policy.sandbox;
    config.workspace = site.workspace;
    sandbox::Limits& limits = config.limits;
    // Manifests were checked to only tighten at load; min() keeps that true whatever they say.
    if (tool.wall_timeout) limits.wall_timeout = std::min(limits.wall_timeout, *tool.wall_timeout);
    if (tool.memory_bytes) limits.memory_bytes = std::min(limits.memory_bytes, *tool.memory_bytes);
    if (tool.output_bytes) {
        limits.stdout_bytes = std::min(limits.stdout_bytes, *tool.output_bytes);
        limits.stderr_bytes = std::min(limits.stderr_bytes, *tool.output_bytes);
    }
    if (site.wall_timeout) limits.wall_timeout = *site.wall_timeout;
    return config;
}

}  // namespace runtime
