// Internal to the Streamable HTTP transport: see http_stateless.h.
#include "runtime/http/http_stateless.h"

#include <httplib.h>

#include <memory>
#include <string_view>
#include <utility>

#include "runtime/base/json_reader.h"
#include "runtime/base/log.h"
#include "runtime/http/http_headers.h"
#include "runtime/http/http_ops.h"

namespace runtime::http_stateless {
namespace {

using nlohmann::json;

constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
// Reserved by the spec next to -32020 and -32022 (jsonrpc.h); McpServer does not send it today,
// but a reply carrying it is a client error all the same.
constexpr int kMissingClientCapability = -32021;
// Header values and body fields are echoed in messages; a client's 4 MiB name is not.
constexpr size_t kMaxEchoed = 128;

// Header values are echoed as sent, so control and non-ASCII bytes are written as \xNN.
std::string shown(std::string_view s) {
    return "'" + json_reader::printable(s.substr(0, kMaxEchoed)) +
           (s.size() > kMaxEchoed ? "...'" : "'");
}

// The body field Mcp-Name mirrors, for the methods that address one tool, prompt or resource.
const char* named_field(const std::string& method) {
    if (method == "tools/call" || method == "prompts/get") return "name";
    if (method == "resources/read") return "uri";
    return nullptr;
}

const json* meta_field(const jsonrpc::Message& m, const char* key) {
    if (!m.params.is_object()) return nullptr;
    auto meta = m.params.find("_meta");
    if (meta == m.params.end() || !meta->is_object()) return nullptr;
    auto field = meta->find(key);
    return field == meta->end() ? nullptr : &*field;
}

Refusal mismatch(const jsonrpc::Message& m, const char* header, std::string message) {
    return {400, jsonrpc::error(m.id, jsonrpc::kHeaderMismatch, message, {{"header", header}})};
}

// data.supported is what server/discover lists, so a client can pick from either.
Refusal unsupported(const jsonrpc::Message& m, const std::string& requested) {
    json supported = json::array({kStatelessVersion});
    for (const auto& v : supported_protocol_versions()) supported.push_back(v);
    return {400, jsonrpc::error(m.id, jsonrpc::kUnsupportedVersion,
                                "unsupported protocol version " + shown(requested),
                                {{"supported", supported}, {"requested", requested}})};
}

Refusal invalid_params(const jsonrpc::Message& m, std::string message) {
    return {400, jsonrpc::error(m.id, jsonrpc::kInvalidParams, message)};
}

}  // namespace

MirrorHeaders mirror_headers(std::string_view head) {
    MirrorHeaders out;
    auto get = [&](const char* name) -> std::optional<std::string> {
        std::vector<std::string> found = http_headers::raw_values(head, name);
        if (found.size() > 1 && out.repeated.empty()) out.repeated = name;
        if (found.empty()) return std::nullopt;
        return std::move(found.front());
    };
    out.protocol_version = get("MCP-Protocol-Version");
    out.method = get("Mcp-Method");
    out.name = get("Mcp-Name");
    return out;
}

bool is_stateless(const MirrorHeaders& headers, bool has_session_id, const jsonrpc::Message& m) {
    // The revision's own header decides first: 2026-07-28 has no sessions, and its servers
    // ignore an Mcp-Session-Id a client sends (an older client's leftover, or a proxy's).
    if (headers.protocol_version == kStatelessVersion) return true;
    if (has_session_id) return false;
    return meta_field(m, kVersionKey) != nullptr;
}

std::optional<Refusal> check(const MirrorHeaders& headers, const jsonrpc::Message& m) {
    if (m.kind == jsonrpc::Kind::Invalid) return Refusal{400, http_headers::invalid_reply(m)};
    bool request = m.kind == jsonrpc::Kind::Request;

    // Headers before the body: they are what an intermediary already acted on.
    if (!headers.repeated.empty())
        return mismatch(m, headers.repeated.c_str(),
                        headers.repeated + " header appears more than once");
    for (auto [header, value] :
         {std::pair{"MCP-Protocol-Version", &headers.protocol_version},
          std::pair{"Mcp-Method", &headers.method}, std::pair{"Mcp-Name", &headers.name}})
        if (*value && !http_headers::plain_value(**value))
            return mismatch(m, header,
                            std::string(header) +
                                " header holds a byte that is not visible ASCII, space or tab "
                                "(a value that needs one travels as =?base64?...?=, and only in "
                                "Mcp-Name)");
    if (!headers.method)
        return mismatch(m, "Mcp-Method",
                        "Mcp-Method header is required (it mirrors the body's method)");
    if (*headers.method != m.method)
        return mismatch(m, "Mcp-Method",
                        "Mcp-Method header " + shown(*headers.method) +
                            " does not match the body's method " + shown(m.method));
    if (!headers.protocol_version)
        return mismatch(m, "MCP-Protocol-Version",
                        "MCP-Protocol-Version header is required (it mirrors params._meta[\"" +
                            std::string(kVersionKey) + "\"])");

    const json* version = meta_field(m, kVersionKey);
    if (version && !version->is_string())
        return invalid_params(
            m, std::string("params._meta[\"") + kVersionKey + "\"] must be a string");
    // A notification's _meta is optional; a request's is how this revision knows its version.
    if (!version && request)
        return invalid_params(
            m, std::string("params._meta must carry \"") + kVersionKey + "\" (a string)");
    if (version && *headers.protocol_version != version->get_ref<const std::string&>())
        return mismatch(m, "MCP-Protocol-Version",
                        "MCP-Protocol-Version header " + shown(*headers.protocol_version) +
                            " does not match params._meta[\"" + kVersionKey + "\"] " +
                            shown(version->get_ref<const std::string&>()));
    if (*headers.protocol_version != kStatelessVersion)
        return unsupported(m, version ? version->get<std::string>() : *headers.protocol_version);
    if (!request) return std::nullopt;

    if (const char* field = named_field(m.method)) {
        std::string path = std::string("params.") + field;
        const json* body =
            m.params.is_object() && m.params.contains(field) ? &m.params[field] : nullptr;
        if (body && body->is_string()) {
            if (!headers.name)
                return mismatch(
                    m, "Mcp-Name",
                    "Mcp-Name header is required for " + m.method + " (it mirrors " + path + ")");
            // Decoded first (SEP-2243): the spec's form for a name or URI that is not plain
            // ASCII, and for a plain one that looks like the form itself.
            std::optional<std::string> name = http_headers::decode_sentinel(*headers.name);
            if (!name)
                return mismatch(m, "Mcp-Name",
                                "Mcp-Name header " + shown(*headers.name) +
                                    " is not valid Base64 inside =?base64?...?=");
            if (*name != body->get_ref<const std::string&>())
                return mismatch(m, "Mcp-Name",
                                "Mcp-Name header " + shown(*headers.name) + " does not match " +
                                    path + " " + shown(body->get_ref<const std::string&>()));
        } else if (headers.name) {
            return mismatch(
                m, "Mcp-Name",
                "Mcp-Name header " + shown(*headers.name) + " names no " + path + " in the body");
        }
        // Neither: McpServer answers the missing field with -32602.
    }

    // Checked here rather than left to McpServer, which lets server/discover through without it
    // (stdio clients probe with a bare discover); over HTTP the revision requires it everywhere.
    const json* caps = meta_field(m, kCapabilitiesKey);
    if (!caps || !caps->is_object())
        return invalid_params(
            m, std::string("params._meta must carry \"") + kCapabilitiesKey + "\" (an object)");
    return std::nullopt;
}

int reply_status(const json& reply) {
    auto error = reply.find("error");
    if (error == reply.end() || !error->is_object()) return 200;
    int code = error->value("code", 0);
    switch (code) {
        case jsonrpc::kMethodNotFound: return 404;
        case jsonrpc::kParseError:
        case jsonrpc::kInvalidRequest:
        case jsonrpc::kInvalidParams:
        case jsonrpc::kHeaderMismatch:
        case kMissingClientCapability:
        case jsonrpc::kUnsupportedVersion: return 400;
        case jsonrpc::kInternalError: return 500;
        default: return 200;
    }
}

Endpoint::Endpoint(const ServeContext& ctx, CallPool& pool, http_session::StreamSlots& slots)
    : pool_(pool), slots_(slots), ctx_(ctx) {}

McpServer& Endpoint::server_for(const auth::TokenEntry* client) {
    // The scope is part of the key: after a token reload changes it, the client gets a server
    // with the new one (the old stays for calls that hold it; one per scope ever seen).
    std::string key;
    if (client) {
        key = client->client;
        for (const auto& tool : client->tools) key += "\n" + tool;
    }
    auto& server = servers_[key];
    // Without authentication every stateless client is the same owner: kept runs are shared.
    if (!server)
        server = std::make_unique<McpServer>(
            *ctx_.tools, http_session::client_server_options(ctx_, client, "http-stateless", ""));
    return *server;
}

void Endpoint::post(const MirrorHeaders& headers, const jsonrpc::Message& m,
                    const auth::TokenEntry* client, httplib::Response& res) {
    // Clients of this revision send no responses, and a response is never answered (two peers
    // answering each other's would loop): accepted and dropped, as in a session.
    if (m.kind == jsonrpc::Kind::Response) {
        res.status = 202;
        return;
    }
    if (auto refusal = check(headers, m)) {
        const json& error = refusal->message["error"];
        LOG_INFO("stateless request refused status={} code={} header={}", refusal->status,
                 error.value("code", 0),
                 error.contains("data") && error["data"].is_object()
                     ? error["data"].value("header", "-")
                     : "-");
        return http_headers::send_message(res, refusal->status, refusal->message);
    }
    // Nothing to do for a notification: notifications/cancelled has no session to find its call
    // in (closing the response stream is this revision's cancellation on HTTP), and the
    // 2025-11-25 ones (initialized, roots) mean nothing without a session.
    if (m.kind == jsonrpc::Kind::Notification) {
        res.status = 202;
        return;
    }
    McpServer::Reply reply;
    McpServer* server = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu_);
        server = &server_for(client);
        reply = http_session::handle_guarded(*server, m);
    }
    if (reply.message)
        return http_headers::send_message(res, reply_status(*reply.message), *reply.message);
    if (reply.work) return start_call(*server, m, client, std::move(reply.work), res);
    http_headers::send_message(res, 500,
                               jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error"));
}

