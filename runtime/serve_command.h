// `tooljail serve`: the MCP server over stdio (Streamable HTTP and the stateless 2026-07-28
// revision are later increments). stdout carries only protocol messages; logs go to stderr.
#pragma once

#include <string>

namespace runtime {

struct ServeOptions {
    std::string tools_dir;    // empty = default_tools_dir()
    std::string policy_dir;   // empty = default_policy_dir()
    std::string workspace;    // empty = current directory
    size_t max_parallel = 4;  // calls running at once
    size_t max_queued = 64;   // calls waiting beyond that; more is refused (server busy)
};

// Loads everything (refusing to start on any invalid file), then serves stdin/stdout until
// stdin closes. Returns the process exit status.
int serve_stdio(const ServeOptions& options);

}  // namespace runtime
