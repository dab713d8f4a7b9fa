// Tool-argument validation: our checks around valijson.
//
// Who does what, and why:
//  - compile() (json_schema_compile.cc) walks the schema itself (keyword allow-list, keyword
//    shapes, strictness rewrite, pattern/maxLength and uniqueItems/maxItems pairing, defaults)
//    because valijson accepts any keyword it does not know, and reads several loosely
//    ("additionalProperties": "false" is a boolean to it).
//  - valijson checks type, properties, required, additionalProperties, enum, const, the numeric
//    bounds, minLength/maxLength, items and minItems/maxItems.
//  - We check "pattern" and "uniqueItems" ourselves and strip them from the schema valijson sees.
//    valijson runs "pattern" through std::regex's default executor, which is backtracking and
//    recursive: measured on g++ 12, ^(a|b)*$ overflows an 8 MiB stack at ~11k characters (~2.6k
//    under ASan), ^[a-z]*$ overflows a 1 MiB thread stack below 4096, and ^(a|aa)*$ takes 6.6 s
//    on 40 characters. libstdc++'s __polynomial flag selects the Thompson-NFA executor instead:
//    the same match/no-match answer, O(length x states) time, stack independent of the subject.
//    valijson checks uniqueItems pairwise and records one error per equal pair, so 256 equal
//    items would queue 32640 errors; ours stops at the first pair.
//  - Instance limits come first (depth, node count, U+0000) because valijson recurses per level
//    and keeps an error record per failing value, and because its string length is strlen():
//    "a\u0000" + 1 MiB passes "maxLength": 10 in valijson.
//  - A fresh valijson::Validator per call: it owns a mutable regex cache, so sharing one across
//    threads would race. The parsed valijson::Schema and our compiled regexes are only read.
#include "runtime/tools/json_schema.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "runtime/base/json_reader.h"
#include "runtime/tools/json_schema_internal.h"

