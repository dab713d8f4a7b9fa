// Internal to runtime/policy/policy.cc: the rules for the "mounts", "executables" and "env"
// sections of a policy file, which decide which host files a sandbox sees and may run and which
// host environment it gets. Split
// out to keep policy.cc readable; include it nowhere else. Errors are as in policy.h:
// InvalidArgument naming the file and the JSON pointer.
#pragma once

#include <cstddef>

#include "runtime/base/json_reader.h"
#include "runtime/policy/policy_def.h"
#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace runtime::policy_rules {

// /mounts -> cfg.binds and cfg.etc_entries. Sources and targets must be normalised absolute
// paths; host state (/proc, /sys, /dev, ...) and credential files under /etc are refused, as
// are targets that collide with the launcher's own mounts or cfg.workspace_target. An absent
// section leaves both lists as they are.
sandbox::Result<void> parse_mounts(const json_reader::Context& ctx, const json_reader::Node& top,
                                   sandbox::SandboxConfig& cfg);

// /executables -> cfg.executables: "any" (the default: whatever the mounts let execute, an
// empty list) or 1..kMaxExecutables normalised absolute paths inside the sandbox, unique, which
// then are the only ones (Landlock; the policy must not turn it off).
inline constexpr std::size_t kMaxExecutables = 16;
sandbox::Result<void> parse_executables(const json_reader::Context& ctx,
                                        const json_reader::Node& top, sandbox::SandboxConfig& cfg);

// /env -> p.env_set and p.env_pass, then p.sandbox.env: the set variables plus each passed one
// that lookup finds, sorted by name. Variables that run code before main() (LD_*, ...) are
// refused in both lists; interpreter start-up hooks may be set but not passed.
sandbox::Result<void> parse_env(const json_reader::Context& ctx, const json_reader::Node& top,
                                Policy& p, const EnvLookup& lookup);

}  // namespace runtime::policy_rules
