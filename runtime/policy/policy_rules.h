// Internal to runtime/policy/policy.cc: the rules for the "mounts" and "env" sections of a policy
// file, the two that decide which host files and which host environment a sandbox sees. Split
// out to keep policy.cc readable; include it nowhere else. Errors are as in policy.h:
// InvalidArgument naming the file and the JSON pointer.
#pragma once

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

// /env -> p.env_set and p.env_pass, then p.sandbox.env: the set variables plus each passed one
// that lookup finds, sorted by name. Variables that run code before main() (LD_*, ...) are
// refused in both lists; interpreter start-up hooks may be set but not passed.
sandbox::Result<void> parse_env(const json_reader::Context& ctx, const json_reader::Node& top,
                                Policy& p, const EnvLookup& lookup);

}  // namespace runtime::policy_rules
