// Internal to the Streamable HTTP transport (runtime/http/): reading request headers (media
// types, Accept, Host) and the CORS headers of our responses. No state; include it nowhere else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/mcp/jsonrpc.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace runtime::http_headers {

// ASCII lower case; header values we compare (media types, host names, origins) are ASCII.
std::string lower(std::string_view s);

// Without the optional whitespace (spaces, tabs) HTTP allows around a field value (RFC 9110
// section 5.5).
std::string_view trim(std::string_view s);

// The trimmed value of header `name` (names compare case-insensitively), or "" when absent.
// httplib's view: percent-decoded, and cut at a NUL. For values that must be compared as sent,
// use raw_values().
std::string value(const httplib::Request& req, const char* name);

// Every value of header `name` in httplib's parse, in order and trimmed: percent-decoded like
// value(), but never cut at a NUL. For servers that are not a LimitedServer (no raw head).
std::vector<std::string> values(const httplib::Request& req, const char* name);

// Every value of header `name` (case-insensitive) in `head`, a request line and its header lines
// as the client sent them (http_limits::request_head()), in order and trimmed: the bytes as
// sent, neither percent-decoded nor cut at a NUL. A line without CR before its LF counts too.
std::vector<std::string> raw_values(std::string_view head, std::string_view name);

// True when every byte of a (trimmed) value is visible ASCII, space or tab (RFC 9110 section
// 5.5, without obs-text): no NUL, no other control character, nothing above 0x7E.
bool plain_value(std::string_view value);

// Mcp-Name and Mcp-Param-* values (2026-07-28, SEP-2243): a value that is not plain ASCII
// travels as "=?base64?" + Base64 of its UTF-8 + "?=" (markers lower case, exact); any other
// value is itself. Returns the value the header stands for, or nullopt when the sentinel holds
// anything but padded standard Base64 (RFC 4648 section 4, canonical).
std::optional<std::string> decode_sentinel(std::string_view value);

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view value);

// True when some Accept header lists `type` itself. Wildcards do not count: the spec has the
// client list both types, and fetch() sends "*/*" when the caller set nothing.
bool accepts(const httplib::Request& req, std::string_view type);

// The host of a Host header value, lower case, without the port: "example.com", "10.0.0.1",
// "[::1]" (brackets kept). "" when malformed, including any byte that is not visible ASCII: a
// NUL would otherwise end the name early for inet_pton(3) ("127.0.0.1\0.evil.example").
std::string host_name(std::string_view header);

// True when a Host header names this machine's loopback: "localhost", a 127.0.0.0/8 literal or
// [::1], with any port.
bool loopback_host(std::string_view header);

// Sets status and a JSON body.
void send_message(httplib::Response& res, int status, const nlohmann::json& message);

// Transport-level refusals: a JSON-RPC error without an id (the spec allows a body of that
// shape); the status is what clients act on.
void send_error(httplib::Response& res, int status, int code, std::string_view message);

// The 400 body for a message jsonrpc::parse() refused: its error reply, or, for one that gets
// none (a refused notification), an error without an id saying why: HTTP must still answer the
// POST, and the spec lets an error status carry such a body.
nlohmann::json invalid_reply(const jsonrpc::Message& m);

// A refusal to come back later (429 or 503): Retry-After in whole seconds, and a -32001 error
// whose data says RATE_LIMITED and the same retry_after. `id` is the request's, when one was read.
void send_rate_limited(httplib::Response& res, int status, long retry_after,
                       std::string_view message, const nlohmann::json& id = nullptr);

// CORS, for a request whose Origin the caller has already allowed. `origin` is the request's
// Origin as sent: browsers compare Access-Control-Allow-Origin with it byte for byte.
// Every response: Access-Control-Allow-Origin, Vary: Origin and Access-Control-Expose-Headers
// (Mcp-Session-Id, so that a page can read the session it opened; WWW-Authenticate, so that it
// can tell a missing token from a wrong one).
void allow_origin(httplib::Response& res, const std::string& origin);
// The answer to a preflight (OPTIONS with Access-Control-Request-Method): 204 with the methods
// and request headers MCP uses, cacheable for Max-Age seconds.
void answer_preflight(httplib::Response& res);

}  // namespace runtime::http_headers
