#include "runtime/base/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

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
            if (!event.contains(key)) event[key] = std::string(word.substr(eq + 1));
        }
        pos = end + 1;
    }
    // Messages may carry bytes that are not UTF-8 (paths, peer data): replaced, never thrown.
    return event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

void write(Level lvl, const char* file, int line, std::string_view message) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const char* base = std::strrchr(file, '/');
    std::string ts =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    std::string src = fmt::format("{}:{}", base ? base + 1 : file, line);
    std::string out = g_format.load(std::memory_order_relaxed) == Format::Json
                          ? json_line(ts, lvl, src, message)
                          : fmt::format("{} {} {} {}\n", ts, level_name(lvl), src, message);
    // One write(2) per event keeps lines from concurrent threads whole.
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

std::string names(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& n : list) out += (out.empty() ? "" : ",") + n;
    return out.empty() ? "-" : out;
}

}  // namespace runtime::log
