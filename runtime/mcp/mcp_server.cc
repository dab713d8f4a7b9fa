#include "runtime/mcp/mcp_server.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "runtime/base/log.h"
#include "runtime/mcp/call_result.h"

#ifndef TOOLJAIL_VERSION
#define TOOLJAIL_VERSION "0"
#endif

namespace runtime {

using jsonrpc::Message;

namespace {

constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kServerInfoKey = "io.modelcontextprotocol/serverInfo";
// How long a client may cache tools/list and server/discover. A reload or the kill switch can
// change the list sooner; stateless clients have no list_changed push, so this bounds how long
// they may keep a stale list (calls are checked against the current set whatever they cached).
constexpr int64_t kListTtlMs = 60'000;
// resources/read of an unknown URI before 2026-07-28; from it on, -32602 (SEP-2164).
constexpr int kResourceNotFound = -32002;

}  // namespace

const std::vector<std::string>& supported_protocol_versions() {
    static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
    return versions;
}

McpServer::McpServer(const LiveTools& live, ServerOptions options)
    : live_(live), options_(std::move(options)) {}

McpServer::Reply McpServer::handle(const Message& m) {
    if (m.kind == jsonrpc::Kind::Invalid) {
        if (!m.refusal.empty()) LOG_INFO("{}", m.refusal);
        return {m.error_reply.is_null() ? std::nullopt : std::optional(m.error_reply), {}};
    }
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
    if (m.method.starts_with("resources/")) {
        auto set = live_.current();
        ResourceCatalog resources(set->tools, *set->runner,
                                  [&](const std::string& tool) { return shows(*set, tool); });
        if (m.method == "resources/list")
            return {resources.list(m, options_.owner, options_.page_size), {}};
        if (m.method == "resources/templates/list") return {resources.templates(m), {}};
        if (m.method == "resources/read")
            return {resources.read(m, options_.owner, kResourceNotFound), {}};
    }
    if (m.method == "logging/setLevel") return {set_log_level(m), {}};
    return {jsonrpc::error(m.id, jsonrpc::kMethodNotFound, "method not found: " + m.method), {}};
}

nlohmann::json McpServer::set_log_level(const Message& m) {
    const nlohmann::json* level =
        m.params.is_object() && m.params.contains("level") ? &m.params["level"] : nullptr;
    auto parsed =
        level && level->is_string() ? parse_mcp_log_level(level->get<std::string>()) : std::nullopt;
    if (!parsed)
        return jsonrpc::error(
            m.id, jsonrpc::kInvalidParams,
            "logging/setLevel needs params.level: debug, info, notice, warning, error, critical, "
            "alert or emergency");
    log_level_ = parsed;
    return jsonrpc::result(m.id, nlohmann::json::object());
}

nlohmann::json McpServer::capabilities(bool stateless) const {
    nlohmann::json caps = {{"tools", {{"listChanged", options_.list_changed && !stateless}}},
                           {"resources", {{"listChanged", false}, {"subscribe", false}}}};
    // logging/setLevel does not exist in the stateless revision.
    if (!stateless) caps["logging"] = nlohmann::json::object();
    return caps;
}

nlohmann::json McpServer::server_info() const {
    return {
        {"name", "tooljail"}, {"title", "tooljail sandboxed tools"}, {"version", TOOLJAIL_VERSION}};
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
                               std::string("params._meta must carry \"") + kCapabilitiesKey +
                                   "\" (an object)"),
                {}};
    // cache: "public" (the same for every client: shared caches may keep it for kListTtlMs),
    // "private" (this client's: only its own cache, and only for ttl), or "" (not cacheable).
    auto complete = [this](nlohmann::json result, const char* cache, int64_t ttl = kListTtlMs) {
        result["resultType"] = "complete";
        result["_meta"] = {{kServerInfoKey, server_info()}};
        if (*cache) {
            result["ttlMs"] = ttl;
            result["cacheScope"] = cache;
        }
        return result;
    };
    auto completed = [&](nlohmann::json reply, const char* cache,
                         int64_t ttl = kListTtlMs) -> Reply {
        if (reply.contains("result")) reply["result"] = complete(reply["result"], cache, ttl);
        return {reply, {}};
    };
    if (m.method == "server/discover") {
        nlohmann::json supported = nlohmann::json::array({kStatelessVersion});
        for (const auto& v : supported_protocol_versions()) supported.push_back(v);
        nlohmann::json result = {{"supportedVersions", supported},
                                 {"capabilities", capabilities(true)}};
        if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
        return {jsonrpc::result(m.id, complete(result, "public")), {}};
    }
    // Scoped by the client's token, the list is that client's alone: no shared cache may keep it.
    if (m.method == "tools/list")
        return completed(list_tools(m), options_.tool_scope ? "private" : "public");
    if (m.method == "tools/call") return call_tool(m, true);
    auto set = live_.current();
    ResourceCatalog resources(set->tools, *set->runner,
                              [&](const std::string& tool) { return shows(*set, tool); });
    // Runs come and go with every call: the list is private and changes at once; a run's
    // output never changes while it is kept.
    if (m.method == "resources/list")
        return completed(resources.list(m, options_.owner, options_.page_size), "private", 0);
    if (m.method == "resources/templates/list") return completed(resources.templates(m), "public");
    if (m.method == "resources/read")
        return completed(resources.read(m, options_.owner, jsonrpc::kInvalidParams), "private");
    // initialize, ping and logging/setLevel do not exist in the stateless revision.
    return {jsonrpc::error(m.id, jsonrpc::kMethodNotFound, "method not found: " + m.method), {}};
}

