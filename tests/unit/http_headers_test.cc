// Request headers read as the client sent them (runtime/http/http_headers.h) and the 2026-07-28
// mirror checks over them (runtime/http/http_stateless.h): issue 16 item 8. httplib hands header
// values over percent-decoded and cut at a NUL, so "run%5Fpython", "run_python%00.x" and
// "tools%2Flist" used to match the body, and "127.0.0.1%00.evil.example" was a loopback Host.
#include "runtime/http/http_headers.h"

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/http/http_stateless.h"
#include "runtime/mcp/jsonrpc.h"

using namespace std::string_literals;
using nlohmann::json;
namespace headers = runtime::http_headers;
namespace stateless = runtime::http_stateless;

TEST_CASE("http headers: raw values are the bytes as sent, trimmed, every occurrence",
          "[http][unit]") {
    std::string head =
        "POST /mcp HTTP/1.1\r\n"
        "Host: 127.0.0.1%00.evil.example:8080\r\n"
        "mcp-name:   run%5Fpython \t\r\n"
        "X-Mcp-Name: other\r\n"
        "Mcp-Name : spaced\r\n"
        "MCP-NAME: second\n"
        "Origin: http://a\0b\r\n"s
        "\r\n"
        "Mcp-Name: body, not a header\r\n";
    CHECK(headers::raw_values(head, "Mcp-Name") ==
          std::vector<std::string>{"run%5Fpython", "second"});
    CHECK(headers::raw_values(head, "Host") ==
          std::vector<std::string>{"127.0.0.1%00.evil.example:8080"});
    CHECK(headers::raw_values(head, "Origin") == std::vector<std::string>{"http://a\0b"s});
    CHECK(headers::raw_values(head, "Accept").empty());
    // The request line is not a header, and nothing is read without a head.
    CHECK(headers::raw_values("Host: x\r\n\r\n", "Host").empty());
    CHECK(headers::raw_values("", "Host").empty());
}

TEST_CASE("http headers: a value is plain when it is visible ASCII, space or tab", "[http][unit]") {
    CHECK(headers::plain_value("tools/call"));
    CHECK(headers::plain_value("a b\tc ~!"));
    CHECK(headers::plain_value(""));
    CHECK_FALSE(headers::plain_value("run_python\0.x"s));
    CHECK_FALSE(headers::plain_value("a\x01"));
    CHECK_FALSE(headers::plain_value("a\x7f"));
    CHECK_FALSE(headers::plain_value("caf\xc3\xa9"));
}

TEST_CASE("http headers: the =?base64?...?= form is decoded strictly, anything else is literal",
          "[http][unit]") {
    auto [value, decoded] = GENERATE(table<std::string, std::optional<std::string>>({
        {"=?base64?SGVsbG8=?=", "Hello"},
        {"=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, \xe4\xb8\x96\xe7\x95\x8c"},
        {"=?base64?IHBhZGRlZCA=?=", " padded "},
        {"=?base64?bGluZTEKbGluZTI=?=", "line1\nline2"},
        {"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?="},
        {"=?base64?"
         "?=",
         ""},  // split: "??=" would be a trigraph
        // Literal: no prefix, no suffix, or the markers not in lower case.
        {"SGVsbG8=", "SGVsbG8="},
        {"=?base64?SGVsbG8=", "=?base64?SGVsbG8="},
        {"=?BASE64?SGVsbG8=?=", "=?BASE64?SGVsbG8=?="},
        {"run_python", "run_python"},
        // Refused: missing padding, foreign characters, URL-safe alphabet, padding inside or
        // beyond two, bits the padding should leave zero.
        {"=?base64?SGVsbG8?=", std::nullopt},
        {"=?base64?SGVs!!!bG8=?=", std::nullopt},
        {"=?base64?_-8=?=", std::nullopt},
        {"=?base64?SG=sbG8=?=", std::nullopt},
        {"=?base64?S===?=", std::nullopt},
        {"=?base64?SGVsbG9=?=", std::nullopt},
        {"=?base64?SGVsbG8 ?=", std::nullopt},
    }));
    CAPTURE(value);
    CHECK(headers::decode_sentinel(value) == decoded);
}

TEST_CASE("http headers: a Host with a NUL or a percent-escape is not loopback", "[http][unit]") {
    CHECK(headers::loopback_host("127.0.0.1:8080"));
    CHECK(headers::loopback_host("localhost"));
    CHECK_FALSE(headers::loopback_host("127.0.0.1\0.evil.example:8080"s));
    CHECK_FALSE(headers::loopback_host("127.0.0.1%00.evil.example:8080"));
    CHECK_FALSE(headers::loopback_host("localhost\0"s));
    CHECK(headers::host_name("127.0.0.1\0.evil.example"s).empty());
    CHECK(headers::host_name("ex ample.com").empty());
    CHECK(headers::host_name("caf\xc3\xa9.example").empty());
}

