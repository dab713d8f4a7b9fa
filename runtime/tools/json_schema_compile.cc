// compile()'s half of json_schema.h: the schema walk (keyword allow-list, keyword shapes,
// $schema dialects, pattern/maxLength and uniqueItems/maxItems pairing, the additionalProperties
// strictness rewrite, defaults) and building the valijson schema. Instance validation is in
// json_schema.cc; its header comment says who checks what, and why.
//
// We walk the schema ourselves because valijson accepts any keyword it does not know, and reads
// several loosely ("additionalProperties": "false" is a boolean to it).
#include <algorithm>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>

#include "runtime/base/json_reader.h"
#include "runtime/tools/json_schema.h"
#include "runtime/tools/json_schema_internal.h"

namespace runtime::schema {

using nlohmann::json;
using sandbox::Result;
namespace jr = runtime::json_reader;
using detail::build;
using detail::for_each_schema;
using detail::is_count;
using detail::is_false;
using detail::is_true;
using detail::kRegexFlags;
using detail::member;
using detail::run;

namespace {

// libstdc++'s regex compiler reads a {n,m} count into a long with no overflow check (undefined
// behaviour for a 20-digit count, found by fuzz_schema) and expands a count into as many NFA
// states: counts above this are refused before it sees them. Conservative: a brace inside a
// bracket expression is checked too.
constexpr uint64_t kMaxRepeat = 1000;

const char* repeat_problem(std::string_view p) {
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\') {
            ++i;  // an escaped character, "\\{" included
            continue;
        }
        if (p[i] != '{') continue;
        size_t j = i + 1;
        for (int bound = 0; bound < 2; ++bound) {
            uint64_t n = 0;
            for (size_t digits = 0; j < p.size() && p[j] >= '0' && p[j] <= '9'; ++j, ++digits) {
                n = n * 10 + static_cast<uint64_t>(p[j] - '0');
                if (digits >= 4 || n > kMaxRepeat)
                    return "repetition counts above 1000 are not supported";
            }
            if (bound == 1 || j >= p.size() || p[j] != ',') break;
            ++j;
        }
    }
    return nullptr;
}

// Compiles a schema's pattern as the validator runs it into `out`; otherwise says why not.
std::optional<std::string> compile_pattern(const std::string& pattern, std::regex& out) {
    if (const char* why = repeat_problem(pattern)) return why;
    try {
        out = std::regex(pattern, kRegexFlags);
    } catch (const std::regex_error& e) {
        if (e.code() == std::regex_constants::error_complexity)
            return "backreferences are not supported";
        return e.what();
    }
    return std::nullopt;
}

}  // namespace

namespace detail {

// Compiles the patterns and hands valijson the schema without the keywords we check ourselves.
Result<std::shared_ptr<Validator::Impl>> build(json schema, const jr::Context& ctx) {
    auto impl = std::make_shared<Validator::Impl>();
    impl->schema = std::move(schema);
    std::optional<sandbox::Unexpected> bad;
    for_each_schema(impl->schema, "", [&](const json& node, const std::string& ptr) {
        const json* p = member(node, "pattern");
        if (p == nullptr || !p->is_string() || bad) return;
        std::regex re;
        if (auto why = compile_pattern(p->get_ref<const std::string&>(), re))
            bad = ctx.bad(ptr + "/pattern", fmt::format("invalid regular expression: {}", *why));
        else
            impl->patterns.emplace(&node, std::move(re));
    });
    if (bad) return std::move(*bad);
    json stripped = impl->schema;
    for_each_schema(stripped, "", [](json& node, const std::string&) {
        node.erase("pattern");
        node.erase("uniqueItems");
    });
    try {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        parser.populateSchema(valijson::adapters::NlohmannJsonAdapter(stripped), impl->compiled);
    } catch (const std::exception& e) {
        return ctx.bad("", fmt::format("valijson cannot parse the schema: {}", e.what()));
    }
    return impl;
}

}  // namespace detail

