// Tool manifests: the shipped tools.d loads, and every kind of broken manifest is refused with
// an error naming the file and the JSON pointer of the offending field.
#include "runtime/tools/tool_registry.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include <catch2/catch.hpp>

using nlohmann::json;
using runtime::PolicySet;
using runtime::ToolDef;
using runtime::ToolRegistry;

namespace {

std::string source_dir() {
    if (const char* env = std::getenv("TOOLJAIL_SOURCE_DIR"); env != nullptr && *env != '\0')
        return env;
    return TOOLJAIL_SOURCE_DIR;
}

const PolicySet& shipped_policies() {
    static const PolicySet set = [] {
        auto loaded = runtime::load_policy_dir(
            source_dir() + "/policies",
            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
        REQUIRE(loaded);
        return std::move(*loaded);
    }();
    return set;
}

constexpr const char* kLabel = "tools.d/count_lines.json";

// A complete, valid manifest that every mutation starts from.
json base_tool() {
    return json::parse(R"({
      "name": "count_lines",
      "title": "Count lines",
      "description": "Count lines of a file. Refuses paths outside the workspace.",
      "inputSchema": {
        "type": "object",
        "properties": {
          "path": {"type": "string", "maxLength": 4096},
          "max": {"type": "integer", "minimum": 1, "default": 10},
          "verbose": {"type": "boolean"},
          "words": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
          "note": {"type": "string", "maxLength": 100}
        },
        "required": ["path"],
        "additionalProperties": false
      },
      "annotations": {"readOnlyHint": true, "destructiveHint": false,
                      "idempotentHint": true, "openWorldHint": false},
      "risk": "low",
      "policy": "default",
      "argv": ["/usr/bin/wc", "-l", {"arg": "verbose", "flag": "--verbose"},
               {"arg": "max", "prefix": "--max="}, {"arg": "words", "flag": "-w", "each": true},
               {"arg": "path"}],
      "end_of_options": true,
      "stdin": "note",
      "limits": {"wall_timeout_ms": 5000, "memory_mb": 64, "output_bytes": 4096},
      "arguments": {
        "path": {"kind": "path", "must_exist": true},
        "max": {"kind": "integer"},
        "verbose": {"kind": "boolean"},
        "words": {"kind": "string", "max_items": 8},
        "note": {"kind": "string", "allow_metacharacters": true, "max_length": 100}
      },
      "enabled": true
    })");
}

sandbox::Result<ToolDef> parse(const json& manifest, const std::string& label = kLabel) {
    return runtime::parse_tool(manifest.dump(), label, shipped_policies());
}

struct Broken {
    const char* what;
    std::function<void(json&)> mutate;
    const char* expect;  // substring of the error, usually "<pointer>: <reason>"
};

}  // namespace

TEST_CASE("tool registry: a path argument can be the file read as stdin", "[tool_registry][unit]") {
    json m = base_tool();
    m.erase("stdin");
    m["argv"].erase(5);  // path: no placeholder
    m["arguments"].erase("note");
    m["inputSchema"]["properties"].erase("note");
    m["stdin_file"] = "path";
    auto tool = parse(m);
    INFO((tool ? "" : tool.error().message()));
    REQUIRE(tool);
    CHECK(tool->stdin_file_arg == std::optional<std::string>("path"));
    CHECK_FALSE(tool->stdin_arg);
}

TEST_CASE("tool registry: the base test manifest is valid", "[tool_registry][unit]") {
    auto tool = parse(base_tool());
    REQUIRE(tool);
    CHECK(tool->name == "count_lines");
    CHECK(tool->policy == "default");
    CHECK(tool->end_of_options);
    CHECK(tool->stdin_arg == std::optional<std::string>("note"));
    CHECK(tool->limits.wall_timeout == sandbox::Millis(5000));
    CHECK(tool->limits.memory_bytes == std::optional<uint64_t>(64ull << 20));
    CHECK(tool->limits.output_bytes == std::optional<uint64_t>(4096));
    REQUIRE(tool->argv.size() == 6);
    CHECK(tool->argv[0].literal == "/usr/bin/wc");
    CHECK(tool->argv[3].arg == "max");
    CHECK(tool->argv[3].prefix == "--max=");
    CHECK(tool->argv[4].each);
    CHECK(tool->rules.at("path").kind == runtime::ArgumentRule::Kind::Path);
    CHECK(tool->rules.at("words").max_items == 8);
    CHECK(tool->path == kLabel);
}

