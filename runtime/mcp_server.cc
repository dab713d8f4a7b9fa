#include "runtime/mcp_server.h"

#include "runtime/log.h"

#ifndef TOOLJAIL_VERSION
#define TOOLJAIL_VERSION "0"
#endif

namespace runtime {

using jsonrpc::Message;

namespace {

constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kServerInfoKey = "io.modelcontextprotocol/serverInfo";
// How long a client may cache tools/list and server/discover (they change only on restart
// today; reload in a later issue will announce changes).
constexpr int64_t kListTtlMs = 60'000;

}  // namespace

const std::vector<std::string>& supported_protocol_versions() {
    static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
    return versions;
}

McpServer::McpServer(const ToolRegistry& tools, const ToolRunner& runner, ServerOptions options)
    : tools_(tools), runner_(runner), options_(std::move(options)) {}

McpServer::Reply McpServer::handle(const Message& m) {
    if (m.kind == jsonrpc::Kind::Invalid) return {m.error_reply.is_null() ? std::nullopt : std::optional(m.error_reply), {}};
    if (m.kind == jsonrpc::Kind::Response) return {};
    if (m.kind == jsonrpc::Kind::Notification) {
        // notifications/initialized completes the handshake; notifications/cancelled is handled
        // by the serve loop, which owns the in-flight calls. Unknown notifications are ignored
        // (JSON-RPC: a notification never gets a reply).
        if (m.method == "notifications/initialized") initialized_ = true;
        return {};
    }
    if (m.params.is_object() && m.params.contains("_meta") && m.params["_meta"].is_object() &&
        m.params["_meta"].contains(kVersionKey)) {
        const auto& v = m.params["_meta"][kVersionKey];
        return stateless(m, v.is_string() ? v.get<std::string>() : std::string());
    }
    // server/discover is how dual-era clients probe; answer it even without _meta.
    if (m.method == "server/discover") return stateless(m, kStatelessVersion);
    if (m.method == "initialize") return initialize(m);
    if (m.method == "ping") return {jsonrpc::result(m.id, nlohmann::json::object()), {}};
    if (version_.empty())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidRequest,
                               "the session is not initialized: send \"initialize\" first"),
                {}};
    if (m.method == "tools/list") return {list_tools(m), {}};
    if (m.method == "tools/call") return call_tool(m);
    return {jsonrpc::error(m.id, jsonrpc::kMethodNotFound, "method not found: " + m.method), {}};
}

nlohmann::json McpServer::server_info() const {
    return {{"name", "tooljail"}, {"title", "tooljail sandboxed tools"}, {"version", TOOLJAIL_VERSION}};
}

McpServer::Reply McpServer::stateless(const Message& m, const std::string& version) {
    if (version != kStatelessVersion) {
        nlohmann::json supported = nlohmann::json::array({kStatelessVersion});
        for (const auto& v : supported_protocol_versions()) supported.push_back(v);
        return {jsonrpc::error(m.id, jsonrpc::kUnsupportedVersion, "unsupported protocol version",
                               {{"supported", supported}, {"requested", version}}),
                {}};
    }
    if (m.kind == jsonrpc::Kind::Notification) return {};
    bool has_caps = m.params.is_object() && m.params.contains("_meta") &&
                    m.params["_meta"].is_object() && m.params["_meta"].contains(kCapabilitiesKey) &&
                    m.params["_meta"][kCapabilitiesKey].is_object();
    if (!has_caps && m.method != "server/discover")
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams,
                               std::string("params._meta must carry \"") + kCapabilitiesKey + "\" (an object)"),
                {}};
    auto complete = [this](nlohmann::json result, bool cacheable) {
        result["resultType"] = "complete";
        result["_meta"] = {{kServerInfoKey, server_info()}};
        if (cacheable) {
            // The list is the same for every client of this server: shared caches may keep it.
            result["ttlMs"] = kListTtlMs;
            result["cacheScope"] = "public";
        }
        return result;
    };
    if (m.method == "server/discover") {
        nlohmann::json supported = nlohmann::json::array({kStatelessVersion});
        for (const auto& v : supported_protocol_versions()) supported.push_back(v);
        nlohmann::json result = {{"supportedVersions", supported},
                                 {"capabilities", {{"tools", {{"listChanged", false}}}}}};
        if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
        return {jsonrpc::result(m.id, complete(result, true)), {}};
    }
    if (m.method == "tools/list") {
        nlohmann::json reply = list_tools(m);
        if (reply.contains("result")) reply["result"] = complete(reply["result"], true);
        return {reply, {}};
    }
    if (m.method == "tools/call") return call_tool(m, true);
    // initialize, ping and logging/setLevel do not exist in the stateless revision.
    return {jsonrpc::error(m.id, jsonrpc::kMethodNotFound, "method not found: " + m.method), {}};
}

