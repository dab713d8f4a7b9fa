// Shared by the policy unit tests: a complete, valid base policy and parse/error helpers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "runtime/policy/policy.h"

namespace policytest {

using nlohmann::json;
using runtime::EnvLookup;
using runtime::Policy;

inline constexpr const char* kLabel = "policies/test.json";

inline EnvLookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

inline const EnvLookup kNoEnv = fake_env({});

// A complete, valid policy that every mutation starts from.
inline json base_policy() {
    return json::parse(R"({
      "name": "test",
      "description": "unit test policy",
      "network": "none",
      "mounts": {
        "system": [
          {"source": "/usr"},
          {"source": "/lib64", "optional": true},
          {"source": "/opt/x", "target": "/x", "noexec": true}
        ],
        "etc": ["ld.so.cache", "localtime"]
      },
      "workspace": {"noexec": false},
      "identity": {"uid": 1000, "gid": 1000},
      "hostname": "tooljail",
      "limits": {"memory_mb": 256, "pids": 64, "cpu_percent": 100, "wall_timeout_ms": 30000,
                 "cpu_time_ms": 20000, "stdout_bytes": 1048576, "stderr_bytes": 1048576,
                 "kill_on_output_cap": false, "tmpfs_mb": 64, "file_size_mb": 64,
                 "open_files": 256, "stdin_bytes": 1048576},
      "seccomp": {"profile": "default", "on_violation": "errno"},
      "landlock": {"mode": "required", "min_abi": 1},
      "env": {"set": {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, "pass": ["TERM"]}
    })");
}

inline sandbox::Result<Policy> parse(const json& doc, const EnvLookup& env = kNoEnv) {
    return runtime::parse_policy(doc.dump(), kLabel, env);
}

// Fails the test with the message if r holds an error; returns the error message otherwise.
inline std::string error_of(const sandbox::Result<Policy>& r) {
    REQUIRE_FALSE(r.has_value());
    return r.error().message();
}

}  // namespace policytest