namespace {

constexpr size_t kMaxSchemaDepth = 32;

const std::set<std::string, std::less<>> kTypeNames = {"null",   "boolean", "object", "array",
                                                       "number", "integer", "string"};

// ---- compile(): the schema walk ----

struct SchemaWalk {
    const jr::Context& ctx;
    bool draft2020 = false;
};

bool is_supported(std::string_view key) {
    const auto& k = supported_keywords();
    return std::find(k.begin(), k.end(), key) != k.end();
}

std::string supported_list() {
    std::string out;
    for (const auto& k : supported_keywords()) out += (out.empty() ? "" : ", ") + k;
    return out;
}

// A keyword's value has the shape draft 7's meta-schema gives it (subschemas are checked by the
// caller's recursion). valijson is looser: it reads "true" and "false" strings as booleans.
Result<void> check_shape(const SchemaWalk& w, const std::string& key, const json& v,
                         const std::string& ptr) {
    auto expect = [&](bool ok, const char* what) -> Result<void> {
        if (ok) return {};
        return w.ctx.bad(ptr, fmt::format("expected {} (got {})", what, jr::describe_type(v)));
    };
    if (key == "type") {
        auto known = [](const json& t) {
            return t.is_string() && kTypeNames.count(t.get<std::string>());
        };
        if (v.is_array()) {
            std::set<std::string> seen;
            for (const auto& t : v)
                if (!known(t) || !seen.insert(t.get<std::string>()).second)
                    return w.ctx.bad(ptr, "expected distinct type names");
            return expect(!v.empty(), "a non-empty array");
        }
        return expect(known(v),
                      "a type name (null, boolean, object, array, number, integer, string)");
    }
    if (key == "properties") return expect(v.is_object(), "object");
    if (key == "additionalProperties")
        return expect(v.is_object() || v.is_boolean(), "object or boolean");
    if (key == "required") {
        if (!v.is_array()) return expect(false, "array");
        std::set<std::string> seen;
        for (const auto& n : v)
            if (!n.is_string() || !seen.insert(n.get<std::string>()).second)
                return w.ctx.bad(ptr, "expected an array of distinct property names");
        return {};
    }
    if (key == "enum") return expect(v.is_array() && !v.empty(), "a non-empty array");
    if (key == "examples") return expect(v.is_array(), "array");
    if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
        key == "exclusiveMaximum")
        return expect(v.is_number(), "number");
    if (key == "minLength" || key == "maxLength" || key == "minItems" || key == "maxItems")
        return expect(is_count(v), "non-negative integer");
    if (key == "pattern" || key == "title" || key == "description" || key == "$comment")
        return expect(v.is_string(), "string");
    if (key == "uniqueItems") return expect(v.is_boolean(), "boolean");
    if (key == "items") {
        if (v.is_array() && w.draft2020)
            return w.ctx.bad(ptr,
                             "array-form \"items\" is draft-07 only (2020-12 calls it "
                             "prefixItems, which is not supported)");
        return expect(v.is_object() || v.is_boolean() || v.is_array(),
                      "schema or array of schemas");
    }
    if (key == "$schema") {
        static const std::set<std::string, std::less<>> kDialects = {
            "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema",
            "https://json-schema.org/draft/2020-12/schema"};
        if (!v.is_string() || !kDialects.count(v.get<std::string>()))
            return w.ctx.bad(ptr, "unsupported dialect (use draft-07 or 2020-12)");
    }
    return {};  // const, default: any value
}

// The per-node checks that pair keywords, then the strictness rewrite.
Result<void> check_pairs(const SchemaWalk& w, json& node, const std::string& ptr) {
    if (const json* p = member(node, "pattern")) {
        std::regex re;
        if (auto why = compile_pattern(p->get<std::string>(), re))
            return w.ctx.bad(ptr + "/pattern", fmt::format("invalid regular expression: {}", *why));
        const json* max = member(node, "maxLength");
        if (max == nullptr || max->get<uint64_t>() > kMaxPatternSubject)
            return w.ctx.bad(ptr + "/pattern",
                             fmt::format("\"pattern\" needs \"maxLength\" of at most {} beside it "
                                         "(bounds the regex work on untrusted input)",
                                         kMaxPatternSubject));
    }
    if (is_true(member(node, "uniqueItems"))) {
        const json* max = member(node, "maxItems");
        if (max == nullptr || max->get<uint64_t>() > kMaxUniqueItems)
            return w.ctx.bad(ptr + "/uniqueItems",
                             fmt::format("\"uniqueItems\" needs \"maxItems\" of at most {} beside "
                                         "it (the check is quadratic)",
                                         kMaxUniqueItems));
    }
    const json* type = member(node, "type");
    bool objects = member(node, "properties") != nullptr ||
                   (type != nullptr &&
                    (type->is_string()
                         ? *type == "object"
                         : std::find(type->begin(), type->end(), json("object")) != type->end()));
    if (objects && member(node, "additionalProperties") == nullptr)
        node["additionalProperties"] = false;  // strict: MCP tools reject unknown arguments
    if (is_false(member(node, "additionalProperties")))
        if (const json* req = member(node, "required")) {
            const json* props = member(node, "properties");
            for (size_t i = 0; i < req->size(); ++i)
                if (props == nullptr || member(*props, (*req)[i].get<std::string>()) == nullptr)
                    return w.ctx.bad(ptr + "/required/" + std::to_string(i),
                                     "required property is not in \"properties\", and "
                                     "additionalProperties is false: no value can satisfy it");
        }
    return {};
}

