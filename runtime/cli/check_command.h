// `tooljail check`: validates the policies and tool manifests exactly as `serve` loads them and
// prints the effective tool list with each tool's risk (REQUIREMENTS.md: "validate tools.d and
// policies, print the effective tool list and risk").
//
//   tooljail check [--tools-dir PATH] [--policy-dir PATH] [--tools-lock FILE] [--state DIR]
//                  [--json]
//
// For every policy: the file that defined it (a local override or the shipped one). For every
// tool: risk tier, policy, whether serve would serve it (disabled in its manifest, switched off
// by the kill switch, not approved by the lock), the MCP hints, the limits a call gets (policy
// and tool merged, runtime/policy/merge.h), network (none or loopback), the program and the file.
// It reads files only: it does not probe the host's kernel (cgroups, Landlock), which serve
// does when it prepares each sandbox.
//
// Exit status: 0 everything is valid; 1 a file is invalid (the message names it and the JSON
// pointer) or unreadable; 125 bad usage.
#pragma once

#include <string>

namespace runtime {

struct CheckOptions {
    std::string tools_dir;   // "" = default_tools_dir()
    std::string policy_dir;  // "" = default_policy_dir()
    std::string lock_file;   // "" = no lock
    std::string state_dir;   // "" = default_state_dir() (the kill switch)
    bool json = false;
};

inline constexpr int kExitCheckInvalid = 1;

int check_command(const CheckOptions& options);

}  // namespace runtime
