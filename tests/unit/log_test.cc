// --log-format json (runtime/base/log.h): one parseable JSON object per event, with the message's
// key=value words lifted into fields.
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
    CHECK(event["exit"] == "0");
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
