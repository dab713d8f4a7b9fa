// tools.d: one JSON manifest per tool, loaded strictly at start-up (the allowlist). Every error
// names the file and the JSON pointer; an invalid manifest refuses start-up. docs/TOOLS.md
// documents the format, every key, and the shipped tools.
//
//   tools.d/read_file.json: /argv/5/arg: names no argument (arguments: path, start_line)
//
// Nothing here throws: nlohmann exceptions stay inside json_reader and the schema compiler.
// All content errors are sandbox::Error with code InvalidArgument; an unreadable file or
// directory is NotFound / PermissionDenied / Syscall.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/policy/policy.h"
#include "runtime/tools/tool_def.h"
#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace runtime {

inline constexpr size_t kMaxToolFileBytes = 1 << 20;

// Parses and validates one manifest. file_label prefixes every error, becomes ToolDef::path,
// and its basename minus ".json" must equal "name". policies resolves "policy" and bounds
// "limits". Errors: InvalidArgument.
sandbox::Result<ToolDef> parse_tool(std::string_view json_text, std::string_view file_label,
                                    const PolicySet& policies);

// Reads path (at most kMaxToolFileBytes) and calls parse_tool with path as the label.
sandbox::Result<ToolDef> load_tool_file(const std::string& path, const PolicySet& policies);

class ToolRegistry {
public:
    // Loads every effective *.json of a search path (one directory, or several joined by ':',
    // the first holding a name wins; runtime/base/config_path.h), in name order, dotfiles
    // skipped. A manifest naming a policy not in `policies`, a placeholder that names no
    // argument, an argument without a placeholder, an invalid schema, an unknown key: each
    // fails the whole load naming the file and JSON pointer. A path without manifests is
    // NotFound. There is no partial result.
    static sandbox::Result<ToolRegistry> load_dir(const std::string& search_path,
                                                  const PolicySet& policies);

    // The enabled tool of that name; nullptr if unknown OR disabled (the kill switch makes a
    // tool uncallable as well as unlisted).
    const ToolDef* find(std::string_view name) const;
    // Any loaded tool, disabled ones included (diagnostics, `tooljail check`).
    const ToolDef* find_any(std::string_view name) const;
    std::vector<const ToolDef*> enabled_tools() const;  // name order
    // Every loaded tool, disabled ones included, in name order (`tooljail check`).
    const ConfigSet<ToolDef>& all() const { return tools_; }
    size_t size() const { return tools_.size(); }

    // A second tool with the same name is InvalidArgument.
    sandbox::Result<void> add(ToolDef tool);

private:
    ConfigSet<ToolDef> tools_;
};

// The default search path of tool manifests (runtime/base/config_path.h): $TOOLJAIL_TOOLS_DIR;
// else <source>/tools.d for a build-tree run; else <config dir>/tools.d:<data dir>/tools.d
// (/etc/tooljail/tools.d:/usr/share/tooljail/tools.d for a /usr install).
std::string default_tools_dir();

}  // namespace runtime
