// The one place where a policy, a tool's manifest and a caller meet: the SandboxConfig of a
// run (STYLE.md section 2, step 4). Pure: no I/O, no environment, no clock. Both entry points
// use it: `tooljail run` (a policy and its command line) and the MCP tool runner (a policy,
// the tool's tightened limits, the served workspace). Arguments of a call never reach it: they
// only fill argv slots (runtime/tools/arguments.h), never paths, mounts, limits or flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/policy/policy_def.h"
#include "sandbox/spec.h"

namespace runtime {

// What a tool manifest's "limits" section may change of its policy: each only tightens (a
// looser value is refused when the manifest loads, runtime/tools/tool_registry.h).
struct ToolLimits {
    std::optional<sandbox::Millis> wall_timeout;
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> output_bytes;  // stdout and stderr each
};

// What the caller of a run decides besides the argv.
struct RunSite {
    std::string workspace;  // resolved host path bound at the policy's workspace_target; "" = none
    // `tooljail run --timeout`: the caller's explicit wall clock, which replaces the policy's
    // (it may lengthen it: the caller asked). nullopt = the policy's, tightened by the tool.
    std::optional<sandbox::Millis> wall_timeout;
};

// policy.sandbox with the workspace set, the tool's limits applied (the tighter of the two
// values each), then the caller's wall clock.
sandbox::SandboxConfig merge(const Policy& policy, const ToolLimits& tool, const RunSite& site);

}  // namespace runtime
