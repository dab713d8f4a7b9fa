// `tooljail serve` over stdio (the default): MCP 2025-11-25 (stateful, negotiating down) and
// the stateless 2026-07-28 revision on newline-delimited JSON-RPC. stdout carries only protocol
// messages; logs go to stderr.
#pragma once

#include "runtime/serve/serve_context.h"

namespace runtime {

// Loads everything (refusing to start on any invalid file), then serves stdin/stdout until
// stdin closes (running calls are cancelled) or a SIGTERM/SIGINT drain ends
// (runtime/serve/drain.h); SIGHUP reloads the tools. Must be called before the process has started
// any thread. Returns the process exit status.
int serve_stdio(const ServeOptions& options);

}  // namespace runtime
