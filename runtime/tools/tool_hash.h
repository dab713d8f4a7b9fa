// A tool's drift hash: what a client is told about a tool and what the server runs for it,
// reduced to one sha256 so that a change can be logged (reload), shown (`tooljail tools list`)
// and pinned (the lock file, runtime/tools/tools_lock.h).
//
// Coverage: the whole manifest except "enabled" (so the description, title, inputSchema,
// outputSchema, annotations, argv template, programs, stdin, argument rules, limits and the
// policy name), serialised canonically: object keys sorted, no whitespace, numbers and strings
// as nlohmann::json::dump writes them. Key order and formatting of the file do not change it.
// The policy's contents are not covered (each run's record carries their sha256).
#pragma once

#include <string>
#include <string_view>

#include "runtime/tools/tool_def.h"
#include "sandbox/base/result.h"

namespace runtime {

// 64 lowercase hex digits. Errors (InvalidArgument) only for text that is not a JSON object.
sandbox::Result<std::string> manifest_hash(std::string_view manifest_text);

// manifest_hash of the tool's manifest text (ToolDef::source, validated at load).
sandbox::Result<std::string> tool_hash(const ToolDef& tool);

}  // namespace runtime
