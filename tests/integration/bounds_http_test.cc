// The HTTP term of the supervisor's memory bound (docs/BOUNDS.md, issue 7 item 4), measured
// through the real `tooljail serve --http`: every server thread receives a request with a
// max-size body and headers at their budget at the same moment, more connections wait for a
// thread; --max-body-total admits as many bodies as it holds and answers the others 503, and
// the admitted ones are then completed and handled at once. Raw sockets, so that the test
// decides exactly how much of each request is on its way.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using tjtest::kMiB;
using tjtest::ProcUsage;

// As in bounds_test.cc: allocator and thread-stack noise on top of each derived bound.
constexpr uint64_t kSlack = 24 * kMiB;

// The configuration under test: P, Q, G (GET streams), L, B.
constexpr size_t kParallel = 2;
constexpr size_t kQueued = 8;
constexpr size_t kGetStreams = 4;
constexpr size_t kBody = 4 * kMiB;
constexpr size_t kBodyTotal = 4 * kBody;
// runtime/http/http_transport.cc: streams = min(kMaxStreams 256, P + Q); threads = streams + GET
// streams + kSpareThreads 16.
constexpr size_t kServerThreads = std::min<size_t>(256, kParallel + kQueued) + kGetStreams + 16;
// Connections beyond the threads: they wait for one (kMaxWaitingConnections is 256), not 503.
constexpr size_t kWaiting = 8;
// runtime/http/http_limits.cc: request line and headers, all lines together.
constexpr size_t kHeaderBudget = 64 * 1024;
// Rounds of the whole load on one server.
constexpr int kRounds = 6;

// docs/BOUNDS.md. Every thread may hold a request's headers; the bodies together are at most B
// while they arrive (each buffer reserved at its Content-Length) and at most 6 B while they are
// parsed and handled (the body, nlohmann's lexer buffer, the parsed string; freed blocks stay
// resident in glibc's arenas, which the threads share, and fragment there).
constexpr uint64_t kReceivingBound = kBodyTotal + kServerThreads * kHeaderBudget;
constexpr uint64_t kHandlingBound = 6 * kBodyTotal + kServerThreads * kHeaderBudget;

// A 2026-07-28 server/discover (answered 200 without a session) of exactly `size` bytes, padded
// with a long string in params._meta; with pad_headers, its headers fill the header budget but
// for a few bytes.
std::string max_request(int port, size_t size, bool pad_headers) {
    std::string head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                       "\r\nContent-Type: application/json\r\n"
                       "Accept: application/json, text/event-stream\r\n"
                       "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: server/discover\r\n"
                       "Content-Length: " +
                       std::to_string(size) + "\r\n";
    // Lines under httplib's 8 KiB line limit, until the budget (less the blank line) is nearly
    // used up.
    for (int i = 0; pad_headers && head.size() + 64 < kHeaderBudget; ++i) {
        std::string name = "X-Pad-" + std::to_string(i) + ": ";
        head += name + std::string(std::min<size_t>(8000, kHeaderBudget - 64 - head.size()), 'h') +
                "\r\n";
    }
    head += "\r\n";
    const std::string open =
        R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{)"
        R"("io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
        R"("io.modelcontextprotocol/clientCapabilities":{},"pad":")";
    const std::string close = R"("}}})";
    return head + open + std::string(size - open.size() - close.size(), 'x') + close;
}

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    REQUIRE(rc == 0);
    REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    return fd;
}

// One client connection sending the shared request text; the test decides how far.
struct Client {
    Client() = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    int fd = -1;
    size_t sent = 0;
    bool send_failed = false;  // the server closed the connection (after refusing it)
    bool closed = false;       // EOF or reset: nothing more will be read
    std::string reply;
    ~Client() {
        if (fd >= 0) ::close(fd);
    }
    bool answered() const { return reply.find("\r\n") != std::string::npos; }
    // Done for this phase: sent up to limit, or answered early, or cut off.
    bool settled(size_t limit) const {
        return sent >= limit || answered() || send_failed || closed;
    }
    int status() const {
        if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.size() < 12) return 0;
        return std::stoi(reply.substr(9, 3));
    }
};

// One poll round over the clients not yet settled: each sends what its socket takes (up to
// limit) and reads what the server answered.
void pump(std::vector<Client>& clients, const std::string& request, size_t limit) {
    std::vector<pollfd> fds;
    std::vector<Client*> who;
    for (auto& c : clients)
        if (!c.closed && !(c.answered() && c.sent >= limit)) {
            short events = POLLIN;
            if (c.sent < limit && !c.send_failed) events |= POLLOUT;
            fds.push_back({c.fd, events, 0});
            who.push_back(&c);
        }
    if (fds.empty() || ::poll(fds.data(), fds.size(), 50) <= 0) return;
    for (size_t i = 0; i < fds.size(); ++i) {
        Client& c = *who[i];
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[4096];
            ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0)
                c.reply.append(buf, static_cast<size_t>(n));
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                c.closed = true;
        }
        if ((fds[i].revents & POLLOUT) && !c.closed) {
            ssize_t w = ::send(c.fd, request.data() + c.sent,
                               std::min<size_t>(limit - c.sent, kMiB), MSG_NOSIGNAL);
            if (w > 0)
                c.sent += static_cast<size_t>(w);
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                c.send_failed = true;
        }
    }
}

size_t count(const std::vector<Client>& clients, const std::function<bool(const Client&)>& pred) {
    return static_cast<size_t>(std::count_if(clients.begin(), clients.end(), pred));
}

