// `tooljail mcp-config` (runtime/cli/mcp_config_command.h): each client's file and entry, and the
// merge that replaces only tooljail's entry. The binary's --write is tests/integration/
// mcp_config_test.cc.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/cli/mcp_config_command.h"

namespace mc = runtime::mcp_config;
using nlohmann::json;
using nlohmann::ordered_json;

TEST_CASE("mcp-config: the clients' files", "[mcp_config][unit]") {
    const std::string ws = "/home/me/src/project";
    CHECK(mc::default_file(mc::Client::ClaudeDesktop, ws, "/home/me", "") ==
          "/home/me/.config/Claude/claude_desktop_config.json");
    CHECK(mc::default_file(mc::Client::ClaudeDesktop, ws, "/home/me", "/xdg") ==
          "/xdg/Claude/claude_desktop_config.json");
    CHECK(mc::default_file(mc::Client::Cursor, ws, "/home/me", "") == ws + "/.cursor/mcp.json");
    CHECK(mc::default_file(mc::Client::VsCode, ws, "/home/me", "") == ws + "/.vscode/mcp.json");
    CHECK(mc::default_file(mc::Client::ClaudeCode, ws, "/home/me", "") == ws + "/.mcp.json");
    CHECK_FALSE(mc::parse_client("claude").has_value());
    CHECK(*mc::parse_client("claude-code") == mc::Client::ClaudeCode);
}

TEST_CASE("mcp-config: each client's entry", "[mcp_config][unit]") {
    const std::string bin = "/usr/bin/tooljail", ws = "/srv/repo";
    const json args = {"serve", "--workspace", ws};
    auto desktop = mc::entry(mc::Client::ClaudeDesktop, bin, ws);
    CHECK(json(desktop) == json{{"command", bin}, {"args", args}});
    auto cursor = mc::entry(mc::Client::Cursor, bin, ws);
    CHECK(json(cursor) == json{{"type", "stdio"}, {"command", bin}, {"args", args}});
    auto vscode = mc::entry(mc::Client::VsCode, bin, ws);
    CHECK(json(vscode) == json{{"type", "stdio"}, {"command", bin}, {"args", args}});
    auto code = mc::entry(mc::Client::ClaudeCode, bin, ws);
    CHECK(json(code) ==
          json{{"type", "stdio"}, {"command", bin}, {"args", args}, {"env", json::object()}});
    CHECK(std::string(mc::servers_key(mc::Client::VsCode)) == "servers");
    CHECK(std::string(mc::servers_key(mc::Client::ClaudeCode)) == "mcpServers");
}

TEST_CASE("mcp-config: merge keeps everything but tooljail's entry", "[mcp_config][unit]") {
    auto e = mc::entry(mc::Client::VsCode, "/usr/bin/tooljail", "/srv/repo");
    SECTION("a missing or empty file becomes a document with the one entry") {
        for (const char* text : {"", "  \n"}) {
            auto out = mc::merge(text, mc::Client::VsCode, "tooljail", e, "mcp.json");
            REQUIRE(out.has_value());
            CHECK(json::parse(*out) == json{{"servers", {{"tooljail", json(e)}}}});
            CHECK(out->back() == '\n');
        }
    }
    SECTION("other servers, other keys and their order stay; our entry is replaced") {
        std::string before = R"({
  "inputs": [{"id": "token", "type": "promptString", "password": true}],
  "servers": {
    "zeta": {"type": "http", "url": "https://example.com/mcp"},
    "tooljail": {"type": "stdio", "command": "/old/tooljail", "args": ["serve"]},
    "alpha": {"type": "stdio", "command": "npx", "args": ["x"]}
  },
  "extra": 1
})";
        auto out = mc::merge(before, mc::Client::VsCode, "tooljail", e, "mcp.json");
        REQUIRE(out.has_value());
        auto doc = ordered_json::parse(*out);
        std::vector<std::string> keys, servers;
        for (auto& [k, v] : doc.items()) keys.push_back(k);
        for (auto& [k, v] : doc["servers"].items()) servers.push_back(k);
        CHECK(keys == std::vector<std::string>{"inputs", "servers", "extra"});
        CHECK(servers == std::vector<std::string>{"zeta", "tooljail", "alpha"});
        CHECK(doc["servers"]["tooljail"] == e);
        CHECK(doc["servers"]["zeta"]["url"] == "https://example.com/mcp");
        CHECK(doc["inputs"][0]["id"] == "token");
    }
    SECTION("another name adds a second entry") {
        auto first = mc::merge("", mc::Client::ClaudeCode, "tooljail", e, "f");
        REQUIRE(first.has_value());
        auto second = mc::merge(*first, mc::Client::ClaudeCode, "tooljail-ci", e, "f");
        REQUIRE(second.has_value());
        CHECK(json::parse(*second)["mcpServers"].size() == 2);
    }
    SECTION("what cannot be rewritten faithfully is refused") {
        auto bad = [&](const char* text) {
            auto out = mc::merge(text, mc::Client::VsCode, "tooljail", e, "/p/mcp.json");
            REQUIRE_FALSE(out.has_value());
            return out.error().context;
        };
        CHECK_THAT(bad("{\"servers\": {} // mine\n}"), Catch::Contains("has comments"));
        CHECK_THAT(bad("{\"servers\": {},}"), Catch::Contains("not valid JSON"));
        CHECK_THAT(bad("[1, 2]"), Catch::Contains("not a JSON object"));
        CHECK_THAT(bad("{\"servers\": []}"), Catch::Contains("\"servers\" is array"));
        CHECK_THAT(bad("{nope"), Catch::StartsWith("/p/mcp.json: "));
    }
}
