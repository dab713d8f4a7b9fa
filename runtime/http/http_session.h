// Internal to the Streamable HTTP transport (runtime/http/): the session table of the
// 2025-11-25 revision and the event stream of one tools/call, of either revision (the
// thread-safe queue between the CallPool worker's sinks and the httplib content provider that
// writes the text/event-stream response), with the bound on open streams. Include it nowhere
// else.
//
// Lock order: the SessionTable's lock, then a Session::mu, then the CallPool's and SseStream's
// own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/http/auth_tokens.h"
#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/mcp_server.h"
#include "runtime/serve/serve_context.h"
#include "sandbox/base/result.h"

namespace httplib {
struct Response;
}

namespace runtime::http_session {

using Clock = std::chrono::steady_clock;

// The events of one tools/call on their way from the CallPool worker (reply and notify sinks)
// to the server thread writing the response (the content provider). Ends with the response, or
// without one when the call is cancelled.
class SseStream {
public:
    void notify(const nlohmann::json& message);
    void finish(const nlohmann::json& response);
    void abandon();
    bool ended();
    // Waits up to `timeout` for events; returns the pending bytes and whether nothing follows.
    std::pair<std::string, bool> take(std::chrono::milliseconds timeout);

private:
    void append(const nlohmann::json& message);

    std::mutex mu_;
    std::condition_variable cv_;
    std::string pending_;
    bool ended_ = false;
};

// The SSE response streams open at once, sessions and stateless requests together. Each holds an
// httplib pool thread for its whole call, and the pool is sized from this bound.
class StreamSlots {
public:
    explicit StreamSlots(size_t max) : max_(max) {}
    // Takes a slot; false (and nothing taken) when all are in use.
    bool try_acquire();
    void release();
    size_t max() const { return max_; }
    size_t in_use() const { return used_.load(); }

private:
    const size_t max_;
    std::atomic<size_t> used_{0};
};

// Answers the refusal when no stream slot or CallPool capacity is left: the same -32001
// (RATE_LIMITED) that CallPool's bounded queue gives on stdio, with 503 and Retry-After.
void send_busy(httplib::Response& res, const nlohmann::json& id);

// server.handle(m), with the last-resort guard of one request: an exception is logged and
// answered -32603.
McpServer::Reply handle_guarded(McpServer& server, const jsonrpc::Message& m);

// The McpServer options for an HTTP client. `client` is the authenticated token's entry (null
// without authentication): its name becomes the owner ("token:NAME", so kept run output is
// readable by that client only, whichever session or request made it) and the records'
// token_client, its tools the scope. Without one, `anonymous_owner` is the owner.
ServerOptions client_server_options(const ServeContext& ctx, const auth::TokenEntry* client,
                                    std::string anonymous_owner, std::string session);

// client_server_options for the session `id` (owner "http-session:ID"); list_changed = may_push.
ServerOptions session_options(const ServeContext& ctx, const auth::TokenEntry* client,
                              const std::string& id, bool may_push);

// The bounds of the session table (serve --max-sessions, --max-client-sessions, --session-idle,
// --session-lifetime; docs/ADMISSION.md, "Sessions").
struct SessionLimits {
    size_t max_sessions = 256;   // all clients together; one more initialize is 503
    size_t max_per_client = 16;  // one client's; one more evicts its least recently used idle one
    std::chrono::seconds idle{3600};       // a used session ends after this long without a request
    std::chrono::seconds lifetime{86400};  // any session ends this long after it opened; 0 = never
    // A session that made no request but initialize and ping ends this long after it opened.
    std::chrono::seconds unused{300};
};

// Why a session ended without its client asking (a metrics label and a log word).
enum class Expiry { None, Unused, Idle, Lifetime };
const char* expiry_name(Expiry e);

struct Session {
    // may_push: the session may open a GET stream, so its tools capability offers listChanged.
    // quota_key: the client its sessions count against (SessionTable): "token:NAME" with
    // authentication, else the owner of the connection's socket ("uid:N",
    // runtime/http/http_peer.h).
    Session(std::string session_id, const ServeContext& ctx, const auth::TokenEntry* token_client,
            bool may_push, std::string quota)
        : id(std::move(session_id)),
          client(token_client ? token_client->client : ""),
          tools(token_client ? token_client->tools : std::vector<std::string>{}),
          quota_key(std::move(quota)),
          server(*ctx.tools, session_options(ctx, token_client, id, may_push)) {}

