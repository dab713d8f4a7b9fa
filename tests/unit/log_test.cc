// --log-format json (runtime/base/log.h): one parseable JSON object per event, with the message's
// key=value words lifted into typed fields.
#include "runtime/base/log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using runtime::log::Level;

TEST_CASE("log: a JSON line carries ts, level, src, msg and the key=value fields", "[log][unit]") {
    std::string line =
        runtime::log::json_line("2026-11-22T01:00:00.000Z", Level::Info, "tool_runner.cc:42",
                                "call tool=run_python run_id=abc reason=exit exit=0 =x A=b");
    REQUIRE(line.back() == '\n');
    REQUIRE(line.find('\n') == line.size() - 1);
    auto event = nlohmann::json::parse(line);
    CHECK(event["ts"] == "2026-11-22T01:00:00.000Z");
    CHECK(event["level"] == "INFO");
    CHECK(event["src"] == "tool_runner.cc:42");
    CHECK(event["msg"] == "call tool=run_python run_id=abc reason=exit exit=0 =x A=b");
    CHECK(event["tool"] == "run_python");
    CHECK(event["run_id"] == "abc");
    CHECK(event["exit"] == 0);
    CHECK_FALSE(event.contains(""));
    CHECK_FALSE(event.contains("A"));  // keys are lower-case identifiers
}

TEST_CASE("log: a JSON line never lets the message overwrite fixed keys or break the line",
          "[log][unit]") {
    std::string line = runtime::log::json_line(
        "t", Level::Warn, "f.cc:1", "level=debug msg=forged \"quoted\"\nsecond\xff line");
    REQUIRE(line.find('\n') == line.size() - 1);
    auto event = nlohmann::json::parse(line);
    CHECK(event["level"] == "WARN");
    CHECK(event["msg"].get<std::string>().rfind("level=debug msg=forged \"quoted\"\nsecond", 0) ==
          0);
}

TEST_CASE("log: formats parse by name", "[log][unit]") {
    runtime::log::Format f = runtime::log::Format::Text;
    CHECK(runtime::log::parse_format("json", f));
    CHECK(f == runtime::log::Format::Json);
    CHECK(runtime::log::parse_format("text", f));
    CHECK(f == runtime::log::Format::Text);
    CHECK_FALSE(runtime::log::parse_format("JSONL", f));
}

TEST_CASE("log: JSON fields are typed by their values; names stay strings", "[log][unit]") {
    auto event = nlohmann::json::parse(runtime::log::json_line(
        "t", Level::Info, "f.cc:1",
        "call tool=x wall_ms=21 exit=-1 warm=false truncated=true retry_after=0.250 "
        "reason=exit big=99999999999999999999 octal=007 plus=+1 exp=1e3 dot=1. client=42 "
        "name=true run_id=123 old=0123 added=a,b"));
    CHECK(event["wall_ms"] == 21);
    CHECK(event["wall_ms"].is_number_integer());
    CHECK(event["exit"] == -1);
    CHECK(event["warm"] == false);
    CHECK(event["truncated"] == true);
    CHECK(event["retry_after"].is_number_float());
    CHECK(event["retry_after"].get<double>() == Approx(0.25));
    CHECK(event["reason"] == "exit");
    // What does not fit an int64, or is not written the way fmt writes numbers, stays text.
    CHECK(event["big"] == "99999999999999999999");
    CHECK(event["octal"] == "007");
    CHECK(event["plus"] == "+1");
    CHECK(event["exp"] == "1e3");
    CHECK(event["dot"] == "1.");
    // Names chosen by clients and operators keep one type, whatever they look like.
    CHECK(event["client"] == "42");
    CHECK(event["name"] == "true");
    CHECK(event["run_id"] == "123");
    CHECK(event["old"] == "0123");
    CHECK(event["added"] == "a,b");
    CHECK(event["tool"] == "x");
}
