// Internal to the Streamable HTTP transport (runtime/http/): bearer-token authentication
// of each request (docs/AUTH.md), and the token file itself: loaded at start-up, re-read on
// SIGHUP. Include it nowhere else.
#pragma once

#include <memory>
#include <string>

#include "runtime/http/auth_tokens.h"
#include "runtime/tools/tool_registry.h"
#include "sandbox/base/result.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace runtime::http_auth {

// What authentication decided about a request. Without authentication everyone is `ok`, with
// no client. `client` keeps its entry (and token file snapshot) alive for the request.
struct Caller {
    bool ok = false;
    std::shared_ptr<const auth::TokenEntry> client;
};

// Bearer tokens (RFC 6750); `verifier` null means no authentication. Not ok: res is the 401,
// logged with `peer`, the client's address (HttpTransport::peer: behind a trusted proxy, the
// one X-Forwarded-For names).
Caller authenticate(const auth::TokenVerifier* verifier, const httplib::Request& req,
                    const std::string& peer, httplib::Response& res);

// The token file for `serve --auth path`, every scoped tool known to `tools`. An error names the
// file and why (no clients at start-up is one: it would refuse everyone).
sandbox::Result<std::unique_ptr<auth::TokenVerifier>> load_verifier(const std::string& path,
                                                                    const ToolRegistry& tools);

// SIGHUP: re-reads the file into `verifier`. A file that cannot be read, parsed or names an
// unknown tool is logged and the previous tokens stay; an empty one is taken (everyone is
// refused) with a warning. Logs the clients added, removed and changed (token or tools).
void reload_tokens(auth::TokenVerifier& verifier, const std::string& path,
                   const ToolRegistry& tools);

}  // namespace runtime::http_auth
