// The HTTP term of the supervisor's memory bound (docs/BOUNDS.md, issue 7 item 4), measured
// through the real `tooljail serve --http`: every server thread receives a request with a
// max-size body and headers at their budget at the same moment, more connections wait for a
// thread, then all of them are completed and handled at once. Raw sockets, so that the test
// decides exactly how much of each request is on its way.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using tjtest::kMiB;
using tjtest::ProcUsage;

// As in bounds_test.cc: allocator and thread-stack noise on top of each derived bound.
constexpr uint64_t kSlack = 24 * kMiB;

// The configuration under test: P, Q, L.
constexpr size_t kParallel = 2;
constexpr size_t kQueued = 8;
constexpr size_t kBody = 4 * kMiB;
// runtime/http_transport.cc: streams = min(kMaxStreams 256, P + Q); threads = streams +
// kSpareThreads 16.
constexpr size_t kServerThreads = std::min<size_t>(256, kParallel + kQueued) + 16;
// Connections beyond the threads: they wait for one (kMaxWaitingConnections is 256), not 503.
constexpr size_t kWaiting = 8;
// runtime/http_limits.cc: request line and headers, all lines together.
constexpr size_t kHeaderBudget = 64 * 1024;
// Rounds of the whole load on one server.
constexpr int kRounds = 4;

// docs/BOUNDS.md, per server thread. Receiving: the body grows by doubling, so its block is
// under 2 L, and while it grows the previous block (under L) is still being copied; plus the
// headers. Handling adds the parse: nlohmann's lexer buffer (another block under 2 L) and the
// parsed string, then Message::params' copy of it (L each); freed blocks stay resident in glibc's
// arenas, which the threads share, and fragment there: 6 L.
constexpr uint64_t kReceivingPerThread = 2 * kBody + kHeaderBudget;
constexpr uint64_t kHandlingPerThread = 6 * kBody + kHeaderBudget;

std::string describe(const ProcUsage& u) {
    return "rss=" + std::to_string(u.rss / kMiB) + " MiB hwm=" + std::to_string(u.hwm / kMiB) +
           " MiB fds=" + std::to_string(u.fds);
}

void take_peak(ProcUsage& peak, const ProcUsage& now) {
    peak.rss = std::max(peak.rss, now.rss);
    peak.hwm = std::max(peak.hwm, now.hwm);
    peak.fds = std::max(peak.fds, now.fds);
}

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
        head += name + std::string(std::min<size_t>(8000, kHeaderBudget - 64 - head.size()), 'h') + "\r\n";
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
    std::string reply;
    ~Client() {
        if (fd >= 0) ::close(fd);
    }
};

// One poll round: each client below `limit` sends what its socket takes. False when a send
// failed (the server closed the connection early).
bool send_round(std::vector<Client>& clients, const std::string& request, size_t limit) {
    std::vector<pollfd> fds;
    std::vector<Client*> who;
    for (auto& c : clients)
        if (c.sent < limit) {
            fds.push_back({c.fd, POLLOUT, 0});
            who.push_back(&c);
        }
    if (fds.empty()) return true;
    int n = ::poll(fds.data(), fds.size(), 50);
    if (n < 0) return errno == EINTR;
    for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) continue;
        Client& c = *who[i];
        ssize_t w = ::send(c.fd, request.data() + c.sent, std::min<size_t>(limit - c.sent, kMiB), MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w <= 0) return false;
        c.sent += static_cast<size_t>(w);
    }
    return true;
}

size_t count_sent(const std::vector<Client>& clients, size_t limit) {
    return static_cast<size_t>(
        std::count_if(clients.begin(), clients.end(), [limit](const Client& c) { return c.sent >= limit; }));
}

