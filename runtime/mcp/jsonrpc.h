// JSON-RPC 2.0 envelopes: parse one message, validate its shape, build replies. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace runtime::jsonrpc {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Ours (-32000..-32019): the server is at its concurrency cap and the call queue is full.
inline constexpr int kServerBusy = -32001;
// 2026-07-28 (reserved by the spec): header/_meta mismatch and unsupported protocol version.
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kUnsupportedVersion = -32022;

// Deepest nesting accepted in a message; deeper input is refused (see parse()), never a stack
// overflow.
inline constexpr int kMaxDepth = 64;
// Most JSON values (arrays, objects, members, elements) accepted in a message: MCP requests hold
// tens; the cap bounds the parsed tree a queued call keeps (more is refused, see parse()).
inline constexpr size_t kMaxValues = 10000;

// Response: an object with "result" or "error" and no "method". It is never answered, whatever
// else is wrong with it (a bad id, a wrong "jsonrpc"): two peers answering each other's
// malformed responses would loop.
enum class Kind { Request, Notification, Response, Invalid };

struct Message {
    Kind kind = Kind::Invalid;
    // A request's id (string or integer); a response's when it is one of those; null otherwise.
    nlohmann::json id;
    std::string method;     // requests and notifications
    nlohmann::json params;  // object or null (absent)
    // For Kind::Invalid: the error reply to send (null when nothing must be sent, as for a
    // notification that is refused: then `refusal` says why, for the log and for HTTP, which
    // must still answer the POST with an error status).
    nlohmann::json error_reply;
    std::string refusal;
};

// Parses and validates one line. Never throws.
// Valid JSON that is not taken (nested deeper than kMaxDepth, more than kMaxValues values, or a
// string with a lone UTF-16 surrogate escape such as "\ud800", which JSON's grammar allows and
// UTF-8 cannot hold) is still read for its envelope, without building a tree: a request whose
// id can be read gets -32602 with that id, naming what is wrong; a notification or a response
// gets nothing (Invalid with a null error_reply, or Response); anything else, like text that is
// not JSON, gets -32700 with id null.
Message parse(std::string_view line);

nlohmann::json result(const nlohmann::json& id, nlohmann::json result);
nlohmann::json error(const nlohmann::json& id, int code, std::string_view message,
                     const nlohmann::json& data = nullptr);

// The answer to a request whose id is that of a request still in progress on the same
// connection (stdio) or session (HTTP): -32600 with id null, the reused id in data.id. Not with
// that id: the client would see two responses for one id, and could match this one to the
// request in progress (MCP: an id MUST NOT match that of any request not yet answered; JSON-RPC
// 2.0 section 5: id null when the request's id cannot be used). docs/FAULTS.md.
nlohmann::json reused_id(const nlohmann::json& id);

// One line of JSON text; invalid UTF-8 in strings (a program's output) is replaced, not thrown.
std::string serialize(const nlohmann::json& message);

}  // namespace runtime::jsonrpc
