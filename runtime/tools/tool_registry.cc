// tools.d manifests -> ToolDef. The manifest is the allowlist: it fixes the program, every
// literal argv element and where each argument may land, so a mistake here is a hole in the
// server. Loading therefore fails closed (STYLE.md section 7): unknown keys, wrong types,
// missing keys and every inconsistency between the schema, the argument rules and the argv
// template are errors naming the file and JSON pointer. docs/TOOLS.md explains each rule.
#include "runtime/tools/tool_registry.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "runtime/base/config_path.h"
#include "runtime/base/json_reader.h"
#include "runtime/tools/tool_manifest_rules.h"
#include "sandbox/base/sys.h"

namespace runtime {

using namespace json_reader;
using nlohmann::json;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;
using Kind = ArgumentRule::Kind;
using tool_manifest_rules::normalized_absolute;
using tool_manifest_rules::RuleExtras;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
// execve(2) refuses a single argv string longer than MAX_ARG_STRLEN (32 pages, NUL included).
constexpr uint64_t kMaxArgvValue = 131071;
constexpr size_t kMaxDescription = 8192;

std::string file_stem(std::string_view label) {
    std::size_t slash = label.rfind('/');
    std::string_view base = slash == std::string_view::npos ? label : label.substr(slash + 1);
    if (base.size() > 5 && base.substr(base.size() - 5) == ".json") base.remove_suffix(5);
    return std::string(base);
}

const json* member(const json& j, std::string_view key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(std::string(key));
    return it == j.end() ? nullptr : &*it;
}

// A string member that must be present and non-empty.
Result<void> read_text(const Context& ctx, const Node& n, std::string_view key, std::string& out,
                       std::size_t max_size) {
    SBX_TRY(read_string(ctx, n, key, out, Presence::Required));
    if (out.empty()) return ctx.bad(n.at(key), "must not be empty");
    if (out.size() > max_size)
        return ctx.bad(n.at(key), fmt::format("longer than {} bytes", max_size));
    return {};
}

// All four hints are required: the MCP defaults (not read-only, destructive, open-world) are
// the pessimistic ones, and a manifest must state what its tool really does.
Result<void> parse_annotations(const Context& ctx, const Node& top, ToolDef& tool) {
    static constexpr std::string_view kHints[] = {"readOnlyHint", "destructiveHint",
                                                  "idempotentHint", "openWorldHint"};
    auto node = sub_object(ctx, top, "annotations", {kHints[0], kHints[1], kHints[2], kHints[3]});
    if (!node) return fail(std::move(node).error());
    if (!*node) return ctx.bad(top.at("annotations"), "missing required key");
    json out = json::object();
    for (std::string_view hint : kHints) {
        if ((*node)->get(hint) == nullptr)
            return ctx.bad((*node)->at(hint), "missing required key (state every hint)");
        bool value = false;
        SBX_TRY(read_bool(ctx, **node, hint, value));
        out[std::string(hint)] = value;
    }
    if (out["readOnlyHint"].get<bool>() && out["destructiveHint"].get<bool>())
        return ctx.bad((*node)->at("destructiveHint"),
                       "a read-only tool cannot be destructive (readOnlyHint is true)");
    tool.annotations = std::move(out);
    return {};
}

Result<void> parse_limits(const Context& ctx, const Node& top, const Policy& policy,
                          ToolDef& tool) {
    auto node = sub_object(ctx, top, "limits", {"wall_timeout_ms", "memory_mb", "output_bytes"});
    if (!node) return fail(std::move(node).error());
    if (!*node) return {};
    const Node& n = **node;
    const sandbox::Limits& lim = policy.sandbox.limits;
    // Bounded by the policy: a tool may ask for less than its policy, never more, so the policy
    // file stays the one place that states the most a run can take.
    auto read = [&](std::string_view key, uint64_t policy_max, std::string_view policy_key,
                    std::optional<uint64_t>& out) -> Result<void> {
        const json* v = n.get(key);
        if (v == nullptr) return {};
        uint64_t got = 0;
        SBX_TRY(check_uint(ctx, *v, n.at(key), 1, UINT64_MAX, got));
        if (policy_max != 0 && got > policy_max)
            return ctx.bad(n.at(key),
                           fmt::format("{} exceeds policy \"{}\" ({} {}): tools may only tighten",
                                       got, policy.name, policy_key, policy_max));
        out = got;
        return {};
    };
    std::optional<uint64_t> wall, memory_mb, output;
    SBX_TRY(read("wall_timeout_ms", static_cast<uint64_t>(lim.wall_timeout.count()),
                 "wall_timeout_ms", wall));
    SBX_TRY(read("memory_mb", lim.memory_bytes / kMiB, "memory_mb", memory_mb));
    SBX_TRY(read("output_bytes", lim.stdout_bytes, "stdout_bytes", output));
    if (memory_mb && *memory_mb < 8)
        return ctx.bad(n.at("memory_mb"), fmt::format("must be at least 8 (got {})", *memory_mb));
    if (wall) tool.limits.wall_timeout = sandbox::Millis(static_cast<int64_t>(*wall));
    if (memory_mb) tool.limits.memory_bytes = *memory_mb * kMiB;
    tool.limits.output_bytes = output;
    return {};
}

const char* schema_type_for(Kind kind) {
    switch (kind) {
        case Kind::Integer: return "integer";
        case Kind::Boolean: return "boolean";
        case Kind::String:
        case Kind::Path: break;
    }
    return "string";
}

std::string type_of(const json& prop) {
    const json* t = member(prop, "type");
    return t != nullptr && t->is_string() ? t->get<std::string>() : std::string();
}

// argv[0] from an argument: only a closed set of programs, written out in the schema's enum,
// each an absolute path once the prefix is applied. Anything else would let a caller pick the
// program.
Result<void> check_program_arg(const Context& ctx, const json& schema, ToolDef& tool,
                               const json& prop) {
    const ArgvElement& el = tool.argv[0];
    std::string ptr = "/argv/0/arg";
    const json* values = member(prop, "enum");
    if (type_of(prop) != "string" || values == nullptr || !values->is_array() || values->empty())
        return ctx.bad(ptr, fmt::format("the program may only come from an argument whose schema "
                                        "is a string \"enum\" (\"{}\" has none)",
                                        el.arg));
    for (const json& v : *values) {
        std::string program = el.prefix + (v.is_string() ? v.get<std::string>() : std::string());
        if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
            !normalized_absolute(program))
            return ctx.bad("/inputSchema/properties/" + escape_token(el.arg) + "/enum",
                           fmt::format("every value must give an absolute, normalised program "
                                       "path with prefix \"{}\" (got {})",
                                       el.prefix, v.dump()));
        tool.programs.push_back(program);
    }
    bool required = false;
    if (const json* req = member(schema, "required"); req != nullptr && req->is_array())
        required = std::find(req->begin(), req->end(), json(el.arg)) != req->end();
    if (!required && member(prop, "default") == nullptr)
        return ctx.bad(ptr, fmt::format("the program argument \"{}\" must be required or have a "
                                        "default",
                                        el.arg));
    return {};
}

