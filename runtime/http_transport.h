// `tooljail serve --http ADDR:PORT`: MCP Streamable HTTP (2025-11-25, stateful sessions) on one
// endpoint, /mcp, served by cpp-httplib's thread-pool server.
//
//   POST /mcp    one JSON-RPC message. initialize (without Mcp-Session-Id) opens a session and
//                answers with its id; notifications and responses get 202; quick requests get
//                one application/json body; tools/call gets a text/event-stream response:
//                progress notifications while the run goes, then the result, then the end.
//   DELETE /mcp  ends the session and cancels its calls (204); GET /mcp is 405 (no
//                server-initiated stream).
//
// There is no authentication yet (bearer tokens are a later increment), so the listener is loopback
// only and every request must carry a loopback Host and, if any, an allowed Origin (DNS
// rebinding). Sessions, bodies, streams, threads and timeouts are all bounded; see the .cc.
#pragma once

#include <string>
#include <string_view>

#include "runtime/serve_command.h"
#include "sandbox/base/result.h"

namespace runtime {

struct ListenAddress {
    std::string host;  // numeric: "127.0.0.1", "127.0.0.2", "::1"
    int port = 0;      // 0 = any free port

    // "127.0.0.1:8080", "[::1]:8080": the form used in URLs and Origin values.
    std::string authority(int bound_port) const;
};

// Parses "ADDR:PORT", "[V6]:PORT", "PORT" or ":PORT" (address defaults to 127.0.0.1;
// "localhost" means 127.0.0.1, without consulting any resolver). Anything that is not a
// loopback address (127.0.0.0/8, ::1) is InvalidArgument with a message saying why: the
// transport has no authentication, so it must not be reachable from other hosts.
sandbox::Result<ListenAddress> parse_listen_address(std::string_view text);

// Loads everything like serve_stdio (refusing to start on any invalid file), binds the
// listener, prints "tooljail: serving MCP over Streamable HTTP at http://ADDR:PORT/mcp" on
// stderr (the bound port when 0 was asked), and serves until SIGTERM or SIGINT: then it stops
// accepting, cancels every call in flight (their runs are killed) and returns 0. Returns
// kExitSandboxError when loading or binding fails. Must be called before the process has
// started any thread: it blocks SIGTERM/SIGINT in every thread it creates and waits for them
// on one.
int serve_http(const ServeOptions& options);

}  // namespace runtime