TEST_CASE("tool registry: broken manifests name file and JSON pointer", "[tool_registry][unit]") {
    // clang-format off
    auto broken = GENERATE(
        Broken{"unknown key", [](json& j) { j["bogus"] = 1; }, "/bogus: unknown key"},
        Broken{"unknown key in a rule", [](json& j) { j["arguments"]["max"]["min"] = 1; },
               "/arguments/max/min: unknown key"},
        Broken{"unknown key in a placeholder", [](json& j) { j["argv"][5]["glob"] = true; },
               "/argv/5/glob: unknown key"},
        Broken{"missing policy", [](json& j) { j["policy"] = "nope"; }, "/policy: no policy \"nope\""},
        Broken{"policy key absent", [](json& j) { j.erase("policy"); }, "/policy: missing required key"},
        Broken{"placeholder naming no argument",
               [](json& j) { j["argv"].push_back({{"arg", "nope"}}); }, "/argv/6/arg: names no argument"},
        Broken{"argument without placeholder",
               [](json& j) {
                   j["inputSchema"]["properties"]["extra"] = {{"type", "string"}};
                   j["arguments"]["extra"] = {{"kind", "string"}};
               },
               "/arguments/extra: used by no argv placeholder"},
        Broken{"argument used twice", [](json& j) { j["argv"].push_back({{"arg", "path"}}); },
               "/argv/6/arg: argument \"path\" already has a placeholder at /argv/5"},
        Broken{"schema property without a rule", [](json& j) { j["arguments"].erase("max"); },
               "/arguments/max: missing rule"},
        Broken{"rule without a schema property",
               [](json& j) { j["arguments"]["ghost"] = {{"kind", "string"}}; },
               "/arguments/ghost: no such property"},
        Broken{"bad schema keyword",
               [](json& j) { j["inputSchema"]["properties"]["path"]["format"] = "uri"; },
               "/inputSchema/properties/path/format"},
        Broken{"schema top level not an object type",
               [](json& j) { j["inputSchema"]["type"] = "array"; }, "/inputSchema/type"},
        Broken{"program not absolute", [](json& j) { j["argv"][0] = "wc"; },
               "/argv/0: the program must be an absolute"},
        Broken{"program not normalised", [](json& j) { j["argv"][0] = "/usr/bin/../bin/wc"; },
               "/argv/0: the program must be an absolute"},
        Broken{"program from a non-enum arg", [](json& j) { j["argv"][0] = {{"arg", "note"}}; },
               "/argv/0/arg: the program may only come from an argument whose schema is a string \"enum\""},
        Broken{"program enum value not a program",
               [](json& j) {
                   j["inputSchema"]["properties"]["note"]["enum"] = {"../sh"};
                   j["argv"][0] = {{"arg", "note"}, {"prefix", "/usr/bin/"}};
                   j.erase("stdin");
                   j["inputSchema"]["required"] = {"path", "note"};
               },
               "/inputSchema/properties/note/enum: every value must give an absolute"},
        Broken{"limits looser than policy", [](json& j) { j["limits"]["wall_timeout_ms"] = 999999; },
               "/limits/wall_timeout_ms: 999999 exceeds policy \"default\""},
        Broken{"memory looser than policy", [](json& j) { j["limits"]["memory_mb"] = 4096; },
               "/limits/memory_mb: 4096 exceeds policy"},
        Broken{"output looser than policy", [](json& j) { j["limits"]["output_bytes"] = 1 << 30; },
               "/limits/output_bytes"},
        Broken{"limits of the wrong type", [](json& j) { j["limits"]["memory_mb"] = "64"; },
               "/limits/memory_mb: expected integer"},
        Broken{"annotations missing a hint", [](json& j) { j["annotations"].erase("idempotentHint"); },
               "/annotations/idempotentHint: missing required key"},
        Broken{"annotation hint not a boolean", [](json& j) { j["annotations"]["readOnlyHint"] = "yes"; },
               "/annotations/readOnlyHint: expected boolean"},
        Broken{"annotations absent", [](json& j) { j.erase("annotations"); },
               "/annotations: missing required key"},
        Broken{"read-only and destructive", [](json& j) { j["annotations"]["destructiveHint"] = true; },
               "/annotations/destructiveHint: a read-only tool cannot be destructive"},
        Broken{"name differs from the file stem", [](json& j) { j["name"] = "count_words"; },
               "/name: must equal the file name \"count_lines\""},
        Broken{"bad name", [](json& j) { j["name"] = "Count-Lines"; }, "/name: must match"},
        Broken{"empty description", [](json& j) { j["description"] = ""; },
               "/description: must not be empty"},
        Broken{"bad risk", [](json& j) { j["risk"] = "none"; }, "/risk: must be one of"},
        Broken{"kind disagrees with schema type",
               [](json& j) { j["arguments"]["max"]["kind"] = "string"; },
               "/inputSchema/properties/max: must have type \"string\""},
        Broken{"each on a non-array schema",
               [](json& j) { j["argv"][5]["each"] = true; }, "/inputSchema/properties/path: \"each\" needs an array"},
        Broken{"array argument without each", [](json& j) { j["argv"][4].erase("each"); },
               "/inputSchema/properties/words: must have type \"string\""},
        Broken{"boolean without a flag", [](json& j) { j["argv"][2].erase("flag"); },
               "/argv/2: a boolean argument renders only as a flag"},
        Broken{"rule key that does not apply", [](json& j) { j["arguments"]["max"]["must_exist"] = true; },
               "/arguments/max/must_exist: only applies to path arguments"},
        Broken{"option after the first operand with end_of_options",
               [](json& j) { j["argv"].push_back("-x"); }, "/argv/6: option after the first operand"},
        Broken{"literal -- with end_of_options", [](json& j) { j["argv"].insert(j["argv"].begin() + 1, "--"); },
               "/argv/1: literal \"--\" together with end_of_options"},
        Broken{"stdin naming no argument", [](json& j) { j["stdin"] = "nope"; },
               "/stdin: names no argument"},
        Broken{"stdin argument also a placeholder", [](json& j) { j["stdin"] = "path"; },
               "/stdin: argument \"path\" already has a placeholder"},
        Broken{"stdin_file naming no argument", [](json& j) { j["stdin_file"] = "nope"; },
               "/stdin_file: names no argument"},
        Broken{"stdin_file and stdin at once", [](json& j) {
                   j["argv"].erase(5);
                   j["stdin_file"] = "path";
               },
               "/stdin_file: a tool has one stdin"},
        Broken{"stdin_file argument also a placeholder", [](json& j) {
                   j.erase("stdin");
                   j["stdin_file"] = "path";
               },
               "/stdin_file: argument \"path\" already has a placeholder"},
        Broken{"stdin_file argument not a path", [](json& j) {
                   j.erase("stdin");
                   j["stdin_file"] = "note";
               },
               "/stdin_file: the stdin_file argument must have kind \"path\""},
        Broken{"stdin larger than the policy allows",
               [](json& j) { j["arguments"]["note"]["max_length"] = 1 << 24; },
               "/arguments/note/max_length: 16777216 exceeds policy \"default\" stdin_bytes"},
        Broken{"argv empty", [](json& j) { j["argv"] = json::array(); }, "/argv: must name at least the program"},
        Broken{"argv element of the wrong type", [](json& j) { j["argv"][1] = 5; },
               "/argv/1: expected a literal string or a placeholder object"},
        Broken{"outputSchema not an object schema", [](json& j) { j["outputSchema"] = "x"; },
               "/outputSchema: must be a JSON Schema object"},
        Broken{"enabled not a boolean", [](json& j) { j["enabled"] = "no"; }, "/enabled: expected boolean"},
        Broken{"success_exit_codes empty", [](json& j) { j["success_exit_codes"] = json::array(); },
               "/success_exit_codes: expected an array"},
        Broken{"success_exit_codes out of range", [](json& j) { j["success_exit_codes"] = {0, 256}; },
               "/success_exit_codes/1: must be between 0 and 255"},
        Broken{"bad metacharacter exception", [](json& j) { j["arguments"]["path"]["metacharacter_exceptions"] = "a"; },
               "/arguments/path/metacharacter_exceptions: 'a' is not a printable metacharacter"},
        Broken{"deny_options with dashes",
               [](json& j) { j["arguments"]["words"]["deny_options"] = {"--exec"}; },
               "/arguments/words/deny_options/0: expected a long option name"});
    // clang-format on
    CAPTURE(broken.what);
    json manifest = base_tool();
    broken.mutate(manifest);
    auto tool = parse(manifest);
    REQUIRE_FALSE(tool);
    CAPTURE(tool.error().context);
    CHECK(tool.error().code == sandbox::Errc::InvalidArgument);
    CHECK(tool.error().context.rfind(std::string(kLabel) + ": ", 0) == 0);
    CHECK(tool.error().context.find(broken.expect) != std::string::npos);
    CHECK(tool.error().context.find('\n') == std::string::npos);
}