McpServer::Reply McpServer::initialize(const Message& m) {
    if (!version_.empty())
        return {
            jsonrpc::error(m.id, jsonrpc::kInvalidRequest, "the session is already initialized"),
            {}};
    if (!m.params.is_object() || !m.params.contains("protocolVersion") ||
        !m.params["protocolVersion"].is_string())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams,
                               "initialize needs params.protocolVersion (a string)"),
                {}};
    std::string requested = m.params["protocolVersion"];
    const auto& supported = supported_protocol_versions();
    version_ = supported.front();
    for (const auto& v : supported)
        if (v == requested) version_ = v;
    std::string client = "unknown";
    if (m.params.contains("clientInfo") && m.params["clientInfo"].is_object()) {
        client_info_ = m.params["clientInfo"];
        if (client_info_.contains("name") && client_info_["name"].is_string())
            client = client_info_["name"];
    }
    LOG_INFO("initialize client={} requested={} negotiated={}", client, requested, version_);
    nlohmann::json result = {
        {"protocolVersion", version_},
        {"capabilities", capabilities(false)},
        {"serverInfo", server_info()},
    };
    if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
    return {jsonrpc::result(m.id, result), {}};
}

// MCP lets tools/list vary by authorization: a client sees only what it may call. Tools
// switched off or not approved under the lock are not callable, so not listed either.
bool McpServer::shows(const ToolSet& set, const std::string& tool) const {
    return in_scope(tool) && set.approved(tool) && !live_.kill_switch().disabled(tool);
}

std::vector<const ToolDef*> McpServer::listed(const ToolSet& set) const {
    std::vector<const ToolDef*> all = set.tools.enabled_tools();
    std::erase_if(all, [&](const ToolDef* t) { return !shows(set, t->name); });
    return all;
}

std::string McpServer::listed_fingerprint() const {
    auto set = live_.current();
    std::string fingerprint;
    for (const ToolDef* t : listed(*set)) {
        auto hash = set->hashes.find(t->name);
        fingerprint += t->name + "=" + (hash == set->hashes.end() ? "" : hash->second) + "\n";
    }
    return fingerprint;
}

