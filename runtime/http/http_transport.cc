#include "runtime/http/http_transport.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/base/exit_codes.h"
#include "runtime/base/log.h"
#include "runtime/http/auth_tokens.h"
#include "runtime/http/http_auth.h"
#include "runtime/http/http_headers.h"
#include "runtime/http/http_limits.h"
#include "runtime/http/http_ops.h"
#include "runtime/http/http_peer.h"
#include "runtime/http/http_push.h"
#include "runtime/http/http_session.h"
#include "runtime/http/http_stateless.h"
#include "runtime/http/net_range.h"
#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/mcp/mcp_server.h"
#include "runtime/ops/metrics.h"
#include "runtime/serve/drain.h"

namespace runtime {
namespace {

using http_session::Session;
using http_session::SseStream;
using nlohmann::json;

constexpr const char* kEndpoint = "/mcp";
// An SSE stream occupies one server thread for the whole call (a GET stream for as long as it
// is open), and a client must always find a free thread for notifications/cancelled, ping and
// DELETE: the pool has this many threads beyond the most streams that can be open at once.
constexpr size_t kSpareThreads = 16;
constexpr size_t kMaxStreams = 256;
// Accepted connections waiting for a pool thread (a keep-alive connection holds one while it
// idles, up to 2 s); more are answered 503.
constexpr size_t kMaxWaitingConnections = 256;
// At stop, how long the streams of the calls just ended have to write their responses; a client
// that reads slower than that loses its response, as one whose connection dropped.
constexpr auto kFlushOnStop = std::chrono::seconds(3);

http_session::SessionLimits session_limits(const HttpOptions& http) {
    http_session::SessionLimits limits;
    limits.max_sessions = http.max_sessions;
    limits.max_per_client = http.max_client_sessions;
    limits.idle = std::chrono::seconds(http.session_idle_seconds);
    limits.lifetime = std::chrono::seconds(http.session_lifetime_seconds);
    return limits;
}

using http_headers::lower;
using http_headers::send_error;
using http_headers::send_message;
using http_session::handle_guarded;

// ---- the server ----

using http_auth::Caller;

class HttpTransport {
public:
    // `verifier` null: no authentication (loopback only, checked by parse_listen_address).
    HttpTransport(const ServeContext& ctx, const ServeOptions& options, const HttpOptions& http,
                  ListenAddress address, auth::TokenVerifier* verifier,
                  std::vector<net_range::Range> trusted_proxies)
        : ctx_(ctx),
          drain_timeout_(options.drain_timeout_seconds),
          instance_id_(http.instance_id),
          address_(std::move(address)),
          extra_origins_(http.allowed_origins),
          extra_hosts_(http.allowed_hosts),
          verifier_(verifier),
          trusted_proxies_(std::move(trusted_proxies)),
          auth_file_(http.auth_file),
          max_body_(http.max_body_bytes),
          body_budget_(http.max_body_total_bytes),
          streams_(std::min(kMaxStreams,
                            std::max<size_t>(1, options.max_parallel) + options.max_queued)),
          sessions_(session_limits(http)),
          pool_(std::max<size_t>(1, options.max_parallel), options.max_queued),
          stateless_(ctx, pool_, streams_),
          push_(std::make_shared<http_session::PushStreams>(http.max_get_streams,
                                                            sessions_.limits())),
          server_(http_limits::RequestLimits{
              std::chrono::milliseconds(static_cast<int64_t>(http.request_timeout_seconds * 1000)),
              http.max_body_bytes}) {}

