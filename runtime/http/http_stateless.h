// Internal to the Streamable HTTP transport (runtime/http/http_transport.cc): POSTs of the
// stateless 2026-07-28 revision. They carry no session: the protocol version rides in every
// request's params._meta, and the HTTP headers MCP-Protocol-Version, Mcp-Method and (tools/call,
// resources/read, prompts/get) Mcp-Name mirror the body so that intermediaries can route without
// parsing it. A mirror that is absent or disagrees is refused before anything runs. Include it
// nowhere else.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/http/http_session.h"
#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/mcp_server.h"
#include "runtime/serve/serve_context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace runtime::http_stateless {

// The mirrored headers of one POST as the client sent them (trimmed, neither percent-decoded nor
// cut at a NUL; Mcp-Name still in its =?base64?...?= form, if it used it); nullopt when absent.
struct MirrorHeaders {
    std::optional<std::string> protocol_version;  // MCP-Protocol-Version
    std::optional<std::string> method;            // Mcp-Method
    std::optional<std::string> name;              // Mcp-Name
    // The first of them that appears more than once ("" = none): intermediaries may act on
    // either copy, so which one the body must match is unknowable.
    std::string repeated;
};
// `head`: the request's raw head (http_limits::request_head()).
MirrorHeaders mirror_headers(std::string_view head);

// True for a POST that belongs to the stateless revision: an MCP-Protocol-Version header of
// 2026-07-28, with or without Mcp-Session-Id (that revision ignores the header: no session is
// looked up, minted or echoed); or, without Mcp-Session-Id, a body whose params._meta names a
// protocol version (whatever its value: an unsupported one is answered -32022, not as a 2025
// request).
bool is_stateless(const MirrorHeaders& headers, bool has_session_id, const jsonrpc::Message& m);

// Why a stateless POST is refused before dispatch: the HTTP status and the JSON-RPC error
// (carrying the request's id when it has one).
struct Refusal {
    int status;
    nlohmann::json message;
};

// The checks, in order; the first failure is returned, nullopt when the message may be
// dispatched. Header values are compared with the body byte for byte, as sent (the spec defines
// no percent-encoding for them: "tools%2Flist" is not "tools/list"), case-sensitively, after
// removing the whitespace around them:
//   invalid JSON-RPC -> 400 with its -32700/-32600/-32602 (http_headers::invalid_reply); a
//   response is not checked (post() accepts and drops it: never answered);
//   a mirrored header given twice, or holding a byte other than visible ASCII, space or tab
//   (NUL, control characters, raw UTF-8) -> 400 -32020;
//   Mcp-Method absent or not the body's method -> 400 -32020;
//   MCP-Protocol-Version absent -> 400 -32020;
//   a request without params._meta["io.modelcontextprotocol/protocolVersion"] (a string)
//   -> 400 -32602; a _meta version other than the header's -> 400 -32020;
//   a version other than 2026-07-28 -> 400 -32022, data {supported: [...], requested};
//   tools/call, prompts/get (params.name) and resources/read (params.uri): Mcp-Name absent, not
//   valid in its =?base64?...?= form, or not that value once decoded -> 400 -32020;
//   a request without params._meta["io.modelcontextprotocol/clientCapabilities"] (an object)
//   -> 400 -32602.
// Every -32020 names the header in its message and in data.header. No Mcp-Param-* header is
// checked: no tool of tooljail's declares x-mcp-header, and the spec has servers ignore the
// ones they do not recognise.
std::optional<Refusal> check(const MirrorHeaders& headers, const jsonrpc::Message& m);

// The HTTP status of a JSON-RPC reply to a stateless request: 200 for a result; 404 for
// -32601 (the spec's rule for an unknown method, which lets a client tell us from a server
// without the endpoint); 400 for -32700, -32600, -32602, -32020..-32022; 500 for -32603; 200
// for the rest. (A busy server's -32001 is not a reply: it is refused with 503 before running.)
int reply_status(const nlohmann::json& reply);

// Serves the stateless POSTs with one McpServer per client (its stateless path keeps nothing
// between requests): without authentication one shared by all; with it, one per token client,
// created on the client's first request, so their number is bounded by the token file.
class Endpoint {
public:
    // `pool` and `slots` are the transport's, shared with the sessions; both must outlive every
    // response this endpoint starts.
    Endpoint(const ServeContext& ctx, CallPool& pool, http_session::StreamSlots& slots);

    // Answers one stateless POST whose body is parsed as `m` (possibly Invalid) and whose mirror
    // headers are `headers`: 202 for a response (dropped unanswered), a refusal from check(),
    // 202 for a notification, one JSON body for quick requests, and for tools/call a
    // text/event-stream response (progress, then the result). The call runs on the CallPool
    // under a key of its own, so requests that reuse a JSON-RPC id never meet; closing the
    // response stream cancels it (its run is killed), the only cancellation this revision has
    // on HTTP.
    // `client` is the authenticated token's entry (null without authentication); it is read
    // during the call only.
    void post(const MirrorHeaders& headers, const jsonrpc::Message& m,
              const auth::TokenEntry* client, httplib::Response& res);

    // After a token reload: every running call whose client is gone from `file`, or whose tools
    // changed, is cancelled (its run killed) and its stream ends with an error saying why, as a
    // revoked client's sessions end. Returns how many.
    size_t cancel_revoked(const auth::TokenFile& file);

private:
    // A running call of a token client: what cancel_revoked() checks and how it ends the call.
    struct TokenCall {
        std::string client;
        std::vector<std::string> tools;
        nlohmann::json id;
        std::shared_ptr<http_session::SseStream> stream;
    };

    void start_call(McpServer& server, const jsonrpc::Message& m, const auth::TokenEntry* client,
                    CallWork work, httplib::Response& res);
    // Called with mu_ held.
    McpServer& server_for(const auth::TokenEntry* client);

    CallPool& pool_;
    http_session::StreamSlots& slots_;
    std::atomic<uint64_t> next_call_{0};
    const ServeContext& ctx_;
    // McpServer::handle is documented as not thread-safe; held only for handle() itself, which
    // returns at once (a tools/call comes back as work for the pool), never for a run.
    std::mutex mu_;
    // By token client and scope ("" without authentication). Never erased: the servers live as
    // long as the endpoint, so references handed out under mu_ stay valid.
    std::map<std::string, std::unique_ptr<McpServer>> servers_;
    std::mutex calls_mu_;
    std::map<std::string, TokenCall> token_calls_;  // by CallPool key, while the response lives
};

}  // namespace runtime::http_stateless
