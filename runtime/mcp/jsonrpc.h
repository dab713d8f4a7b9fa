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

// Deepest nesting accepted in a message; deeper input is a parse error, never a stack overflow.
inline constexpr int kMaxDepth = 64;
// Most JSON values (arrays, objects, members, elements) accepted in a message: MCP requests hold
// tens; the cap bounds the parsed tree a queued call keeps (more is a parse error).
inline constexpr size_t kMaxValues = 10000;

enum class Kind { Request, Notification, Response, Invalid };

struct Message {
    Kind kind = Kind::Invalid;
    nlohmann::json id;      // string or integer for requests/responses; null otherwise
    std::string method;     // requests and notifications
    nlohmann::json params;  // object or null (absent)
    // For Kind::Invalid: the error reply to send (null when nothing must be sent).
    nlohmann::json error_reply;
};

// Parses and validates one line. Never throws.
Message parse(std::string_view line);

nlohmann::json result(const nlohmann::json& id, nlohmann::json result);
nlohmann::json error(const nlohmann::json& id, int code, std::string_view message,
                     const nlohmann::json& data = nullptr);

// One line of JSON text; invalid UTF-8 in strings (a program's output) is replaced, not thrown.
std::string serialize(const nlohmann::json& message);

}  // namespace runtime::jsonrpc