TEST_CASE("tool registry: text that is not a manifest", "[tool_registry][unit]") {
    auto text =
        GENERATE(as<std::string>{}, "", "[]", "{\"name\": \"count_lines\", \"name\": \"x\"}",
                 "{\"name\": 1}", "{ // comment\n}");
    auto tool = runtime::parse_tool(text, kLabel, shipped_policies());
    REQUIRE_FALSE(tool);
    CHECK(tool.error().context.rfind(std::string(kLabel) + ":", 0) == 0);
}

TEST_CASE("tool registry: to_mcp publishes the tools/list entry", "[tool_registry][unit]") {
    auto tool = parse(base_tool());
    REQUIRE(tool);
    json entry = tool->to_mcp();
    std::set<std::string> keys;
    for (const auto& item : entry.items()) keys.insert(item.key());
    CHECK(keys ==
          std::set<std::string>{"name", "title", "description", "inputSchema", "annotations"});
    CHECK(entry["inputSchema"]["additionalProperties"] == false);
    CHECK(entry["annotations"] == json{{"readOnlyHint", true},
                                       {"destructiveHint", false},
                                       {"idempotentHint", true},
                                       {"openWorldHint", false}});

    json with_output = base_tool();
    with_output["outputSchema"] = {{"type", "object"}};
    auto tool2 = parse(with_output);
    REQUIRE(tool2);
    CHECK(tool2->to_mcp()["outputSchema"] == json{{"type", "object"}});
}

