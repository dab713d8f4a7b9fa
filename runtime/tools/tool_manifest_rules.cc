// Internal to runtime/tools/tool_registry.cc: see tool_manifest_rules.h.
#include "runtime/tools/tool_manifest_rules.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace runtime::tool_manifest_rules {

using namespace json_reader;
using nlohmann::json;
using sandbox::fail;
using sandbox::Result;
using Kind = ArgumentRule::Kind;

namespace {

constexpr size_t kMaxArgvElements = 128;
constexpr uint64_t kMaxItems = 1024;
constexpr std::string_view kPrintableMetacharacters = ";&|`$(){}[]<>\\'\"*?!#~";

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

// Tool and argument names: [a-z][a-z0-9_]{0,63}. MCP allows more, but these names are also
// used in error messages, audit records and file names.
// Absolute, no "." / ".." / empty component, no trailing slash, no NUL: what execve gets is
// what a reviewer reads, with no PATH search and no normalisation left to chance.
bool normalized_absolute(std::string_view p) {
    if (p.size() < 2 || p[0] != '/' || p.back() == '/') return false;
    if (p.find('\0') != std::string_view::npos) return false;
    for (std::size_t start = 1; start <= p.size();) {
        std::size_t end = std::min(p.find('/', start), p.size());
        std::string_view comp = p.substr(start, end - start);
        if (comp.empty() || comp == "." || comp == "..") return false;
        start = end + 1;
    }
    return true;
}

namespace {

Result<void> parse_rule(const Context& ctx, const Node& n, ArgumentRule& rule, bool& set_items,
                        bool& set_length) {
    std::string kind = "string";
    if (n.get("kind") == nullptr) return ctx.bad(n.at("kind"), "missing required key");
    SBX_TRY(read_enum(ctx, n, "kind", {"string", "path", "integer", "boolean"}, kind));
    rule.kind = kind == "path"      ? Kind::Path
                : kind == "integer" ? Kind::Integer
                : kind == "boolean" ? Kind::Boolean
                                    : Kind::String;
    bool textual = rule.kind == Kind::String || rule.kind == Kind::Path;
    // A key that cannot apply to the kind is a misunderstanding, not a harmless extra.
    auto only_for = [&](std::string_view key, bool ok, std::string_view what) -> Result<void> {
        if (n.get(key) != nullptr && !ok)
            return ctx.bad(n.at(key),
                           fmt::format("only applies to {} (kind is \"{}\")", what, kind));
        return {};
    };
    SBX_TRY(only_for("allow_leading_dash", textual, "string and path arguments"));
    SBX_TRY(only_for("allow_metacharacters", textual, "string and path arguments"));
    SBX_TRY(only_for("metacharacter_exceptions", textual, "string and path arguments"));
    SBX_TRY(only_for("max_length", textual, "string and path arguments"));
    SBX_TRY(only_for("deny_options", rule.kind == Kind::String, "string arguments"));
    SBX_TRY(only_for("must_exist", rule.kind == Kind::Path, "path arguments"));
    SBX_TRY(only_for("max_items", rule.kind != Kind::Boolean, "array arguments"));

    SBX_TRY(read_bool(ctx, n, "allow_leading_dash", rule.allow_leading_dash));
    SBX_TRY(read_bool(ctx, n, "allow_metacharacters", rule.allow_metacharacters));
    SBX_TRY(read_bool(ctx, n, "must_exist", rule.must_exist));
    SBX_TRY(read_string(ctx, n, "metacharacter_exceptions", rule.metacharacter_exceptions));
    for (char c : rule.metacharacter_exceptions) {
        if (kPrintableMetacharacters.find(c) == std::string_view::npos)
            return ctx.bad(
                n.at("metacharacter_exceptions"),
                fmt::format("'{}' is not a printable metacharacter (allowed: {})",
                            printable(std::string_view(&c, 1)), kPrintableMetacharacters));
    }
    if (const json* deny = n.get("deny_options")) {
        if (!deny->is_array())
            return ctx.bad(n.at("deny_options"),
                           fmt::format("expected array (got {})", describe_type(*deny)));
        for (std::size_t i = 0; i < deny->size(); ++i) {
            const json& opt = (*deny)[i];
            std::string ptr = n.at("deny_options") + "/" + std::to_string(i);
            if (!opt.is_string())
                return ctx.bad(ptr, fmt::format("expected string (got {})", describe_type(opt)));
            const std::string& name = opt.get_ref<const std::string&>();
            bool ok = !name.empty() && name[0] != '-' &&
                      std::all_of(name.begin(), name.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                      });
            if (!ok)
                return ctx.bad(ptr,
                               "expected a long option name without dashes "
                               "(\"compress-program\")");
            rule.deny_options.push_back(name);
        }
    }
    uint64_t v = rule.max_length;
    set_length = n.get("max_length") != nullptr;
    SBX_TRY(read_uint(ctx, n, "max_length", 1, 1ull << 30, v));
    rule.max_length = static_cast<size_t>(v);
    v = rule.max_items;
    set_items = n.get("max_items") != nullptr;
    SBX_TRY(read_uint(ctx, n, "max_items", 1, kMaxItems, v));
    rule.max_items = static_cast<size_t>(v);
    return {};
}

}  // namespace

