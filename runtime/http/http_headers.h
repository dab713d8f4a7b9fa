// Internal to the Streamable HTTP transport (runtime/http/): reading request headers (media
// types, Accept, Host) and the CORS headers of our responses. No state; include it nowhere else.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

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
std::string value(const httplib::Request& req, const char* name);

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view value);

// True when some Accept header lists `type` itself. Wildcards do not count: the spec has the
// client list both types, and fetch() sends "*/*" when the caller set nothing.
bool accepts(const httplib::Request& req, std::string_view type);

// The host of a Host header value, lower case, without the port: "example.com", "10.0.0.1",
// "[::1]" (brackets kept). "" when malformed.
std::string host_name(std::string_view header);

// True when a Host header names this machine's loopback: "localhost", a 127.0.0.0/8 literal or
// [::1], with any port.
bool loopback_host(std::string_view header);

// Sets status and a JSON body.
void send_message(httplib::Response& res, int status, const nlohmann::json& message);

// Transport-level refusals: a JSON-RPC error without an id (the spec allows a body of that
// shape); the status is what clients act on.
void send_error(httplib::Response& res, int status, int code, std::string_view message);

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
