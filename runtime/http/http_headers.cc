// Internal to the Streamable HTTP transport: see http_headers.h.
#include "runtime/http/http_headers.h"

#include <httplib.h>

#include "runtime/http/http_listen.h"
#include "runtime/mcp/jsonrpc.h"

namespace runtime::http_headers {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& ch : out)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string value(const httplib::Request& req, const char* name) {
    return std::string(trim(req.get_header_value(name)));
}

std::string media_type(std::string_view value) {
    return lower(trim(value.substr(0, value.find(';'))));
}

bool accepts(const httplib::Request& req, std::string_view type) {
    for (size_t i = 0, n = req.get_header_value_count("Accept"); i < n; ++i) {
        std::string header = req.get_header_value("Accept", i);
        std::string_view rest = header;
        for (;;) {
            size_t comma = rest.find(',');
            if (media_type(rest.substr(0, comma)) == type) return true;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return false;
}

// A DNS-rebinding page reaches us under its own name, which this rejects.
std::string host_name(std::string_view header) {
    std::string host = lower(trim(header));
    if (!host.empty() && host[0] == '[') {
        size_t close = host.find(']');
        if (close == std::string::npos) return "";
        if (close + 1 < host.size() && host[close + 1] != ':') return "";
        return host.substr(0, close + 1);
    }
    return host.substr(0, host.find(':'));
}

bool loopback_host(std::string_view header) {
    std::string name = host_name(header);
    return name == "localhost" || name == "[::1]" || is_loopback_ipv4(name);
}

void send_message(httplib::Response& res, int status, const nlohmann::json& message) {
    res.status = status;
    res.set_content(jsonrpc::serialize(message), "application/json");
}

void send_error(httplib::Response& res, int status, int code, std::string_view message) {
    send_message(res, status, jsonrpc::error(nullptr, code, message));
}

void send_rate_limited(httplib::Response& res, int status, long retry_after,
                       std::string_view message, const nlohmann::json& id) {
    res.set_header("Retry-After", std::to_string(retry_after));
    send_message(res, status,
                 jsonrpc::error(id, jsonrpc::kServerBusy, std::string(message),
                                {{"code", "RATE_LIMITED"}, {"retry_after", retry_after}}));
}

void allow_origin(httplib::Response& res, const std::string& origin) {
    res.set_header("Access-Control-Allow-Origin", origin);
    // The answer differs per Origin (a foreign one gets 403), so caches must key on it.
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate");
}

void answer_preflight(httplib::Response& res) {
    res.status = 204;
    // GET and DELETE are listed although GET is always 405 and DELETE needs a session: a page
    // should see our JSON-RPC error, not an opaque CORS failure.
    res.set_header("Access-Control-Allow-Methods", "POST, GET, DELETE");
    res.set_header(
        "Access-Control-Allow-Headers",
        "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, "
        "Mcp-Name, Last-Event-ID");
    // Two hours, the most Chromium honours; the lists only change with the binary.
    res.set_header("Access-Control-Max-Age", "7200");
}

}  // namespace runtime::http_headers
