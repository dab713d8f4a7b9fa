#include "runtime/mcp/transport.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/base/sys.h"

namespace runtime {

std::optional<Line> LineReader::next() {
    for (;;) {
        size_t nl = buf_.find('\n', scan_);
        if (nl != std::string::npos) {
            std::string text = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            scan_ = 0;
            if (discarding_) {
                discarding_ = false;
                return Line{{}, true};
            }
            if (!text.empty() && text.back() == '\r') text.pop_back();
            if (text.empty()) continue;
            return Line{std::move(text), false};
        }
        if (eof_) {
            // A final line without a newline still counts; a discarded one is reported.
            if (discarding_) {
                discarding_ = false;
                buf_.clear();
                return Line{{}, true};
            }
            if (buf_.empty()) return std::nullopt;
            std::string text = std::move(buf_);
            buf_.clear();
            return Line{std::move(text), false};
        }
        scan_ = buf_.size();
        if (buf_.size() > max_) {
            // Keep nothing of an oversized line: memory stays bounded by the cap.
            discarding_ = true;
            buf_.clear();
            scan_ = 0;
        }
        if (stop_fd_ >= 0) {
            pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
            int ready = ::poll(fds, 2, -1);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0 || (fds[1].revents & POLLIN)) return std::nullopt;
        }
        char chunk[65536];
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            eof_ = true;
            continue;
        }
        buf_.append(chunk, static_cast<size_t>(n));
    }
}

bool LineWriter::write_line(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string line = text;
    line.push_back('\n');
    return static_cast<bool>(sandbox::sys::write_all(fd_, line));
}

}  // namespace runtime