    int run();

private:
    void configure();
    void stop();
    bool allowed(const httplib::Request& req, httplib::Response& res) const;
    // The client's address for the logs: the peer, or behind a trusted proxy the address
    // X-Forwarded-For names (net_range::client_address).
    std::string peer(const httplib::Request& req) const {
        if (trusted_proxies_.empty()) return req.remote_addr;
        return net_range::client_address(req.remote_addr, req.get_header_value("X-Forwarded-For"),
                                         trusted_proxies_);
    }
    Caller authenticate(const httplib::Request& req, httplib::Response& res) const {
        return http_auth::authenticate(verifier_, req, peer(req), res);
    }
    bool admit(const Caller& caller, const httplib::Request& req, httplib::Response& res) const {
        return http_limits::admit_request(ctx_.admission.get(), caller.client.get(), req, peer(req),
                                          res);
    }
    void reload_tokens();
    void options(const httplib::Request& req, httplib::Response& res) const;
    bool version_ok(const httplib::Request& req, httplib::Response& res) const;
    void post(const httplib::Request& req, const httplib::ContentReader& reader,
              httplib::Response& res);
    void remove(const httplib::Request& req, httplib::Response& res);
    void get(const httplib::Request& req, httplib::Response& res);
    std::shared_ptr<Session> find_session(const httplib::Request& req, const Caller& caller);
    // What /mcp answers (the Allow header): GET only when sessions may open GET streams.
    const char* allowed_methods() const {
        return push_->max() > 0 ? "GET, POST, DELETE, OPTIONS" : "POST, DELETE, OPTIONS";
    }
    void initialize(const httplib::Request& req, const jsonrpc::Message& m, const Caller& caller,
                    httplib::Response& res);
    void dispatch(const std::shared_ptr<Session>& session, const jsonrpc::Message& m,
                  httplib::Response& res);
    void start_call(const std::shared_ptr<Session>& session, const jsonrpc::Message& m,
                    CallWork work, httplib::Response& res);

    const ServeContext& ctx_;
    const std::chrono::seconds drain_timeout_;
    const std::string instance_id_;  // session id prefix (--instance-id)
    const ListenAddress address_;
    const std::vector<std::string> extra_origins_;
    const std::vector<std::string> extra_hosts_;
    auth::TokenVerifier* verifier_;                        // reloaded on SIGHUP (reload_tokens)
    const std::vector<net_range::Range> trusted_proxies_;  // --trusted-proxy
    const std::string auth_file_;
    const size_t max_body_;
    http_limits::BodyBudget body_budget_;  // --max-body-total
    std::set<std::string> origins_;        // lower case, filled in once the port is known
    std::set<std::string> hosts_;  // Host names accepted besides loopback ones (host_name form)
    std::atomic<bool> stopping_{false};
    std::atomic<bool> listen_done_{false};  // listen_after_bind returned
    http_session::StreamSlots streams_;

    // Lock order: the table's, then a Session::mu, then the CallPool's and SseStream's own.
    http_session::SessionTable sessions_;

    // Declared before the server so that they outlive the server threads (their releasers
    // cancel calls).
    CallPool pool_;
    http_stateless::Endpoint stateless_;  // 2026-07-28: no session, one shared McpServer
    // Shared with the list_changed listener, which LiveTools keeps beyond this object.
    std::shared_ptr<http_session::PushStreams> push_;
    http_limits::LimitedServer server_;  // per-request deadline and header budget
};

void HttpTransport::configure() {
    size_t threads = streams_.max() + push_->max() + kSpareThreads;
    server_.new_task_queue = [threads] {
        return http_limits::new_bounded_pool(threads, kMaxWaitingConnections);
    };
    server_.set_payload_max_length(max_body_);  // Content-Length; chunked bodies: read_body()
    server_.set_read_timeout(10, 0);   // per read; the whole request has the LimitedServer deadline
    server_.set_write_timeout(10, 0);  // a client that stops reading fails the write, then the call
    // Short: an idle keep-alive connection holds a pool thread, and stopping waits for it.
    server_.set_keep_alive_timeout(2);
    server_.set_keep_alive_max_count(100);
    server_.set_tcp_nodelay(true);  // SSE events are small and should leave at once
    // httplib's default also sets SO_REUSEPORT, which would let another process of this user
    // bind the same port and take a share of the connections. SO_REUSEADDR alone is enough to
    // restart on a port with connections in TIME_WAIT.
    server_.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });

    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (allowed(req, res)) return httplib::Server::HandlerResponse::Unhandled;
        metrics::global().on_refused("forbidden");
        return httplib::Server::HandlerResponse::Handled;
    });
    server_.Get(http_ops::kHealthPath,
                [](const httplib::Request&, httplib::Response& res) { http_ops::healthz(res); });
    // With a content reader: the body is read only once the headers are accepted, and never
    // beyond max_body_, chunked or not.
    server_.Post(kEndpoint,
                 [this](const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& reader) { post(req, reader, res); });
    server_.Delete(kEndpoint, [this](const httplib::Request& req, httplib::Response& res) {
        remove(req, res);
    });
    server_.Options(kEndpoint, [this](const httplib::Request& req, httplib::Response& res) {
        options(req, res);
    });
    server_.Get(kEndpoint,
                [this](const httplib::Request& req, httplib::Response& res) { get(req, res); });
    http_limits::answer_own_errors(server_, max_body_);
    server_.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                LOG_ERROR("{} {} failed: {}", req.method, req.path, e.what());
            } catch (...) {
                LOG_ERROR("{} {} failed", req.method, req.path);
            }
            send_error(res, 500, jsonrpc::kInternalError, "internal error");
        });
}

