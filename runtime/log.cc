#include "runtime/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>

namespace runtime::log {
namespace {

std::atomic<Level> g_level{Level::Info};

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

}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

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

void write(Level lvl, const char* file, int line, std::string_view message) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const char* base = std::strrchr(file, '/');
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}:{} {}\n",
                                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                  tm.tm_min, tm.tm_sec, millis, level_name(lvl),
                                  base ? base + 1 : file, line, message);
    // One write(2) per event keeps lines from concurrent threads whole.
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

}  // namespace runtime::log