nlohmann::json McpServer::list_tools(const Message& m) const {
    auto set = live_.current();
    std::vector<const ToolDef*> all = listed(*set);
    auto cursor = parse_cursor(m.params, all.size());
    if (!cursor) return jsonrpc::error(m.id, jsonrpc::kInvalidParams, "invalid cursor");
    size_t start = *cursor;
    nlohmann::json list = nlohmann::json::array();
    size_t end = std::min(all.size(), start + options_.page_size);
    for (size_t i = start; i < end; ++i) {
        nlohmann::json entry = all[i]->to_mcp();
        if (!entry.contains("outputSchema") || entry["outputSchema"].is_null())
            entry["outputSchema"] = run_result_schema();
        list.push_back(std::move(entry));
    }
    nlohmann::json result = {{"tools", list}};
    if (end < all.size()) result["nextCursor"] = std::to_string(end);
    return jsonrpc::result(m.id, result);
}

McpServer::Reply McpServer::call_tool(const Message& m, bool stateless) const {
    if (!m.params.is_object() || !m.params.contains("name") || !m.params["name"].is_string())
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams,
                               "tools/call needs params.name (a string)"),
                {}};
    std::string name = m.params["name"];
    nlohmann::json arguments = nlohmann::json::object();
    if (m.params.contains("arguments")) {
        if (!m.params["arguments"].is_object())
            return {
                jsonrpc::error(m.id, jsonrpc::kInvalidParams, "params.arguments must be an object"),
                {}};
        arguments = m.params["arguments"];
    }
    // The snapshot this call runs with to its end, whatever a reload swaps in meanwhile.
    std::shared_ptr<const ToolSet> set = live_.current();
    const ToolRunner& runner = *set->runner;
    const ToolDef* tool = set->tools.find(name);
    CallOrigin origin = call_origin(m, stateless);
    if (!tool || !tool->enabled) {
        std::string shown = name.size() > 128 ? name.substr(0, 128) + "..." : name;
        runner.record_refusal(origin, shown, arguments, records::kValidationError, "unknown tool");
        return {jsonrpc::error(m.id, jsonrpc::kInvalidParams, "unknown tool: " + shown,
                               {{"code", "UNKNOWN_TOOL"}}),
                {}};
    }
    if (!in_scope(name)) {
        // A tool result rather than a JSON-RPC error, like every refusal a model can act on; it
        // names the tool and never the scope, which is the operator's business.
        LOG_WARN("call tool={} refused: outside the scope of client {}", name,
                 options_.token_client);
        std::string message = "tool '" + name + "' is not allowed for this client";
        runner.record_refusal(origin, name, arguments, records::kPolicyDenied, message);
        return {jsonrpc::result(m.id, refused("POLICY_DENIED", message, stateless)), {}};
    }
    if (live_.kill_switch().disabled(name)) {
        LOG_WARN("call tool={} refused: disabled by the kill switch", name);
        std::string message = "tool '" + name + "' is disabled by the server's operator";
        runner.record_refusal(origin, name, arguments, records::kToolDisabled, message);
        return {jsonrpc::result(m.id, refused("TOOL_DISABLED", message, stateless)), {}};
    }
    if (!set->approved(name)) {
        std::string approved = set->approved_hash(name);
        const std::string& current = set->hashes.find(name)->second;
        LOG_WARN("call tool={} refused: not approved (approved={} current={})", name,
                 approved.empty() ? "none" : approved, current);
        std::string message = "tool '" + name +
                              "' changed since it was approved (or was never approved); the "
                              "server's operator must review and approve it";
        runner.record_refusal(origin, name, arguments, records::kToolNotApproved, message);
        nlohmann::json extra = {{"current_sha256", current},
                                {"approved_sha256", approved.empty() ? nlohmann::json(nullptr)
                                                                     : nlohmann::json(approved)}};
        return {jsonrpc::result(m.id, refused("TOOL_NOT_APPROVED", message, stateless, extra)), {}};
    }
    // After the scope, the kill switch and approval (a call that could never run spends no
    // tokens), before the pool.
    if (auto limited = options_.admission ? options_.admission->admit_call(rate_client(), name)
                                          : std::nullopt) {
        // Milliseconds, rounded up: a retry at that time passes.
        double retry_after = std::ceil(limited->retry_after * 1000) / 1000;
        std::string message = fmt::format("rate limit of this {} reached; retry in {:.3f} s",
                                          limited->limit, retry_after);
        LOG_WARN("call tool={} refused: {} rate limit, retry_after={:.3f}", name, limited->limit,
                 retry_after);
        runner.record_refusal(origin, name, arguments, records::kRateLimited, message);
        return {jsonrpc::result(m.id,
                                refused("RATE_LIMITED", message, stateless,
                                        {{"retry_after", retry_after}, {"limit", limited->limit}})),
                {}};
    }
    nlohmann::json id = m.id;
    nlohmann::json info = server_info();
    return {std::nullopt,
            [set, tool, arguments, id, origin, stateless, info](const CallContext& ctx) {
                try {
                    nlohmann::json result = set->runner->call(*tool, arguments, ctx, origin);
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

nlohmann::json McpServer::refused(const std::string& code, const std::string& message,
                                  bool stateless, const nlohmann::json& extra) const {
    nlohmann::json result = refusal_result(code, message, extra);
    if (stateless) {
        result["resultType"] = "complete";
        result["_meta"] = {{kServerInfoKey, server_info()}};
    }
    return result;
}

}  // namespace runtime

namespace runtime {

CallOrigin McpServer::call_origin(const Message& m, bool stateless) const {
    CallOrigin origin;
    origin.owner = options_.owner;
    origin.session = options_.session;
    origin.client.transport = options_.transport;
    // Over stdio the client is whoever started this process; over HTTP the OS account means
    // nothing: the token's client does (empty without authentication).
    if (options_.transport == "stdio") origin.client.os_user = records::current_os_user();
    origin.client.token_client = options_.token_client;
    origin.client.client_info = client_info_.is_null() ? nlohmann::json(nullptr) : client_info_;
    if (m.params.is_object() && m.params.contains("_meta") && m.params["_meta"].is_object()) {
        const auto& meta = m.params["_meta"];
        auto token = meta.find("progressToken");
        if (token != meta.end() && (token->is_string() || token->is_number_integer()))
            origin.progress_token = *token;
        auto trace = meta.find("traceparent");
        if (trace != meta.end() && trace->is_string()) origin.traceparent = *trace;
        auto info = meta.find("io.modelcontextprotocol/clientInfo");
        if (stateless && info != meta.end() && info->is_object()) origin.client.client_info = *info;
    }
    // Logging belongs to the stateful revisions; resource_link content arrived in 2025-06-18.
    if (!stateless) origin.log_level = log_level_;
    origin.resource_links = stateless || version_ != "2025-03-26";
    return origin;
}

std::string McpServer::rate_client() const {
    // Over stdio the client is the process at the other end; over HTTP the token's client, and
    // without authentication (loopback only) every caller is one anonymous client.
    return options_.token_client.empty() ? options_.transport : "token:" + options_.token_client;
}

bool McpServer::in_scope(const std::string& tool) const {
    if (!options_.tool_scope) return true;
    const auto& scope = *options_.tool_scope;
    return std::find(scope.begin(), scope.end(), tool) != scope.end();
}

void McpServer::record_refused_call(const Message& m, const char* reason,
                                    const std::string& message) const {
    if (m.method != "tools/call" || !m.params.is_object()) return;
    std::string name = m.params.contains("name") && m.params["name"].is_string()
                           ? m.params["name"].get<std::string>()
                           : "";
    if (name.size() > 128) name = name.substr(0, 128) + "...";
    nlohmann::json arguments =
        m.params.contains("arguments") ? m.params["arguments"] : nlohmann::json(nullptr);
    bool stateless = m.params.contains("_meta") && m.params["_meta"].is_object() &&
                     m.params["_meta"].contains(kVersionKey);
    live_.current()->runner->record_refusal(call_origin(m, stateless), name, arguments, reason,
                                            message);
}

}  // namespace runtime
