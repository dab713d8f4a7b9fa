// Tool-argument schemas: the official JSON-Schema-Test-Suite through valijson and our error
// conversion (detail::validate_raw, no strictness rewrite), then compile()'s refusals and
// rewrite, and validate()'s pointers, keywords, messages and limits.
#include "runtime/tools/json_schema.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/tools/json_schema_internal.h"

namespace fs = std::filesystem;
namespace rs = runtime::schema;
using nlohmann::json;

namespace {

const char* const kSuiteDir = "/usr/share/json-schema-test-suite/tests/draft7";

// True when every keyword of schema, at every subschema position, is one we support.
bool uses_only_supported(const json& s) {
    if (s.is_boolean()) return true;
    if (!s.is_object()) return false;
    const auto& ok = rs::supported_keywords();
    for (const auto& [key, value] : s.items()) {
        if (std::find(ok.begin(), ok.end(), key) == ok.end()) return false;
        if (key == "properties" && value.is_object()) {
            for (const auto& sub : value)
                if (!uses_only_supported(sub)) return false;
        } else if (key == "additionalProperties" || (key == "items" && !value.is_array())) {
            if (!uses_only_supported(value)) return false;
        } else if (key == "items") {
            for (const auto& sub : value)
                if (!uses_only_supported(sub)) return false;
        }
    }
    return true;
}

std::string keywords_of(const std::vector<rs::Violation>& v) {
    std::string out;
    for (const auto& x : v) out += x.pointer + " " + x.keyword + ": " + x.message + "\n";
    return out;
}

std::shared_ptr<const rs::Validator> compiled(const json& schema) {
    auto r = rs::Validator::compile(schema, "tools.d/t.json");
    INFO((r ? std::string("ok") : r.error().context));
    REQUIRE(r);
    return *r;
}

std::string compile_error(const json& schema) {
    auto r = rs::Validator::compile(schema, "tools.d/t.json");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sandbox::Errc::InvalidArgument);
    return r.error().context;
}

// {"type":"object","properties":{"x": frag}} with the given extra top-level members.
json with_x(const json& frag, const json& extra = json::object()) {
    json s = {{"type", "object"}, {"properties", {{"x", frag}}}};
    s.update(extra);
    return s;
}

}  // namespace

TEST_CASE("schema: the official JSON-Schema-Test-Suite passes for every supported keyword",
          "[schema][unit]") {
    // Minimum cases per file so a filter bug cannot pass vacuously (draft7 of suite 2.0.0).
    const std::map<std::string, size_t> kMinCases = {{"type", 59},
                                                     {"properties", 10},
                                                     {"required", 7},
                                                     {"additionalProperties", 6},
                                                     {"enum", 9},
                                                     {"const", 12},
                                                     {"minimum", 4},
                                                     {"maximum", 4},
                                                     {"exclusiveMinimum", 4},
                                                     {"exclusiveMaximum", 4},
                                                     {"minLength", 5},
                                                     {"maxLength", 5},
                                                     {"pattern", 4},
                                                     {"items", 17},
                                                     {"minItems", 4},
                                                     {"maxItems", 4},
                                                     {"uniqueItems", 13},
                                                     {"default", 4}};
    if (!fs::is_directory(kSuiteDir))
        FAIL(std::string(kSuiteDir) +
             " is missing: run scripts/install-deps.sh "
             "(Debian package json-schema-test-suite)");
    std::string summary;
    for (const auto& [keyword, min_cases] : kMinCases) {
        std::ifstream in(std::string(kSuiteDir) + "/" + keyword + ".json");
        REQUIRE(in);
        json groups = json::parse(in);
        size_t ran = 0, skipped_groups = 0;
        for (const auto& group : groups) {
            if (!uses_only_supported(group.at("schema"))) {
                ++skipped_groups;
                continue;
            }
            for (const auto& test : group.at("tests")) {
                auto v = rs::detail::validate_raw(group.at("schema"), test.at("data"));
                INFO(keyword << ": " << group.at("description").get<std::string>() << " / "
                             << test.at("description").get<std::string>() << "\n"
                             << (v ? keywords_of(*v) : v.error().context));
                REQUIRE(v);
                CHECK(v->empty() == test.at("valid").get<bool>());
                for (const auto& violation : *v) CHECK(violation.keyword != "schema");
                ++ran;
            }
        }
        INFO(keyword);
        CHECK(ran >= min_cases);
        summary +=
            keyword + "=" + std::to_string(ran) +
            (skipped_groups ? " (" + std::to_string(skipped_groups) + " groups skipped)" : "") +
            " ";
    }
    WARN("JSON-Schema-Test-Suite cases run: " << summary);
}

