// What both `tooljail serve` transports share at start-up: the options that are not about
// HTTP, and the ServeContext built from them (records, the live tool set, admission, the
// SIGHUP reloader). The stdio loop is runtime/cli/serve_command.h, Streamable HTTP
// runtime/http/http_transport.h; they differ only in framing and in how calls reach the
// CallPool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/mcp/tool_set.h"
#include "runtime/ops/admission.h"
#include "runtime/records/record_store.h"
#include "runtime/serve/reload_signal.h"
#include "sandbox/base/result.h"

namespace runtime {

// The options of `tooljail serve` that both transports take (HTTP's own: HttpOptions).
struct ServeOptions {
    std::string tools_dir;    // empty = default_tools_dir()
    std::string policy_dir;   // empty = default_policy_dir()
    std::string workspace;    // empty = current directory
    size_t max_parallel = 4;  // calls running at once (all HTTP sessions together)
    size_t max_queued = 64;   // calls waiting beyond that; more is refused (server busy)
    // Per-run records (runtime/records/record_store.h): "" = default_records_dir(). A call whose
    // record cannot be started is refused unless records_fail_open.
    std::string records_dir;
    bool records_fail_open = false;
    bool syslog = false;  // a one-line summary of each finished record to syslog
    // Warm pool (sandbox/pool.h): sandboxes prepared ahead of the calls, per tool, each used for
    // one call. 0 = off. pool_max bounds all tools together (idle memory; docs/BENCHMARKS.md).
    size_t pool_size = 2;
    size_t pool_max = 32;
    // Admission control (docs/ADMISSION.md): rate limits, all off by default.
    AdmissionOptions admission;
    // The approved tool hashes (runtime/tools/tools_lock.h); "" = no lock, every valid tool is
    // served.
    std::string tools_lock;
    // The kill switch's directory (runtime/tools/tool_kill_switch.h): "" = default_state_dir().
    std::string state_dir;
    // SIGTERM drain (runtime/serve/drain.h): how long accepted calls may run before they are
    // cancelled.
    unsigned drain_timeout_seconds = 30;
    // "ADDR:PORT" of the listener for GET /metrics and /healthz; "" = none. Loopback only
    // unless metrics_allow names the peers that may scrape it (runtime/http/http_ops.h).
    std::string metrics_listen;
    std::vector<std::string> metrics_allow;  // "10.0.0.0/8", ... (--metrics-allow)
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

}  // namespace runtime
