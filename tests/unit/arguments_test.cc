// Argument rules and argv expansion: hostile values are refused with the right rule and a
// bounded one-line message, paths are confined to the workspace (symlinks included), and every
// shipped tool produces exactly the argv we reviewed (golden argv).
#include "runtime/tools/arguments.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/tools/tool_registry.h"

using nlohmann::json;
using runtime::ArgumentError;
using runtime::Invocation;
using runtime::ToolDef;
using Argv = std::vector<std::string>;

namespace {

namespace fs = std::filesystem;

std::string source_dir() {
    if (const char* env = std::getenv("TOOLJAIL_SOURCE_DIR"); env != nullptr && *env != '\0')
        return env;
    return TOOLJAIL_SOURCE_DIR;
}

const runtime::PolicySet& policies() {
    static const runtime::PolicySet set = [] {
        auto loaded = runtime::load_policy_dir(
            source_dir() + "/policies",
            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
        REQUIRE(loaded);
        return std::move(*loaded);
    }();
    return set;
}

const runtime::ToolRegistry& shipped() {
    static const runtime::ToolRegistry registry = [] {
        auto loaded = runtime::ToolRegistry::load_dir(source_dir() + "/tools.d", policies());
        REQUIRE(loaded);
        return std::move(*loaded);
    }();
    return registry;
}

// A workspace with files, a directory with a space, and symlinks inside and outside.
class Workspace {
public:
    Workspace() {
        char tmpl[] = "/tmp/tooljail-ws-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root_ = fs::canonical(tmpl).string();
        fs::create_directories(root_ + "/sub");
        fs::create_directories(root_ + "/dir with space");
        std::ofstream(root_ + "/a.txt") << "hello\n";
        std::ofstream(root_ + "/sub/b.txt") << "x\n";
        std::ofstream(root_ + "/dir with space/c.txt") << "c\n";
        std::ofstream(root_ + "/-rf") << "dash\n";
        fs::create_directory_symlink("/etc", root_ + "/etc_link");
        fs::create_symlink("/etc/passwd", root_ + "/passwd_link");
        fs::create_directory_symlink("..", root_ + "/up");
        fs::create_symlink("sub/b.txt", root_ + "/inner_link");
        fs::create_symlink(root_ + "/a.txt", root_ + "/abs_inner_link");
        fs::create_symlink("nowhere", root_ + "/dangling");
    }
    ~Workspace() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    const std::string& root() const { return root_; }

private:
    std::string root_;
};

// A test tool covering every kind of argument and placeholder.
const ToolDef& test_tool() {
    static const ToolDef tool = [] {
        json manifest = json::parse(R"({
          "name": "probe_args",
          "title": "t",
          "description": "test tool",
          "inputSchema": {
            "type": "object",
            "properties": {
              "text": {"type": "string"},
              "file": {"type": "string"},
              "maybe": {"type": "string"},
              "count": {"type": "integer"},
              "loud": {"type": "boolean"},
              "items": {"type": "array", "items": {"type": "string"}},
              "body": {"type": "string"}
            },
            "additionalProperties": false
          },
          "annotations": {"readOnlyHint": true, "destructiveHint": false,
                          "idempotentHint": true, "openWorldHint": false},
          "risk": "low",
          "policy": "default",
          "argv": ["/usr/bin/prog", "-q", {"arg": "loud", "flag": "--loud"},
                   {"arg": "count", "prefix": "--count="}, {"arg": "text", "flag": "-e"},
                   {"arg": "items", "each": true}, {"arg": "file"}, {"arg": "maybe"}],
          "end_of_options": true,
          "stdin": "body",
          "arguments": {
            "text": {"kind": "string"},
            "file": {"kind": "path"},
            "maybe": {"kind": "path", "must_exist": false},
            "count": {"kind": "integer"},
            "loud": {"kind": "boolean"},
            "items": {"kind": "string", "max_items": 64, "deny_options": ["compress-program"]},
            "body": {"kind": "string", "allow_metacharacters": true, "max_length": 100}
          }
        })");
        auto parsed = runtime::parse_tool(manifest.dump(), "tools.d/probe_args.json", policies());
        REQUIRE(parsed);
        return std::move(*parsed);
    }();
    return tool;
}

std::variant<Invocation, ArgumentError> prepare(const ToolDef& tool, const json& args,
                                                const Workspace& ws) {
    return runtime::prepare_invocation(tool, args, ws.root(), "/workspace");
}

Argv argv_of(const ToolDef& tool, const json& args, const Workspace& ws) {
    auto result = prepare(tool, args, ws);
    if (auto* e = std::get_if<ArgumentError>(&result)) FAIL_CHECK(e->message);
    REQUIRE(std::holds_alternative<Invocation>(result));
    return std::get<Invocation>(result).argv;
}

ArgumentError refusal_of(const ToolDef& tool, const json& args, const Workspace& ws) {
    auto result = prepare(tool, args, ws);
    if (auto* inv = std::get_if<Invocation>(&result)) FAIL_CHECK(json(inv->argv).dump());
    REQUIRE(std::holds_alternative<ArgumentError>(result));
    return std::get<ArgumentError>(result);
}

struct Hostile {
    std::string value;
    const char* rule;
};

}  // namespace