TEST_CASE("schema: compile refuses unsupported keywords and names the pointer", "[schema][unit]") {
    auto kw = GENERATE(as<std::string>{}, "$ref", "allOf", "anyOf", "oneOf", "not", "format",
                       "definitions", "patternProperties", "additionalItems", "if", "multipleOf",
                       "$id", "id", "dependencies", "propertyNames");
    json frag = {{"type", "string"}, {kw, "x"}};
    std::string err = compile_error(with_x(frag));
    CHECK_THAT(err, Catch::StartsWith("tools.d/t.json: /properties/x/" + kw +
                                      ": unsupported JSON Schema keyword \"" + kw +
                                      "\" (supported: type, properties, required"));
    CHECK_THAT(err, Catch::Contains("$schema, $comment)"));
}

TEST_CASE("schema: names in properties and data in enum/const/default are not keywords",
          "[schema][unit]") {
    json s = {{"type", "object"},
              {"properties",
               {{"$ref", {{"type", "string"}}},
                {"allOf", {{"enum", json::array({{{"$ref", "#"}}, 1})}}},
                {"pattern", {{"type", "object"}, {"const", {{"format", "x"}}}}},
                {"c", {{"default", {{"oneOf", 1}}}}}}}};
    auto v = compiled(s);
    CHECK(v->validate({{"$ref", "x"}, {"allOf", 1}}, nullptr).empty());
}

