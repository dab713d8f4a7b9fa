// Operator logs: one event per line on stderr, as text ("2026-11-21T18:30:00.123Z INFO
// file.cc:42 msg") or, with Format::Json, one JSON object a line: ts, level, src, msg, and each
// key=value word of the message (the house style's event form: "call tool=x run_id=y") as a
// field of its own, so that a collector can filter on run_id, tool, client, ... A field is typed
// by its value: an integer (-12, 0, 21) or a decimal (0.250) is a JSON number, true and false are
// booleans, anything else a string; the fields that name things (kStringKeys: client, name,
// run_id, hashes, ...) are always strings, so that a client named "42" does not change the
// field's type. stdout belongs to the MCP stream and to `tooljail run --json`; nothing here
// writes to it. Tool arguments and output may hold secrets: log sizes and hashes, never content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace runtime::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };
enum class Format { Text, Json };

void set_level(Level level);
Level level();
bool parse_level(std::string_view name, Level& out);
void set_format(Format format);
bool parse_format(std::string_view name, Format& out);  // "text" or "json"
// One event as a JSON line (Format::Json); exposed for tests.
std::string json_line(std::string_view ts, Level level, std::string_view src,
                      std::string_view message);
void write(Level level, const char* file, int line, std::string_view message);
// A line for whoever started tooljail rather than an event, such as the URL a listener serves
// at: written whatever the level, as "tooljail: MESSAGE" in the text format (scripts and tests
// read it), as an INFO event in the JSON format.
void announce(const char* file, int line, std::string_view message);
// The typed value of a key=value field (above), as json_line puts it into the event.
nlohmann::json field_value(std::string_view key, std::string_view value);
// Names for a log line's key=value word: comma-separated, "-" for none (one word either way).
std::string names(const std::vector<std::string>& names);

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
#define LOG_ANNOUNCE(...) ::runtime::log::announce(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