TEST_CASE("arguments: hostile string values are refused by rule", "[arguments][unit]") {
    Workspace ws;
    // clang-format off
    auto hostile = GENERATE(
        Hostile{"; rm -rf /", "metacharacter"},
        Hostile{"$(id)", "metacharacter"},
        Hostile{"`id`", "metacharacter"},
        Hostile{"a\nb", "metacharacter"},
        Hostile{"a\rb", "metacharacter"},
        Hostile{"a\x1b[2Jb", "metacharacter"},
        Hostile{"x | sh", "metacharacter"},
        Hostile{"x > /tmp/y", "metacharacter"},
        Hostile{"*.c", "metacharacter"},
        Hostile{"~root", "metacharacter"},
        Hostile{"a\\b", "metacharacter"},
        Hostile{"-rf", "leading_dash"},
        Hostile{"--output=/x", "leading_dash"},
        Hostile{std::string(5000, 'A'), "max_length"});
    // clang-format on
    CAPTURE(hostile.value);
    ArgumentError e = refusal_of(test_tool(), {{"text", hostile.value}}, ws);
    CHECK(e.argument == "text");
    CHECK(e.rule == hostile.rule);
    CHECK(e.message.find('\n') == std::string::npos);
    CHECK(e.message.find("\"text\"") != std::string::npos);
    CHECK(e.message.find(hostile.rule) != std::string::npos);
    CHECK(e.message.find(std::string(65, 'A')) == std::string::npos);  // never echoes > 64 bytes
}

TEST_CASE("arguments: a NUL byte never reaches argv", "[arguments][unit]") {
    Workspace ws;
    auto key = GENERATE(as<std::string>{}, "text", "file", "items");
    json value = std::string("a\0b", 3);
    if (key == "items") value = json::array({value});
    ArgumentError e = refusal_of(test_tool(), {{key, value}}, ws);
    CHECK(e.argument == key);
    // The schema layer refuses U+0000 before the rules run; either way it is refused.
    CHECK((e.rule == "schema:nul" || e.rule == "metacharacter"));
}