// DNS-rebinding protection, before any routing: a browser page that resolved its own name to
// 127.0.0.1 sends that name as Host and its own Origin; both must name us.
// An allowed Origin gets the CORS headers on whatever the request is answered with.
// Both are read as sent: httplib percent-decodes them and ends them at a NUL, which made
// "127.0.0.1%00.evil.example" a loopback Host. One Host exactly, at most one Origin.
bool HttpTransport::allowed(const httplib::Request& req, httplib::Response& res) const {
    std::string_view head = http_limits::request_head();
    std::vector<std::string> hosts = http_headers::raw_values(head, "Host");
    std::string host = hosts.size() == 1 ? hosts.front() : std::string();
    if (!http_headers::loopback_host(host) && !hosts_.count(http_headers::host_name(host))) {
        LOG_WARN("refused {} {} from {}: Host is not a loopback name or an allowed host",
                 req.method, req.path, peer(req));
        send_error(res, 403, jsonrpc::kInvalidRequest,
                   hosts_.empty()
                       ? "Forbidden: the Host header must name the loopback interface"
                       : "Forbidden: the Host header must name this server (see --allowed-host)");
        return false;
    }
    std::vector<std::string> origins = http_headers::raw_values(head, "Origin");
    if (!origins.empty()) {
        const std::string& origin = origins.front();
        if (origins.size() > 1 || !http_headers::plain_value(origin) ||
            !origins_.count(lower(origin))) {
            LOG_WARN("refused {} {} from {}: Origin is not allowed", req.method, req.path,
                     peer(req));
            send_error(res, 403, jsonrpc::kInvalidRequest,
                       "Forbidden: Origin not allowed (see --allowed-origin)");
            return false;
        }
        http_headers::allow_origin(res, origin);
    }
    return true;
}

// CORS preflight: a page on an allowed origin asks before its first POST with MCP's headers.
// The Origin is allowed already (allowed() refused any other with 403).
void HttpTransport::options(const httplib::Request& req, httplib::Response& res) const {
    res.set_header("Allow", allowed_methods());
    if (req.has_header("Origin") && req.has_header("Access-Control-Request-Method"))
        return http_headers::answer_preflight(res);
    res.status = 204;
}

// Absent means 2025-03-26 (spec), which we serve; present must be a version we serve.
bool HttpTransport::version_ok(const httplib::Request& req, httplib::Response& res) const {
    if (!req.has_header("MCP-Protocol-Version")) return true;
    std::string version = req.get_header_value("MCP-Protocol-Version");
    for (const auto& v : supported_protocol_versions())
        if (v == version) return true;
    send_error(res, 400, jsonrpc::kInvalidRequest, "Bad Request: unsupported MCP-Protocol-Version");
    return false;
}

void HttpTransport::post(const httplib::Request& req, const httplib::ContentReader& reader,
                         httplib::Response& res) {
    Caller caller = authenticate(req, res);
    if (!caller.ok || !admit(caller, req, res)) return;
    if (!http_headers::accepts(req, "application/json") ||
        !http_headers::accepts(req, "text/event-stream"))
        return send_error(
            res, 406, jsonrpc::kInvalidRequest,
            "Not Acceptable: Accept must list application/json and text/event-stream");
    if (http_headers::media_type(req.get_header_value("Content-Type")) != "application/json")
        return send_error(res, 415, jsonrpc::kInvalidRequest,
                          "Unsupported Media Type: send application/json");
    // Held until this returns: the body, its parse and the handler's use of both count.
    http_limits::BodyBudget::Share share(body_budget_);
    jsonrpc::Message m;
    {
        std::string body;
        if (!http_limits::read_body(req, reader, max_body_, share, body, peer(req), res)) return;
        m = jsonrpc::parse(body);
    }
    // 2026-07-28 before the session rules: its version header is not one version_ok() knows,
    // and it has no session to find. Its mirrors are read as sent (httplib's are decoded).
    auto mirrors = http_stateless::mirror_headers(http_limits::request_head());
    if (http_stateless::is_stateless(mirrors, req.has_header("Mcp-Session-Id"), m))
        return stateless_.post(mirrors, m, caller.client.get(), res);
    if (!version_ok(req, res)) return;
    if (m.kind == jsonrpc::Kind::Invalid)
        return send_message(res, 400, http_headers::invalid_reply(m));
    if (!req.has_header("Mcp-Session-Id")) {
        if (m.kind == jsonrpc::Kind::Request && m.method == "initialize")
            return initialize(req, m, caller, res);
        return send_error(res, 400, jsonrpc::kInvalidRequest,
                          "Bad Request: Mcp-Session-Id header is required (initialize first)");
    }
    auto session = find_session(req, caller);
    if (!session)
        return send_error(res, 404, jsonrpc::kInvalidRequest,
                          "Session not found: initialize a new session");
    dispatch(session, m, res);
}

