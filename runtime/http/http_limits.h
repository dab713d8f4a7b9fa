// Internal to the Streamable HTTP transport (runtime/http/http_transport.cc): the admission limits
// of one HTTP request: its rate per client, and its size and time, the latter enforced below
// cpp-httplib's request parser. Include it nowhere else.
//
// cpp-httplib 0.11.4 bounds each read by its read timeout, not the request as a whole: a client
// that trickles a byte every few seconds (slowloris) would hold a server thread for hours, and
// one that sends header lines without end would grow them without bound. LimitedServer serves
// each connection through its own socket stream that gives every request a deadline (headers
// and body) and a byte budget; past either, reads fail and httplib closes the connection.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/http/auth_tokens.h"
#include "runtime/ops/admission.h"

namespace runtime::http_limits {

struct RequestLimits {
    // A request's headers and body must have arrived this long after its first byte.
    std::chrono::milliseconds deadline{30'000};
    // Body bytes (--max-body): more is 413, whether announced by Content-Length or chunked.
    size_t max_body = size_t{4} << 20;
    // Request line and headers together. httplib caps each line at 8 KiB (as Debian built it);
    // this caps their number.
    size_t max_header_bytes = size_t{64} << 10;
};

// The per-client request rate (AdmissionOptions::request_rate), after authentication (`client`:
// the token's entry, null without authentication: then every caller is one client) and before
// the body is read: false after answering 429 with Retry-After and a RATE_LIMITED -32001 error,
// logged with `peer` (the client's address). True when admitted or `admission` is null.
bool admit_request(Admission* admission, const auth::TokenEntry* client,
                   const httplib::Request& req, const std::string& peer, httplib::Response& res);

// The bytes of request bodies held at once, all connections together (--max-body-total). Each
// server thread could otherwise hold a --max-body body, and while it is parsed a body costs
// several times its size (docs/BOUNDS.md): this, not the thread count, bounds that memory. A
// request takes its share before its body is read (Content-Length) or as it arrives (chunked)
// and gives it back when its handler returns.
class BodyBudget {
public:
    explicit BodyBudget(size_t max) : max_(max) {}
    size_t max() const { return max_; }

    // One request's part; given back when destroyed.
    class Share {
    public:
        explicit Share(BodyBudget& budget) : budget_(budget) {}
        ~Share() { budget_.used_ -= bytes_; }
        Share(const Share&) = delete;
        Share& operator=(const Share&) = delete;
        // Takes n more bytes; false (nothing taken) when the budget has not that many left.
        bool grow(size_t n);
        size_t limit() const { return budget_.max_; }

    private:
        BodyBudget& budget_;
        size_t bytes_ = 0;
    };

private:
    const size_t max_;
    std::atomic<size_t> used_{0};
};

// Reads a POST body through httplib's reader into `body`, at most max_body bytes, its size
// taken from `share` first. On failure answers the request and returns false: 413 past max_body,
// 503 with Retry-After when the budget has no room (the connection is then closed: the rest of
// the body is never read), 400 when the body could not be read (cut off, malformed chunks, the
// deadline). `peer` (the client's address) is for the log.
bool read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t max_body,
               BodyBudget::Share& share, std::string& body, const std::string& peer,
               httplib::Response& res);

// The request line and header lines of the request the calling thread is handling, byte for
// byte as the client sent them (up to the blank line, at most max_header_bytes): what
// http_headers::raw_values() reads. httplib's own view is lossy: it percent-decodes every header
// value ("run%5Fpython" becomes "run_python") and its get_header_value() ends a value at a NUL.
// Valid in a LimitedServer handler (and its content providers), on the thread that called it;
// empty anywhere else.
std::string_view request_head();

// Gives the statuses httplib answers by itself (400 malformed HTTP, 404, 405, 413 over
// max_body) the JSON body of ours; responses that have a body keep it.
void answer_own_errors(httplib::Server& server, size_t max_body);

// httplib's ThreadPool queues accepted connections without bound. This task queue runs them on
// `threads` threads with at most `max_waiting` waiting for one; a connection beyond that is
// answered 503 with Retry-After on the accepting thread (without reading its request) and
// closed. Use it with LimitedServer only: the refusal happens in its process_and_close_socket.
httplib::TaskQueue* new_bounded_pool(size_t threads, size_t max_waiting);

class LimitedServer : public httplib::Server {
public:
    explicit LimitedServer(RequestLimits limits) : limits_(limits) {}

    const RequestLimits& limits() const { return limits_; }

    // After bind: httplib 0.11 listens with a backlog of 5, so a burst of clients has its SYNs
    // dropped and waits a retransmission (1 s and more) before the server even sees it. Raises
    // it to SOMAXCONN (listen(2) on a listening socket updates the backlog); logs a failure.
    void widen_backlog();

private:
    // Replaces httplib's keep-alive loop over its SocketStream with the same loop over ours;
    // runs on a server pool thread, owns `sock` and closes it.
    bool process_and_close_socket(socket_t sock) override;

    const RequestLimits limits_;
};

}  // namespace runtime::http_limits