TEST_CASE("arguments: paths are confined to the workspace", "[arguments][unit]") {
    Workspace ws;
    SECTION("escapes and missing paths are refused") {
        // clang-format off
        auto hostile = GENERATE(
            Hostile{"../../etc/passwd", "path_escape"},
            Hostile{"..", "path_escape"},
            Hostile{"sub/../../x", "path_escape"},
            Hostile{"etc_link", "path_escape"},
            Hostile{"etc_link/passwd", "path_escape"},
            Hostile{"passwd_link", "path_escape"},
            Hostile{"up/x", "path_escape"},
            Hostile{"/etc/passwd", "path_escape"},
            Hostile{"/workspace/../etc/passwd", "path_escape"},
            Hostile{"/workspace/../../../../etc", "path_escape"},
            Hostile{"/workspacefoo/a.txt", "path_escape"},
            Hostile{"nonexistent.txt", "path_missing"},
            Hostile{"dangling", "path_missing"},
            Hostile{"a.txt/x", "path_missing"},
            Hostile{"; rm -rf /", "metacharacter"},
            Hostile{"$(id)", "metacharacter"},
            Hostile{"-rf", "leading_dash"},
            Hostile{std::string(5000, 'a'), "max_length"});
        // clang-format on
        CAPTURE(hostile.value);
        ArgumentError e = refusal_of(test_tool(), {{"file", hostile.value}}, ws);
        CHECK(e.argument == "file");
        CHECK(e.rule == hostile.rule);
        CHECK(e.message.find('\n') == std::string::npos);
        // The host location of the workspace is not revealed.
        CHECK(e.message.find(ws.root()) == std::string::npos);
    }
    SECTION("valid paths become resolved sandbox paths") {
        struct Case {
            const char* value;
            const char* sandbox;
        };
        // clang-format off
        auto c = GENERATE(
            Case{"a.txt", "/workspace/a.txt"},
            Case{"./a.txt", "/workspace/a.txt"},
            Case{"sub//b.txt", "/workspace/sub/b.txt"},
            Case{"sub/../a.txt", "/workspace/a.txt"},
            Case{".", "/workspace"},
            Case{"sub/", "/workspace/sub"},
            Case{"/workspace", "/workspace"},
            Case{"/workspace/sub/b.txt", "/workspace/sub/b.txt"},
            Case{"inner_link", "/workspace/sub/b.txt"},
            Case{"abs_inner_link", "/workspace/a.txt"},
            Case{"up/", nullptr});
        // clang-format on
        CAPTURE(c.value);
        if (c.sandbox == nullptr) {
            CHECK(refusal_of(test_tool(), {{"file", c.value}}, ws).rule == "path_escape");
        } else {
            CHECK(argv_of(test_tool(), {{"file", c.value}}, ws) ==
                  Argv{"/usr/bin/prog", "-q", "--", c.sandbox});
        }
    }
    SECTION("a path that need not exist resolves its existing part") {
        CHECK(argv_of(test_tool(), {{"maybe", "gone/deleted.txt"}}, ws) ==
              Argv{"/usr/bin/prog", "-q", "--", "/workspace/gone/deleted.txt"});
        CHECK(argv_of(test_tool(), {{"maybe", "inner_link"}}, ws) ==
              Argv{"/usr/bin/prog", "-q", "--", "/workspace/sub/b.txt"});
        CHECK(refusal_of(test_tool(), {{"maybe", "etc_link/nothing"}}, ws).rule == "path_escape");
        CHECK(refusal_of(test_tool(), {{"maybe", "../outside"}}, ws).rule == "path_escape");
        CHECK(refusal_of(test_tool(), {{"maybe", "gone/../../x"}}, ws).rule == "path_missing");
        // A dangling symlink is refused even here: its target is unknown to the check.
        CHECK(refusal_of(test_tool(), {{"maybe", "dangling"}}, ws).rule == "path_missing");
        CHECK(refusal_of(test_tool(), {{"maybe", "dangling/x"}}, ws).rule == "path_missing");
    }
    SECTION("no workspace: paths cannot be resolved") {
        auto result =
            runtime::prepare_invocation(test_tool(), {{"file", "a.txt"}}, "", "/workspace");
        REQUIRE(std::holds_alternative<ArgumentError>(result));
        CHECK(std::get<ArgumentError>(result).rule == "path_missing");
    }
}

