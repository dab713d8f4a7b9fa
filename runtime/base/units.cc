#include "runtime/base/units.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace runtime::units {
namespace {

// Parses exactly n digits at s[pos], advancing pos.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
    if (s.size() - pos < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
}

// The seconds on either side of the epoch a Time can hold, less one (room for the fraction).
constexpr int64_t kTimeLimitSeconds =
    std::chrono::duration_cast<std::chrono::seconds>(Time::duration::max()).count() - 1;

std::optional<Time> parse_rfc3339(std::string_view s) {
    std::tm tm{};
    size_t p = 0;
    int year, mon, day, hour = 0, min = 0, sec = 0, offset_sec = 0;
    int64_t millis = 0;
    if (!digits(s, p, 4, year) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mon) ||
        p >= s.size() || s[p++] != '-' || !digits(s, p, 2, day))
        return std::nullopt;
    if (p < s.size()) {
        if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
        ++p;
        if (!digits(s, p, 2, hour) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, min) ||
            p >= s.size() || s[p++] != ':' || !digits(s, p, 2, sec))
            return std::nullopt;
        if (p < s.size() && s[p] == '.') {
            ++p;
            int scale = 100;
            size_t start = p;
            for (; p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])); ++p, scale /= 10)
                millis += scale * (s[p] - '0');
            if (p == start) return std::nullopt;
        }
        if (p >= s.size()) return std::nullopt;  // a time needs its offset
        if (s[p] == 'Z' || s[p] == 'z') {
            ++p;
        } else if (s[p] == '+' || s[p] == '-') {
            int sign = s[p++] == '-' ? -1 : 1, oh, om;
            if (!digits(s, p, 2, oh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, om))
                return std::nullopt;
            offset_sec = sign * (oh * 3600 + om * 60);
        } else {
            return std::nullopt;
        }
        if (p != s.size()) return std::nullopt;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return std::nullopt;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    std::time_t t = ::timegm(&tm);
    // Time counts nanoseconds in 64 bits (about 1678..2262): a later or earlier year would
    // overflow the conversion (found by fuzz_records).
    if (t - offset_sec > kTimeLimitSeconds || t - offset_sec < -kTimeLimitSeconds)
        return std::nullopt;
    return Time(std::chrono::seconds(t - offset_sec)) + std::chrono::milliseconds(millis);
}

}  // namespace

std::string format_time(Time t) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    int64_t frac = ((ms % 1000) + 1000) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac));
    return buf;
}

std::optional<int64_t> parse_duration_seconds(std::string_view text) {
    if (text.empty()) return std::nullopt;
    int64_t unit = 1;
    char last = text.back();
    if (!std::isdigit(static_cast<unsigned char>(last))) {
        switch (last) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            case 'w': unit = 7 * 86400; break;
            default: return std::nullopt;
        }
        text.remove_suffix(1);
    }
    if (text.empty() || text.size() > 12) return std::nullopt;
    int64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n * unit;
}

std::optional<uint64_t> parse_size(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t unit = 1;
    char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
    if (!std::isdigit(static_cast<unsigned char>(last))) {
        switch (last) {
            case 'K': unit = 1ull << 10; break;
            case 'M': unit = 1ull << 20; break;
            case 'G': unit = 1ull << 30; break;
            case 'T': unit = 1ull << 40; break;
            default: return std::nullopt;
        }
        text.remove_suffix(1);
    }
    if (text.empty() || text.size() > 12) return std::nullopt;
    uint64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n * unit;
}

std::optional<Time> parse_time(std::string_view text, Time now) {
    if (auto secs = parse_duration_seconds(text);
        secs && !text.empty() && !std::isdigit(static_cast<unsigned char>(text.back()))) {
        // "999999999999w" is longer ago than Time can count.
        if (*secs > kTimeLimitSeconds) return std::nullopt;
        return now - std::chrono::seconds(*secs);
    }
    return parse_rfc3339(text);
}

}  // namespace runtime::units
