// The tools lock file (serve --tools-lock): the approved drift hash of each tool
// (runtime/tools/tool_hash.h). A tool whose current hash is not the approved one, or that the file
// does not name, is not served: it is missing from tools/list and tools/call refuses it with
// TOOL_NOT_APPROVED. `tooljail tools approve` writes the file; SIGHUP re-reads it.
//
// Format: one JSON object {"tool_name": "<64 lowercase hex>", ...}; nothing else. Written
// atomically (runtime/base/atomic_file.h), mode 0644: the hashes are not secret.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "sandbox/base/result.h"

namespace runtime {

using ToolsLock = std::map<std::string, std::string, std::less<>>;  // tool -> approved hash

inline constexpr size_t kMaxLockFileBytes = 1 << 20;

// Strict: malformed JSON, duplicate keys, a non-object root, a key that is not a tool name
// ([a-z][a-z0-9_]{0,63}) or a value that is not a sha256 hex string are InvalidArgument errors
// naming label and the JSON pointer.
sandbox::Result<ToolsLock> parse_tools_lock(std::string_view text, std::string_view label);

// Reads and parses path. A missing file is NotFound (the server refuses to start without it).
sandbox::Result<ToolsLock> read_tools_lock(const std::string& path);

// Sorted, one tool per line, trailing newline.
std::string serialize_tools_lock(const ToolsLock& lock);

// Atomically replaces path (mode 0644).
sandbox::Result<void> write_tools_lock(const std::string& path, const ToolsLock& lock);

}  // namespace runtime