Result<void> parse_rules(const Context& ctx, const Node& top, ToolDef& tool, RuleExtras& extras) {
    const json* args = top.get("arguments");
    if (args == nullptr) return ctx.bad(top.at("arguments"), "missing required key");
    if (!args->is_object())
        return ctx.bad(top.at("arguments"),
                       fmt::format("expected object (got {})", describe_type(*args)));
    for (const auto& item : args->items()) {
        std::string ptr = top.at("arguments") + "/" + escape_token(item.key());
        if (!valid_tool_name(item.key()))
            return ctx.bad(ptr, "argument names must match [a-z][a-z0-9_]{0,63}");
        auto n = as_object(
            ctx, item.value(), ptr,
            {"kind", "allow_leading_dash", "allow_metacharacters", "metacharacter_exceptions",
             "deny_options", "max_length", "max_items", "must_exist"});
        if (!n) return fail(std::move(n).error());
        ArgumentRule rule;
        bool set_items = false, set_length = false;
        SBX_TRY(parse_rule(ctx, *n, rule, set_items, set_length));
        if (set_items) extras.explicit_max_items.insert(item.key());
        if (set_length) extras.explicit_max_length.insert(item.key());
        tool.rules.emplace(item.key(), std::move(rule));
    }
    return {};
}

Result<void> parse_argv(const Context& ctx, const Node& top, ToolDef& tool) {
    const json* argv = top.get("argv");
    std::string argv_ptr = top.at("argv");
    if (argv == nullptr) return ctx.bad(argv_ptr, "missing required key");
    if (!argv->is_array())
        return ctx.bad(argv_ptr, fmt::format("expected array (got {})", describe_type(*argv)));
    if (argv->empty()) return ctx.bad(argv_ptr, "must name at least the program");
    if (argv->size() > kMaxArgvElements)
        return ctx.bad(argv_ptr, fmt::format("more than {} elements", kMaxArgvElements));
    for (std::size_t i = 0; i < argv->size(); ++i) {
        const json& e = (*argv)[i];
        std::string ptr = argv_ptr + "/" + std::to_string(i);
        ArgvElement el;
        if (e.is_string()) {
            el.literal = e.get<std::string>();
            if (el.literal.empty()) return ctx.bad(ptr, "empty literal");
            if (has_nul(el.literal)) return ctx.bad(ptr, "contains a NUL byte");
            if (i == 0 && !normalized_absolute(el.literal))
                return ctx.bad(ptr, fmt::format("the program must be an absolute, normalised path "
                                                "(no PATH search; got \"{}\")",
                                                el.literal));
            tool.argv.push_back(std::move(el));
            continue;
        }
        if (!e.is_object())
            return ctx.bad(ptr, fmt::format("expected a literal string or a placeholder object "
                                            "(got {})",
                                            describe_type(e)));
        auto n = as_object(ctx, e, ptr, {"arg", "flag", "prefix", "each"});
        if (!n) return fail(std::move(n).error());
        SBX_TRY(read_string(ctx, *n, "arg", el.arg, Presence::Required));
        SBX_TRY(read_string(ctx, *n, "flag", el.flag));
        SBX_TRY(read_string(ctx, *n, "prefix", el.prefix));
        SBX_TRY(read_bool(ctx, *n, "each", el.each));
        if (el.arg.empty()) return ctx.bad(n->at("arg"), "must not be empty");
        if (n->get("flag") != nullptr && el.flag.empty())
            return ctx.bad(n->at("flag"), "must not be empty (omit the key instead)");
        if (n->get("prefix") != nullptr && el.prefix.empty())
            return ctx.bad(n->at("prefix"), "must not be empty (omit the key instead)");
        if (has_nul(el.flag)) return ctx.bad(n->at("flag"), "contains a NUL byte");
        if (has_nul(el.prefix)) return ctx.bad(n->at("prefix"), "contains a NUL byte");
        if (i == 0 && (!el.flag.empty() || el.each))
            return ctx.bad(ptr, "the program placeholder takes neither \"flag\" nor \"each\"");
        tool.argv.push_back(std::move(el));
    }
    return {};
}

}  // namespace runtime::tool_manifest_rules
