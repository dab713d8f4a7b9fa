// Internals shared by json_schema.cc (instance validation) and json_schema_compile.cc (compile()'s
// schema checks), plus test-only entry points. Not for production callers: validate_raw skips
// compile()'s checks and strictness rewrite.
#pragma once

#if !defined(VALIJSON_USE_EXCEPTIONS) || !VALIJSON_USE_EXCEPTIONS
// Without it valijson prints to std::cerr and calls abort() on a schema it cannot parse.
#error "build with VALIJSON_USE_EXCEPTIONS=1 (set on tooljail_runtime in CMakeLists.txt)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <valijson/schema.hpp>

#include "runtime/base/json_reader.h"
#include "runtime/tools/json_schema.h"
#include "sandbox/base/result.h"

namespace runtime::schema {

struct Validator::Impl {
    nlohmann::json schema;      // as validated against; the regexes below point into it
    valijson::Schema compiled;  // schema minus "pattern" and "uniqueItems"
    std::unordered_map<const nlohmann::json*, std::regex> patterns;  // schema node -> "pattern"
};

namespace detail {

// libstdc++ extension: the polynomial (BFS) executor; it refuses backreferences.
inline constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;

inline const nlohmann::json* member(const nlohmann::json& s, std::string_view key) {
    if (!s.is_object()) return nullptr;
    auto it = s.find(key);
    return it == s.end() ? nullptr : &*it;
}

inline bool is_true(const nlohmann::json* j) {
    return j != nullptr && j->is_boolean() && j->get<bool>();
}
inline bool is_false(const nlohmann::json* j) {
    return j != nullptr && j->is_boolean() && !j->get<bool>();
}
inline bool is_count(const nlohmann::json& j) {
    return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}

// The subschema that applies to member key / element index of a value under schema s, within
// the supported subset (patternProperties, additionalItems and combinators are not followed).
inline const nlohmann::json* child_schema(const nlohmann::json* s, const nlohmann::json& parent,
                                          const std::string& token, size_t index) {
    if (s == nullptr || !s->is_object()) return nullptr;
    if (parent.is_object()) {
        const nlohmann::json* props = member(*s, "properties");
        if (props != nullptr && props->is_object())
            if (const nlohmann::json* p = member(*props, token)) return p;
        return member(*s, "additionalProperties");
    }
    const nlohmann::json* items = member(*s, "items");
    if (items == nullptr || !items->is_array()) return items;
    return index < items->size() ? &(*items)[index] : nullptr;
}

// Calls fn(node, pointer) on every schema object at the supported subset's subschema positions
// (properties/*, additionalProperties, items), parents first.
template <typename J, typename Fn>
void for_each_schema(J& node, const std::string& ptr, const Fn& fn) {
    if (!node.is_object()) return;
    fn(node, ptr);
    if (auto it = node.find("properties"); it != node.end() && it->is_object())
        for (auto& [name, sub] : it->items())
            for_each_schema(sub, ptr + "/properties/" + json_reader::escape_token(name), fn);
    if (auto it = node.find("additionalProperties"); it != node.end())
        for_each_schema(*it, ptr + "/additionalProperties", fn);
    if (auto it = node.find("items"); it != node.end() && it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i)
            for_each_schema((*it)[i], ptr + "/items/" + std::to_string(i), fn);
    } else if (it != node.end()) {
        for_each_schema(*it, ptr + "/items", fn);
    }
}

// Compiles the patterns and hands valijson the schema without the keywords we check ourselves.
// Defined in json_schema_compile.cc.
sandbox::Result<std::shared_ptr<Validator::Impl>> build(nlohmann::json schema,
                                                        const json_reader::Context& ctx);

// Guard, then check; exceptions (bad_alloc, regex_error) become a violation, not a crash.
// Defined in json_schema.cc.
std::vector<Violation> run(const Validator::Impl& impl, const nlohmann::json& instance);

// Validates instance (any JSON type) against schema exactly as written: no supported-keyword
// check, no additionalProperties default, no maxLength requirement. It runs the same pipeline as
// Validator::validate (instance limits, our "pattern" matcher, valijson, error conversion), so
// the official JSON-Schema-Test-Suite can exercise valijson and the conversion together. A
// "pattern" without "maxLength" is matched only against strings up to kMaxPatternSubject
// characters. Errors: the schema cannot be parsed (valijson's message) or has a bad pattern.
sandbox::Result<std::vector<Violation>> validate_raw(const nlohmann::json& schema,
                                                     const nlohmann::json& instance);

}  // namespace detail

}  // namespace runtime::schema