TEST_CASE("schema: compile refusals name the pointer", "[schema][unit]") {
    SECTION("pattern without maxLength, or with one over the limit") {
        CHECK_THAT(compile_error(with_x({{"type", "string"}, {"pattern", "^a$"}})),
                   Catch::StartsWith("tools.d/t.json: /properties/x/pattern: \"pattern\" needs "
                                     "\"maxLength\" of at most 4096"));
        CHECK_THAT(
            compile_error(with_x({{"type", "string"}, {"pattern", "^a$"}, {"maxLength", 4097}})),
            Catch::StartsWith("tools.d/t.json: /properties/x/pattern: "));
        CHECK(rs::Validator::compile(
            with_x({{"type", "string"}, {"pattern", "^a$"}, {"maxLength", 4096}}), "t"));
    }
    SECTION("bad regular expressions") {
        json items = {{"type", "array"},
                      {"items", {{"type", "string"}, {"pattern", "([a-z"}, {"maxLength", 8}}}};
        CHECK_THAT(compile_error(with_x(items)),
                   Catch::StartsWith("tools.d/t.json: /properties/x/items/pattern: invalid "
                                     "regular expression: "));
        CHECK(compile_error(with_x({{"pattern", "(a)\\1"}, {"maxLength", 8}})) ==
              "tools.d/t.json: /properties/x/pattern: invalid regular expression: "
              "backreferences are not supported");
        // Counts libstdc++ would overflow on (UB) or expand into huge automata; an escaped brace
        // is a literal.
        for (const char* bad : {"a{1001}", "a{2,1001}", "x{99999999999999999999}", "[a]{1,00000}"})
            CHECK(compile_error(with_x({{"pattern", bad}, {"maxLength", 8}})) ==
                  "tools.d/t.json: /properties/x/pattern: invalid regular expression: "
                  "repetition counts above 1000 are not supported");
        for (const char* good : {"a{1000}", "a{2,}", "a{0,1000}", "\\{99999}"})
            CHECK(rs::Validator::compile(
                with_x({{"type", "string"}, {"pattern", good}, {"maxLength", 8}}), "t"));
    }
    SECTION("top level must be an object schema with type object") {
        CHECK(compile_error(json::array()) ==
              "tools.d/t.json: the schema must be a JSON object (got array)");
        CHECK(compile_error({{"properties", json::object()}}) ==
              "tools.d/t.json: the top-level schema needs \"type\": \"object\"");
        CHECK(compile_error({{"type", "string"}}) ==
              "tools.d/t.json: /type: the top-level schema needs \"type\": \"object\"");
        CHECK(compile_error({{"type", {"object", "null"}}}) ==
              "tools.d/t.json: /type: the top-level schema needs \"type\": \"object\"");
    }
    SECTION("a default that its own schema rejects") {
        json n = {{"type", "integer"}, {"minimum", 1}, {"default", 0}};
        CHECK(compile_error(with_x(n)) ==
              "tools.d/t.json: /properties/x/default: default value does not match its schema: "
              "0 is less than the minimum 1");
        json nested = {{"type", "object"},
                       {"properties", {{"y", {{"type", "string"}}}}},
                       {"default", {{"y", "ok"}, {"z", 1}}}};
        CHECK(compile_error(with_x(nested)) ==
              "tools.d/t.json: /properties/x/default: default value does not match its schema: "
              "/z: unknown property \"z\"");
        json p = {{"type", "string"}, {"pattern", "^[0-9]+$"}, {"maxLength", 4}, {"default", "x"}};
        CHECK_THAT(compile_error(with_x(p)),
                   Catch::StartsWith("tools.d/t.json: /properties/x/default: default value does "
                                     "not match its schema: \"x\" does not match the pattern"));
    }
    SECTION("$schema: draft-07 and 2020-12 only, top level only") {
        CHECK(compile_error(
                  {{"type", "object"}, {"$schema", "http://json-schema.org/draft-04/schema#"}}) ==
              "tools.d/t.json: /$schema: unsupported dialect (use draft-07 or 2020-12)");
        CHECK(rs::Validator::compile(
            {{"type", "object"}, {"$schema", "http://json-schema.org/draft-07/schema#"}}, "t"));
        CHECK(rs::Validator::compile(
            {{"type", "object"}, {"$schema", "https://json-schema.org/draft/2020-12/schema"}},
            "t"));
        CHECK(
            compile_error(with_x({{"$schema", "http://json-schema.org/draft-07/schema#"}})) ==
            "tools.d/t.json: /properties/x/$schema: \"$schema\" is allowed only at the top level");
        json tuple = with_x({{"type", "array"}, {"items", json::array({{{"type", "string"}}})}},
                            {{"$schema", "https://json-schema.org/draft/2020-12/schema"}});
        CHECK_THAT(compile_error(tuple),
                   Catch::StartsWith("tools.d/t.json: /properties/x/items: array-form \"items\" "
                                     "is draft-07 only"));
    }
    SECTION("keyword values of the wrong shape") {
        CHECK(
            compile_error(with_x({{"minLength", -1}})) ==
            "tools.d/t.json: /properties/x/minLength: expected non-negative integer (got number)");
        CHECK(compile_error(with_x({{"maxItems", 1.5}})) ==
              "tools.d/t.json: /properties/x/maxItems: expected non-negative integer (got "
              "non-integer number)");
        CHECK(compile_error({{"type", "object"}, {"required", "x"}}) ==
              "tools.d/t.json: /required: expected array (got string)");
        CHECK(compile_error(with_x(true, {{"required", {"x", "x"}}})) ==
              "tools.d/t.json: /required: expected an array of distinct property names");
        CHECK(compile_error(with_x({{"type", "object"}, {"additionalProperties", "false"}})) ==
              "tools.d/t.json: /properties/x/additionalProperties: expected object or boolean "
              "(got string)");
        CHECK_THAT(compile_error(with_x({{"type", "objekt"}})),
                   Catch::StartsWith("tools.d/t.json: /properties/x/type: expected a type name"));
        CHECK(compile_error(with_x({{"enum", json::array()}})) ==
              "tools.d/t.json: /properties/x/enum: expected a non-empty array (got array)");
        CHECK(
            compile_error(with_x(42)) ==
            "tools.d/t.json: /properties/x: a schema must be an object or a boolean (got number)");
    }
    SECTION("uniqueItems needs a bounded maxItems") {
        CHECK_THAT(compile_error(with_x({{"type", "array"}, {"uniqueItems", true}})),
                   Catch::StartsWith("tools.d/t.json: /properties/x/uniqueItems: \"uniqueItems\" "
                                     "needs \"maxItems\" of at most 256"));
        CHECK(rs::Validator::compile(
            with_x({{"type", "array"}, {"uniqueItems", true}, {"maxItems", 256}}), "t"));
        CHECK(rs::Validator::compile(with_x({{"type", "array"}, {"uniqueItems", false}}), "t"));
    }
    SECTION("required that additionalProperties false makes unsatisfiable") {
        CHECK(compile_error(
                  {{"type", "object"}, {"properties", {{"a", true}}}, {"required", {"a", "b"}}}) ==
              "tools.d/t.json: /required/1: required property is not in \"properties\", and "
              "additionalProperties is false: no value can satisfy it");
        CHECK(rs::Validator::compile({{"type", "object"},
                                      {"required", {"b"}},
                                      {"additionalProperties", {{"type", "string"}}}},
                                     "t"));
    }
    SECTION("subschemas nested too deep") {
        json s = {{"type", "array"}};
        for (int i = 0; i < 40; ++i) s = {{"type", "array"}, {"items", s}};
        CHECK_THAT(compile_error(with_x(s)),
                   Catch::Contains(": subschemas nested more than 32 deep"));
    }
}

