// `tooljail tools`: what the server would serve, its drift hashes, the lock file and the kill
// switch (docs/TOOLS.md "Reload, drift, lock and kill switch").
//
//   tooljail tools list    [--tools-dir D] [--policy-dir P] [--lock FILE] [--state DIR] [--json]
//        every tool with its sha256 (runtime/tools/tool_hash.h) and whether it is served, disabled,
//        or (with --lock) not approved
//   tooljail tools approve [--tools-dir D] [--policy-dir P] --lock FILE (NAME... | --all)
//        writes the current hashes of these tools (--all: exactly the current tool set) into
//        the lock file; a running server takes them at its next SIGHUP
//   tooljail tools disable NAME... [--state DIR]    the kill switch: refused from the next call
//   tooljail tools enable  NAME... [--state DIR]
//
// Exit status: 0 ok; 125 bad usage, an unknown tool or an unreadable/invalid file.
#pragma once

#include <string>
#include <vector>

namespace runtime {

struct ToolsOptions {
    std::string action;      // list, approve, disable, enable
    std::string tools_dir;   // "" = default_tools_dir()
    std::string policy_dir;  // "" = default_policy_dir()
    std::string lock_file;   // approve (required), list (optional)
    std::string state_dir;   // "" = default_state_dir()
    std::vector<std::string> names;
    bool all = false;   // approve
    bool json = false;  // list
};

int tools_command(const ToolsOptions& options);

}  // namespace runtime
