// Time, duration and size as operators write them on command lines and in files: RFC 3339
// times, "90s"/"15m"/"2h"/"7d"/"1w" durations, "512M"/"2G" sizes. Pure functions, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runtime::units {

using Time = std::chrono::system_clock::time_point;

// RFC 3339 UTC with milliseconds: "2026-11-21T18:30:00.123Z".
std::string format_time(Time t);
// RFC 3339 (any offset, optional fraction) or a duration before now: "90s", "15m", "2h", "7d",
// "1w". nullopt when it is neither, or outside what Time counts (about 1678..2262).
std::optional<Time> parse_time(std::string_view text, Time now);
// "30d", "12h", "3600s" (or a bare number of seconds) -> seconds; nullopt when malformed.
std::optional<int64_t> parse_duration_seconds(std::string_view text);
// "512M", "2G", "4096", "1k" (powers of 1024) -> bytes; nullopt when malformed.
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace runtime::units
