// Internal to the Streamable HTTP transport: see http_limits.h.
#include "runtime/http/http_limits.h"

#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "runtime/base/log.h"
#include "runtime/http/bounded_add.h"
#include "runtime/http/http_headers.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/ops/metrics.h"
#include "runtime/records/reasons.h"

namespace runtime::http_limits {
namespace {

using Clock = std::chrono::steady_clock;

// How often an idle keep-alive connection checks whether the server is stopping.
constexpr int kIdleTickMs = 100;

int to_ms(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

// poll(2) on one socket until `timeout_ms` has really passed: > 0 ready, 0 timed out, < 0 error.
// EINTR and a poll that wakes early (its timeout is whole milliseconds) wait again for the rest,
// so a 0 means the time is up and callers may rely on that (the request deadline does).
int wait_for(int fd, short events, int timeout_ms) {
    auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        pollfd p{fd, events, 0};
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
        int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left)));
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 && Clock::now() < until) continue;
        if (n > 0 && (p.revents & (POLLERR | POLLNVAL))) return -1;
        return n;
    }
}

// The connection of one client, as httplib's request parser reads and writes it: a read buffer
// (the parser reads headers one byte at a time), httplib's read and write timeouts per call, and
// per request a deadline and a budget for the request line and headers.
class LimitedStream final : public httplib::Stream {
public:
    LimitedStream(int sock, const RequestLimits& limits, int read_timeout_ms, int write_timeout_ms)
        : sock_(sock),
          limits_(limits),
          read_timeout_ms_(read_timeout_ms),
          write_timeout_ms_(write_timeout_ms) {}

    // Called when a request's first byte is there.
    void begin_request() {
        deadline_ = Clock::now() + limits_.deadline;
        header_bytes_ = 0;
        in_body_ = false;
        line_bytes_ = 1;  // the request line is not the blank line that ends the headers
        line_is_cr_ = false;
        head_.clear();
        cut_ = nullptr;
    }
    // The request line and header lines of the request being served, as they arrived.
    const std::string& head() const { return head_; }
    // Why reads were refused, for the log; null when they were not.
    const char* cut() const { return cut_; }
    // Bytes already read from the socket and not yet handed out: a pipelined next request.
    bool buffered() const { return begin_ < end_; }

    bool is_readable() const override {
        return begin_ < end_ || wait_for(sock_, POLLIN, read_timeout_ms_) > 0;
    }

