// McpServer: MCP method dispatch for one session (stdio: the process). Quick methods are
// answered inline; tools/call comes back as deferred work for the caller's worker pool so that
// a slow run never blocks ping, tools/list or other calls.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/mcp_log_level.h"
#include "runtime/mcp/resources.h"
#include "runtime/mcp/tool_set.h"
#include "runtime/ops/admission.h"

namespace runtime {

// The stateful revisions, newest first; initialize answers with the client's version when
// listed, else the newest.
const std::vector<std::string>& supported_protocol_versions();
// The stateless revision: requests carry _meta["io.modelcontextprotocol/protocolVersion"] and
// need no initialize; results carry resultType (and ttlMs/cacheScope for lists).
inline constexpr const char* kStatelessVersion = "2026-07-28";

struct ServerOptions {
    size_t page_size = 100;  // tools/list and resources/list page size
    std::string instructions;
    // The client identity behind this server: the runs it makes are readable (resources) only
    // by servers with the same owner.
    std::string owner = "local";
    // For the per-run records: "stdio" or "http", and the MCP session id ("" = none).
    std::string transport = "stdio";
    std::string session;
    // HTTP with authentication: the token's client (records: client.token_client; "" = none)
    // and the tools it may list and call (nullopt = every tool). A tool outside the scope is
    // missing from tools/list, and tools/call of it is a POLICY_DENIED result, recorded.
    std::string token_client;
    std::optional<std::vector<std::string>> tool_scope;
    // Rate limits of tools/call (shared by every server of the process; null = none). A call
    // over a limit is a RATE_LIMITED result with retry_after, recorded as rate_limited.
    Admission* admission = nullptr;
    // The transport delivers notifications/tools/list_changed to this client (a reload or the
    // kill switch changed the list): the tools capability says listChanged: true.
    bool list_changed = false;
};

class McpServer {
public:
    // Each request reads live.current(); a call keeps that snapshot until its result is out.
    McpServer(const LiveTools& live, ServerOptions options);

    struct Reply {
        std::optional<nlohmann::json> message;  // send now (a response or an error)
        // tools/call: run on a worker (CallPool); returns the response to send.
        CallWork work;
    };

    // Handles one parsed message. Not thread-safe: call from the reader thread only.
    Reply handle(const jsonrpc::Message& message);

    // Records a tools/call that the transport refused before it could run (server busy:
    // records::kRateLimited). Thread-safe like handle() is not: call it from the same thread.
    void record_refused_call(const jsonrpc::Message& m, const char* reason,
                             const std::string& message) const;

    // The names and drift hashes of what this client's tools/list shows now, as one string: a
    // change in it is what list_changed announces to this client. Thread-safe, unlike handle():
    // it reads only the live set, the kill switch and fixed options.
    std::string listed_fingerprint() const;

    bool initialized() const { return initialized_; }
    const std::string& protocol_version() const { return version_; }

private:
    Reply stateless(const jsonrpc::Message& m, const std::string& version);
    Reply initialize(const jsonrpc::Message& m);
    nlohmann::json list_tools(const jsonrpc::Message& m) const;
    // What tools/list shows this client of `set`: in its scope, approved, not switched off.
    std::vector<const ToolDef*> listed(const ToolSet& set) const;
    bool shows(const ToolSet& set, const std::string& tool) const;
    // stateless: add resultType (and serverInfo) to the tool result.
    Reply call_tool(const jsonrpc::Message& m, bool stateless = false) const;
    nlohmann::json set_log_level(const jsonrpc::Message& m);
    nlohmann::json capabilities(bool stateless) const;
    nlohmann::json server_info() const;
    CallOrigin call_origin(const jsonrpc::Message& m, bool stateless) const;
    bool in_scope(const std::string& tool) const;
    // The key of this server's client in the per-client rate limit.
    std::string rate_client() const;
    // A refusal the model can act on: an isError tool result with this code (stateless: with
    // resultType and serverInfo).
    nlohmann::json refused(const std::string& code, const std::string& message, bool stateless,
                           const nlohmann::json& extra = nlohmann::json::object()) const;

    const LiveTools& live_;
    ServerOptions options_;
    bool initialized_ = false;
    std::string version_;
    std::optional<McpLogLevel> log_level_;  // unset until logging/setLevel: no log messages
    nlohmann::json client_info_;            // initialize's clientInfo, for the records
};

}  // namespace runtime
