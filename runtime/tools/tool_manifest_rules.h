// Internal to runtime/tools/tool_registry.cc: the "argv" template and the "arguments" rules of a
// tool manifest, the two sections that decide what reaches execve. Split out to keep
// tool_registry.cc readable; include it nowhere else. Errors are as in tool_registry.h:
// InvalidArgument naming the file and the JSON pointer.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "runtime/base/json_reader.h"
#include "runtime/tools/tool_def.h"
#include "sandbox/base/result.h"

namespace runtime::tool_manifest_rules {

// What parse_rules saw besides the rules themselves, for the cross-check against the schema.
struct RuleExtras {
    std::set<std::string> explicit_max_items;   // names whose rule sets max_items
    std::set<std::string> explicit_max_length;  // names whose rule sets max_length
};

// Absolute, no "." / ".." / empty component, no trailing slash, no NUL.
bool normalized_absolute(std::string_view p);

// /arguments -> tool.rules, one ArgumentRule per argument; keys that cannot apply to the
// rule's kind are refused.
sandbox::Result<void> parse_rules(const json_reader::Context& ctx, const json_reader::Node& top,
                                  ToolDef& tool, RuleExtras& extras);

// /argv -> tool.argv: literals and placeholders; argv[0] is an absolute, normalised program
// path or a placeholder without "flag" or "each".
sandbox::Result<void> parse_argv(const json_reader::Context& ctx, const json_reader::Node& top,
                                 ToolDef& tool);

}  // namespace runtime::tool_manifest_rules
