// Internal to the Streamable HTTP transport: see http_headers.h.
#include "runtime/http/http_headers.h"

#include <httplib.h>

#include <cstdint>

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

std::vector<std::string> values(const httplib::Request& req, const char* name) {
    std::vector<std::string> out;
    auto [begin, end] = req.headers.equal_range(name);
    for (auto it = begin; it != end; ++it) out.emplace_back(trim(it->second));
    return out;
}

std::vector<std::string> raw_values(std::string_view head, std::string_view name) {
    std::vector<std::string> out;
    size_t eol = head.find('\n');  // the request line is no header
    while (eol != std::string_view::npos) {
        head.remove_prefix(eol + 1);
        eol = head.find('\n');
        std::string_view line = head.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the blank line: the body follows
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon != name.size() ||
            lower(line.substr(0, colon)) != lower(name))
            continue;
        out.emplace_back(trim(line.substr(colon + 1)));
    }
    return out;
}

bool plain_value(std::string_view value) {
    for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && u != '\t') || u > 0x7e) return false;
    }
    return true;
}

namespace {

// The Base64 alphabet of RFC 4648 section 4, or -1.
int base64_digit(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Strict: whole quanta, '=' only as the padding of the last one, and the bits the padding leaves
// unused zero, so that one value has one encoding.
std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    uint32_t bits = 0;
    for (size_t i = 0; i < text.size() - pad; ++i) {
        int digit = base64_digit(text[i]);
        if (digit < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<uint32_t>(digit);
        if (i % 4 == 3) {
            out += static_cast<char>((bits >> 16) & 0xff);
            out += static_cast<char>((bits >> 8) & 0xff);
            out += static_cast<char>(bits & 0xff);
            bits = 0;
        }
    }
    if (pad == 2) {  // "xx==": one byte, 4 bits unused
        if (bits & 0xf) return std::nullopt;
        out += static_cast<char>((bits >> 4) & 0xff);
    } else if (pad == 1) {  // "xxx=": two bytes, 2 bits unused
        if (bits & 0x3) return std::nullopt;
        out += static_cast<char>((bits >> 10) & 0xff);
        out += static_cast<char>((bits >> 2) & 0xff);
    }
    return out;
}

}  // namespace

std::optional<std::string> decode_sentinel(std::string_view value) {
    constexpr std::string_view kPrefix = "=?base64?";
    constexpr std::string_view kSuffix = "?=";
    if (value.size() < kPrefix.size() + kSuffix.size() || !value.starts_with(kPrefix) ||
        !value.ends_with(kSuffix))
        return std::string(value);
    return base64_decode(
        value.substr(kPrefix.size(), value.size() - kPrefix.size() - kSuffix.size()));
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
    for (char c : host)
        if (c <= ' ' || c > '~') return "";
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

nlohmann::json invalid_reply(const jsonrpc::Message& m) {
    if (!m.error_reply.is_null()) return m.error_reply;
    return jsonrpc::error(nullptr, jsonrpc::kInvalidRequest, "Bad Request: " + m.refusal);
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