// Receiving: each client sends all but the last byte of `request`; the admitted ones then wait
// for the server, which waits for that byte, the others are answered 503 (or cut off). Ends when
// every client is settled and RSS has stopped growing (at most 5 s more). Returns the peak.
ProcUsage hold_all(pid_t server, std::vector<Client>& clients, const std::string& request) {
    const size_t held = request.size() - 1;
    ProcUsage peak = tjtest::proc_usage(server);
    auto deadline = Clock::now() + std::chrono::seconds(60);
    auto settled = [held](const Client& c) { return c.settled(held); };
    while (count(clients, settled) < clients.size() && Clock::now() < deadline) {
        pump(clients, request, held);
        take_peak(peak, tjtest::proc_usage(server));
    }
    REQUIRE(count(clients, settled) == clients.size());
    deadline = Clock::now() + std::chrono::seconds(5);
    for (auto grew = Clock::now();
         Clock::now() - grew < std::chrono::seconds(1) && Clock::now() < deadline;) {
        pump(clients, request, held);
        uint64_t rss = peak.rss;
        take_peak(peak, tjtest::proc_usage(server));
        if (peak.rss > rss + 64 * 1024) grew = Clock::now();
    }
    return peak;
}

// Handling: the admitted clients send their last bytes together, so their bodies are parsed at
// the same time; then every client's answer is read.
void finish_all(pid_t server, std::vector<Client>& clients, const std::string& request,
                ProcUsage& peak) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    auto done = [](const Client& c) { return c.answered() || c.closed; };
    while (count(clients, done) < clients.size() && Clock::now() < deadline) {
        pump(clients, request, request.size());
        take_peak(peak, tjtest::proc_usage(server));
    }
    take_peak(peak, tjtest::proc_usage(server));
}

}  // namespace

TEST_CASE(
    "bounds: every HTTP server thread receiving a max-size request at once stays within "
    "--max-body-total",
    "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-http-");
    tjtest::ServeProcess s(
        {"--http", "127.0.0.1:0", "--workspace", dir.path(), "--records", dir.path() + "/store",
         "--max-parallel", std::to_string(kParallel), "--max-queued", std::to_string(kQueued),
         "--max-get-streams", std::to_string(kGetStreams), "--max-body", std::to_string(kBody),
         "--max-body-total", std::to_string(kBodyTotal), "--request-timeout", "20"});
    const int port = s.http_port();
    // Let start-up settle (the warm pool fills), so that it is part of the baseline.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const ProcUsage before = tjtest::proc_usage(s.pid());
    const std::string request = max_request(port, kBody, true);

    // Several rounds: the blocks each one frees stay in glibc's arenas, shared by the threads,
    // and what the next round finds there is part of the worst case.
    ProcUsage peak = before;
    for (int round = 1; round <= kRounds; ++round) {
        std::vector<Client> clients(kServerThreads + kWaiting);
        for (auto& c : clients) c.fd = connect_loopback(port);
        ProcUsage receiving = hold_all(s.pid(), clients, request);
        take_peak(peak, receiving);
        size_t held = count(clients, [&](const Client& c) {
            return c.sent == request.size() - 1 && !c.answered();
        });
        INFO("round " << round << ": before: " << describe(before)
                      << ", receiving: " << describe(receiving) << ", bodies held: " << held);
        // The budget admitted exactly as many max-size bodies as it holds, and they were all
        // in memory at the same moment.
        CHECK(held == kBodyTotal / kBody);
        CHECK(receiving.rss >= before.rss + (held - 1) * kBody);
        // VmHWM is the peak since start, which the handling of earlier rounds set; RSS is now.
        CHECK((round == 1 ? receiving.hwm : receiving.rss) < before.rss + kReceivingBound + kSlack);
        // One socket per connection, the waiting ones included, and nothing else per request.
        CHECK(receiving.fds <= before.fds + kServerThreads + kWaiting + 8);

        finish_all(s.pid(), clients, request, peak);
        size_t ok = count(clients, [](const Client& c) { return c.status() == 200; });
        size_t busy = count(clients, [](const Client& c) {
            return c.status() == 503 && c.reply.find("Retry-After: 1\r\n") != std::string::npos;
        });
        INFO("handled: " << describe(peak) << ", 200: " << ok << ", 503: " << busy << "; stderr:\n"
                         << s.stderr_text().substr(0, 4000));
        CHECK(ok == kBodyTotal / kBody);
        // The others were refused with a reason and a retry time (a reset may eat an answer).
        CHECK(busy + ok >= clients.size() - 2);
        CHECK(peak.hwm < before.rss + kHandlingBound + kSlack);
    }

    // The server still answers a normal request, and every connection's descriptor is gone
    // once the clients close.
    std::vector<Client> fresh(1);
    fresh[0].fd = connect_loopback(port);
    const std::string normal = max_request(port, 1024, false);
    for (auto deadline = Clock::now() + std::chrono::seconds(30);
         !fresh[0].answered() && !fresh[0].closed && Clock::now() < deadline;)
        pump(fresh, normal, normal.size());
    CHECK(fresh[0].status() == 200);
    fresh.clear();
    ProcUsage after = tjtest::proc_usage(s.pid());
    for (auto deadline = Clock::now() + std::chrono::seconds(30);
         after.fds > before.fds && Clock::now() < deadline; after = tjtest::proc_usage(s.pid()))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    INFO("after: " << describe(after));
    CHECK(after.fds <= before.fds);
}
