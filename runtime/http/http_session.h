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

struct Session {
    // may_push: the session may open a GET stream, so its tools capability offers listChanged.
    Session(std::string session_id, const ServeContext& ctx, const auth::TokenEntry* token_client,
            bool may_push)
        : id(std::move(session_id)),
          client(token_client ? token_client->client : ""),
          tools(token_client ? token_client->tools : std::vector<std::string>{}),
          server(*ctx.tools, session_options(ctx, token_client, id, may_push)) {}

    const std::string id;
    // The token client that opened the session ("" without authentication). Only requests with
    // that client's token may use it; any other gets the 404 of an unknown session.
    const std::string client;
    // The client's scope when the session opened: a token reload that changes it ends the
    // session (HttpTransport::reload_tokens), and requests must match it (find_session).
    const std::vector<std::string> tools;
    std::mutex mu;  // guards the rest; McpServer::handle is not thread-safe
    McpServer server;
    std::map<std::string, std::shared_ptr<SseStream>> calls;  // CallPool key -> its stream
    std::shared_ptr<SseStream>
        push;  // the GET stream (runtime/http/http_push.h), null when none is open
    Clock::time_point last_used = Clock::now();
    bool closed = false;
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
// events as they come, keep-alive comments while none do, ended by the response or by the
// client closing the connection. `releaser` is httplib's: it runs when the response is
// destroyed, however it ended.
void send_stream(httplib::Response& res, std::shared_ptr<SseStream> stream,
                 std::function<void(bool)> releaser);

// The open sessions by id, bounded in number and idle time.
class SessionTable {
public:
    // Drops the sessions idle for too long (no request, no call, no GET stream), then adds
    // `session`; false (and not added) when the table is full.
    bool add(const std::shared_ptr<Session>& session);
    std::shared_ptr<Session> find(const std::string& id);
    // Removes the session and returns it; null when there is none by that id.
    std::shared_ptr<Session> remove(const std::string& id);
    // Ends every session (end_session) and empties the table.
    void end_all(CallPool& pool);
    // Ends and removes the sessions `doomed` picks (called with each one's mu held); returns
    // how many.
    size_t end_if(const std::function<bool(const Session&)>& doomed, CallPool& pool);

private:
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace runtime::http_session