namespace {

json call(const std::string& method, json params = json::object()) {
    params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                       {"io.modelcontextprotocol/clientCapabilities", json::object()}};
    return {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
}

std::string head(const std::vector<std::string>& lines) {
    std::string out = "POST /mcp HTTP/1.1\r\n";
    for (const auto& l : lines) out += l + "\r\n";
    return out + "\r\n";
}

// check()'s verdict: 0 when accepted, else the JSON-RPC error code.
int verdict(const std::vector<std::string>& lines, const json& body) {
    auto refusal = stateless::check(stateless::mirror_headers(head(lines)),
                                    runtime::jsonrpc::parse(body.dump()));
    if (!refusal) return 0;
    CHECK(refusal->status == 400);
    return refusal->message["error"]["code"].get<int>();
}

}  // namespace

TEST_CASE("http stateless: mirrors are compared as sent, not percent-decoded or cut at a NUL",
          "[http][unit]") {
    json run = call("tools/call", {{"name", "run_python"}, {"arguments", json::object()}});
    std::vector<std::string> base = {"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call"};
    auto with = [&](std::string extra) {
        auto lines = base;
        lines.push_back(std::move(extra));
        return lines;
    };
    CHECK(verdict(with("Mcp-Name: run_python"), run) == 0);
    CHECK(verdict(with("Mcp-Name:   run_python  "), run) == 0);  // OWS is not the value
    CHECK(verdict(with("Mcp-Name: run%5Fpython"), run) == -32020);
    CHECK(verdict(with("Mcp-Name: run_python%00.x"), run) == -32020);
    CHECK(verdict(with("Mcp-Name: run_python\0.x"s), run) == -32020);
    CHECK(verdict(with("Mcp-Name: =?base64?cnVuX3B5dGhvbg==?="), run) == 0);
    CHECK(verdict(with("Mcp-Name: =?base64?cnVuX3B5dGhvbg?="), run) == -32020);
    // Twice: an intermediary may have routed on either.
    CHECK(verdict({base[0], base[1], "Mcp-Name: run_python", "Mcp-Name: read_file"}, run) ==
          -32020);

    json list = call("tools/list");
    CHECK(verdict({base[0], "Mcp-Method: tools/list"}, list) == 0);
    CHECK(verdict({base[0], "Mcp-Method: tools%2Flist"}, list) == -32020);
    CHECK(verdict({base[0], "Mcp-Method: tools/list\0"s}, list) == -32020);
    CHECK(verdict({"MCP-Protocol-Version: 2026%2D07-28", "Mcp-Method: tools/list"}, list) ==
          -32020);

    // A name that is not ASCII travels encoded; raw UTF-8 in the header is refused.
    json unicode = call("prompts/get", {{"name", "caf\xc3\xa9"}});
    CHECK(verdict({base[0], "Mcp-Method: prompts/get", "Mcp-Name: =?base64?Y2Fmw6k=?="}, unicode) ==
          0);
    CHECK(verdict({base[0], "Mcp-Method: prompts/get", "Mcp-Name: caf\xc3\xa9"}, unicode) ==
          -32020);
    // A resource URI with its own percent-escapes matches when mirrored as it is.
    json read = call("resources/read", {{"uri", "tooljail://policies/no%20such"}});
    CHECK(
        verdict({base[0], "Mcp-Method: resources/read", "Mcp-Name: tooljail://policies/no%20such"},
                read) == 0);
    CHECK(verdict({base[0], "Mcp-Method: resources/read", "Mcp-Name: tooljail://policies/no such"},
                  read) == -32020);
}

TEST_CASE("http stateless: Mcp-Session-Id does not take a 2026-07-28 request out of the revision",
          "[http][unit]") {
    json list = call("tools/list");
    auto m = runtime::jsonrpc::parse(list.dump());
    auto mirrors = stateless::mirror_headers(
        head({"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/list"}));
    CHECK(stateless::is_stateless(mirrors, true, m));
    CHECK(stateless::is_stateless(mirrors, false, m));
    // A 2025-11-25 session request stays in its session, _meta or not.
    auto session = stateless::mirror_headers(head({"MCP-Protocol-Version: 2025-11-25"}));
    CHECK_FALSE(stateless::is_stateless(session, true, m));
    CHECK(stateless::is_stateless(session, false, m));
}
