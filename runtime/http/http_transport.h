// `tooljail serve --http ADDR:PORT`: MCP Streamable HTTP on one endpoint, /mcp, served by
// cpp-httplib's thread-pool server. Both protocol eras share the endpoint, the CallPool and the
// bound on open streams; a POST is routed by what it carries.
//
// 2025-11-25 (stateful sessions; also 2025-06-18 and 2025-03-26):
//   POST /mcp    one JSON-RPC message. initialize (without Mcp-Session-Id) opens a session and
//                answers with its id; notifications and responses get 202; quick requests get
//                one application/json body; tools/call gets a text/event-stream response:
//                progress notifications while the run goes, then the result, then the end.
//                notifications/cancelled or closing that stream cancels the call.
//   DELETE /mcp  with Mcp-Session-Id ends the session and cancels its calls (204).
// 2026-07-28 (stateless; a POST without Mcp-Session-Id whose MCP-Protocol-Version header is
// 2026-07-28 or whose params._meta names a protocol version; runtime/http/http_stateless.h):
//   POST /mcp    MCP-Protocol-Version, Mcp-Method and, for tools/call, resources/read and
//                prompts/get, Mcp-Name must be present and match the body (else 400, -32020);
//                an unsupported version is 400 with -32022 and data.supported; an unknown
//                method 404 with -32601; a notification 202. tools/call streams as above, and
//                closing the stream is the only cancellation.
//   DELETE /mcp  without Mcp-Session-Id is 405.
// GET /healthz: 200, or 503 while draining, without authentication (runtime/http/http_ops.h).
// Either era: GET /mcp is 405 (no server-initiated stream); OPTIONS /mcp answers a CORS
// preflight (204); responses to an allowed Origin carry Access-Control-Allow-Origin.
//
// Without --auth the listener is loopback only. With --auth FILE (runtime/http/auth_tokens.h) every
// request to /mcp but a CORS preflight needs Authorization: Bearer <token> (else 401 with
// WWW-Authenticate), the listener may be beyond loopback, sessions belong to the client that
// opened them, and each client sees and calls only the tools of its scope (docs/AUTH.md).
// Either way every request must carry an allowed Host (loopback, or with --auth the listen
// address and --allowed-host names) and, if any, an allowed Origin (DNS rebinding; otherwise
// 403, before authentication, preflights included). Sessions (in all, per client, in idle time
// and lifetime), bodies, streams, threads and timeouts are all bounded; see the .cc.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runtime/http/http_listen.h"
#include "runtime/serve/serve_context.h"

namespace runtime {

// `serve --http`'s own options, besides the ServeOptions both transports share.
struct HttpOptions {
    // "ADDR:PORT", "PORT" or ":PORT" (loopback only without auth_file; port 0 picks a free
    // one). Empty = serve stdio instead.
    std::string listen;
    // Origin values accepted besides the listener's own http://127.0.0.1:PORT,
    // http://localhost:PORT and http://[::1]:PORT (e.g. "http://localhost:5173").
    std::vector<std::string> allowed_origins;
    // Host names accepted besides loopback ones and the listen address itself (when the
    // server listens beyond loopback, e.g. "mcp.example.com").
    std::vector<std::string> allowed_hosts;
    // the token file (runtime/http/auth_tokens.h); "" = no authentication, loopback only.
    std::string auth_file;
    // the most bytes of one request body (413 beyond), and how long one request's headers
    // and body may take to arrive (the connection is closed after that).
    size_t max_body_bytes = size_t{4} << 20;
    // the bytes of request bodies being received and handled at once, all connections
    // together (at least max_body_bytes); a body beyond it is 503 with Retry-After.
    size_t max_body_total_bytes = size_t{32} << 20;
    double request_timeout_seconds = 30;
    // sessions that may hold a GET stream (server-initiated notifications) open at once;
    // 0 = none (GET is 405 and sessions are not offered listChanged).
    size_t max_get_streams = 16;
    // 2025-11-25 sessions (docs/ADMISSION.md, "Sessions"): at most max_sessions open, all
    // clients together (one more initialize is 503 with Retry-After), and max_client_sessions
    // of one client (one more ends that client's least recently used session without a call in
    // progress; 429 when all have one). A session ends session_idle_seconds after its last
    // request, 5 minutes (at most session_idle_seconds) after it opened when it made no request
    // but initialize and ping, and session_lifetime_seconds after it opened (0 = never).
    size_t max_sessions = 256;
    size_t max_client_sessions = 16;
    int64_t session_idle_seconds = 3600;
    int64_t session_lifetime_seconds = 86400;
    // this instance's name, the prefix of its session ids ("<name>-<hex>"), so that a load
    // balancer in front of several instances can pin a session to the one that holds it.
    std::string instance_id;
    // reverse proxies in front ("127.0.0.1", "10.0.0.0/8"; runtime/http/net_range.h): a request
    // from one of them is logged as coming from the client X-Forwarded-For names.
    std::vector<std::string> trusted_proxies;
};

// Loads everything like serve_stdio (refusing to start on any invalid file), binds the
// listener, prints "tooljail: serving MCP over Streamable HTTP at http://ADDR:PORT/mcp" on
// stderr (the bound port when 0 was asked), and serves until SIGTERM or SIGINT: then it drains
// (runtime/serve/drain.h: new calls 503, accepted ones finish or are cancelled at --drain-timeout),
// stops and returns 0. /healthz and --metrics-listen: runtime/http/http_ops.h. Returns
// kExitSandboxError when loading or binding fails. Must be called before the process has
// started any thread: it blocks SIGTERM/SIGINT in every thread it creates and waits for them
// on one.
int serve_http(const ServeOptions& options, const HttpOptions& http);

}  // namespace runtime