// The status of the reply on a connection (0 if it closed or timed out without a status line).
int read_status(Client& c, Clock::time_point deadline) {
    while (c.reply.find("\r\n") == std::string::npos && Clock::now() < deadline) {
        pollfd p{c.fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        c.reply.append(buf, static_cast<size_t>(n));
    }
    if (c.reply.rfind("HTTP/1.1 ", 0) != 0 || c.reply.size() < 12) return 0;
    return std::stoi(c.reply.substr(9, 3));
}

// Receiving: each client sends all but the last byte of `request`. The server waits for that
// byte (up to its 10 s read timeout), so the peak holds while it is read: until RSS stops
// growing once every thread has its request, at most 5 s. Returns the peak.
ProcUsage hold_all(pid_t server, std::vector<Client>& clients, const std::string& request) {
    const size_t held = request.size() - 1;
    ProcUsage peak = tjtest::proc_usage(server);
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (count_sent(clients, held) < kServerThreads && Clock::now() < deadline) {
        REQUIRE(send_round(clients, request, held));
        take_peak(peak, tjtest::proc_usage(server));
    }
    REQUIRE(count_sent(clients, held) >= kServerThreads);
    deadline = Clock::now() + std::chrono::seconds(5);
    for (auto grew = Clock::now(); Clock::now() - grew < std::chrono::seconds(1) && Clock::now() < deadline;) {
        REQUIRE(send_round(clients, request, held));
        uint64_t rss = peak.rss;
        take_peak(peak, tjtest::proc_usage(server));
        if (peak.rss > rss + 64 * 1024) grew = Clock::now();
    }
    return peak;
}

// Handling: the last bytes go out together, so the threads parse at the same time; the
// waiting connections are served as threads come free. Returns how many were answered 200.
size_t finish_all(pid_t server, std::vector<Client>& clients, const std::string& request, ProcUsage& peak) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (count_sent(clients, request.size()) < clients.size() && Clock::now() < deadline) {
        REQUIRE(send_round(clients, request, request.size()));
        take_peak(peak, tjtest::proc_usage(server));
    }
    REQUIRE(count_sent(clients, request.size()) == clients.size());
    deadline = Clock::now() + std::chrono::seconds(60);
    size_t ok = 0;
    for (auto& c : clients) ok += read_status(c, deadline) == 200;
    take_peak(peak, tjtest::proc_usage(server));
    return ok;
}

}  // namespace

TEST_CASE("bounds: every HTTP server thread receiving and handling a max-size request at once",
          "[bounds][integration]") {
    tjtest::TempDir dir("tooljail-bounds-http-");
    tjtest::ServeProcess s({"--http", "127.0.0.1:0", "--workspace", dir.path(), "--records", dir.path() + "/store",
                            "--max-parallel", std::to_string(kParallel), "--max-queued", std::to_string(kQueued),
                            "--max-body", std::to_string(kBody), "--request-timeout", "20"});
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
        INFO("round " << round << ": before: " << describe(before) << ", receiving: " << describe(receiving)
                      << ", requests held: " << count_sent(clients, request.size() - 1));
        if (round == 1) {
            // The worst case was reached: every server thread held its body at the same moment.
            CHECK(receiving.rss >= before.rss + (kServerThreads - 1) * kBody);
            CHECK(receiving.hwm < before.rss + kServerThreads * kReceivingPerThread + kSlack);
        }
        // One socket per connection, the waiting ones included, and nothing else per request.
        CHECK(receiving.fds <= before.fds + kServerThreads + kWaiting + 8);
        size_t ok = finish_all(s.pid(), clients, request, peak);
        INFO("handled: " << describe(peak) << "; stderr:\n" << s.stderr_text().substr(0, 4000));
        CHECK(ok == clients.size());
        CHECK(peak.hwm < before.rss + kServerThreads * kHandlingPerThread + kSlack);
    }

    // The server still answers a normal request, and every connection's descriptor is gone
    // once the clients close.
    std::vector<Client> fresh(1);
    fresh[0].fd = connect_loopback(port);
    const std::string normal = max_request(port, 1024, false);
    while (count_sent(fresh, normal.size()) < 1) REQUIRE(send_round(fresh, normal, normal.size()));
    CHECK(read_status(fresh[0], Clock::now() + std::chrono::seconds(30)) == 200);
    fresh.clear();
    ProcUsage after = tjtest::proc_usage(s.pid());
    for (auto deadline = Clock::now() + std::chrono::seconds(30); after.fds > before.fds && Clock::now() < deadline;
         after = tjtest::proc_usage(s.pid()))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    INFO("after: " << describe(after));
    CHECK(after.fds <= before.fds);
}