Result<void> check_schema(const SchemaWalk& w, json& node, const std::string& ptr, size_t depth) {
    if (depth > kMaxSchemaDepth)
        return w.ctx.bad(ptr, fmt::format("subschemas nested more than {} deep", kMaxSchemaDepth));
    if (node.is_boolean()) return {};
    if (!node.is_object())
        return w.ctx.bad(ptr, fmt::format("a schema must be an object or a boolean (got {})",
                                          jr::describe_type(node)));
    for (const auto& [key, value] : node.items()) {
        std::string at = ptr + "/" + jr::escape_token(key);
        if (!is_supported(key))
            return w.ctx.bad(
                at, fmt::format("unsupported JSON Schema keyword \"{}\" (supported: {})", key,
                                supported_list()));
        if (key == "$schema" && depth > 0)
            return w.ctx.bad(at, "\"$schema\" is allowed only at the top level");
        SBX_TRY(check_shape(w, key, value, at));
    }
    SBX_TRY(check_pairs(w, node, ptr));
    if (auto it = node.find("properties"); it != node.end())
        for (auto& [name, sub] : it->items())
            SBX_TRY(check_schema(w, sub, ptr + "/properties/" + jr::escape_token(name), depth + 1));
    if (auto it = node.find("additionalProperties"); it != node.end())
        SBX_TRY(check_schema(w, *it, ptr + "/additionalProperties", depth + 1));
    if (auto it = node.find("items"); it != node.end()) {
        if (it->is_array()) {
            for (size_t i = 0; i < it->size(); ++i)
                SBX_TRY(check_schema(w, (*it)[i], ptr + "/items/" + std::to_string(i), depth + 1));
        } else {
            SBX_TRY(check_schema(w, *it, ptr + "/items", depth + 1));
        }
    }
    return {};
}

// Every "default" must be a value its own (rewritten) schema accepts.
Result<void> check_defaults(const jr::Context& ctx, const json& schema) {
    std::optional<sandbox::Unexpected> bad;
    for_each_schema(schema, "", [&](const json& node, const std::string& ptr) {
        const json* d = member(node, "default");
        if (d == nullptr || bad) return;
        auto impl = build(node, ctx);
        if (!impl) {
            bad = sandbox::fail(std::move(impl).error());
            return;
        }
        std::vector<Violation> v = run(**impl, *d);
        if (!v.empty())
            bad =
                ctx.bad(ptr + "/default",
                        fmt::format("default value does not match its schema: {}{}{}", v[0].pointer,
                                    v[0].pointer.empty() ? "" : ": ", v[0].message));
    });
    if (bad) return std::move(*bad);
    return {};
}

}  // namespace

const std::vector<std::string>& supported_keywords() {
    // clang-format off
    static const std::vector<std::string> kKeywords = {
        "type", "properties", "required", "additionalProperties", "enum", "const", "minimum",
        "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
        "items", "minItems", "maxItems", "uniqueItems", "default",
        "title", "description", "examples", "$schema", "$comment"};
    // clang-format on
    return kKeywords;
}

Validator::Validator(json schema, std::shared_ptr<Impl> impl)
    : schema_(std::move(schema)), impl_(std::move(impl)) {}

Result<std::shared_ptr<const Validator>> Validator::compile(const json& schema,
                                                            std::string_view label) {
    jr::Context ctx(label);
    if (!schema.is_object())
        return ctx.bad("", fmt::format("the schema must be a JSON object (got {})",
                                       jr::describe_type(schema)));
    const json* type = member(schema, "type");
    if (type == nullptr) return ctx.bad("", "the top-level schema needs \"type\": \"object\"");
    if (*type != "object")
        return ctx.bad("/type", "the top-level schema needs \"type\": \"object\"");
    SchemaWalk w{ctx, false};
    if (const json* dialect = member(schema, "$schema"))
        w.draft2020 = dialect->is_string() &&
                      dialect->get<std::string>().find("2020-12") != std::string::npos;
    json published = schema;
    SBX_TRY(check_schema(w, published, "", 0));
    SBX_TRY(check_defaults(ctx, published));
    auto impl = build(published, ctx);
    if (!impl) return sandbox::fail(std::move(impl).error());
    return std::shared_ptr<const Validator>(
        std::make_shared<const Validator>(std::move(published), std::move(*impl)));
}

}  // namespace runtime::schema