TEST_CASE("schema: unknown properties are rejected unless additionalProperties says otherwise",
          "[schema][unit]") {
    json s = {{"type", "object"},
              {"properties",
               {{"opts", {{"type", "object"}, {"properties", {{"v", {{"type", "boolean"}}}}}}},
                {"any", json::object()},
                {"name", {{"type", "string"}}}}}};
    auto v = compiled(s);
    SECTION("the published schema makes the default explicit at every object level") {
        CHECK(v->schema()["additionalProperties"] == false);
        CHECK(v->schema()["properties"]["opts"]["additionalProperties"] == false);
        CHECK_FALSE(v->schema()["properties"]["any"].contains("additionalProperties"));
        CHECK_FALSE(v->schema()["properties"]["name"].contains("additionalProperties"));
    }
    SECTION("every unknown property is named, at its own pointer") {
        auto out = v->validate(
            {{"name", "n"}, {"extra", 1}, {"opts", {{"v", true}, {"w", 2}}}, {"more", 2}}, nullptr);
        INFO(keywords_of(out));
        REQUIRE(out.size() == 3);
        CHECK(out[0].pointer == "/extra");
        CHECK(out[0].keyword == "additionalProperties");
        CHECK(out[0].message == "unknown property \"extra\"");
        CHECK(out[1].pointer == "/more");
        CHECK(out[2].pointer == "/opts/w");
        CHECK(v->validate({{"any", {{"whatever", {1, 2}}}}}, nullptr).empty());
    }
    SECTION("explicit additionalProperties true or a schema is honoured") {
        auto open = compiled({{"type", "object"}, {"additionalProperties", true}});
        CHECK(open->schema()["additionalProperties"] == true);
        CHECK(open->validate({{"anything", 1}}, nullptr).empty());
        auto typed = compiled({{"type", "object"}, {"additionalProperties", {{"type", "string"}}}});
        CHECK(typed->validate({{"a", "s"}}, nullptr).empty());
        auto out = typed->validate({{"a", 1}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].pointer == "/a");
        CHECK(out[0].keyword == "type");
    }
}