// The schema, the rules and the template must describe the same arguments: every property has
// a rule, every rule a property, every argument exactly one placeholder (or it is the stdin
// argument), and the rule's kind agrees with the schema's type.
Result<void> cross_check(const Context& ctx, const json& schema, const Policy& policy,
                         const RuleExtras& extras, ToolDef& tool) {
    json empty = json::object();
    const json* props = member(schema, "properties");
    if (props == nullptr) props = &empty;
    if (!props->is_object()) return ctx.bad("/inputSchema/properties", "expected object");
    for (const auto& item : props->items()) {
        if (tool.rules.count(item.key()) == 0)
            return ctx.bad("/arguments/" + escape_token(item.key()),
                           "missing rule: every inputSchema property needs one");
    }
    for (const auto& [name, rule] : tool.rules) {
        if (!props->contains(name))
            return ctx.bad("/arguments/" + escape_token(name),
                           "no such property in /inputSchema/properties");
    }

    // Placeholders: each names an argument, each argument is used once.
    std::map<std::string, std::size_t> used;  // argument -> argv index
    bool seen_operand = false;
    for (std::size_t i = 0; i < tool.argv.size(); ++i) {
        const ArgvElement& el = tool.argv[i];
        std::string ptr = "/argv/" + std::to_string(i);
        if (el.is_literal()) {
            if (tool.end_of_options && el.literal == "--")
                return ctx.bad(ptr,
                               "literal \"--\" together with end_of_options (it would "
                               "appear twice)");
            if (tool.end_of_options && seen_operand && el.literal[0] == '-')
                return ctx.bad(ptr,
                               "option after the first operand: with end_of_options it "
                               "would follow \"--\" and be read as an operand");
            continue;
        }
        auto rule = tool.rules.find(el.arg);
        if (rule == tool.rules.end()) {
            std::vector<std::string> names;
            for (const auto& r : tool.rules) names.push_back(r.first);
            return ctx.bad(ptr + "/arg",
                           fmt::format("names no argument (arguments: {})",
                                       names.empty() ? std::string("none")
                                                     : fmt::format("{}", fmt::join(names, ", "))));
        }
        if (auto [it, fresh] = used.emplace(el.arg, i); !fresh)
            return ctx.bad(ptr + "/arg",
                           fmt::format("argument \"{}\" already has a placeholder at /argv/{}",
                                       el.arg, it->second));
        const ArgumentRule& r = rule->second;
        const json& prop = (*props)[el.arg];
        std::string prop_ptr = "/inputSchema/properties/" + escape_token(el.arg);
        if (r.kind == Kind::Boolean && (el.flag.empty() || !el.prefix.empty() || el.each))
            return ctx.bad(ptr,
                           "a boolean argument renders only as a flag: give \"flag\", and "
                           "neither \"prefix\" nor \"each\"");
        if (i > 0 && tool.end_of_options && seen_operand && !el.is_operand())
            return ctx.bad(ptr,
                           "option after the first operand: with end_of_options it would "
                           "follow \"--\" and be read as an operand");
        if (i > 0 && el.is_operand()) seen_operand = true;
        // Kind versus schema type.
        std::string want = schema_type_for(r.kind);
        if (el.each) {
            const json* items = member(prop, "items");
            if (type_of(prop) != "array" || items == nullptr || type_of(*items) != want)
                return ctx.bad(prop_ptr, fmt::format("\"each\" needs an array schema whose items "
                                                     "have type \"{}\" (rule kind \"{}\")",
                                                     want, kind_name(r.kind)));
        } else {
            if (type_of(prop) != want)
                return ctx.bad(prop_ptr,
                               fmt::format("must have type \"{}\" to match rule kind "
                                           "\"{}\" (got {})",
                                           want, kind_name(r.kind),
                                           type_of(prop).empty() ? std::string("no single type")
                                                                 : "\"" + type_of(prop) + "\""));
            if (extras.explicit_max_items.count(el.arg) != 0)
                return ctx.bad("/arguments/" + escape_token(el.arg) + "/max_items",
                               "only applies to array arguments (\"each\": true)");
        }
        if (r.max_length > kMaxArgvValue)
            return ctx.bad("/arguments/" + escape_token(el.arg) + "/max_length",
                           fmt::format("an argv value can hold at most {} bytes", kMaxArgvValue));
    }

    if (!tool.argv[0].is_literal()) {
        const ArgvElement& el = tool.argv[0];
        if (tool.rules.at(el.arg).kind != Kind::String)
            return ctx.bad("/argv/0/arg", "the program argument must have kind \"string\"");
        SBX_TRY(check_program_arg(ctx, schema, tool, (*props)[el.arg]));
    }

    if (tool.stdin_arg) {
        const std::string& name = *tool.stdin_arg;
        auto rule = tool.rules.find(name);
        if (rule == tool.rules.end())
            return ctx.bad("/stdin", fmt::format("names no argument (\"{}\")", name));
        if (auto it = used.find(name); it != used.end())
            return ctx.bad("/stdin", fmt::format("argument \"{}\" already has a placeholder at "
                                                 "/argv/{}",
                                                 name, it->second));
        if (rule->second.kind != Kind::String || type_of((*props)[name]) != "string")
            return ctx.bad("/stdin",
                           "the stdin argument must have kind \"string\" and schema "
                           "type \"string\"");
        uint64_t cap = policy.sandbox.limits.stdin_bytes;
        if (cap == 0)
            return ctx.bad("/stdin", fmt::format("policy \"{}\" allows no stdin (stdin_bytes 0)",
                                                 policy.name));
        if (extras.explicit_max_length.count(name) == 0)
            return ctx.bad("/arguments/" + escape_token(name) + "/max_length",
                           "missing: the stdin argument must state its size cap");
        if (rule->second.max_length > cap)
            return ctx.bad("/arguments/" + escape_token(name) + "/max_length",
                           fmt::format("{} exceeds policy \"{}\" stdin_bytes {}",
                                       rule->second.max_length, policy.name, cap));
        if (extras.explicit_max_items.count(name) != 0)
            return ctx.bad("/arguments/" + escape_token(name) + "/max_items",
                           "only applies to array arguments (\"each\": true)");
    }
    if (tool.stdin_file_arg) {
        const std::string& name = *tool.stdin_file_arg;
        auto rule = tool.rules.find(name);
        if (rule == tool.rules.end())
            return ctx.bad("/stdin_file", fmt::format("names no argument (\"{}\")", name));
        if (tool.stdin_arg)
            return ctx.bad("/stdin_file", "a tool has one stdin: not with \"stdin\"");
        if (auto it = used.find(name); it != used.end())
            return ctx.bad("/stdin_file", fmt::format("argument \"{}\" already has a placeholder "
                                                      "at /argv/{}",
                                                      name, it->second));
        if (rule->second.kind != Kind::Path || type_of((*props)[name]) != "string")
            return ctx.bad("/stdin_file",
                           "the stdin_file argument must have kind \"path\" and schema type "
                           "\"string\"");
    }
    for (const auto& [name, rule] : tool.rules) {
        if (used.count(name) == 0 && tool.stdin_arg != name && tool.stdin_file_arg != name)
            return ctx.bad("/arguments/" + escape_token(name),
                           "used by no argv placeholder and not a stdin argument");
    }
    return {};
}

}  // namespace

