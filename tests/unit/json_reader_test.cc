// The strict JSON readers on their own: every error names the file and the JSON pointer.
// tests/unit/policy_test.cc covers them again through real policy files.
#include "runtime/base/json_reader.h"

#include <string>

#include <catch2/catch.hpp>

namespace jr = runtime::json_reader;
using nlohmann::json;

namespace {

const jr::Context kCtx("f.json");

// The error message of a failed result; fails the test if r succeeded.
template <typename R>
std::string error_of(const R& r) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sandbox::Errc::InvalidArgument);
    return r.error().message();
}

}  // namespace

TEST_CASE("json_reader: unknown keys are errors that list the allowed keys",
          "[json_reader][unit]") {
    json doc = json::parse(R"({"a": 1, "s": {"y": 1, "x/~": 2}})");
    CHECK(error_of(jr::as_object(kCtx, doc, "", {"a", "b"})) ==
          "f.json: /s: unknown key (allowed: a, b)");
    auto top = jr::as_object(kCtx, doc, "", {"a", "s"});
    REQUIRE(top);
    CHECK(error_of(jr::sub_object(kCtx, *top, "s", {"y"})) ==
          "f.json: /s/x~1~0: unknown key (allowed: y)");
    auto absent = jr::sub_object(kCtx, *top, "t", {"y"});
    REQUIRE(absent);
    CHECK_FALSE(absent->has_value());
}

TEST_CASE("json_reader: duplicate keys are found at parse time", "[json_reader][unit]") {
    CHECK(error_of(jr::parse(kCtx, R"({"a": {"b": 1, "b": 2}})")) == "f.json: /a/b: duplicate key");
    CHECK(error_of(jr::parse(kCtx, R"({"l": [{}, [], {"k": 1, "k": 1}]})")) ==
          "f.json: /l/2/k: duplicate key");
    // The same key in different objects is fine.
    CHECK(jr::parse(kCtx, R"({"a": {"k": 1}, "b": {"k": 1}, "k": 1})"));
}

TEST_CASE("json_reader: malformed JSON names the byte offset", "[json_reader][unit]") {
    auto text = GENERATE(as<std::string>{}, "", "{", "{\"a\": 1,}", "/* c */ {}", "{} {}");
    INFO("text: " << text);
    CHECK_THAT(error_of(jr::parse(kCtx, text)), Catch::StartsWith("f.json: invalid JSON at byte "));
}

TEST_CASE("json_reader: readers put the pointer in errors and keep defaults",
          "[json_reader][unit]") {
    json doc = json::parse(R"({"s": {"name": 5, "flag": "no", "mode": "x", "ok": "fine"}})");
    auto top = jr::as_object(kCtx, doc, "", {"s"});
    REQUIRE(top);
    auto s = jr::sub_object(kCtx, *top, "s", {"name", "flag", "mode", "ok", "gone"});
    REQUIRE(s);
    const jr::Node& n = **s;

    std::string str = "default";
    CHECK(error_of(jr::read_string(kCtx, n, "name", str)) ==
          "f.json: /s/name: expected string (got number)");
    CHECK(error_of(jr::read_string(kCtx, n, "gone", str, jr::Presence::Required)) ==
          "f.json: /s/gone: missing required key");
    REQUIRE(jr::read_string(kCtx, n, "gone", str));
    CHECK(str == "default");
    REQUIRE(jr::read_string(kCtx, n, "ok", str));
    CHECK(str == "fine");

    bool flag = true;
    CHECK(error_of(jr::read_bool(kCtx, n, "flag", flag)) ==
          "f.json: /s/flag: expected boolean (got string)");
    CHECK(flag);

    std::string mode = "a";
    CHECK(error_of(jr::read_enum(kCtx, n, "mode", {"a", "b"}, mode)) ==
          "f.json: /s/mode: must be one of \"a\", \"b\" (got \"x\")");
    CHECK(mode == "a");
}

TEST_CASE("json_reader: integers are strict and range-checked", "[json_reader][unit]") {
    auto c = GENERATE(values<std::pair<std::string, std::string>>({
        {"1.0", "expected integer (got non-integer number)"},
        {"1e3", "expected integer (got non-integer number)"},
        {"\"5\"", "expected integer (got string)"},
        {"true", "expected integer (got boolean)"},
        {"0", "must be between 1 and 10 (got 0)"},
        {"-1", "must be between 1 and 10 (got -1)"},
        {"11", "must be between 1 and 10 (got 11)"},
        {"18446744073709551615", "must be between 1 and 10 (got 18446744073709551615)"},
    }));
    json doc = json::parse("{\"n\": " + c.first + "}");
    jr::Node n{&doc, ""};
    uint64_t v = 7;
    INFO("value: " << c.first);
    CHECK(error_of(jr::read_uint(kCtx, n, "n", 1, 10, v)) == "f.json: /n: " + c.second);
    CHECK(v == 7);

    doc["n"] = 10;
    REQUIRE(jr::read_uint(kCtx, n, "n", 1, 10, v));
    CHECK(v == 10);
}

TEST_CASE("json_reader: messages escape control and non-ASCII bytes", "[json_reader][unit]") {
    CHECK(error_of(sandbox::Result<void>(kCtx.bad("/a\tb", "got \"x\ny\xc3\xa9\""))) ==
          "f.json: /a\\x09b: got \"x\\x0ay\\xc3\\xa9\"");
    std::string message = error_of(jr::parse(kCtx, "{\"a\": \"\xff\"}"));
    CHECK_THAT(message, Catch::StartsWith("f.json: invalid JSON at byte "));
    CHECK_THAT(message, Catch::Contains("\\xff"));
    CHECK(jr::escape_token("a/b~c") == "a~1b~0c");
}