TEST_CASE("schema: defaults fill absent top-level properties", "[schema][unit]") {
    json s = {{"type", "object"},
              {"properties",
               {{"mode", {{"enum", {"fast", "slow"}}, {"default", "fast"}}},
                {"count", {{"type", "integer"}, {"default", 3}}},
                {"name", {{"type", "string"}}}}},
              {"required", {"mode"}}};
    auto v = compiled(s);
    json args;
    CHECK(v->validate({{"name", "n"}}, &args).empty());
    CHECK(args == json({{"mode", "fast"}, {"count", 3}, {"name", "n"}}));
    CHECK(v->validate({{"mode", "slow"}, {"count", 7}}, &args).empty());
    CHECK(args == json({{"mode", "slow"}, {"count", 7}}));
    json untouched = "sentinel";
    CHECK_FALSE(v->validate({{"count", "x"}}, &untouched).empty());
    CHECK(untouched == "sentinel");
}

TEST_CASE("schema: each keyword's violation has the right pointer, keyword and message",
          "[schema][unit]") {
    struct Case {
        json frag;
        json value;
        std::string pointer, keyword, message;
    };
    auto c = GENERATE(values<Case>({
        {{{"type", "string"}}, 5, "/x", "type", "expected string, got integer"},
        {{{"type", {"string", "null"}}}, 1.5, "/x", "type", "expected string or null, got number"},
        {{{"enum", {"a", "b"}}}, "c", "/x", "enum", "\"c\" is not one of [\"a\",\"b\"]"},
        {{{"const", "a"}}, "b", "/x", "const", "\"b\" is not the required value \"a\""},
        {{{"minimum", 10}}, 5, "/x", "minimum", "5 is less than the minimum 10"},
        {{{"maximum", 10}}, 10.5, "/x", "maximum", "10.5 is greater than the maximum 10"},
        {{{"exclusiveMinimum", 10}},
         10,
         "/x",
         "exclusiveMinimum",
         "10 is not greater than 10 (exclusiveMinimum)"},
        {{{"exclusiveMaximum", 10}},
         10,
         "/x",
         "exclusiveMaximum",
         "10 is not less than 10 (exclusiveMaximum)"},
        {{{"minLength", 3}},
         "ab",
         "/x",
         "minLength",
         "string of 2 characters is shorter than minLength 3"},
        {{{"maxLength", 3}},
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
         "/x",
         "maxLength",
         "string of 4 characters is longer than maxLength 3"},
        {{{"pattern", "^[0-9]+$"}, {"maxLength", 10}},
         "12a",
         "/x",
         "pattern",
         "\"12a\" does not match the pattern \"^[0-9]+$\""},
        {{{"maxItems", 1}}, {1, 2}, "/x", "maxItems", "array of 2 items is longer than maxItems 1"},
        {{{"minItems", 3}},
         {1, 2},
         "/x",
         "minItems",
         "array of 2 items is shorter than minItems 3"},
        {{{"uniqueItems", true}, {"maxItems", 5}},
         {1, 2, 1.0},
         "/x",
         "uniqueItems",
         "items 0 and 2 are equal; uniqueItems requires distinct items"},
        {{{"items", {{"type", "string"}}}},
         {"a", 1},
         "/x/1",
         "type",
         "expected string, got integer"},
        {{{"items", false}}, {1}, "/x/0", "items", "item does not match the schema in \"items\""},
        {{{"items", {{{"type", "string"}}, false}}},
         {"a", 1},
         "/x/1",
         "items",
         "item does not match the schema in \"items\""},
        {{{"items", {{{"type", "string"}}}}}, {2}, "/x/0", "type", "expected string, got integer"},
        {{{"properties", {{"a/b", {{"type", "integer"}}}}}},
         {{"a/b", "s"}},
         "/x/a~1b",
         "type",
         "expected integer, got string"},
        {{{"properties", {{"y", {{"maximum", 1}}}}}},
         {{"y", 2}},
         "/x/y",
         "maximum",
         "2 is greater than the maximum 1"},
        {{{"properties", {{"y", false}}}},
         {{"y", 2}},
         "/x/y",
         "properties",
         "value is not allowed by the schema for this property"},
        {{{"type", "object"}},
         {{"z~", 1}},
         "/x/z~0",
         "additionalProperties",
         "unknown property \"z~\""},
    }));
    auto v = compiled(with_x(c.frag));
    auto out = v->validate({{"x", c.value}}, nullptr);
    INFO(c.frag.dump() << " vs " << c.value.dump() << "\n" << keywords_of(out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].pointer == c.pointer);
    CHECK(out[0].keyword == c.keyword);
    CHECK(out[0].message == c.message);
}

