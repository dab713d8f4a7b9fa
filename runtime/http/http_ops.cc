#include "runtime/http/http_ops.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/base/log.h"
#include "runtime/http/http_headers.h"
#include "runtime/http/net_range.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/tool_runner.h"
#include "runtime/mcp/tool_set.h"
#include "runtime/ops/metrics.h"

#ifndef TOOLJAIL_VERSION
#define TOOLJAIL_VERSION "0"
#endif

namespace runtime::http_ops {
namespace {

// A drained server is gone within the drain timeout; a client retrying after this long reaches
// a replica (or the restarted server).
constexpr const char* kRetryAfterSeconds = "5";
// Prometheus scrapes one at a time; a second thread keeps /healthz answerable during a scrape.
constexpr size_t kMetricsThreads = 2;
// Peers always allowed: this host.
const std::vector<net_range::Range> kLoopback = [] {
    std::vector<net_range::Range> out;
    for (const char* r : {"127.0.0.0/8", "::1"}) out.push_back(*net_range::parse(r));
    return out;
}();

// A Host a rebinding page cannot send: a loopback name, or an address literal (a page that
// resolved its own name to this address sends that name, never the address).
bool literal_host(const std::string& host) {
    std::string name = http_headers::host_name(host);
    return !name.empty() && net_range::parse(name).has_value();
}

void metrics_routes(httplib::Server& server, std::vector<net_range::Range> allow,
                    std::function<std::string()> render) {
    server.new_task_queue = [] { return new httplib::ThreadPool(kMetricsThreads); };
    server.set_read_timeout(5, 0);
    server.set_write_timeout(5, 0);
    server.set_keep_alive_timeout(2);
    server.set_payload_max_length(1024);  // GETs only
    server.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes,
                     sizeof yes);  // no SO_REUSEPORT (http_transport.cc)
    });
    // DNS rebinding: a page that resolved its own name to 127.0.0.1 sends that name as Host,
    // and every browser request of a page carries Origin or is a navigation we need not serve.
    // With --metrics-allow: only the named peers (and loopback ones), by address literal.
    server.set_pre_routing_handler(
        [allow = std::move(allow)](const httplib::Request& req, httplib::Response& res) {
            // httplib's get_header_value() ends a value at a NUL: "127.0.0.1%00.evil" (decoded
            // to a NUL) would pass. values() keeps the whole value, and one Host exactly.
            std::vector<std::string> hosts = http_headers::values(req, "Host");
            const std::string host = hosts.size() == 1 ? hosts.front() : std::string();
            bool ok = hosts.size() == 1 && !req.has_header("Origin") &&
                      (allow.empty() ? http_headers::loopback_host(host)
                                     : (http_headers::loopback_host(host) || literal_host(host)) &&
                                           (net_range::contains(allow, req.remote_addr) ||
                                            net_range::contains(kLoopback, req.remote_addr)));
            if (ok) return httplib::Server::HandlerResponse::Unhandled;
            metrics::global().on_refused("forbidden");
            LOG_WARN("refused {} {} from {}: not an allowed metrics scraper", req.method, req.path,
                     req.remote_addr);
            res.status = 403;
            res.set_content(allow.empty() ? "forbidden: the metrics listener answers loopback Host "
                                            "names without Origin only\n"
                                          : "forbidden: not an allowed scraper (--metrics-allow)\n",
                            "text/plain");
            return httplib::Server::HandlerResponse::Handled;
        });
    server.Get("/metrics",
               [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
                   res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
               });
    server.Get(kHealthPath, [](const httplib::Request&, httplib::Response& res) { healthz(res); });
    server.set_error_handler(
        httplib::Server::Handler([](const httplib::Request&, httplib::Response& res) {
            if (res.status == 404)
                res.set_content("not found: GET /metrics or /healthz\n", "text/plain");
        }));
}

}  // namespace