TEST_CASE("tool registry: the shipped tools.d loads", "[tool_registry][unit]") {
    auto registry = ToolRegistry::load_dir(source_dir() + "/tools.d", shipped_policies());
    REQUIRE(registry);
    std::set<std::string> names;
    for (const ToolDef* tool : registry->enabled_tools()) names.insert(tool->name);
    CHECK(names == std::set<std::string>{"git_diff", "git_log", "git_show", "git_status",
                                         "list_directory", "read_file", "run_command", "run_python",
                                         "search_text"});
    for (const ToolDef* tool : registry->enabled_tools()) {
        CAPTURE(tool->name);
        CHECK(shipped_policies().find(tool->policy) != nullptr);
        // The git tools run under the policy that lets only git execute (issue 16 item 3).
        CHECK((tool->name.rfind("git_", 0) == 0) == (tool->policy == "git"));
        CHECK(tool->output_schema.is_null());
        json entry = tool->to_mcp();
        CHECK(entry["description"].get<std::string>().size() >
              200);  // when to use, what it refuses
        CHECK(entry["description"].get<std::string>().find("efuse") !=
              std::string::npos);  // Refuses, refused
        // Every shipped tool runs with a read-only workspace and no route out.
        CHECK(entry["annotations"]["readOnlyHint"] == true);
        CHECK(entry["annotations"]["destructiveHint"] == false);
        CHECK(entry["annotations"]["openWorldHint"] == false);
    }
    CHECK(registry->find("read_file")->annotations["idempotentHint"] == true);
    CHECK(registry->find("run_python")->risk == "high");
    CHECK(registry->find("run_python")->stdin_arg == std::optional<std::string>("code"));
    // read_file's file is opened by the sandbox, beneath the workspace (issue 16 item 5).
    CHECK(registry->find("read_file")->stdin_file_arg == std::optional<std::string>("path"));
    CHECK(registry->find("run_command")->programs.size() == 28);
    CHECK(registry->find("no_such_tool") == nullptr);
}

TEST_CASE("tool registry: directory loading and the kill switch", "[tool_registry][unit]") {
    namespace fs = std::filesystem;
    char tmpl[] = "/tmp/tooljail-tools-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    fs::path dir = tmpl;
    auto write = [&](const std::string& file, const std::string& text) {
        std::ofstream(dir / file) << text;
    };

    SECTION("an empty directory is an error") {
        auto registry = ToolRegistry::load_dir(dir.string(), shipped_policies());
        REQUIRE_FALSE(registry);
        CHECK(registry.error().code == sandbox::Errc::NotFound);
    }
    SECTION("a missing directory is an error") {
        auto registry = ToolRegistry::load_dir((dir / "nope").string(), shipped_policies());
        REQUIRE_FALSE(registry);
    }
    SECTION("disabled tools are neither listed nor found; dotfiles and other files are skipped") {
        write("count_lines.json", base_tool().dump());
        json other = base_tool();
        other["name"] = "count_words";
        other["enabled"] = false;
        write("count_words.json", other.dump());
        write(".#count_lines.json", "garbage");
        write("README.md", "not a manifest");
        auto registry = ToolRegistry::load_dir(dir.string(), shipped_policies());
        REQUIRE(registry);
        CHECK(registry->size() == 2);
        REQUIRE(registry->enabled_tools().size() == 1);
        CHECK(registry->enabled_tools()[0]->name == "count_lines");
        CHECK(registry->find("count_words") == nullptr);
        REQUIRE(registry->find_any("count_words") != nullptr);
        CHECK_FALSE(registry->find_any("count_words")->enabled);
    }
    SECTION("one invalid manifest fails the whole load, naming it") {
        write("count_lines.json", base_tool().dump());
        json bad = base_tool();
        bad["name"] = "count_words";
        bad["policy"] = "missing";
        write("count_words.json", bad.dump());
        auto registry = ToolRegistry::load_dir(dir.string(), shipped_policies());
        REQUIRE_FALSE(registry);
        CHECK(registry.error().context.find("count_words.json: /policy") != std::string::npos);
    }
    fs::remove_all(dir);
}
