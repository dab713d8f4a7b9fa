// A sandbox policy as tooljail uses it: plain data, filled in by parse_policy from one
// policies/*.json file (runtime/policy/policy.h) and read by the section rules, the merge, the
// tools and the resources. docs/POLICIES.md documents the file each field comes from.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/spec.h"

namespace runtime {

// Looks up one variable in the supervisor's environment; nullopt when unset. Injected so that
// tests (and `tooljail check`) are deterministic.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment (getenv). Read at call time, not captured.
EnvLookup process_env();

struct Policy {
    static constexpr const char* kConfigKind = "policy";  // in messages (ConfigSet)

    std::string name;         // equals the file's stem: policies/<name>.json
    std::string description;  // for humans and `tooljail check`
    std::string path;         // file label it was loaded from (used in every error message)
    std::string source;       // the raw file text, kept so a later change can hash/pin it

    // env as written in the file. The resolved list (set + the values of `pass` that were
    // present at load time) is in sandbox.env; these two are kept for policy_to_json, which
    // must not reveal values copied from the supervisor's environment.
    std::map<std::string, std::string> env_set;
    std::vector<std::string> env_pass;

    sandbox::SandboxConfig sandbox;  // sandbox.name == name; sandbox.workspace is left empty
};

}  // namespace runtime