// The session named by Mcp-Session-Id, if it is the caller's, under the scope it was opened
// with. Another client's session is reported exactly like an unknown one: a valid token learns
// nothing about the sessions of others.
std::shared_ptr<Session> HttpTransport::find_session(const httplib::Request& req,
                                                     const Caller& caller) {
    auto session = sessions_.find(req.get_header_value("Mcp-Session-Id"));
    if (!session || session->client != (caller.client ? caller.client->client : "")) return nullptr;
    if (caller.client && session->tools != caller.client->tools) return nullptr;
    return session;
}

// SIGHUP, after the tools: the token file again. A session belongs to its client and the scope
// it opened with; when the client is gone or its tools changed, the session ends now (its calls
// and GET stream with it) and the client must initialize again. Such a client's running
// stateless calls are cancelled too.
void HttpTransport::reload_tokens() {
    http_auth::reload_tokens(*verifier_, auth_file_, ctx_.tools->current()->tools);
    std::shared_ptr<const auth::TokenFile> file = verifier_->file();
    size_t ended = sessions_.end_if(
        [&file](const Session& s) {
            const auth::TokenEntry* entry = file->find(s.client);
            return !entry || entry->tools != s.tools;
        },
        pool_);
    if (ended > 0)
        LOG_WARN("token reload: ended {} sessions of removed or re-scoped clients", ended);
    if (size_t cancelled = stateless_.cancel_revoked(*file); cancelled > 0)
        LOG_WARN("token reload: cancelled {} stateless calls of removed or re-scoped clients",
                 cancelled);
}

// A request of the 2026-07-28 revision, which has no sessions: its servers ignore an
// Mcp-Session-Id a client sends.
bool stateless_revision() {
    return http_stateless::mirror_headers(http_limits::request_head()).protocol_version ==
           kStatelessVersion;
}

// GET opens the session's server-to-client stream (http_push.h). The 2026-07-28 revision has
// no sessions and no GET: without Mcp-Session-Id, or with its version header, it is 405.
void HttpTransport::get(const httplib::Request& req, httplib::Response& res) {
    Caller caller = authenticate(req, res);
    if (!caller.ok ||
        !http_limits::admit_request(ctx_.admission.get(), caller.client.get(), req, peer(req), res))
        return;
    if (!req.has_header("Mcp-Session-Id") || push_->max() == 0 || stateless_revision()) {
        res.set_header("Allow", allowed_methods());
        return send_error(res, 405, jsonrpc::kInvalidRequest,
                          push_->max() == 0
                              ? "Method Not Allowed: this server opens no server-initiated stream"
                              : "Method Not Allowed: GET opens the stream of the session named by "
                                "Mcp-Session-Id (a 2025-11-25 session; the 2026-07-28 revision "
                                "has none)");
    }
    if (!version_ok(req, res)) return;
    if (!http_headers::accepts(req, "text/event-stream"))
        return send_error(res, 406, jsonrpc::kInvalidRequest,
                          "Not Acceptable: Accept must list text/event-stream");
    if (metrics::global().draining()) return http_ops::refuse_draining(res, nullptr);
    auto session = find_session(req, caller);
    if (!session)
        return send_error(res, 404, jsonrpc::kInvalidRequest,
                          "Session not found: initialize a new session");
    std::lock_guard<std::mutex> lock(session->mu);
    if (session->closed)
        return send_error(res, 404, jsonrpc::kInvalidRequest,
                          "Session not found: initialize a new session");
    session->last_used = http_session::Clock::now();
    push_->open(session, res);
}

