// Internal to the Streamable HTTP transport: see http_auth.h.
#include "runtime/http/http_auth.h"

#include <httplib.h>

#include <optional>
#include <vector>

#include "runtime/base/log.h"
#include "runtime/http/http_headers.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/ops/metrics.h"
#include "runtime/records/reasons.h"

namespace runtime::http_auth {
namespace {

sandbox::Result<auth::TokenFile> read_checked(const std::string& path, const ToolRegistry& tools) {
    auto file = auth::load_token_file(path);
    if (!file) return file;
    auto known = auth::check_known_tools(
        path, *file, [&tools](const std::string& name) { return tools.find_any(name) != nullptr; });
    if (!known) return sandbox::fail(known.error());
    return file;
}

}  // namespace

// After the Host and Origin checks: a request from a foreign page is refused 403 before its
// credentials are looked at. A 401 carries WWW-Authenticate; with error="invalid_token" when a
// token came and did not match, without an error when none came (RFC 6750 section 3.1). The
// log line names the peer and why, never any part of the token.
Caller authenticate(const auth::TokenVerifier* verifier, const httplib::Request& req,
                    const std::string& peer, httplib::Response& res) {
    if (!verifier) return {true, nullptr};
    std::optional<std::string> header;
    if (req.has_header("Authorization")) header = req.get_header_value("Authorization");
    std::string token;
    auth::BearerHeader form = auth::bearer_token(header, token);
    auto client = form == auth::BearerHeader::Ok ? verifier->verify(token) : nullptr;
    if (client) return {true, std::move(client)};
    bool presented = form == auth::BearerHeader::Ok || form == auth::BearerHeader::Malformed;
    metrics::global().on_refused(records::kUnauthorized);
    LOG_WARN("refused {} {} from {}: {}", req.method, req.path, peer,
             form == auth::BearerHeader::Absent      ? "no Authorization header"
             : form == auth::BearerHeader::NotBearer ? "Authorization is not a Bearer token"
             : form == auth::BearerHeader::Malformed ? "malformed bearer token"
                                                     : "unknown bearer token");
    res.set_header("WWW-Authenticate", presented
                                           ? "Bearer realm=\"tooljail\", error=\"invalid_token\""
                                           : "Bearer realm=\"tooljail\"");
    http_headers::send_error(
        res, 401, jsonrpc::kInvalidRequest,
        presented ? "Unauthorized: the bearer token is not valid"
                  : "Unauthorized: send Authorization: Bearer <token> (tooljail token create)");
    return {};
}

sandbox::Result<std::unique_ptr<auth::TokenVerifier>> load_verifier(const std::string& path,
                                                                    const ToolRegistry& tools) {
    auto file = read_checked(path, tools);
    if (!file) return sandbox::fail(file.error());
    // Fail closed: an empty file would refuse everyone, which is never what was meant at start.
    if (file->clients.empty())
        return sandbox::fail(
            sandbox::Errc::InvalidArgument,
            path + ": no clients; create one with tooljail token create --client NAME --tools ...");
    return std::make_unique<auth::TokenVerifier>(std::move(*file));
}

void reload_tokens(auth::TokenVerifier& verifier, const std::string& path,
                   const ToolRegistry& tools) {
    auto next = read_checked(path, tools);
    if (!next) {
        LOG_ERROR("token reload failed, still accepting the previous tokens: {}",
                  next.error().message());
        return;
    }
    std::shared_ptr<const auth::TokenFile> old = verifier.file();
    std::vector<std::string> added, removed, changed;
    for (const auto& entry : next->clients) {
        const auth::TokenEntry* before = old->find(entry.client);
        if (!before)
            added.push_back(entry.client);
        else if (before->sha256 != entry.sha256 || before->tools != entry.tools)
            changed.push_back(entry.client);
    }
    for (const auto& entry : old->clients)
        if (!next->find(entry.client)) removed.push_back(entry.client);
    size_t count = next->clients.size();
    verifier.replace(std::move(*next));
    LOG_INFO("tokens reloaded from {}: {} clients, added={} removed={} changed={}", path, count,
             log::names(added), log::names(removed), log::names(changed));
    if (count == 0) LOG_WARN("{} has no clients: every request is refused 401", path);
}

}  // namespace runtime::http_auth
