// The drift hash (runtime/tools/tool_hash.h): stable across key order and formatting, different
// when anything a client is told or the server runs changes.
#include "runtime/tools/tool_hash.h"

#include <cstdlib>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "runtime/tools/tool_registry.h"
#include "sandbox/base/sys.h"

using nlohmann::json;

namespace {

std::string source_dir() {
    if (const char* env = std::getenv("TOOLJAIL_SOURCE_DIR"); env != nullptr && *env != '\0')
        return env;
    return TOOLJAIL_SOURCE_DIR;
}

std::string shipped(const std::string& tool) {
    auto text = sandbox::sys::read_file(source_dir() + "/tools.d/" + tool + ".json");
    REQUIRE(text);
    return *text;
}

std::string hash_of(const std::string& text) {
    auto h = runtime::manifest_hash(text);
    REQUIRE(h);
    return *h;
}

std::string hash_of(const json& manifest) { return hash_of(manifest.dump()); }

// The same document with every object's keys in reverse order, indented.
std::string reversed(const json& j, int depth = 0) {
    std::string pad(static_cast<size_t>(depth + 1) * 2, ' ');
    if (j.is_object()) {
        std::string out = "{\n";
        std::string sep;
        for (auto it = j.crbegin(); it != j.crend(); ++it) {
            out += sep + pad + json(it.key()).dump() + " :  " + reversed(it.value(), depth + 1);
            sep = ",\n";
        }
        return out + "\n}";
    }
    if (j.is_array()) {
        std::string out = "[ ";
        std::string sep;
        for (const auto& v : j) {
            out += sep + reversed(v, depth + 1);
            sep = " ,\t";
        }
        return out + " ]";
    }
    return j.dump();
}

}  // namespace

TEST_CASE("tool hash: 64 hex digits, stable across key order and whitespace") {
    std::string text = shipped("read_file");
    json manifest = json::parse(text);
    std::string h = hash_of(text);
    CHECK(h.size() == 64);
    CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(hash_of(manifest.dump()) == h);
    CHECK(hash_of(manifest.dump(8)) == h);
    std::string shuffled = reversed(manifest);
    REQUIRE(shuffled != manifest.dump());
    CHECK(hash_of(shuffled) == h);
}

TEST_CASE("tool hash: changes with the description, schemas, argv and policy") {
    json manifest = json::parse(shipped("read_file"));
    std::string h = hash_of(manifest);
    auto changed = [&](const char* what, const std::function<void(json&)>& edit) {
        json m = manifest;
        edit(m);
        INFO(what);
        CHECK(hash_of(m) != h);
    };
    changed("description",
            [](json& m) { m["description"] = m["description"].get<std::string>() + " "; });
    changed("title", [](json& m) { m["title"] = "Other"; });
    changed("inputSchema",
            [](json& m) { m["inputSchema"]["properties"]["path"]["maxLength"] = 1; });
    changed("outputSchema", [](json& m) { m["outputSchema"] = {{"type", "object"}}; });
    changed("argv literal", [](json& m) { m["argv"][0] = "/usr/bin/tac"; });
    changed("argv order", [](json& m) { std::swap(m["argv"][1], m["argv"][2]); });
    changed("policy",
            [](json& m) { m["policy"] = m["policy"] == "strict" ? "default" : "strict"; });
    changed("annotations", [](json& m) { m["annotations"]["readOnlyHint"] = false; });
}

TEST_CASE("tool hash: the enabled flag is not a change") {
    json manifest = json::parse(shipped("read_file"));
    std::string h = hash_of(manifest);
    manifest["enabled"] = false;
    CHECK(hash_of(manifest) == h);
    manifest.erase("enabled");
    CHECK(hash_of(manifest) == h);
}

TEST_CASE("tool hash: a loaded tool hashes its manifest text") {
    auto policies = runtime::load_policy_dir(
        source_dir() + "/policies",
        [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    REQUIRE(policies);
    std::string text = shipped("read_file");
    auto tool = runtime::parse_tool(text, "tools.d/read_file.json", *policies);
    REQUIRE(tool);
    auto h = runtime::tool_hash(*tool);
    REQUIRE(h);
    CHECK(*h == hash_of(text));
}

TEST_CASE("tool hash: text that is not a JSON object is an error") {
    for (const char* bad : {"", "[1]", "\"x\"", "{", "{\"a\":1} x"}) {
        INFO(bad);
        auto h = runtime::manifest_hash(bad);
        REQUIRE_FALSE(h);
        CHECK(h.error().code == sandbox::Errc::InvalidArgument);
    }
}