TEST_CASE("schema: 1.0 is not an integer which is stricter than draft 6", "[schema][unit]") {
    // Pinned so a valijson upgrade that changes it is noticed: integer arguments land in argv,
    // where "1.0" and "1" differ. enum and const still compare numbers by value.
    auto v = compiled(with_x({{"type", "integer"}}));
    auto out = v->validate(json::parse(R"({"x": 1.0})"), nullptr);
    REQUIRE(out.size() == 1);
    CHECK(out[0].message == "expected integer, got number");
    CHECK(
        compiled(with_x({{"enum", {1}}}))->validate(json::parse(R"({"x": 1.0})"), nullptr).empty());
}

TEST_CASE("schema: required properties and non-objects and sorted violations", "[schema][unit]") {
    auto v = compiled(with_x({{"type", "integer"}}, {{"required", {"x"}}}));
    auto out = v->validate(json::object(), nullptr);
    REQUIRE(out.size() == 1);
    CHECK(out[0].pointer == "");
    CHECK(out[0].keyword == "required");
    CHECK(out[0].message == "missing required property \"x\"");
    auto two = compiled(
        {{"type", "object"}, {"properties", {{"a", true}, {"b", true}}}, {"required", {"b", "a"}}});
    out = two->validate(json::object(), nullptr);
    REQUIRE(out.size() == 2);  // same pointer and keyword, both kept
    CHECK(out[0].message == "missing required property \"a\"");
    CHECK(out[1].message == "missing required property \"b\"");

    out = v->validate(json::array({1}), nullptr);
    REQUIRE(out.size() == 1);
    CHECK(out[0].pointer == "");
    CHECK(out[0].keyword == "type");
    CHECK(out[0].message == "expected object, got array");

    out = v->validate({{"x", "s"}, {"y", 1}}, nullptr);
    INFO(keywords_of(out));
    REQUIRE(out.size() == 2);  // sorted by pointer
    CHECK(out[0].pointer == "/x");
    CHECK(out[0].keyword == "type");
    CHECK(out[1].pointer == "/y");
    CHECK(out[1].keyword == "additionalProperties");

    json many = json::object();
    for (int i = 0; i < 200; ++i) many["k" + std::to_string(i)] = i;
    CHECK(v->validate(many, nullptr).size() == rs::kMaxViolations);
}

