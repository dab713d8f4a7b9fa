// MCP logging levels (RFC 5424 severities, as logging/setLevel and notifications/message name
// them), least severe first so that "at or above the client's level" is a comparison.
#pragma once

#include <optional>
#include <string_view>

namespace runtime {

enum class McpLogLevel { Debug, Info, Notice, Warning, Error, Critical, Alert, Emergency };

std::optional<McpLogLevel> parse_mcp_log_level(std::string_view name);
const char* mcp_log_level_name(McpLogLevel level);

}  // namespace runtime