TEST_CASE("arguments: arrays, integers, booleans and the end-of-options marker",
          "[arguments][unit]") {
    Workspace ws;
    SECTION("every placeholder form") {
        json args = {{"loud", true},        {"count", 7},      {"text", "pat"},
                     {"items", {"a", "b"}}, {"file", "a.txt"}, {"maybe", "sub"},
                     {"body", "data; $(x)"}};
        auto result = prepare(test_tool(), args, ws);
        REQUIRE(std::holds_alternative<Invocation>(result));
        const Invocation& inv = std::get<Invocation>(result);
        CHECK(inv.argv == Argv{"/usr/bin/prog", "-q", "--loud", "--count=7", "-e", "pat", "--", "a",
                               "b", "/workspace/a.txt", "/workspace/sub"});
        CHECK(inv.stdin_data == std::optional<std::string>("data; $(x)"));
    }
    SECTION("false booleans and absent arguments emit nothing; no operand, no --") {
        auto result = prepare(test_tool(), {{"loud", false}}, ws);
        REQUIRE(std::holds_alternative<Invocation>(result));
        CHECK(std::get<Invocation>(result).argv == Argv{"/usr/bin/prog", "-q"});
        CHECK_FALSE(std::get<Invocation>(result).stdin_data.has_value());
        CHECK(argv_of(test_tool(), json(nullptr), ws) == Argv{"/usr/bin/prog", "-q"});
        CHECK(argv_of(test_tool(), {{"items", json::array()}}, ws) == Argv{"/usr/bin/prog", "-q"});
    }
    SECTION("-- goes before the first emitted operand, exactly once") {
        CHECK(argv_of(test_tool(), {{"file", "a.txt"}}, ws) ==
              Argv{"/usr/bin/prog", "-q", "--", "/workspace/a.txt"});
        CHECK(argv_of(test_tool(), {{"items", {"x"}}, {"maybe", "a.txt"}}, ws) ==
              Argv{"/usr/bin/prog", "-q", "--", "x", "/workspace/a.txt"});
        // A leading dash is fine after "-e" only if the rule allows it; this one does not.
        CHECK(refusal_of(test_tool(), {{"text", "-v"}}, ws).rule == "leading_dash");
    }
    SECTION("integers are rendered canonically") {
        CHECK(argv_of(test_tool(), {{"count", 0}}, ws) == Argv{"/usr/bin/prog", "-q", "--count=0"});
        CHECK(argv_of(test_tool(), {{"count", -12}}, ws) ==
              Argv{"/usr/bin/prog", "-q", "--count=-12"});
        CHECK(refusal_of(test_tool(), {{"count", 2.5}}, ws).argument == "count");
        CHECK(refusal_of(test_tool(), {{"count", "5"}}, ws).argument == "count");
    }
    SECTION("array caps and per-item rules") {
        json many = json::array();
        for (int i = 0; i < 100; ++i) many.push_back("x");
        ArgumentError e = refusal_of(test_tool(), {{"items", many}}, ws);
        CHECK(e.rule == "max_items");
        CHECK(e.argument == "items");
        e = refusal_of(test_tool(), {{"items", {"ok", "$(id)"}}}, ws);
        CHECK(e.rule == "metacharacter");
        CHECK(e.message.find("item 1") != std::string::npos);
        e = refusal_of(test_tool(), {{"items", {"ok", "-x"}}}, ws);
        CHECK(e.rule == "leading_dash");
    }
    SECTION("the stdin argument has its own cap") {
        ArgumentError e = refusal_of(test_tool(), {{"body", std::string(101, 'b')}}, ws);
        CHECK(e.rule == "max_length");
        CHECK(e.argument == "body");
    }
}

