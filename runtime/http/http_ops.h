// Internal to `tooljail serve`: the operations endpoints (docs/OPERATIONS.md).
//   GET /healthz  on the MCP listener (--http) and on the metrics listener; no authentication
//                 (it tells nothing but status, version and uptime): 200 {"status":"ok",
//                 "ready":true,...}, 503 {"status":"draining","ready":false,...} once SIGTERM
//                 started the drain, so that a load balancer stops routing here.
//   GET /metrics  only on the --metrics-listen listener, which is loopback only and accepts only
//                 loopback Host names and no Origin (a browser page cannot read it through DNS
//                 rebinding). Client names and call counts are the operator's business, not any
//                 MCP client's: expose them further only through a proxy with its own access
//                 control, or name the scrapers: with --metrics-allow RANGE... the listener may
//                 bind beyond loopback (a pod address, for Prometheus in the cluster) and answers
//                 peers in those ranges (and loopback) only, whose Host is a loopback name or an
//                 address literal (never a DNS name: no rebinding), still without Origin.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/http/http_listen.h"
#include "sandbox/base/result.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace runtime {
class LiveTools;
}

namespace runtime::http_ops {

inline constexpr const char* kHealthPath = "/healthz";

// Answers GET /healthz; draining is metrics::global().draining().
void healthz(httplib::Response& res);

// The answer to a tools/call that arrives while the server drains: 503 with Retry-After and a
// JSON-RPC error -32001 whose data.code is SHUTTING_DOWN (another replica can take it).
void refuse_draining(httplib::Response& res, const nlohmann::json& id);

// The --metrics-listen listener: its own small httplib server on its own thread.
class MetricsListener {
public:
    // Parses `listen` (loopback only unless `allow` names peer ranges, --metrics-allow),
    // binds, and starts serving; `render` produces the exposition. Errors name the flag.
    static sandbox::Result<std::unique_ptr<MetricsListener>> start(
        const std::string& listen, const std::vector<std::string>& allow,
        std::function<std::string()> render);
    ~MetricsListener();  // stops the server and joins its thread

    MetricsListener(std::unique_ptr<httplib::Server> server, std::string authority);
    const std::string& authority() const { return authority_; }

private:
    std::unique_ptr<httplib::Server> server_;
    std::string authority_;
    std::atomic<bool> finished_{false};  // listen_after_bind returned
    std::thread thread_;
};

// `serve --metrics-listen LISTEN`: null when LISTEN is empty; else the running listener, whose
// /metrics adds the served tool set's warm-pool gauges, announced on stderr as "tooljail: serving
// metrics at http://ADDR:PORT/metrics".
sandbox::Result<std::unique_ptr<MetricsListener>> serve_metrics(
    const std::string& listen, const std::vector<std::string>& allow, const LiveTools& tools);

}  // namespace runtime::http_ops