Result<ToolDef> parse_tool(std::string_view json_text, std::string_view file_label,
                           const PolicySet& policies) {
    Context ctx(file_label);
    auto doc = parse(ctx, json_text);
    if (!doc) return fail(std::move(doc).error());
    auto top = as_object(ctx, *doc, "",
                         {"name", "title", "description", "inputSchema", "outputSchema",
                          "annotations", "risk", "argv", "end_of_options", "policy", "stdin",
                          "stdin_file", "limits", "arguments", "enabled", "success_exit_codes"});
    if (!top) return fail(std::move(top).error());

    ToolDef tool;
    tool.path = std::string(file_label);
    tool.source = std::string(json_text);
    SBX_TRY(read_string(ctx, *top, "name", tool.name, Presence::Required));
    if (!valid_tool_name(tool.name))
        return ctx.bad("/name", fmt::format("must match [a-z][a-z0-9_]{{0,63}} (snake_case "
                                            "verb_object; got \"{}\")",
                                            tool.name));
    if (std::string stem = file_stem(file_label); tool.name != stem)
        return ctx.bad(
            "/name", fmt::format("must equal the file name \"{}\" (got \"{}\")", stem, tool.name));
    SBX_TRY(read_text(ctx, *top, "title", tool.title, 256));
    SBX_TRY(read_text(ctx, *top, "description", tool.description, kMaxDescription));
    if (top->get("risk") == nullptr) return ctx.bad("/risk", "missing required key");
    SBX_TRY(read_enum(ctx, *top, "risk", {"low", "medium", "high"}, tool.risk));

    SBX_TRY(read_string(ctx, *top, "policy", tool.policy, Presence::Required));
    const Policy* policy = policies.find(tool.policy);
    if (policy == nullptr) {
        auto names = policies.names();
        return ctx.bad("/policy",
                       fmt::format("no policy \"{}\" (loaded: {})", tool.policy,
                                   names.empty() ? std::string("none")
                                                 : fmt::format("{}", fmt::join(names, ", "))));
    }

    SBX_TRY(parse_annotations(ctx, *top, tool));

    const json* input = top->get("inputSchema");
    if (input == nullptr) return ctx.bad("/inputSchema", "missing required key");
    auto compiled = schema::Validator::compile(*input, ctx.file());
    if (!compiled) {
        // The compiler reports "<file>: <pointer inside the schema>: <what>"; make the pointer
        // one into the manifest like every other error here.
        sandbox::Error e = std::move(compiled).error();
        std::string head = ctx.file() + ": ";
        if (e.context.compare(0, head.size(), head) == 0) {
            bool has_ptr = e.context.compare(head.size(), 1, "/") == 0;
            e.context.insert(head.size(), has_ptr ? "/inputSchema" : "/inputSchema: ");
        }
        return fail(std::move(e));
    }
    tool.input = std::move(*compiled);

    if (const json* output = top->get("outputSchema")) {
        if (!output->is_object() || type_of(*output) != "object")
            return ctx.bad("/outputSchema",
                           "must be a JSON Schema object with \"type\": "
                           "\"object\" (omit it to publish the run-result "
                           "schema)");
        tool.output_schema = *output;
    }

    RuleExtras extras;
    SBX_TRY(tool_manifest_rules::parse_rules(ctx, *top, tool, extras));
    SBX_TRY(tool_manifest_rules::parse_argv(ctx, *top, tool));
    SBX_TRY(read_bool(ctx, *top, "end_of_options", tool.end_of_options));
    if (top->get("stdin") != nullptr) {
        std::string name;
        SBX_TRY(read_string(ctx, *top, "stdin", name));
        tool.stdin_arg = std::move(name);
    }
    if (top->get("stdin_file") != nullptr) {
        std::string name;
        SBX_TRY(read_string(ctx, *top, "stdin_file", name));
        tool.stdin_file_arg = std::move(name);
    }
    SBX_TRY(parse_limits(ctx, *top, *policy, tool));
    SBX_TRY(read_bool(ctx, *top, "enabled", tool.enabled));
    if (const nlohmann::json* codes = top->get("success_exit_codes")) {
        std::string ptr = top->at("success_exit_codes");
        if (!codes->is_array() || codes->empty() || codes->size() > 8)
            return ctx.bad(ptr, "expected an array of 1 to 8 exit statuses");
        tool.success_exit_codes.clear();
        for (size_t i = 0; i < codes->size(); ++i) {
            uint64_t code = 0;
            SBX_TRY(check_uint(ctx, (*codes)[i], ptr + "/" + std::to_string(i), 0, 255, code));
            tool.success_exit_codes.push_back(static_cast<int>(code));
        }
    }
    SBX_TRY(cross_check(ctx, *input, *policy, extras, tool));
    return tool;
}