TEST_CASE("schema: messages echo at most 64 bytes of a value", "[schema][unit]") {
    std::string huge(1 << 20, 'A');
    std::string accents;
    for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";
    auto v = compiled(with_x({{"enum", {"a"}}}, {{"additionalProperties", false}}));
    for (const std::string& s : {huge, accents}) {
        auto out = v->validate({{"x", s}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].message.size() < 100);
        CHECK_THAT(out[0].message, Catch::EndsWith("... is not one of [\"a\"]"));
        // Cut on a character boundary: the message is still valid UTF-8 for the reply.
        CHECK_NOTHROW(json(out[0].message).dump());
    }
    auto out = v->validate({{huge, 1}}, nullptr);
    REQUIRE(out.size() == 1);
    CHECK(out[0].keyword == "additionalProperties");
    CHECK(out[0].message.size() < 100);
    auto big_enum = compiled(with_x({{"enum", {huge}}}));
    out = big_enum->validate({{"x", 1}}, nullptr);
    REQUIRE(out.size() == 1);
    CHECK(out[0].message.size() < 100);
}

TEST_CASE("schema: hostile instances are refused without crashing or hanging", "[schema][unit]") {
    auto v = compiled(with_x({{"type", "array"}}));
    SECTION("10000 nested arrays") {
        std::string text = "{\"x\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
        json deep = json::parse(text);
        auto out = v->validate(deep, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].keyword == "depth");
        CHECK_THAT(out[0].pointer, Catch::StartsWith("/x/0/0/0"));
        CHECK(out[0].message == "nested deeper than 64 levels");
        auto raw = rs::detail::validate_raw(json::object(), deep["x"]);
        REQUIRE(raw);
        REQUIRE(raw->size() == 1);
        CHECK((*raw)[0].keyword == "depth");
        std::string ok = "{\"x\":" + std::string(63, '[') + std::string(63, ']') + "}";
        CHECK(v->validate(json::parse(ok), nullptr).empty());
    }
    SECTION("too many values") {
        auto out = v->validate({{"x", std::vector<int>(rs::kMaxInstanceNodes, 1)}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].keyword == "size");
    }
    SECTION("U+0000 would let a string pass maxLength (valijson uses strlen)") {
        auto s = compiled(with_x({{"type", "string"}, {"maxLength", 4}}));
        auto out = s->validate({{"x", std::string("a\0", 2) + std::string(10000, 'b')}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].pointer == "/x");
        CHECK(out[0].keyword == "nul");
    }
    SECTION("catastrophic patterns run in polynomial time and bounded stack") {
        auto s =
            compiled(with_x({{"type", "string"}, {"pattern", "^(a|aa)*$"}, {"maxLength", 4096}}));
        auto t0 = std::chrono::steady_clock::now();
        auto out = s->validate({{"x", std::string(4095, 'a') + "b"}}, nullptr);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        REQUIRE(out.size() == 1);
        CHECK(out[0].keyword == "pattern");
        CHECK(s->validate({{"x", std::string(4096, 'a')}}, nullptr).empty());
        // Over maxLength: reported as maxLength, the pattern is not run.
        out = s->validate({{"x", std::string(100000, 'a')}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].keyword == "maxLength");
    }
    SECTION("uniqueItems past maxItems is refused before the quadratic check") {
        auto s = compiled(with_x({{"type", "array"}, {"uniqueItems", true}, {"maxItems", 5}}));
        auto out = s->validate({{"x", std::vector<int>(5000, 7)}}, nullptr);
        REQUIRE(out.size() == 1);
        CHECK(out[0].keyword == "maxItems");
        CHECK(out[0].message == "array of 5000 items is longer than maxItems 5");
    }
}

TEST_CASE("schema: one Validator serves several threads at once", "[schema][unit]") {
    auto v = compiled(with_x({{"type", "string"}, {"pattern", "^[a-z]+$"}, {"maxLength", 32}},
                             {{"required", {"x"}}}));
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                bool good = (i + t) % 2 == 0;
                auto out = v->validate({{"x", good ? "abc" : "ABC"}}, nullptr);
                if (out.empty() != good || (!good && out[0].keyword != "pattern")) ++wrong[t];
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong == std::vector<int>(4, 0));
}
