// Policies: policies/*.json -> Policy (a named, validated sandbox::SandboxConfig).
//
// A policy file is one JSON object; docs/POLICIES.md documents every key, its unit, default and
// allowed range. Loading fails closed (STYLE.md section 7): unknown keys, duplicate keys, wrong
// types and impossible values are errors, and every error names the file and the JSON pointer
// of the offending field:
//
//   policies/default.json: /limits/memory_mb: must be between 8 and 1048576 (got 0)
//
// Keys that a file omits take the member initialisers of sandbox::SandboxConfig / Limits /
// SeccompConfig / LandlockConfig (sandbox/spec.h), the single source of defaults. Only "name"
// and "description" are required.
//
// Nothing here throws: nlohmann exceptions are caught at this boundary and become
// sandbox::Error with code InvalidArgument (bad content) or NotFound/Syscall (unreadable file).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/base/config_set.h"
#include "runtime/policy/policy_def.h"
#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace runtime {

// Parses and validates one policy. file_label is the path the text came from: it prefixes
// every error message, becomes Policy::path, and its basename minus ".json" must equal the
// policy's "name". env resolves env.pass; unset variables are omitted, not errors.
// Errors: InvalidArgument.
sandbox::Result<Policy> parse_policy(std::string_view json_text, std::string_view file_label,
                                     const EnvLookup& env);

// Reads path (at most kMaxPolicyFileBytes) and calls parse_policy with path as the label.
// Errors: NotFound / PermissionDenied / Syscall for an unreadable file, else as parse_policy.
sandbox::Result<Policy> load_policy_file(const std::string& path, const EnvLookup& env);

inline constexpr std::size_t kMaxPolicyFileBytes = 1 << 20;

// Policies by name; immutable once loaded (runtime/base/config_set.h).
using PolicySet = ConfigSet<Policy>;

// Loads every effective "*.json" file of a search path (one directory, or several joined by
// ':', the first holding a name wins; runtime/base/config_path.h), in name order. The first
// invalid file fails the whole load and the error names that file; a path without policies is
// NotFound. There is no partial result: refuse to serve.
sandbox::Result<PolicySet> load_policy_dir(const std::string& search_path, const EnvLookup& env);

// The default search path of policies (runtime/base/config_path.h): $TOOLJAIL_POLICY_DIR; else
// <source>/policies for a build-tree run; else <config dir>/policies:<data dir>/policies
// (/etc/tooljail/policies:/usr/share/tooljail/policies for a /usr install).
std::string default_policy_dir();

// The effective policy in the file format, every default filled in, for `tooljail check` and
// MCP resources. parse_policy(policy_to_json(p).dump(), p.path, env) yields the same policy.
// env.pass lists names only: values copied from the supervisor's environment are not shown.
nlohmann::json policy_to_json(const Policy& policy);

}  // namespace runtime