Result<ToolDef> load_tool_file(const std::string& path, const PolicySet& policies) {
    auto text = sandbox::sys::read_file(path, kMaxToolFileBytes);
    if (!text) return fail(std::move(text).error().with_prefix(path + ": cannot read tool: "));
    return parse_tool(*text, path, policies);
}

Result<ToolRegistry> ToolRegistry::load_dir(const std::string& dir, const PolicySet& policies) {
    auto tools = load_config_dir<ToolDef>(
        dir, "tools directory", "no tool manifests (*.json)",
        [&policies](const std::string& path) { return load_tool_file(path, policies); });
    if (!tools) return fail(std::move(tools).error());
    ToolRegistry registry;
    registry.tools_ = std::move(*tools);
    return registry;
}

const ToolDef* ToolRegistry::find(std::string_view name) const {
    const ToolDef* tool = find_any(name);
    return tool != nullptr && tool->enabled ? tool : nullptr;
}

const ToolDef* ToolRegistry::find_any(std::string_view name) const { return tools_.find(name); }

std::vector<const ToolDef*> ToolRegistry::enabled_tools() const {
    std::vector<const ToolDef*> out;
    for (const auto& [name, tool] : tools_)
        if (tool.enabled) out.push_back(&tool);
    return out;
}

Result<void> ToolRegistry::add(ToolDef tool) { return tools_.add(std::move(tool)); }

std::string default_tools_dir() {
    return config_path::default_search_path("TOOLJAIL_TOOLS_DIR", "tools.d");
}

}  // namespace runtime
