// From validated tool arguments to the exact argv: the handler rules (metacharacters, option
// injection, workspace confinement of paths, caps) and the template expansion. Pure functions:
// no I/O except resolving paths inside the workspace.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tools/tool_def.h"

namespace runtime {

// A refusal the model can act on: which argument, which rule, and a one-line message.
struct ArgumentError {
    std::string argument;  // argument name ("" for the object as a whole)
    std::string rule;      // "schema:<keyword>", "metacharacter", "leading_dash", "path_escape",
                           // "path_missing", "max_length", "max_items", "type",
                           // "denied_option", "unknown_argument"
    std::string message;   // one line; names the argument and rule; quotes <= 64 bytes of value
};

struct Invocation {
    std::vector<std::string> argv;          // exact argv, paths rewritten to /workspace/...
    std::optional<std::string> stdin_data;  // from the tool's stdin argument
    // From the tool's stdin_file argument: its resolved path relative to the workspace ("." for
    // the workspace itself), which the sandbox opens beneath it (RunRequest::stdin_file).
    std::optional<std::string> stdin_file;
};

// Validates `arguments` against the tool's schema (defaults applied) and rules, then expands
// the argv template. workspace_host is the workspace on the host (realpath()ed here again;
// symlinks in path arguments are resolved against it and must stay inside); workspace_target is
// where the sandbox sees it ("/workspace"). Path values are passed to the program as
// workspace_target + "/" + the resolved relative path. Returns the first error (schema errors
// first, all reported in the message when several, capped). null arguments count as {}.
// Runs in the supervisor; the only I/O is realpath(3) under workspace_host. docs/TOOLS.md has
// the rules and their reasons.
std::variant<Invocation, ArgumentError> prepare_invocation(const ToolDef& tool,
                                                           const nlohmann::json& arguments,
                                                           const std::string& workspace_host,
                                                           const std::string& workspace_target);

}  // namespace runtime
