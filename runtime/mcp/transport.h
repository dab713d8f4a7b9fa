// Newline-delimited JSON over file descriptors (the MCP stdio transport). One message per line;
// a line longer than the cap is discarded whole and reported, never buffered.
#pragma once

#include <mutex>
#include <optional>
#include <string>

namespace runtime {

inline constexpr size_t kMaxLineBytes = 4 << 20;

struct Line {
    std::string text;        // without the trailing newline (and without a trailing '\r')
    bool oversized = false;  // the line exceeded the cap; text is empty
};

class LineReader {
public:
    explicit LineReader(int fd, size_t max_line = kMaxLineBytes) : fd_(fd), max_(max_line) {}
    // Blocks for the next line; nullopt at EOF (or a read error). Empty lines are skipped.
    std::optional<Line> next();
    // From now on next() also returns nullopt once `stop_fd` (not owned; e.g. an eventfd) is
    // readable, discarding any partial line: how the SIGTERM drain ends a stdio session.
    void stop_on(int stop_fd) { stop_fd_ = stop_fd; }

private:
    int fd_;
    int stop_fd_ = -1;
    size_t max_;
    std::string buf_;
    size_t scan_ = 0;
    bool discarding_ = false;
    bool eof_ = false;
};

// Writes whole lines; safe to call from several threads (one write per message, under a lock).
class LineWriter {
public:
    explicit LineWriter(int fd) : fd_(fd) {}
    // false when the peer is gone (EPIPE) or the write failed.
    bool write_line(const std::string& text);

private:
    int fd_;
    std::mutex mu_;
};

}  // namespace runtime