void Endpoint::start_call(McpServer& server, const jsonrpc::Message& m,
                          const auth::TokenEntry* client, CallWork work, httplib::Response& res) {
    auto busy = [&] {
        server.record_refused_call(m, records::kRateLimited,
                                   "server busy: too many calls in progress");
        http_session::send_busy(res, m.id);
    };
    if (!slots_.try_acquire()) return busy();
    // The CallPool key only has to name this one call: no later message refers to it (there is
    // no notifications/cancelled here), and two clients, or one, may send the same id at once.
    // The prefix cannot collide with a session's (32 hex digits).
    std::string key = "stateless/" + std::to_string(++next_call_) + "/" + m.id.dump();
    auto stream = std::make_shared<http_session::SseStream>();
    auto reply = [stream](const json& response) { stream->finish(response); };
    auto notify = [stream](const json& n) { stream->notify(n); };
    auto submitted = pool_.submit(key, std::move(work), reply, notify);
    if (submitted != CallPool::Submit::Ok) {
        slots_.release();
        if (submitted == CallPool::Submit::Busy) return busy();
        if (submitted == CallPool::Submit::Stopping) {
            server.record_refused_call(m, records::kShuttingDown, "the server is shutting down");
            return http_ops::refuse_draining(res, m.id);
        }
        LOG_ERROR("stateless call key {} is already in the pool", key);
        return http_headers::send_message(
            res, 500, jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error"));
    }

    if (client) {
        std::lock_guard<std::mutex> lock(calls_mu_);
        token_calls_.emplace(key, TokenCall{client->client, client->tools, m.id, stream});
    }
    http_session::send_stream(
        res, stream,
        // Runs when the response is destroyed, however it ended. Without the result delivered
        // (the client closed the stream, a write timed out, the server is stopping) the call is
        // cancelled: the spec makes a closed stream the cancellation, and nobody could receive
        // the result any more. The key is this request's alone, so the cancel cannot reach
        // another call; one that has just finished is no longer in the pool and is ignored.
        [this, stream, key](bool) {
            {
                std::lock_guard<std::mutex> lock(calls_mu_);
                token_calls_.erase(key);
            }
            slots_.release();
            if (stream->ended()) return;
            LOG_INFO("stateless response stream closed before the result; cancelling the call");
            stream->abandon();
            pool_.cancel(key);
        });
}

size_t Endpoint::cancel_revoked(const auth::TokenFile& file) {
    std::vector<std::pair<std::string, TokenCall>> doomed;
    {
        std::lock_guard<std::mutex> lock(calls_mu_);
        for (const auto& [key, call] : token_calls_) {
            const auth::TokenEntry* entry = file.find(call.client);
            if (!entry || entry->tools != call.tools) doomed.emplace_back(key, call);
        }
    }
    // The error goes first: a cancelled call gets no reply from the pool, and finish() is a
    // no-op for a stream whose result got there before us.
    for (auto& [key, call] : doomed) {
        call.stream->finish(
            jsonrpc::error(call.id, jsonrpc::kInvalidRequest,
                           "Unauthorized: the client's token was revoked or its tools changed; "
                           "the call was cancelled"));
        pool_.cancel(key);
    }
    return doomed.size();
}

}  // namespace runtime::http_stateless
