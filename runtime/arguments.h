// From validated tool arguments to the exact argv: the handler rules (metacharacters, option
// injection, workspace confinement of paths, caps) and the template expansion. Pure functions:
// no I/O except resolving paths inside the workspace.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tool_registry.h"

namespace runtime {

// A refusal the model can act on: which argument, which rule, and a one-line message.
struct ArgumentError {
    std::string argument;  // argument name ("" for the object as a whole)
    std::string rule;      // "schema:<keyword>", "metacharacter", "leading_dash", "path_escape",
                           // "path_missing", "max_length", "max_items", "type"
    std::string message;
};

struct Invocation {
    std::vector<std::string> argv;           // exact argv, paths rewritten to /workspace/...
    std::optional<std::string> stdin_data;   // from the tool's stdin argument
};

// Validates `arguments` against the tool's schema (defaults applied) and rules, then expands
// the argv template. workspace_host is the realpath of the workspace on the host (symlinks in
// path arguments are resolved against it and must stay inside); workspace_target is where the
// sandbox sees it ("/workspace"). Returns the first error (schema errors first, all reported
// in the message when several).
std::variant<Invocation, ArgumentError> prepare_invocation(const ToolDef& tool,
                                                           const nlohmann::json& arguments,
                                                           const std::string& workspace_host,
                                                           const std::string& workspace_target);

}  // namespace runtime
