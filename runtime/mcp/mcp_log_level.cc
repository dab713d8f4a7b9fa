#include "runtime/mcp/mcp_log_level.h"

#include <array>

namespace runtime {
namespace {

constexpr std::array<const char*, 8> kNames = {"debug", "info",     "notice", "warning",
                                               "error", "critical", "alert",  "emergency"};

}  // namespace

std::optional<McpLogLevel> parse_mcp_log_level(std::string_view name) {
    for (size_t i = 0; i < kNames.size(); ++i)
        if (name == kNames[i]) return static_cast<McpLogLevel>(i);
    return std::nullopt;
}

const char* mcp_log_level_name(McpLogLevel level) { return kNames[static_cast<size_t>(level)]; }

}  // namespace runtime