namespace runtime::schema {

using nlohmann::json;
using sandbox::Result;
namespace jr = runtime::json_reader;
using detail::child_schema;
using detail::is_count;
using detail::is_false;
using detail::is_true;
using detail::member;

namespace {

constexpr size_t kEchoBytes = 64;

// JSON strings from nlohmann are valid UTF-8, so characters = bytes that are not continuations.
size_t code_points(const std::string& s) {
    return static_cast<size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The first kEchoBytes bytes of s, cut on a UTF-8 boundary so the reply stays valid JSON.
std::string_view cut(std::string_view s) {
    if (s.size() <= kEchoBytes) return s;
    size_t n = kEchoBytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

// Text for a message: cut, then JSON-quoted so that it stays on one line.
std::string echo_text(std::string_view s) {
    std::string_view head = cut(s);
    return json(std::string(head)).dump(-1, ' ', false, json::error_handler_t::replace) +
           (head.size() < s.size() ? "..." : "");
}

// An instance value for a message: scalars (strings cut), containers only described.
std::string echo(const json* v) {
    if (v == nullptr) return "the value";
    if (v->is_string()) return echo_text(v->get_ref<const std::string&>());
    if (v->is_array()) return fmt::format("an array of {} items", v->size());
    if (v->is_object()) return fmt::format("an object of {} properties", v->size());
    return v->dump();
}

// A schema value (enum list, const, limit) for a message, cut to kEchoBytes.
std::string echo_schema(const json* v) {
    if (v == nullptr) return "?";
    std::string s = v->dump(-1, ' ', false, json::error_handler_t::replace);
    std::string_view head = cut(s);
    return head.size() < s.size() ? std::string(head) + "..." : s;
}

std::string type_of(const json* v) {
    if (v == nullptr) return "?";
    if (v->is_number_integer()) return "integer";
    return v->type_name();
}

// ---- instance limits (schema-independent) ----

struct Guard {
    size_t nodes = 0;
    std::string ptr;
    std::optional<Violation> found;
};

// Recursion is bounded: containers below kMaxInstanceDepth are reported, not entered.
void guard_walk(Guard& g, const json& v, size_t depth) {
    if (g.found) return;
    if (++g.nodes > kMaxInstanceNodes) {
        g.found = Violation{
            "", "size", fmt::format("arguments hold more than {} JSON values", kMaxInstanceNodes)};
        return;
    }
    if (v.is_string()) {
        if (v.get_ref<const std::string&>().find('\0') != std::string::npos)
            g.found = Violation{g.ptr, "nul", "strings may not contain U+0000"};
        return;
    }
    if (!v.is_structured()) return;
    if (depth > kMaxInstanceDepth) {
        g.found = Violation{g.ptr, "depth",
                            fmt::format("nested deeper than {} levels", kMaxInstanceDepth)};
        return;
    }
    size_t len = g.ptr.size();
    size_t index = 0;
    for (auto it = v.begin(); it != v.end() && !g.found; ++it, ++index) {
        g.ptr += '/';
        g.ptr += v.is_object() ? jr::escape_token(it.key()) : std::to_string(index);
        guard_walk(g, *it, depth + 1);
        g.ptr.resize(len);
    }
}

std::optional<Violation> guard(const json& instance) {
    Guard g;
    guard_walk(g, instance, 1);
    return std::move(g.found);
}

// ---- our keywords: pattern, uniqueItems, and every unknown property ----

struct Walk {
    const Validator::Impl& impl;
    std::vector<Violation> out;
    bool fatal = false;  // a check valijson must not run after
    std::string ptr;
};

void check_string(Walk& w, const json& s, const std::string& str) {
    auto re = w.impl.patterns.find(&s);
    if (re == w.impl.patterns.end()) return;
    size_t len = code_points(str);
    const json* max = member(s, "maxLength");
    if (max != nullptr && max->is_number() && static_cast<double>(len) > max->get<double>())
        return;  // valijson reports maxLength; an over-long subject is not matched
    if (max == nullptr && len > kMaxPatternSubject) {
        w.out.push_back({w.ptr, "pattern",
                         fmt::format("string of {} characters is too long to match against a "
                                     "pattern (limit {})",
                                     len, kMaxPatternSubject)});
        return;
    }
    if (!std::regex_search(str, re->second))
        w.out.push_back({w.ptr, "pattern",
                         fmt::format("{} does not match the pattern {}", echo_text(str),
                                     echo_schema(member(s, "pattern")))});
}

void check_unique(Walk& w, const json& s, const json& arr) {
    if (!is_true(member(s, "uniqueItems"))) return;
    const json* max = member(s, "maxItems");
    size_t limit = kMaxUniqueItems;
    if (max != nullptr && is_count(*max)) limit = std::min<size_t>(limit, max->get<size_t>());
    if (arr.size() > limit) {
        // Quadratic work on untrusted input: refuse before valijson runs at all.
        w.fatal = true;
        if (limit < kMaxUniqueItems)
            w.out.push_back(
                {w.ptr, "maxItems",
                 fmt::format("array of {} items is longer than maxItems {}", arr.size(), limit)});
        else
            w.out.push_back({w.ptr, "uniqueItems",
                             fmt::format("array of {} items is too long to check for duplicates "
                                         "(limit {})",
                                         arr.size(), kMaxUniqueItems)});
        return;
    }
    // nlohmann's == is JSON Schema equality: 1 == 1.0, false != 0, objects ignore key order.
    for (size_t i = 0; i < arr.size(); ++i)
        for (size_t j = i + 1; j < arr.size(); ++j)
            if (arr[i] == arr[j]) {
                w.out.push_back({w.ptr, "uniqueItems",
                                 fmt::format("items {} and {} are equal; uniqueItems requires "
                                             "distinct items",
                                             i, j)});
                return;
            }
}

void walk(Walk& w, const json* s, const json& v) {
    if (s == nullptr || !s->is_object()) return;
    if (v.is_string()) return check_string(w, *s, v.get_ref<const std::string&>());
    if (v.is_array()) check_unique(w, *s, v);
    if (!v.is_structured() || w.fatal) return;
    // valijson names only the first unknown property of an object; we name them all (valijson's
    // duplicate is dropped later). patternProperties is not ours to interpret: leave it to them.
    bool closed = v.is_object() && is_false(member(*s, "additionalProperties")) &&
                  member(*s, "patternProperties") == nullptr;
    const json* props = member(*s, "properties");
    size_t len = w.ptr.size();
    size_t index = 0;
    for (auto it = v.begin(); it != v.end() && !w.fatal; ++it, ++index) {
        std::string token = v.is_object() ? it.key() : std::to_string(index);
        w.ptr += '/';
        w.ptr += jr::escape_token(token);
        if (closed && (props == nullptr || member(*props, token) == nullptr))
            w.out.push_back({w.ptr, "additionalProperties",
                             fmt::format("unknown property {}", echo_text(token))});
        walk(w, child_schema(s, v, token, index), *it);
        w.ptr.resize(len);
    }
}

// ---- valijson's errors -> Violations ----

struct Raw {
    std::vector<std::string> tokens;  // instance path
    std::string keyword;
    std::string detail;           // the missing property, or valijson's text when unmapped
    bool cascade = false;         // "a child failed" summary: dropped when the child has its own
    bool strictly_below = false;  // cascade whose child is unknown: dropped if anything is below
};

bool take(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    s.remove_prefix(prefix.size());
    return true;
}

// The quoted name in "...'NAME'." (valijson does not escape quotes inside names; take the last).
std::string quoted_tail(std::string_view rest) {
    if (rest.size() >= 2 && rest.substr(rest.size() - 2) == "'.") rest.remove_suffix(2);
    return std::string(rest);
}

// Maps valijson 1.0's error descriptions (validation_visitor.hpp) to the failing keyword.
Raw classify(std::vector<std::string> tokens, std::string_view d) {
    Raw r{std::move(tokens), "", "", false, false};
    auto set = [&r](const char* kw) { r.keyword = kw; };
    auto child = [&r](std::string name) { r.tokens.push_back(std::move(name)); };
    std::string_view rest = d;
    if (take(rest, "Missing required property '")) {
        set("required");
        r.detail = quoted_tail(rest);
    } else if (d.starts_with("Value type not permitted")) {
        set("type");
    } else if (d.starts_with("Failed to match against any enum values")) {
        set("enum");
    } else if (d.starts_with("Failed to match expected value set by 'const'")) {
        set("const");
    } else if (d.starts_with("Expected number less than or equal to")) {
        set("maximum");
    } else if (d.starts_with("Expected number less than")) {
        set("exclusiveMaximum");
    } else if (d.starts_with("Expected number greater than or equal to")) {
        set("minimum");
    } else if (d.starts_with("Expected number greater than")) {
        set("exclusiveMinimum");
    } else if (d.starts_with("String should be no more than")) {
        set("maxLength");
    } else if (d.starts_with("String should be no fewer than")) {
        set("minLength");
    } else if (d.starts_with("Failed to match regex specified by 'pattern'")) {
        set("pattern");
    } else if (take(rest,
                    "Object contains a property that could not be validated using "
                    "'properties' or 'additionalProperties' constraints: '")) {
        set("additionalProperties");
        child(quoted_tail(rest));
    } else if (d.starts_with("Array should contain no more than")) {
        set("maxItems");
    } else if (d.starts_with("Array should contain no fewer than")) {
        set("minItems");
    } else if (d.starts_with("Object should have no more than")) {
        set("maxProperties");
    } else if (d.starts_with("Object should have no fewer than")) {
        set("minProperties");
    } else if (take(rest, "Elements at indexes #")) {
        set("uniqueItems");
    } else if (take(rest, "Failed to validate item #")) {
        std::string index(rest.substr(0, rest.find(' ')));
        r.cascade = true;
        if (rest.ends_with(" in array.")) {
            set("items");
            child(index);
        } else if (rest.ends_with("against corresponding item schema.")) {
            set("items");  // context already names the item
        } else {
            set("additionalItems");
            child(index);
        }
    } else if (d.starts_with("Array contains more items than allowed") ||
               d.starts_with("Cannot validate item #")) {
        set("additionalItems");
    } else if (take(rest, "Failed to validate against schema associated with property name '")) {
        set("properties");
        r.cascade = true;
        child(quoted_tail(rest));
    } else if (d.starts_with("Failed to validate against additional properties schema")) {
        set("additionalProperties");
        r.cascade = true;
        r.strictly_below = true;
    } else {
        set("schema");  // outside the supported subset (allOf, format, ...)
        r.detail = std::string(d);
    }
    return r;
}

std::string pointer_of(const std::vector<std::string>& tokens) {
    std::string p;
    for (const auto& t : tokens) p += "/" + jr::escape_token(t);
    return p;
}

// The schema and instance value at a path, following the same subschema positions as walk().
std::pair<const json*, const json*> resolve(const json& schema, const json& instance,
                                            const std::vector<std::string>& tokens) {
    const json* s = &schema;
    const json* v = &instance;
    for (const auto& t : tokens) {
        if (v == nullptr || !v->is_structured()) return {nullptr, nullptr};
        size_t index = 0;
        if (v->is_object()) {
            auto it = v->find(t);
            if (it == v->end()) return {nullptr, nullptr};
            s = child_schema(s, *v, t, 0);
            v = &*it;
        } else {
            auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), index);
            if (ec != std::errc() || ptr != t.data() + t.size() || index >= v->size())
                return {nullptr, nullptr};
            s = child_schema(s, *v, t, index);
            v = &(*v)[index];
        }
    }
    return {s, v};
}

std::string expected_types(const json* s) {
    const json* t = s ? member(*s, "type") : nullptr;
    if (t == nullptr) return "another type";
    if (t->is_string()) return t->get<std::string>();
    std::string out;
    for (const auto& e : *t)
        if (e.is_string()) out += (out.empty() ? "" : " or ") + e.get<std::string>();
    return out;
}

std::string message_for(const Raw& r, const json* s, const json* v) {
    const std::string& k = r.keyword;
    auto limit = [&](const char* kw) { return echo_schema(s ? member(*s, kw) : nullptr); };
    auto length = [&] {
        return v && v->is_string() ? code_points(v->get_ref<const std::string&>()) : 0;
    };
    auto count = [&] { return v && v->is_array() ? v->size() : 0; };
    if (k == "required") return fmt::format("missing required property {}", echo_text(r.detail));
    if (k == "type") return fmt::format("expected {}, got {}", expected_types(s), type_of(v));
    if (k == "enum") return fmt::format("{} is not one of {}", echo(v), limit("enum"));
    if (k == "const")
        return fmt::format("{} is not the required value {}", echo(v), limit("const"));
    if (k == "minimum")
        return fmt::format("{} is less than the minimum {}", echo(v), limit("minimum"));
    if (k == "maximum")
        return fmt::format("{} is greater than the maximum {}", echo(v), limit("maximum"));
    if (k == "exclusiveMinimum")
        return fmt::format("{} is not greater than {} (exclusiveMinimum)", echo(v),
                           limit(k.c_str()));
    if (k == "exclusiveMaximum")
        return fmt::format("{} is not less than {} (exclusiveMaximum)", echo(v), limit(k.c_str()));
    if (k == "minLength")
        return fmt::format("string of {} characters is shorter than minLength {}", length(),
                           limit("minLength"));
    if (k == "maxLength")
        return fmt::format("string of {} characters is longer than maxLength {}", length(),
                           limit("maxLength"));
    if (k == "minItems")
        return fmt::format("array of {} items is shorter than minItems {}", count(),
                           limit("minItems"));
    if (k == "maxItems")
        return fmt::format("array of {} items is longer than maxItems {}", count(),
                           limit("maxItems"));
    if (k == "additionalProperties" && !r.cascade)
        return fmt::format("unknown property {}",
                           echo_text(r.tokens.empty() ? "" : r.tokens.back()));
    if (k == "items") return "item does not match the schema in \"items\"";
    if (k == "properties") return "value is not allowed by the schema for this property";
    if (k == "additionalItems") return "array has more items than the schema allows";
    if (k == "schema") return fmt::format("does not match the schema: {}", echo_text(r.detail));
    return fmt::format("does not satisfy \"{}\"", k);
}

std::vector<Violation> convert(const Validator::Impl& impl, const json& instance,
                               const valijson::ValidationResults& results) {
    std::vector<Raw> raws;
    for (const auto& e : results) {
        std::vector<std::string> tokens;
        for (size_t i = 0; i < e.context.size(); ++i) {
            const std::string& c = e.context[i];
            if (i == 0 && c == "<root>") continue;
            // Each element is "[name]" or "[index]"; names are not escaped, so strip one bracket
            // at each end rather than parse.
            bool bracketed = c.size() >= 2 && c.front() == '[' && c.back() == ']';
            tokens.push_back(bracketed ? c.substr(1, c.size() - 2) : c);
        }
        raws.push_back(classify(std::move(tokens), e.description));
    }
    // A cascade ("a child failed") is dropped when a kept error sits at its child (or strictly
    // below its object, when valijson does not name the child). Real errors are all kept; then
    // cascades are decided deepest first, so a kept one (its child was a `false` schema) can
    // cover its parent's.
    std::set<std::string, std::less<>> at, below;
    auto keep = [&](const Raw& r) {
        for (size_t n = r.tokens.size() + 1; n-- > 0;) {
            std::string p = pointer_of({r.tokens.begin(), r.tokens.begin() + n});
            bool fresh = at.insert(p).second;
            if (n < r.tokens.size()) fresh = below.insert(p).second || fresh;
            if (!fresh) break;
        }
    };
    std::vector<size_t> cascades;
    for (size_t i = 0; i < raws.size(); ++i) {
        if (raws[i].cascade)
            cascades.push_back(i);
        else
            keep(raws[i]);
    }
    std::stable_sort(cascades.begin(), cascades.end(), [&](size_t a, size_t b) {
        return raws[a].tokens.size() > raws[b].tokens.size();
    });
    std::vector<bool> dropped(raws.size(), false);
    for (size_t i : cascades) {
        std::string p = pointer_of(raws[i].tokens);
        dropped[i] = raws[i].strictly_below ? below.count(p) > 0 : at.count(p) > 0;
        if (!dropped[i]) keep(raws[i]);
    }
    std::vector<Violation> out;
    for (size_t i = 0; i < raws.size(); ++i) {
        if (dropped[i]) continue;
        auto [s, v] = resolve(impl.schema, instance, raws[i].tokens);
        out.push_back({pointer_of(raws[i].tokens), raws[i].keyword, message_for(raws[i], s, v)});
    }
    return out;
}

// Our walk, then valijson (unless the walk refused the instance), merged, sorted, capped.
std::vector<Violation> check(const Validator::Impl& impl, const json& instance) {
    Walk w{impl, {}, false, ""};
    walk(w, &impl.schema, instance);
    if (w.fatal) return std::move(w.out);
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    validator.validate(impl.compiled, valijson::adapters::NlohmannJsonAdapter(instance), &results);
    std::vector<Violation> out = std::move(w.out);
    for (auto& v : convert(impl, instance, results)) out.push_back(std::move(v));
    // Sorted for a stable reply; exact duplicates are valijson's first unknown property, which
    // walk() also reported.
    auto fields = [](const Violation& v) { return std::tie(v.pointer, v.keyword, v.message); };
    std::sort(out.begin(), out.end(),
              [&](const Violation& a, const Violation& b) { return fields(a) < fields(b); });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [&](const Violation& a, const Violation& b) { return fields(a) == fields(b); }),
        out.end());
    if (out.size() > kMaxViolations) out.resize(kMaxViolations);
    return out;
}

}  // namespace

