// Operator logs: one event per line on stderr ("2026-11-21T18:30:00.123Z INFO file.cc:42 msg").
// stdout belongs to the MCP stream and to `tooljail run --json`; nothing here writes to it.
// Tool arguments and output may hold secrets: log sizes and hashes, never content.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace runtime::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view name, Level& out);
void write(Level level, const char* file, int line, std::string_view message);

}  // namespace runtime::log

#define RT_LOG(lvl, ...)                                                              \
    do {                                                                              \
        if (static_cast<int>(lvl) >= static_cast<int>(::runtime::log::level()))       \
            ::runtime::log::write(lvl, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
    } while (0)
#define LOG_DEBUG(...) RT_LOG(::runtime::log::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) RT_LOG(::runtime::log::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) RT_LOG(::runtime::log::Level::Warn, __VA_ARGS__)
#define LOG_ERROR(...) RT_LOG(::runtime::log::Level::Error, __VA_ARGS__)
