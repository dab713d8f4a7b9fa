// MCP resources: what a client can read besides tool results.
//
//   tooljail://runs/{run_id}                 a kept run: its result summary (JSON)
//   tooljail://runs/{run_id}/stdout{?offset,length}
//   tooljail://runs/{run_id}/stderr{?offset,length}
//                                            the run's captured output, one page at a time
//   tooljail://policies/{name}               a policy as loaded (every default filled in)
//   tooljail://tools/{name}/policy           the policy a tool actually runs under (its tighter
//                                            limits and the workspace applied)
//
// Runs are kept only when a result could not show all of their output (runtime/mcp/run_archive.h)
// and only the client that made the call can list or read them. Output pages are byte ranges of
// the captured stream, cut back to a UTF-8 boundary; a page that is not valid UTF-8 is sent as a
// base64 blob. Each page's _meta["tooljail/page"] says where it is and where the next one starts.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/tool_runner.h"
#include "runtime/tools/tool_registry.h"

namespace runtime {

inline constexpr size_t kDefaultPageBytes = 64 * 1024;
inline constexpr size_t kMaxPageBytes = 1024 * 1024;

// A parsed resource URI. kind: "run", "output", "policy", "tool_policy".
struct ResourceRef {
    std::string kind;
    std::string name;    // run id, policy name or tool name
    std::string stream;  // output: "stdout" or "stderr"
    size_t offset = 0;
    size_t length = kDefaultPageBytes;
};

// nullopt for anything that is not one of the forms above (unknown query keys, non-decimal or
// out-of-range numbers, empty names included).
std::optional<ResourceRef> parse_resource_uri(const std::string& uri);

// Parses params.cursor (the decimal offset of the next page, opaque to clients); nullopt when
// present but invalid or beyond total. Absent: 0.
std::optional<size_t> parse_cursor(const nlohmann::json& params, size_t total);

class ResourceCatalog {
public:
    // listed: whether the client's tools/list shows a tool; a tool's policy resource is listed
    // and readable only then (a client learns nothing of tools outside its scope).
    ResourceCatalog(const ToolRegistry& tools, const ToolRunner& runner,
                    std::function<bool(const std::string&)> listed)
        : tools_(tools), runner_(runner), listed_(std::move(listed)) {}

    // Each returns the JSON-RPC reply (result or error) for request m made by owner.
    nlohmann::json list(const jsonrpc::Message& m, const std::string& owner,
                        size_t page_size) const;
    nlohmann::json templates(const jsonrpc::Message& m) const;
    // not_found_code: -32002 before 2026-07-28, -32602 from it on (SEP-2164).
    nlohmann::json read(const jsonrpc::Message& m, const std::string& owner,
                        int not_found_code) const;

private:
    const ToolRegistry& tools_;
    const ToolRunner& runner_;
    const std::function<bool(const std::string&)> listed_;
};

}  // namespace runtime
