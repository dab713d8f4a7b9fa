// `tooljail serve`: the MCP server (2025-11-25, stateful) over stdio, or over Streamable HTTP
// with --http (runtime/http/http_transport.h). Both transports share the start-up below and the
// per-session McpServer; they differ only in framing and in how calls reach the CallPool. On
// stdio, stdout carries only protocol messages; logs go to stderr either way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/ops/admission.h"
#include "runtime/records/record_store.h"
#include "runtime/serve/reload_signal.h"
#include "runtime/mcp/tool_set.h"
#include "sandbox/base/result.h"

namespace runtime {

struct ServeOptions {
    std::string tools_dir;    // empty = default_tools_dir()
    std::string policy_dir;   // empty = default_policy_dir()
    std::string workspace;    // empty = current directory
    size_t max_parallel = 4;  // calls running at once (all HTTP sessions together)
    size_t max_queued = 64;   // calls waiting beyond that; more is refused (server busy)
    // Streamable HTTP instead of stdio: "ADDR:PORT", "PORT" or ":PORT" (loopback only without
    // auth_file; port 0 picks a free one). Empty = stdio.
    std::string http_listen;
    // HTTP: Origin values accepted besides the listener's own http://127.0.0.1:PORT,
    // http://localhost:PORT and http://[::1]:PORT (e.g. "http://localhost:5173").
    std::vector<std::string> allowed_origins;
    // HTTP: Host names accepted besides loopback ones and the listen address itself (when the
    // server listens beyond loopback, e.g. "mcp.example.com").
    std::vector<std::string> allowed_hosts;
    // HTTP: the token file (runtime/http/auth_tokens.h); "" = no authentication, loopback only.
    std::string auth_file;
    // Per-run records (runtime/records/record_store.h): "" = default_records_dir(). A call whose record
    // cannot be started is refused unless records_fail_open.
    std::string records_dir;
    bool records_fail_open = false;
    bool syslog = false;  // a one-line summary of each finished record to syslog
    // Warm pool (sandbox/pool.h): sandboxes prepared ahead of the calls, per tool, each used for
    // one call. 0 = off. pool_max bounds all tools together (idle memory; docs/BENCHMARKS.md).
    size_t pool_size = 2;
    size_t pool_max = 32;
    // Admission control (docs/ADMISSION.md): rate limits, all off by default.
    AdmissionOptions admission;
    // HTTP: the most bytes of one request body (413 beyond), and how long one request's headers
    // and body may take to arrive (the connection is closed after that).
    size_t max_body_bytes = size_t{4} << 20;
    // HTTP: the bytes of request bodies being received and handled at once, all connections
    // together (at least max_body_bytes); a body beyond it is 503 with Retry-After.
    size_t max_body_total_bytes = size_t{32} << 20;
    double request_timeout_seconds = 30;
    // HTTP: sessions that may hold a GET stream (server-initiated notifications) open at once;
    // 0 = none (GET is 405 and sessions are not offered listChanged).
    size_t max_get_streams = 16;
    // The approved tool hashes (runtime/tools/tools_lock.h); "" = no lock, every valid tool is served.
    std::string tools_lock;
    // The kill switch's directory (runtime/tools/tool_kill_switch.h): "" = default_state_dir().
    std::string state_dir;
    // SIGTERM drain (runtime/serve/drain.h): how long accepted calls may run before they are cancelled.
    unsigned drain_timeout_seconds = 30;
    // "ADDR:PORT" of a loopback-only listener for GET /metrics and /healthz; "" = none.
    std::string metrics_listen;
    // HTTP: this instance's name, the prefix of its session ids ("<name>-<hex>"), so that a load
    // balancer in front of several instances can pin a session to the one that holds it.
    std::string instance_id;
};

// What every transport serves (shared by all sessions and worker threads). The tools are a
// snapshot that SIGHUP replaces (LiveTools::reload); the rest is fixed at start-up.
struct ServeContext {
    std::unique_ptr<RecordStore> records;  // null only with records_fail_open and no store
    std::unique_ptr<LiveTools> tools;      // the current ToolSet, the kill switch
    std::string workspace;                 // resolved
    std::string instructions;              // the initialize result's "instructions"
    // The rate limits, shared by every session (thread-safe; null when none is set).
    std::unique_ptr<Admission> admission;
    std::unique_ptr<HangupReloader> reloader;  // last: stops before the tools go
};

// Loads the policies, tool manifests and lock file, opens the Host and prepares every enabled
// tool's sandbox. Any invalid file or unpreparable sandbox is an error naming it (fail closed:
// the caller refuses to serve). The workspace defaults to the current directory. Blocks SIGHUP
// in the calling thread before any thread starts; from then on SIGHUP reloads the tools.
sandbox::Result<std::unique_ptr<ServeContext>> load_serve_context(const ServeOptions& options);

// Loads everything (refusing to start on any invalid file), then serves stdin/stdout until
// stdin closes (running calls are cancelled) or a SIGTERM/SIGINT drain ends (runtime/serve/drain.h);
// SIGHUP reloads the tools. Must be called before the process has started any thread. Returns
// the process exit status.
int serve_stdio(const ServeOptions& options);

}  // namespace runtime