McpServer::Reply McpServer::initialize(const Message& m) {
    if (!version_.empty())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidRequest, "the session is already initialized"), {}};
    if (!m.params.is_object() || !m.params.contains("protocolVersion") ||
        !m.params["protocolVersion"].is_string())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams, "initialize needs params.protocolVersion (a string)"), {}};
    std::string requested = m.params["protocolVersion"];
    const auto& supported = supported_protocol_versions();
    version_ = supported.front();
    for (const auto& v : supported)
        if (v == requested) version_ = v;
    std::string client = "unknown";
    if (m.params.contains("clientInfo") && m.params["clientInfo"].is_object() &&
        m.params["clientInfo"].contains("name") && m.params["clientInfo"]["name"].is_string())
        client = m.params["clientInfo"]["name"];
    LOG_INFO("initialize client={} requested={} negotiated={}", client, requested, version_);
    nlohmann::json result = {
        {"protocolVersion", version_},
        {"capabilities", {{"tools", {{"listChanged", false}}}}},
        {"serverInfo", server_info()},
    };
    if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
    return {jsonrpc::result(m.id, result), {}};
}

nlohmann::json McpServer::list_tools(const Message& m) const {
    std::vector<const ToolDef*> all = tools_.enabled_tools();
    size_t start = 0;
    if (m.params.is_object() && m.params.contains("cursor")) {
        const auto& cursor = m.params["cursor"];
        // The cursor is opaque to clients: the decimal offset of the next page.
        bool ok = cursor.is_string() && !cursor.get_ref<const std::string&>().empty() &&
                  cursor.get_ref<const std::string&>().size() < 10;
        if (ok)
            for (char ch : cursor.get_ref<const std::string&>()) ok = ok && ch >= '0' && ch <= '9';
        if (ok) start = std::stoul(cursor.get<std::string>());
        if (!ok || start > all.size())
            return jsonrpc::error(m.id, jsonrpc::kInvalidParams, "invalid cursor");
    }
    nlohmann::json list = nlohmann::json::array();
    size_t end = std::min(all.size(), start + options_.page_size);
    for (size_t i = start; i < end; ++i) {
        nlohmann::json entry = all[i]->to_mcp();
        if (!entry.contains("outputSchema") || entry["outputSchema"].is_null()) entry["outputSchema"] = run_result_schema();
        list.push_back(std::move(entry));
    }
    nlohmann::json result = {{"tools", list}};
    if (end < all.size()) result["nextCursor"] = std::to_string(end);
    return jsonrpc::result(m.id, result);
}

McpServer::Reply McpServer::call_tool(const Message& m, bool stateless) const {
    if (!m.params.is_object() || !m.params.contains("name") || !m.params["name"].is_string())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams, "tools/call needs params.name (a string)"), {}};
    std::string name = m.params["name"];
    nlohmann::json arguments = nlohmann::json::object();
    if (m.params.contains("arguments")) {
        if (!m.params["arguments"].is_object())
            return {jsonrpc::error(m.id, jsonrpc::kInvalidParams, "params.arguments must be an object"), {}};
        arguments = m.params["arguments"];
    }
    const ToolDef* tool = tools_.find(name);
    if (!tool || !tool->enabled) {
        std::string shown = name.size() > 128 ? name.substr(0, 128) + "..." : name;
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams, "unknown tool: " + shown,
                               {{"code", "UNKNOWN_TOOL"}}),
                {}};
    }
    nlohmann::json progress_token;
    if (m.params.contains("_meta") && m.params["_meta"].is_object()) {
        const auto& meta = m.params["_meta"];
        auto token = meta.find("progressToken");
        if (token != meta.end() && (token->is_string() || token->is_number_integer())) progress_token = *token;
    }
    nlohmann::json id = m.id;
    const ToolRunner* runner = &runner_;
    nlohmann::json info = server_info();
    return {std::nullopt, [runner, tool, arguments, id, progress_token, stateless, info](const CallContext& ctx) {
                try {
                    nlohmann::json result = runner->call(*tool, arguments, ctx, progress_token);
                    if (stateless) {
                        result["resultType"] = "complete";
                        result["_meta"] = {{kServerInfoKey, info}};
                    }
                    return jsonrpc::result(id, std::move(result));
                } catch (const std::exception& e) {
                    LOG_ERROR("tools/call {} failed: {}", tool->name, e.what());
                    return jsonrpc::error(id, jsonrpc::kInternalError, "internal error");
                }
            }};
}

}  // namespace runtime