TEST_CASE("arguments: schema violations are reported with argument and keyword",
          "[arguments][unit]") {
    Workspace ws;
    const ToolDef& read_file = *shipped().find("read_file");
    ArgumentError e = refusal_of(read_file, json::object(), ws);
    CHECK(e.rule == "schema:required");
    CHECK(e.message.find("path") != std::string::npos);

    e = refusal_of(read_file, {{"path", "a.txt"}, {"start_line", 0}}, ws);
    CHECK(e.rule == "schema:minimum");
    CHECK(e.argument == "start_line");

    e = refusal_of(read_file, {{"path", "a.txt"}, {"bogus", 1}}, ws);
    CHECK(e.rule == "schema:additionalProperties");
    CHECK(e.argument == "bogus");

    e = refusal_of(read_file, json::array(), ws);
    CHECK(e.rule == "type");
    CHECK(e.argument.empty());

    // Several violations are all listed, on one line.
    e = refusal_of(read_file, {{"path", 5}, {"start_line", "x"}, {"end_line", -1}}, ws);
    CHECK(e.message.find("/path") != std::string::npos);
    CHECK(e.message.find("/start_line") != std::string::npos);
    CHECK(e.message.find('\n') == std::string::npos);
}

TEST_CASE("arguments: run_command allowlist and option denylist", "[arguments][unit]") {
    Workspace ws;
    const ToolDef& tool = *shipped().find("run_command");
    CHECK(argv_of(tool, {{"program", "wc"}, {"args", {"-l", "a.txt"}}}, ws) ==
          Argv{"/usr/bin/wc", "-l", "a.txt"});
    CHECK(argv_of(tool, {{"program", "date"}}, ws) == Argv{"/usr/bin/date"});

    auto program = GENERATE(as<std::string>{}, "sh", "find", "../bin/sh", "/bin/sh", "python3", "");
    CAPTURE(program);
    ArgumentError e = refusal_of(tool, {{"program", program}}, ws);
    CHECK(e.argument == "program");
    CHECK(e.rule.rfind("schema:", 0) == 0);

    auto denied = GENERATE(as<std::string>{}, "--compress-program=sh", "--compress-program",
                           "--compress-prog=python3", "--comp", "--co=x");
    CAPTURE(denied);
    e = refusal_of(tool, {{"program", "sort"}, {"args", {"-S", "1", denied, "a.txt"}}}, ws);
    CHECK(e.rule == "denied_option");
    CHECK(e.argument == "args");
}

