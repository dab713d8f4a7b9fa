#include "runtime/base/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace runtime::log {
namespace {

std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};

const char* level_name(Level level) {
    switch (level) {
        case Level::Debug: return "DEBUG";
        case Level::Info: return "INFO";
        case Level::Warn: return "WARN";
        case Level::Error: return "ERROR";
        case Level::Off: return "OFF";
    }
    return "?";
}

bool key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Fields whose values name something (chosen by clients or operators, or hashes and lists of
// names): strings whatever they look like, so that a field keeps one type across events.
constexpr std::string_view kStringKeys[] = {
    "client",  "name",      "run_id",     "session",  "tool",    "argument", "header",
    "key",     "old",       "new",        "approved", "current", "added",    "removed",
    "changed", "requested", "negotiated", "peer",     "user",    "instance"};

bool is_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string ts_now() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string src_of(const char* file, int line) {
    const char* base = std::strrchr(file, '/');
    return fmt::format("{}:{}", base ? base + 1 : file, line);
}

// One write(2) per event keeps lines from concurrent threads whole.
void emit(const std::string& out) {
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_format(Format format) { g_format.store(format, std::memory_order_relaxed); }

bool parse_level(std::string_view name, Level& out) {
    for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Off}) {
        std::string_view n = level_name(l);
        if (name.size() == n.size() && strncasecmp(name.data(), n.data(), n.size()) == 0) {
            out = l;
            return true;
        }
    }
    return false;
}

bool parse_format(std::string_view name, Format& out) {
    if (name == "text")
        out = Format::Text;
    else if (name == "json")
        out = Format::Json;
    else
        return false;
    return true;
}

std::string json_line(std::string_view ts, Level lvl, std::string_view src,
                      std::string_view message) {
    // Ordered: ts, level, src and msg lead every line, as in the text format.
    nlohmann::ordered_json event = {
        {"ts", ts}, {"level", level_name(lvl)}, {"src", src}, {"msg", message}};
    // Words of the form key=value (key: a lower-case identifier) become fields; the message
    // keeps them too. The first occurrence wins, and the fixed keys are never overwritten.
    size_t pos = 0;
    while (pos < message.size()) {
        size_t end = message.find(' ', pos);
        if (end == std::string_view::npos) end = message.size();
        std::string_view word = message.substr(pos, end - pos);
        size_t eq = word.find('=');
        if (eq != std::string_view::npos && eq > 0 &&
            std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(eq), key_char)) {
            std::string key(word.substr(0, eq));
            if (!event.contains(key)) event[key] = field_value(key, word.substr(eq + 1));
        }
        pos = end + 1;
    }
    // Messages may carry bytes that are not UTF-8 (paths, peer data): replaced, never thrown.
    return event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

nlohmann::json field_value(std::string_view key, std::string_view value) {
    for (std::string_view k : kStringKeys)
        if (k == key) return std::string(value);
    if (value == "true") return true;
    if (value == "false") return false;
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?: how fmt writes integers and fixed-point numbers. Leading
    // zeros, exponents, "+1", "1." and hex stay strings.
    std::string_view digits = value.substr(!value.empty() && value[0] == '-' ? 1 : 0);
    size_t dot = digits.find('.');
    std::string_view whole = digits.substr(0, dot);
    bool number = is_digits(whole) && (whole.size() == 1 || whole[0] != '0') &&
                  (dot == std::string_view::npos || is_digits(digits.substr(dot + 1)));
    if (!number) return std::string(value);
    std::string text(value);
    errno = 0;
    char* end = nullptr;
    if (dot == std::string_view::npos) {
        long long n = std::strtoll(text.c_str(), &end, 10);
        if (errno == 0 && *end == '\0') return static_cast<int64_t>(n);
        return std::string(value);  // beyond int64: kept exact, as text
    }
    double d = std::strtod(text.c_str(), &end);
    if (errno == 0 && *end == '\0') return d;
    return std::string(value);
}

void write(Level lvl, const char* file, int line, std::string_view message) {
    std::string ts = ts_now();
    std::string src = src_of(file, line);
    emit(g_format.load(std::memory_order_relaxed) == Format::Json
             ? json_line(ts, lvl, src, message)
             : fmt::format("{} {} {} {}\n", ts, level_name(lvl), src, message));
}

void announce(const char* file, int line, std::string_view message) {
    emit(g_format.load(std::memory_order_relaxed) == Format::Json
             ? json_line(ts_now(), Level::Info, src_of(file, line), message)
             : fmt::format("tooljail: {}\n", message));
}

std::string names(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& n : list) out += (out.empty() ? "" : ",") + n;
    return out.empty() ? "-" : out;
}

}  // namespace runtime::log