namespace detail {

// Guard, then check; exceptions (bad_alloc, regex_error) become a violation, not a crash.
std::vector<Violation> run(const Validator::Impl& impl, const json& instance) {
    try {
        if (auto g = guard(instance)) return {std::move(*g)};
        return check(impl, instance);
    } catch (const std::exception& e) {
        return {{"", "internal",
                 fmt::format("arguments could not be validated: {}", echo_text(e.what()))}};
    }
}

}  // namespace detail

std::vector<Violation> Validator::validate(const json& instance, json* with_defaults) const {
    if (!instance.is_object())
        return {{"", "type", fmt::format("expected object, got {}", type_of(&instance))}};
    try {
        if (auto g = guard(instance)) return {std::move(*g)};
        // Copy only after the guard: json's copy constructor recurses per level.
        json args = instance;
        if (const json* props = member(impl_->schema, "properties"); props && props->is_object())
            for (const auto& [name, sub] : props->items())
                if (const json* d = member(sub, "default"); d && !args.contains(name))
                    args[name] = *d;
        std::vector<Violation> out = check(*impl_, args);
        if (out.empty() && with_defaults != nullptr) *with_defaults = std::move(args);
        return out;
    } catch (const std::exception& e) {
        return {{"", "internal",
                 fmt::format("arguments could not be validated: {}", echo_text(e.what()))}};
    }
}

namespace detail {

Result<std::vector<Violation>> validate_raw(const json& schema, const json& instance) {
    auto impl = build(schema, jr::Context("schema"));
    if (!impl) return sandbox::fail(std::move(impl).error());
    return run(**impl, instance);
}

}  // namespace detail

}  // namespace runtime::schema