void healthz(httplib::Response& res) {
    const auto& m = metrics::global();
    bool draining = m.draining();
    nlohmann::json body = {{"status", draining ? "draining" : "ok"},
                           {"ready", !draining},
                           {"version", TOOLJAIL_VERSION},
                           {"uptime_seconds", static_cast<int64_t>(m.uptime_seconds())}};
    res.status = draining ? 503 : 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(), "application/json");
}

void refuse_draining(httplib::Response& res, const nlohmann::json& id) {
    res.set_header("Retry-After", kRetryAfterSeconds);
    http_headers::send_message(
        res, 503,
        jsonrpc::error(id, jsonrpc::kServerBusy,
                       "Service Unavailable: the server is shutting down; retry elsewhere",
                       {{"code", "SHUTTING_DOWN"}, {"retry_after", 5}}));
}

sandbox::Result<std::unique_ptr<MetricsListener>> MetricsListener::start(
    const std::string& listen, const std::vector<std::string>& allow,
    std::function<std::string()> render) {
    auto ranges = net_range::parse_all("--metrics-allow", allow);
    if (!ranges) return sandbox::fail(std::move(ranges).error());
    // Parsed as if authenticated so that the loopback rule below can say why it differs.
    auto address = parse_listen_address(listen, /*authenticated=*/true);
    if (!address) {
        std::string why = address.error().context;
        if (why.rfind("--http", 0) == 0) why.replace(0, 6, "--metrics-listen");
        return sandbox::fail(sandbox::Errc::InvalidArgument, why);
    }
    if (!address->loopback && ranges->empty())
        return sandbox::fail(
            sandbox::Errc::InvalidArgument,
            "--metrics-listen '" + listen +
                "': the metrics listener is loopback only (127.0.0.0/8, ::1 or localhost) "
                "unless --metrics-allow names the scrapers' addresses (e.g. the cluster's pod "
                "network); or reach it through a proxy with its own access control "
                "(docs/OPERATIONS.md)");
    auto server = std::make_unique<httplib::Server>();
    metrics_routes(*server, std::move(*ranges), std::move(render));
    int port = address->port;
    bool bound = port == 0 ? (port = server->bind_to_any_port(address->host)) > 0
                           : server->bind_to_port(address->host, port);
    if (!bound) {
        int saved = errno;
        return sandbox::fail(sandbox::Errc::Syscall,
                             "--metrics-listen: cannot listen on " +
                                 address->authority(address->port) + ": " +
                                 (saved ? std::strerror(saved) : "bind failed"));
    }
    return std::make_unique<MetricsListener>(std::move(server), address->authority(port));
}

MetricsListener::MetricsListener(std::unique_ptr<httplib::Server> server, std::string authority)
    : server_(std::move(server)), authority_(std::move(authority)) {
    thread_ = std::thread([this] {
        if (!server_->listen_after_bind())
            LOG_ERROR("the metrics listener on {} failed", authority_);
        finished_ = true;
    });
}

MetricsListener::~MetricsListener() {
    // Server::stop() is a no-op until listen has started.
    while (!server_->is_running() && !finished_.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
}

sandbox::Result<std::unique_ptr<MetricsListener>> serve_metrics(
    const std::string& listen, const std::vector<std::string>& allow, const LiveTools& tools) {
    if (listen.empty()) {
        if (!allow.empty())
            return sandbox::fail(sandbox::Errc::InvalidArgument,
                                 "--metrics-allow needs --metrics-listen ADDR:PORT");
        return std::unique_ptr<MetricsListener>();
    }
    // The pool gauges are those of the tool set served at scrape time (SIGHUP swaps it).
    auto listener = MetricsListener::start(listen, allow, [&tools] {
        return metrics::global().render(tools.current()->runner->pool_stats());
    });
    if (listener) LOG_ANNOUNCE("serving metrics at http://{}/metrics", (*listener)->authority());
    return listener;
}

}  // namespace runtime::http_ops