void HttpTransport::initialize(const httplib::Request& req, const jsonrpc::Message& m,
                               const Caller& caller, httplib::Response& res) {
    auto id = http_session::new_session_id(instance_id_);
    if (!id) {
        LOG_ERROR("initialize: {}", id.error().message());
        return send_error(res, 500, jsonrpc::kInternalError, "internal error");
    }
    // Whose share of the session table this takes (docs/ADMISSION.md, "Who is a client"): the
    // token's client, or without authentication the owner of the connection's socket.
    std::string quota_key =
        caller.client ? "token:" + caller.client->client : http_peer::anonymous_client_key(req);
    // Not yet visible to other threads, so no lock: a failed initialize publishes nothing.
    auto session = std::make_shared<Session>(std::move(*id), ctx_, caller.client.get(),
                                             push_->max() > 0, std::move(quota_key));
    McpServer::Reply reply = handle_guarded(session->server, m);
    if (!reply.message || !reply.message->contains("result"))
        return send_message(res, 200,
                            reply.message.value_or(
                                jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error")));
    using Status = http_session::SessionTable::Added::Status;
    auto added = sessions_.add(session);
    if (added.status == Status::ClientFull) {
        metrics::global().on_refused("session_cap_client");
        return http_headers::send_rate_limited(
            res, 429, added.retry_after,
            "Too Many Requests: every session of this client has a call in progress "
            "(--max-client-sessions)",
            m.id);
    }
    if (added.status == Status::ServerFull) {
        metrics::global().on_refused("session_cap_server");
        return http_headers::send_rate_limited(
            res, 503, added.retry_after,
            "Service Unavailable: too many sessions (--max-sessions); retry later", m.id);
    }
    res.set_header("Mcp-Session-Id", session->id);
    send_message(res, 200, *reply.message);
}

void HttpTransport::dispatch(const std::shared_ptr<Session>& session, const jsonrpc::Message& m,
                             httplib::Response& res) {
    std::lock_guard<std::mutex> lock(session->mu);
    if (session->closed)
        return send_error(res, 404, jsonrpc::kInvalidRequest,
                          "Session not found: initialize a new session");
    session->last_used = http_session::Clock::now();
    // Only a request that asks for something puts the session in use (SessionLimits::unused).
    if (m.kind == jsonrpc::Kind::Request && m.method != "ping") session->used = true;
    if (m.kind == jsonrpc::Kind::Response) {
        res.status = 202;  // we send no requests yet; accepted and dropped, as on stdio
        return;
    }
    if (m.kind == jsonrpc::Kind::Notification) {
        if (m.method == "notifications/cancelled") {
            if (m.params.is_object() && m.params.contains("requestId"))
                http_session::cancel_call(
                    *session, pool_, http_session::call_key(session->id, m.params["requestId"]));
        } else {
            handle_guarded(session->server, m);
        }
        res.status = 202;
        return;
    }
    // Whatever the method: the id belongs to a call of this session not yet answered
    // (docs/FAULTS.md). 400 with id null: the one response carrying that id is the call's.
    if (session->calls.count(http_session::call_key(session->id, m.id))) {
        LOG_WARN("request {} refused: its id belongs to a call still in progress",
                 m.method.substr(0, 128));
        return send_message(res, 400, jsonrpc::reused_id(m.id));
    }
    McpServer::Reply reply = handle_guarded(session->server, m);
    if (reply.message) return send_message(res, 200, *reply.message);
    if (reply.work) return start_call(session, m, std::move(reply.work), res);
    send_message(res, 200, jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error"));
}

// Called with session->mu held.
void HttpTransport::start_call(const std::shared_ptr<Session>& session, const jsonrpc::Message& m,
                               CallWork work, httplib::Response& res) {
    auto busy = [&] {
        session->server.record_refused_call(m, records::kRateLimited,
                                            "server busy: too many calls in progress");
        http_session::send_busy(res, m.id);
    };
    if (!streams_.try_acquire()) return busy();
    std::string key = http_session::call_key(session->id, m.id);
    std::shared_ptr<SseStream> stream;
    auto submitted = http_session::open_call(session, pool_, key, std::move(work), stream);
    if (submitted != CallPool::Submit::Ok) {
        streams_.release();
        if (submitted == CallPool::Submit::Busy) return busy();
        // dispatch() refused a reused id already; the pool agrees with session->calls.
        if (submitted == CallPool::Submit::DuplicateId)
            return send_message(res, 400, jsonrpc::reused_id(m.id));
        session->server.record_refused_call(m, records::kShuttingDown,
                                            "the server is shutting down");
        return http_ops::refuse_draining(res, m.id);
    }

    std::weak_ptr<Session> weak = session;
    http_session::send_stream(
        res, stream,
        // Runs when the response is destroyed, however it ended. A stream that ended without
        // delivering its result (the client disconnected, a write timed out, the server is
        // stopping) cancels the call: we keep no event log to resume from, so the result
        // could never be delivered, and 2026-07-28 makes a closed stream the cancellation.
        [this, stream, weak, key](bool) {
            streams_.release();
            if (stream->ended()) return;
            LOG_INFO("response stream closed before the result; cancelling the call");
            if (auto s = weak.lock()) {
                std::lock_guard<std::mutex> lock(s->mu);
                http_session::cancel_call(*s, pool_, key, stream.get());
            }
        });
}

void HttpTransport::remove(const httplib::Request& req, httplib::Response& res) {
    Caller caller = authenticate(req, res);
    if (!caller.ok ||
        !http_limits::admit_request(ctx_.admission.get(), caller.client.get(), req, peer(req), res))
        return;
    // Only a 2025-11-25 session can be ended; the 2026-07-28 revision answers DELETE with 405
    // (whatever Mcp-Session-Id it carries: that revision ignores the header).
    if (!req.has_header("Mcp-Session-Id") || stateless_revision()) {
        res.set_header("Allow", allowed_methods());
        return send_error(
            res, 405, jsonrpc::kInvalidRequest,
            "Method Not Allowed: DELETE ends the session named by Mcp-Session-Id; there is none "
            "without that header (the 2026-07-28 revision has no sessions)");
    }
    if (!version_ok(req, res)) return;
    std::string id = req.get_header_value("Mcp-Session-Id");
    // Checked before removing: another client's DELETE must not end the session.
    if (!find_session(req, caller))
        return send_error(res, 404, jsonrpc::kInvalidRequest, "Session not found");
    std::shared_ptr<Session> session = sessions_.remove(id);
    if (!session) return send_error(res, 404, jsonrpc::kInvalidRequest, "Session not found");
    http_session::end_session(*session, pool_);
    LOG_INFO("session closed by the client");
    res.status = 204;
}

void HttpTransport::stop() {
    if (stopping_.exchange(true)) return;
    // Server::stop() is a no-op until listen has started.
    while (!server_.is_running() && !listen_done_.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Calls first, while the streams still write: every queued and running call is ended (runs
    // killed) and its response queued on its stream (CallPool::Unfinished::Answered), which then
    // has a moment to deliver it. Stopping the server first would end the streams at their next
    // tick with the responses unsent.
    pool_.shutdown(CallPool::Unfinished::Answered);
    for (auto until = std::chrono::steady_clock::now() + kFlushOnStop;
         streams_.in_use() > 0 && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.stop();  // no new connections; open streams end at their next tick
    sessions_.end_all(pool_);
}

int HttpTransport::run() {
    configure();
    int port = address_.port;
    bool bound = port == 0 ? (port = server_.bind_to_any_port(address_.host)) > 0
                           : server_.bind_to_port(address_.host, port);
    if (!bound) {
        int saved = errno;
        std::cerr << "tooljail serve: cannot listen on " << address_.authority(address_.port)
                  << ": " << (saved ? std::strerror(saved) : "bind failed") << "\n";
        return kExitSandboxError;
    }
    server_.widen_backlog();
    std::string authority = address_.authority(port);
    for (std::string host :
         {std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]")})
        origins_.insert("http://" + host + ":" + std::to_string(port));
    origins_.insert("http://" + authority);
    for (const auto& o : extra_origins_) origins_.insert(lower(o));
    // Beyond loopback (only with authentication) clients name the server in Host: its own
    // address when it listens on one, and the names given with --allowed-host.
    if (!address_.loopback && !address_.wildcard) hosts_.insert(http_headers::host_name(authority));
    for (const auto& h : extra_hosts_) hosts_.insert(http_headers::host_name(h));
    LOG_ANNOUNCE("serving MCP over Streamable HTTP at http://{}{}", authority, kEndpoint);
    if (verifier_) {
        LOG_INFO("bearer-token authentication on: {} clients", verifier_->file()->clients.size());
        ctx_.reloader->also(
            [this] { reload_tokens(); });  // serve_http stops the reloader before `this` goes
    }
    // Tokens and tool output cross the network in cleartext unless something adds TLS.
    if (!address_.loopback)
        LOG_WARN(
            "listening beyond loopback on {}: put a TLS-terminating reverse proxy in front "
            "(docs/AUTH.md)",
            authority);
    LOG_INFO("serving {} tools over http, workspace={} max_streams={} max_get_streams={}",
             ctx_.tools->current()->visible().size(), ctx_.workspace, streams_.max(), push_->max());
    // Sessions hear of a changed tool list on their GET stream, if they keep one open.
    if (push_->max() > 0)
        ctx_.tools->on_list_changed([push = push_] { push->announce_list_changed(); });

    // SIGTERM/SIGINT (blocked in every thread, serve_http) drain: the listener keeps serving
    // while accepted calls finish and their streams deliver the results; then it stops.
    {
        Drainer drainer(drain_timeout_,
                        {[this] { pool_.stop_accepting(); },
                         [this] { return pool_.in_flight() == 0 && streams_.in_use() == 0; },
                         [this] { stop(); }});
        server_.listen_after_bind();
        listen_done_ = true;
    }
    bool clean = stopping_.load();
    stop();
    if (!clean) {
        std::cerr << "tooljail serve: the HTTP listener failed\n";
        return kExitSandboxError;
    }
    LOG_INFO("shut down");
    return 0;
}

}  // namespace

int serve_http(const ServeOptions& options, const HttpOptions& http) {
    // Before any thread exists, so that every thread inherits the mask and the signals stay
    // pending for the Drainer in run(). Sandboxed children reset their mask (sandbox/child.cc).
    block_stop_signals();

    auto address = parse_listen_address(http.listen, !http.auth_file.empty());
    if (!address) {
        std::cerr << "tooljail serve: " << address.error().context << "\n";
        return kExitSandboxError;
    }
    for (const auto& origin : http.allowed_origins)
        if (!valid_origin(origin)) {
            std::cerr << "tooljail serve: --allowed-origin '" << origin
                      << "': expected scheme://host[:port], e.g. http://localhost:5173\n";
            return kExitSandboxError;
        }
    for (const auto& host : http.allowed_hosts)
        if (http_headers::host_name(host).empty() ||
            host.find_first_of("/ \t") != std::string::npos) {
            std::cerr << "tooljail serve: --allowed-host '" << host
                      << "': expected a host name or address, e.g. "
                      << "mcp.example.com\n";
            return kExitSandboxError;
        }
    auto proxies = net_range::parse_all("--trusted-proxy", http.trusted_proxies);
    if (!proxies) {
        std::cerr << "tooljail serve: " << proxies.error().context << "\n";
        return kExitSandboxError;
    }
    if (http.max_body_total_bytes < http.max_body_bytes) {
        std::cerr << "tooljail serve: --max-body-total " << http.max_body_total_bytes
                  << " is below --max-body " << http.max_body_bytes
                  << ": a body of the largest allowed size could never be received\n";
        return kExitSandboxError;
    }
    if (http.max_client_sessions > http.max_sessions) {
        std::cerr << "tooljail serve: --max-client-sessions " << http.max_client_sessions
                  << " is above --max-sessions " << http.max_sessions << "\n";
        return kExitSandboxError;
    }
    auto context = load_serve_context(options);
    if (!context) {
        std::cerr << "tooljail serve: " << context.error().message() << "\n";
        return kExitSandboxError;
    }
    std::unique_ptr<auth::TokenVerifier> verifier;
    if (!http.auth_file.empty()) {
        auto loaded = http_auth::load_verifier(http.auth_file, (*context)->tools->current()->tools);
        if (!loaded) {
            std::cerr << "tooljail serve: --auth: " << loaded.error().message() << "\n";
            return kExitSandboxError;
        }
        verifier = std::move(*loaded);
    }
    auto metrics_listener =
        http_ops::serve_metrics(options.metrics_listen, options.metrics_allow, *(*context)->tools);
    if (!metrics_listener) {
        std::cerr << "tooljail serve: " << metrics_listener.error().message() << "\n";
        return kExitSandboxError;
    }
    HttpTransport transport(**context, options, http, std::move(*address), verifier.get(),
                            std::move(*proxies));
    int status = transport.run();
    (*context)->reloader.reset();  // its steps call into the transport: stop it while that exists
    return status;
}

}  // namespace runtime