    bool is_writable() const override {
        if (wait_for(sock_, POLLOUT, write_timeout_ms_) <= 0) return false;
        // Readable with nothing to read means the peer closed: nobody would get what we write.
        if (wait_for(sock_, POLLIN, 0) <= 0) return true;
        char byte;
        ssize_t n = ::recv(sock_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
    }

    ssize_t read(char* ptr, size_t size) override {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
        if (left <= 0) return refuse("the request did not arrive in time");
        if (begin_ == end_) {
            // One more millisecond: `left` is rounded down, and a wait that ends before the
            // deadline is the read timeout's, not the deadline's.
            if (wait_for(sock_, POLLIN,
                         static_cast<int>(std::min<int64_t>(left + 1, read_timeout_ms_))) <= 0)
                return Clock::now() >= deadline_ ? refuse("the request did not arrive in time")
                                                 : -1;
            ssize_t n;
            do {
                n = ::recv(sock_, buffer_, sizeof buffer_, 0);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) return n;
            begin_ = 0;
            end_ = static_cast<size_t>(n);
        }
        size_t n = std::min(size, end_ - begin_);
        if (!in_body_) {
            n = headers(n);
            if (n == 0) return refuse("the request headers are too large");
        }
        std::copy_n(buffer_ + begin_, n, ptr);
        begin_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (wait_for(sock_, POLLOUT, write_timeout_ms_) <= 0) return -1;
        ssize_t n;
        do {
            n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        address(::getpeername, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        address(::getsockname, ip, port);
    }
    socket_t socket() const override { return sock_; }

private:
    // Of the n buffered bytes about to be handed out, how many the header budget allows (0: none
    // left), kept in head_. Watches for the blank line that ends the headers: from there on the
    // bytes are body, which Content-Length (httplib) and the handler's reader (chunked) bound.
    // The blank line is exactly CRLF, as for httplib's parser (built without
    // CPPHTTPLIB_ALLOW_LF_AS_LINE_TERMINATOR), which skips any other line and reads on: a lone
    // LF must not end the budget, or the head, while httplib still reads header lines.
    size_t headers(size_t n) {
        size_t allowed = std::min(
            n, limits_.max_header_bytes - std::min(header_bytes_, limits_.max_header_bytes));
        for (size_t i = 0; i < allowed; ++i) {
            char c = buffer_[begin_ + i];
            if (c == '\n' && line_is_cr_) {
                in_body_ = true;
                header_bytes_ += i + 1;
                head_.append(buffer_ + begin_, i + 1);
                return i + 1;  // the rest is body: handed out by the next read
            }
            line_bytes_ = c == '\n' ? 0 : line_bytes_ + 1;
            line_is_cr_ = line_bytes_ == 1 && c == '\r';
        }
        header_bytes_ += allowed;
        head_.append(buffer_ + begin_, allowed);
        return allowed;
    }

    ssize_t refuse(const char* why) {
        cut_ = why;
        return -1;
    }

    template <typename Name>
    void address(Name name, std::string& ip, int& port) const {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (name(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
        char host[NI_MAXHOST];
        char service[NI_MAXSERV];
        if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, service,
                          sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            return;
        ip = host;
        port = std::atoi(service);
    }

    const int sock_;
    const RequestLimits& limits_;
    const int read_timeout_ms_;
    const int write_timeout_ms_;
    char buffer_[4096];
    size_t begin_ = 0;
    size_t end_ = 0;
    Clock::time_point deadline_ = Clock::now() + limits_.deadline;
    size_t header_bytes_ = 0;
    bool in_body_ = false;
    size_t line_bytes_ = 1;    // of the header line being read
    bool line_is_cr_ = false;  // the line so far is one CR
    std::string head_;         // at most max_header_bytes
    const char* cut_ = nullptr;
};

// The head of the request the calling server thread serves (LimitedServer sets it around each
// request), for the handlers' request_head().
thread_local const std::string* serving_head = nullptr;

// Set by a handler on the server thread serving the request: close the connection once the
// response is out (the request left bytes unread that must not be parsed as the next request).
thread_local bool close_after_response = false;

std::string too_large(size_t max_body) {
    return "Payload Too Large: a message is at most " + std::to_string(max_body) +
           " bytes (--max-body)";
}

// Closing with unread bytes would answer them with a reset, which may destroy the response
// still on its way to the client (RFC 9112 section 9.6). So: end our side, then read and drop
// what the client still sends, for a bounded time and amount, before closing.
void linger_close(int sock) {
    ::shutdown(sock, SHUT_WR);
    auto until = Clock::now() + std::chrono::seconds(1);
    char sink[4096];
    for (size_t drained = 0; drained < (size_t{1} << 20);) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        if (left <= 0 || wait_for(sock, POLLIN, static_cast<int>(left)) <= 0) break;
        ssize_t n = ::recv(sock, sink, sizeof sink, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        drained += static_cast<size_t>(n);
    }
}

// Set while a connection beyond the waiting bound is handed to process_and_close_socket on the
// accepting thread.
thread_local bool refuse_connection = false;

class BoundedPool final : public httplib::TaskQueue {
public:
    BoundedPool(size_t threads, size_t max_waiting) : pool_(threads), max_waiting_(max_waiting) {}

    void enqueue(std::function<void()> fn) override {
        if (waiting_.load() >= max_waiting_) {
            refuse_connection = true;
            fn();
            refuse_connection = false;
            return;
        }
        ++waiting_;
        pool_.enqueue([this, fn = std::move(fn)] {
            --waiting_;
            fn();
        });
    }
    void shutdown() override { pool_.shutdown(); }

private:
    httplib::ThreadPool pool_;
    const size_t max_waiting_;
    std::atomic<size_t> waiting_{0};
};

// On the accepting thread, so nothing that could block: the answer fits in an empty socket
// buffer, and the request is never read.
void answer_busy_connection(int sock) {
    static const std::string response = [] {
        std::string body = jsonrpc::serialize(jsonrpc::error(
            nullptr, jsonrpc::kServerBusy, "Service Unavailable: too many connections waiting",
            {{"code", "RATE_LIMITED"}, {"retry_after", 1}}));
        return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: "
               "application/json\r\n"
               "Connection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    ssize_t sent = ::send(sock, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent;  // a client that cannot take 300 bytes gets the close alone
    ::shutdown(sock, SHUT_WR);
}

}  // namespace

std::string_view request_head() {
    return serving_head ? std::string_view(*serving_head) : std::string_view();
}

httplib::TaskQueue* new_bounded_pool(size_t threads, size_t max_waiting) {
    return new BoundedPool(threads, max_waiting);
}

bool admit_request(Admission* admission, const auth::TokenEntry* client,
                   const httplib::Request& req, const std::string& peer, httplib::Response& res) {
    if (!admission) return true;
    // The same client keys as McpServer's per-client call limit.
    auto refused = admission->admit_request(client ? "token:" + client->client : "http");
    if (!refused) return true;
    long after = retry_after_header(refused->retry_after);
    LOG_WARN("refused {} {} from {}: request rate limit, retry_after={}", req.method, req.path,
             peer, after);
    http_headers::send_rate_limited(
        res, 429, after,
        "Too Many Requests: request rate limit of this client reached; retry after " +
            std::to_string(after) + " s");
    return false;
}

bool BodyBudget::Share::grow(size_t n) {
    if (!bounded_add(budget_.used_, n, budget_.max_)) return false;
    bytes_ += n;
    return true;
}

bool read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t max_body,
               BodyBudget::Share& share, std::string& body, const std::string& peer,
               httplib::Response& res) {
    // As httplib decides: chunked when Transfer-Encoding says so, else Content-Length (which
    // httplib has already held to max_body with 413).
    bool chunked = strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") == 0;
    size_t announced =
        chunked ? 0
                : std::min<uint64_t>(req.get_header_value<uint64_t>("Content-Length"), max_body);
    bool over = false;
    bool busy = !share.grow(announced);
    // The whole buffer at once: a body appended as it comes would double its block.
    if (!busy) body.reserve(announced);
    // A chunked body announces no length: count as it comes (httplib 0.11 checks only
    // Content-Length against its payload limit, and would append chunks without end).
    bool ok = !busy && reader([&](const char* data, size_t n) {
        if (n > max_body - body.size()) {
            over = true;
            return false;
        }
        if (chunked && !share.grow(n)) {
            busy = true;
            return false;
        }
        body.append(data, n);
        return true;
    });
    if (ok) return true;
    body.clear();
    close_after_response = true;
    if (busy) {
        metrics::global().on_refused(records::kRateLimited);
        LOG_WARN(
            "refused {} {} from {}: request bodies being received are at --max-body-total ({} "
            "bytes)",
            req.method, req.path, peer, share.limit());
        http_headers::send_rate_limited(
            res, 503, 1,
            "Service Unavailable: too many large requests are being received; retry later");
    } else if (over || res.status == 413) {
        http_headers::send_error(res, 413, jsonrpc::kInvalidRequest, too_large(max_body));
    } else {
        http_headers::send_error(res, 400, jsonrpc::kInvalidRequest,
                                 "Bad Request: the body could not be read");
    }
    return false;
}

void answer_own_errors(httplib::Server& server, size_t max_body) {
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [max_body](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty() || res.status < 400)
                return httplib::Server::HandlerResponse::Unhandled;
            std::string reason = "HTTP error " + std::to_string(res.status);
            if (res.status == 400) reason = "Bad Request: malformed HTTP request";
            if (res.status == 404) reason = "Not Found: the MCP endpoint is /mcp";
            if (res.status == 405)
                reason = "Method Not Allowed: the MCP endpoint takes GET, POST, DELETE and OPTIONS";
            if (res.status == 413) reason = too_large(max_body);
            http_headers::send_error(res, res.status, jsonrpc::kInvalidRequest, reason);
            return httplib::Server::HandlerResponse::Handled;
        }));
}

void LimitedServer::widen_backlog() {
    if (::listen(svr_sock_, SOMAXCONN) != 0) {
        int saved = errno;
        LOG_WARN("listen backlog stays at 5: listen: {}", std::strerror(saved));
    }
}

// httplib's own loop, with our stream: wait for the next request while the connection is kept
// alive (returning when the server stops), serve it, at most keep_alive_max_count_ times.
bool LimitedServer::process_and_close_socket(socket_t sock) {
    if (refuse_connection) {
        LOG_WARN("refused a connection: too many waiting for a server thread");
        answer_busy_connection(sock);
        ::close(sock);
        return false;
    }
    LimitedStream stream(sock, limits_, to_ms(read_timeout_sec_, read_timeout_usec_),
                         to_ms(write_timeout_sec_, write_timeout_usec_));
    bool ok = false;
    for (size_t left = keep_alive_max_count_; left > 0; --left) {
        int waited = 0;
        int ready = stream.buffered() ? 1 : 0;
        int idle_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
        while (ready == 0 && svr_sock_ != INVALID_SOCKET && waited < idle_ms &&
               (ready = wait_for(sock, POLLIN, std::min(kIdleTickMs, idle_ms - waited))) == 0)
            waited += kIdleTickMs;
        if (ready <= 0 || svr_sock_ == INVALID_SOCKET) break;
        stream.begin_request();
        close_after_response = false;
        bool closed = false;
        serving_head = &stream.head();
        ok = process_request(stream, left == 1, closed, nullptr);
        serving_head = nullptr;
        if (stream.cut()) {
            std::string ip;
            int port = 0;
            stream.get_remote_ip_and_port(ip, port);
            LOG_WARN("closed the connection from {}:{}: {}", ip, port, stream.cut());
        }
        if (close_after_response) linger_close(sock);
        if (!ok || closed || stream.cut() || close_after_response) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
}

}  // namespace runtime::http_limits
