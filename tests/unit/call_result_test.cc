// The CallToolResult shapes a client can see: every one matches the published outputSchema,
// truncation is said plainly with where the rest is, and UTF-8 is never cut mid-character.
#include "runtime/mcp/call_result.h"

#include <catch2/catch.hpp>

#include "runtime/tools/json_schema.h"

using nlohmann::json;
using runtime::RunView;
using sandbox::Outcome;
using sandbox::Termination;

namespace {

bool matches_schema(const json& structured) {
    static auto validator =
        runtime::schema::Validator::compile(runtime::run_result_schema(), "run_result_schema");
    REQUIRE(validator);
    auto violations = (*validator)->validate(structured, nullptr);
    for (const auto& v : violations) UNSCOPED_INFO(v.pointer << ": " << v.message);
    return violations.empty();
}

Outcome exited(int code, std::string out, std::string err = "") {
    Outcome o;
    o.reason = Termination::Exit;
    o.exit_code = code;
    o.out.total = out.size();
    o.out.data = std::move(out);
    o.err.total = err.size();
    o.err.data = std::move(err);
    return o;
}

std::string all_text(const json& result) {
    std::string text;
    for (const auto& c : result["content"])
        if (c["type"] == "text") text += c["text"].get<std::string>() + "\n";
    return text;
}

}  // namespace

TEST_CASE("utf8_prefix never splits a character", "[call_result]") {
    std::string s =
        "a\xC3\xA9"
        "b\xE2\x82\xAC"
        "c\xF0\x9F\x98\x80";  // a é b € c 😀
    CHECK(runtime::utf8_prefix(s, 100) == s.size());
    CHECK(runtime::utf8_prefix(s, 1) == 1);
    CHECK(runtime::utf8_prefix(s, 2) == 1);  // inside é
    CHECK(runtime::utf8_prefix(s, 3) == 3);
    CHECK(runtime::utf8_prefix(s, 5) == 4);  // inside €
    CHECK(runtime::utf8_prefix(s, 6) == 4);
    CHECK(runtime::utf8_prefix(s, 7) == 7);
    CHECK(runtime::utf8_prefix(s, 10) == 8);  // inside 😀
    CHECK(runtime::utf8_prefix(s, 0) == 0);
    // Not UTF-8 (a long run of continuation bytes): cut where asked.
    std::string junk(10, '\x80');
    CHECK(runtime::utf8_prefix(junk, 5) == 5);
}

TEST_CASE("a run that fits is shown whole and matches the schema", "[call_result]") {
    Outcome o = exited(0, "hello\n", "warn\n");
    sandbox::Limits limits;
    json r = runtime::run_result(RunView{o, limits, "run-1", {0}});
    CHECK(r["isError"] == false);
    CHECK(matches_schema(r["structuredContent"]));
    CHECK(r["structuredContent"]["stdout"] == "hello\n");
    CHECK(r["structuredContent"]["stdout_truncated"] == false);
    CHECK(r["structuredContent"]["stdout_resource"].is_null());
    CHECK(all_text(r).find("truncated") == std::string::npos);
}

TEST_CASE("a result cut for size points at the resource holding the rest", "[call_result]") {
    Outcome o = exited(0, std::string(1000, 'x'));
    sandbox::Limits limits;
    RunView view{o,
                 limits,
                 "run-7",
                 {0},
                 100,
                 "tooljail://runs/run-7/stdout",
                 "tooljail://runs/run-7/stderr"};
    json r = runtime::run_result(view);
    const json& s = r["structuredContent"];
    CHECK(matches_schema(s));
    CHECK(s["stdout"].get<std::string>().size() == 100);
    CHECK(s["stdout_truncated"] == true);
    CHECK(s["stdout_bytes"] == 1000);
    CHECK(s["stdout_captured_bytes"] == 1000);
    CHECK(s["stdout_resource"] == "tooljail://runs/run-7/stdout");
    CHECK(s["stderr_truncated"] == false);
    CHECK(all_text(r).find("tooljail://runs/run-7/stdout?offset=100") != std::string::npos);
    bool link = false;
    for (const auto& c : r["content"])
        if (c["type"] == "resource_link" && c["uri"] == "tooljail://runs/run-7/stdout") link = true;
    CHECK(link);

    view.resource_links = false;  // 2025-03-26 has no resource_link content
    json plain = runtime::run_result(view);
    for (const auto& c : plain["content"]) CHECK(c["type"] == "text");
}

TEST_CASE("output past the capture cap is reported as lost, not as readable", "[call_result]") {
    Outcome o = exited(0, std::string(50, 'y'));
    o.out.total = 5000;
    o.out.truncated = true;
    sandbox::Limits limits;
    limits.stdout_bytes = 50;
    json r = runtime::run_result(RunView{o, limits, "run-2", {0}});
    CHECK(matches_schema(r["structuredContent"]));
    CHECK(r["structuredContent"]["stdout_truncated"] == true);
    std::string text = all_text(r);
    CHECK(text.find("wrote 5000 bytes") != std::string::npos);
    CHECK(text.find("only the first 50 were captured") != std::string::npos);
    CHECK(text.find("offset=") == std::string::npos);  // nothing more to read
}

TEST_CASE("a cut result without a kept copy tells the model to narrow the request",
          "[call_result]") {
    Outcome o = exited(0, std::string(300, 'z'));
    sandbox::Limits limits;
    json r = runtime::run_result(RunView{o, limits, "run-3", {0}, 100});
    CHECK(r["structuredContent"]["stdout_resource"].is_null());
    CHECK(all_text(r).find("narrow the request") != std::string::npos);
}

TEST_CASE("failures carry a code and a specific message", "[call_result]") {
    sandbox::Limits limits;
    Outcome o = exited(2, "", "boom\n");
    json r = runtime::run_result(RunView{o, limits, "run-4", {0}});
    CHECK(r["isError"] == true);
    CHECK(r["structuredContent"]["error"]["code"] == "EXIT_NONZERO");
    CHECK(matches_schema(r["structuredContent"]));

    // A tool may declare other exit codes as success (grep's 1: no match).
    CHECK(runtime::run_result(RunView{o, limits, "run-4", {0, 2}})["isError"] == false);

    Outcome t;
    t.reason = Termination::Timeout;
    t.signal = 9;
    limits.wall_timeout = sandbox::Millis(1500);
    json rt = runtime::run_result(RunView{t, limits, "run-5", {0}});
    CHECK(rt["structuredContent"]["error"]["code"] == "TIMEOUT");
    CHECK(rt["structuredContent"]["exit_code"].is_null());
    CHECK(all_text(rt).find("1500 ms") != std::string::npos);
    CHECK(matches_schema(rt["structuredContent"]));
}

TEST_CASE("refusals match the schema too", "[call_result]") {
    json r = runtime::refusal_result("VALIDATION_ERROR", "path escapes the workspace",
                                     {{"argument", "path"}, {"rule", "path_confinement"}});
    CHECK(r["isError"] == true);
    CHECK(matches_schema(r["structuredContent"]));
    CHECK(r["structuredContent"]["reason"] == "validation_error");
    CHECK(r["structuredContent"]["error"]["argument"] == "path");
}