TEST_CASE("arguments: golden argv of every shipped tool", "[arguments][unit]") {
    Workspace ws;
    // The git configuration is the git policy's environment (policies/git.json).
    const std::vector<std::string> git = {"/usr/bin/git", "--no-pager", "--no-optional-locks"};
    auto with_git = [&](Argv tail) {
        Argv out = git;
        out.insert(out.end(), tail.begin(), tail.end());
        return out;
    };
    const std::string awk_program =
        "BEGIN { if (e < 1) e = s + 1999 } NR > e { exit } NR >= s { printf \"%6d\\t%s\\n\", NR, "
        "$0 }";
    struct Golden {
        const char* tool;
        json args;
        Argv argv;
        std::optional<std::string> stdin_data;
        std::optional<std::string> stdin_file = std::nullopt;
    };
    // clang-format off
    std::vector<Golden> cases = {
        {"list_directory", json::object(),
         {"/usr/bin/ls", "-lA", "--time-style=long-iso", "--", "/workspace"}, {}},
        {"list_directory", {{"path", "dir with space"}},
         {"/usr/bin/ls", "-lA", "--time-style=long-iso", "--", "/workspace/dir with space"}, {}},
        {"list_directory", {{"path", "-rf"}}, {}, {}},  // refused: leading dash
        {"read_file", {{"path", "a.txt"}},
         {"/usr/bin/awk", "-v", "s=1", "--", awk_program}, {}, "a.txt"},
        {"read_file", {{"path", "/workspace/sub/b.txt"}, {"start_line", 10}, {"end_line", 20}},
         {"/usr/bin/awk", "-v", "s=10", "-v", "e=20", "--", awk_program}, {}, "sub/b.txt"},
        {"search_text", {{"pattern", "-foo|b[a]r$"}},
         {"/usr/bin/grep", "-rnIH", "--color=never", "--exclude-dir=.git", "--extended-regexp",
          "--max-count=100", "-e", "-foo|b[a]r$", "--", "/workspace"}, {}},
        {"search_text", {{"pattern", "x"}, {"path", "sub"}, {"syntax", "fixed-strings"},
                         {"ignore_case", true}, {"max_count", 3}},
         {"/usr/bin/grep", "-rnIH", "--color=never", "--exclude-dir=.git", "--fixed-strings",
          "--ignore-case", "--max-count=3", "-e", "x", "--", "/workspace/sub"}, {}},
        {"git_status", json::object(),
         with_git({"status", "--porcelain=v1", "--branch", "--untracked-files=normal"}), {}},
        {"git_log", json::object(),
         with_git({"log", "--no-color", "--no-ext-diff", "--no-textconv", "--date=iso", "--max-count=20",
                   "--end-of-options", "--"}), {}},
        {"git_log", {{"max_count", 5}, {"oneline", true}, {"rev", "HEAD~3"}, {"path", "gone/old.c"}},
         with_git({"log", "--no-color", "--no-ext-diff", "--no-textconv", "--date=iso", "--max-count=5", "--oneline",
                   "--end-of-options", "HEAD~3", "--", "/workspace/gone/old.c"}), {}},
        {"git_diff", json::object(),
         with_git({"diff", "--no-color", "--no-ext-diff", "--no-textconv", "--end-of-options", "--"}), {}},
        {"git_diff", {{"staged", true}, {"rev", "main..feature"}, {"path", "a.txt"}},
         with_git({"diff", "--no-color", "--no-ext-diff", "--no-textconv", "--cached",
                   "--end-of-options", "main..feature", "--", "/workspace/a.txt"}), {}},
        {"git_diff", {{"rev", "--output=/tmp/x"}}, {}, {}},  // refused: leading dash
        {"git_show", {{"rev", "HEAD@{1}:src/[id].tsx"}},
         with_git({"show", "--no-color", "--no-ext-diff", "--no-textconv", "--end-of-options",
                   "HEAD@{1}:src/[id].tsx", "--"}), {}},
        {"git_show", {{"rev", "HEAD;id"}}, {}, {}},  // refused: metacharacter
        {"run_python", {{"code", "print(6 * 7)\n"}},
         {"/usr/bin/python3", "-I", "-B", "-"}, std::string("print(6 * 7)\n")},
        {"run_command", {{"program", "tr"}, {"args", {"a-z", "A-Z"}}, {"input", "hi $(x)\n"}},
         {"/usr/bin/tr", "a-z", "A-Z"}, std::string("hi $(x)\n")},
        {"run_command", {{"program", "cat"}, {"args", {"a.txt; rm -rf /"}}}, {}, {}},  // refused
    };
    // clang-format on
    for (const Golden& g : cases) {
        CAPTURE(g.tool, g.args.dump());
        const ToolDef* tool = shipped().find(g.tool);
        REQUIRE(tool != nullptr);
        auto result = prepare(*tool, g.args, ws);
        if (g.argv.empty()) {
            CHECK(std::holds_alternative<ArgumentError>(result));
            continue;
        }
        if (auto* e = std::get_if<ArgumentError>(&result)) FAIL_CHECK(e->message);
        REQUIRE(std::holds_alternative<Invocation>(result));
        CHECK(std::get<Invocation>(result).argv == g.argv);
        CHECK(std::get<Invocation>(result).stdin_data == g.stdin_data);
        CHECK(std::get<Invocation>(result).stdin_file == g.stdin_file);
    }
    // Every shipped tool has at least one golden case.
    for (const ToolDef* tool : shipped().enabled_tools()) {
        CAPTURE(tool->name);
        CHECK(std::any_of(cases.begin(), cases.end(), [&](const Golden& g) {
            return g.tool == tool->name && !g.argv.empty();
        }));
    }
}