    const std::string id;
    // The token client that opened the session ("" without authentication). Only requests with
    // that client's token may use it; any other gets the 404 of an unknown session.
    const std::string client;
    // The client's scope when the session opened: a token reload that changes it ends the
    // session (HttpTransport::reload_tokens), and requests must match it (find_session).
    const std::vector<std::string> tools;
    const std::string quota_key;
    const Clock::time_point opened = Clock::now();
    std::mutex mu;  // guards the rest; McpServer::handle is not thread-safe
    McpServer server;
    std::map<std::string, std::shared_ptr<SseStream>> calls;  // CallPool key -> its stream
    std::shared_ptr<SseStream>
        push;  // the GET stream (runtime/http/http_push.h), null when none is open
    Clock::time_point last_used = Clock::now();
    // A request other than initialize and ping was made: the session is in use, and only then
    // does it get the whole idle time.
    bool used = false;
    bool closed = false;

    // With mu held. Whether the session is over at `now`, and why. A session with a call in
    // progress is never over (its lifetime ends when the call does); an open GET stream keeps it
    // from going idle but not past its lifetime or its unused time.
    Expiry expiry(Clock::time_point now, const SessionLimits& limits) const;
    // With mu held. When it will be over if nothing more happens (a call in progress: never).
    Clock::time_point deadline(const SessionLimits& limits) const;
};

// A fresh, unguessable session id (visible ASCII).
// instance = serve --instance-id ("" = none): the id then starts with "<instance>-", so a load
// balancer can route a session's requests back to the instance that holds it (docs/OPERATIONS.md).
sandbox::Result<std::string> new_session_id(const std::string& instance);

// The CallPool key of a request of this session.
std::string call_key(const std::string& session_id, const nlohmann::json& request_id);

// Called with session->mu held. Registers a stream for `key` in session->calls and submits the
// call to the pool, its reply and notifications going to the stream; the reply unregisters it.
// On anything but Submit::Ok nothing stays registered and `stream` is null.
CallPool::Submit open_call(const std::shared_ptr<Session>& session, CallPool& pool,
                           const std::string& key, CallWork work,
                           std::shared_ptr<SseStream>& stream);

// Called with session.mu held. The call gets no response (CallPool drops it) and its stream
// ends; `only` limits the cancel to that stream's call (a reused id may be a newer call).
void cancel_call(Session& session, CallPool& pool, const std::string& key,
                 const SseStream* only = nullptr);

// Marks the session closed, cancels all its calls and ends its GET stream.
void end_session(Session& session, CallPool& pool);

// Makes `stream` the text/event-stream body of a 200 res, unbuffered by proxies and caches:
// events as they come, keep-alive comments while none do, ended by the response, by the client
// closing the connection, or (when given) as soon as `over` returns true (checked every 200 ms).
// `releaser` is httplib's: it runs when the response is destroyed, however it ended.
void send_stream(httplib::Response& res, std::shared_ptr<SseStream> stream,
                 std::function<void(bool)> releaser, std::function<bool()> over = {});

// The open sessions by id, bounded in number per client and in all, in idle time and in
// lifetime. Expired sessions are removed when add() or find() runs into them.
class SessionTable {
public:
    explicit SessionTable(SessionLimits limits) : limits_(limits) {}
    const SessionLimits& limits() const { return limits_; }

    struct Added {
        enum class Status { Ok, ClientFull, ServerFull };
        Status status = Status::Ok;
        long retry_after = 0;  // seconds, when not Ok
    };
    // Drops the expired sessions, then adds `session`. A client at its cap first loses its own
    // least recently used session without a call in progress (evicted, as if it had expired);
    // when all of them have calls in progress the session is not added (ClientFull, retry after
    // 1 s). A full table is ServerFull, with the time until the first session will expire if
    // nothing more happens (at least 1 s).
    Added add(const std::shared_ptr<Session>& session);
    // The session by that id; null when there is none, or it has expired (it is removed then).
    std::shared_ptr<Session> find(const std::string& id);
    // Removes the session and returns it; null when there is none by that id.
    std::shared_ptr<Session> remove(const std::string& id);
    // Ends every session (end_session) and empties the table.
    void end_all(CallPool& pool);
    // Ends and removes the sessions `doomed` picks (called with each one's mu held); returns
    // how many.
    size_t end_if(const std::function<bool(const Session&)>& doomed, CallPool& pool);

private:
    using Map = std::map<std::string, std::shared_ptr<Session>>;
    // With mu_ held: takes the session out of the table and the client counts; `why` for the
    // log and the metrics.
    Map::iterator erase_locked(Map::iterator it, const char* why);
    void publish_locked() const;  // the open-sessions gauge

    const SessionLimits limits_;
    std::mutex mu_;
    Map sessions_;
    std::map<std::string, size_t> per_client_;  // quota_key -> sessions in the table
};

}  // namespace runtime::http_session
