// Internal to the Streamable HTTP transport: see http_session.h.
#include "runtime/http/http_session.h"

#include <httplib.h>

#include <cerrno>
#include <iterator>
#include <string_view>

#include "runtime/base/log.h"
#include "runtime/http/bounded_add.h"
#include "runtime/http/http_headers.h"
#include "runtime/mcp/jsonrpc.h"
#include "sandbox/base/sys.h"

namespace runtime::http_session {
namespace {

using nlohmann::json;

// Each session is an McpServer plus a table entry; an abandoned one (the SDK's close() sends no
// DELETE) is dropped after an hour without requests, calls or a GET stream, and beyond the cap
// a new initialize is refused with 503 rather than evicting a live session.
constexpr size_t kMaxSessions = 256;
constexpr auto kSessionIdle = std::chrono::hours(1);
// Progress notifications are rate limited by ToolRunner; this only bounds what piles up while a
// client reads slowly. The final response is never dropped.
constexpr size_t kMaxPendingEventBytes = size_t{1} << 20;
// How long the content provider waits for events before it checks the connection (a closed
// one cancels the call) and whether the server is stopping.
constexpr auto kProviderTick = std::chrono::milliseconds(200);
// Comment lines keep proxies and clients from timing out an idle stream during a long run.
constexpr auto kKeepAlive = std::chrono::seconds(15);

}  // namespace

// ---- one tools/call response stream ----

void SseStream::notify(const json& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_ || pending_.size() > kMaxPendingEventBytes) return;
    append(message);
    cv_.notify_one();
}

void SseStream::finish(const json& response) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    append(response);
    ended_ = true;
    cv_.notify_one();
}

void SseStream::abandon() {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_one();
}

bool SseStream::ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
}

std::pair<std::string, bool> SseStream::take(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return ended_ || !pending_.empty(); });
    return {std::exchange(pending_, std::string()), ended_};
}

void SseStream::append(const json& message) {
    // serialize() emits one line (newlines inside strings are escaped), so one data field.
    pending_ += "event: message\ndata: ";
    pending_ += jsonrpc::serialize(message);
    pending_ += "\n\n";
}

void send_stream(httplib::Response& res, std::shared_ptr<SseStream> stream,
                 std::function<void(bool)> releaser) {
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // nginx and friends: do not buffer the stream
    auto last_write = std::make_shared<Clock::time_point>(Clock::now());
    res.set_chunked_content_provider(
        "text/event-stream",
        [stream = std::move(stream), last_write](size_t, httplib::DataSink& sink) {
            auto [events, ended] = stream->take(kProviderTick);
            if (!events.empty()) {
                if (!sink.write(events.data(), events.size())) return false;
                *last_write = Clock::now();
            }
            if (ended) {
                sink.done();
                return true;
            }
            // The client closed the connection: nobody can receive the result any more.
            if (!sink.is_writable()) return false;
            if (Clock::now() - *last_write >= kKeepAlive) {
                static constexpr std::string_view kComment = ": keep-alive\n\n";
                if (!sink.write(kComment.data(), kComment.size())) return false;
                *last_write = Clock::now();
            }
            return true;
        },
        std::move(releaser));
}

bool StreamSlots::try_acquire() { return bounded_add(used_, 1, max_); }

void StreamSlots::release() { --used_; }

void send_busy(httplib::Response& res, const json& id) {
    http_headers::send_rate_limited(res, 503, 1, "too many calls in progress; retry later", id);
}

McpServer::Reply handle_guarded(McpServer& server, const jsonrpc::Message& m) {
    try {
        return server.handle(m);
    } catch (const std::exception& e) {
        LOG_ERROR("{} failed: {}", m.method, e.what());
        return {jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error"), {}};
    }
}

// ---- sessions and their calls ----

ServerOptions client_server_options(const ServeContext& ctx, const auth::TokenEntry* client,
                                    std::string anonymous_owner, std::string session) {
    ServerOptions o{100, ctx.instructions, std::move(anonymous_owner), "http", std::move(session)};
    o.admission = ctx.admission.get();
    if (client) {
        // "token:" cannot collide with the anonymous owners ("http-session:", "http-stateless"),
        // though both never exist in one server: authentication is on or off for the process.
        o.owner = "token:" + client->client;
        o.token_client = client->client;
        if (!client->all_tools()) o.tool_scope = client->tools;
    }
    return o;
}

ServerOptions session_options(const ServeContext& ctx, const auth::TokenEntry* client,
                              const std::string& id, bool may_push) {
    ServerOptions o = client_server_options(ctx, client, "http-session:" + id, id);
    o.list_changed = may_push;
    return o;
}

sandbox::Result<std::string> new_session_id(const std::string& instance) {
    // 128 bits from the kernel CSPRNG, hex-encoded: visible ASCII as the spec requires, and
    // unguessable, since the id is all that ties a request to its session. The instance prefix
    // is public routing information, not part of the secret.
    auto random = sandbox::sys::random_hex(16);
    if (!random || instance.empty()) return random;
    return instance + "-" + *random;
}

// The CallPool is shared by all sessions (one concurrency cap for the process), so its keys
// carry the session id: a client can only ever cancel its own calls.
std::string call_key(const std::string& session_id, const json& request_id) {
    return session_id + "/" + request_id.dump();
}

CallPool::Submit open_call(const std::shared_ptr<Session>& session, CallPool& pool,
                           const std::string& key, CallWork work,
                           std::shared_ptr<SseStream>& stream) {
    stream = std::make_shared<SseStream>();
    std::weak_ptr<Session> weak = session;
    // Registered before submit: the worker's reply takes session->mu to unregister, so it
    // always finds the entry.
    session->calls[key] = stream;
    // Unregistered before the response is queued: a client that has read it may reuse the id
    // at once, and must not be refused for it.
    auto reply = [stream, weak, key](const json& response) {
        if (auto s = weak.lock()) {
            std::lock_guard<std::mutex> lock(s->mu);
            auto it = s->calls.find(key);
            if (it != s->calls.end() && it->second == stream) s->calls.erase(it);
        }
        stream->finish(response);
    };
    auto notify = [stream](const json& n) { stream->notify(n); };
    auto submitted = pool.submit(key, std::move(work), reply, notify);
    if (submitted != CallPool::Submit::Ok) {
        session->calls.erase(key);
        stream.reset();
    }
    return submitted;
}

void cancel_call(Session& session, CallPool& pool, const std::string& key, const SseStream* only) {
    auto it = session.calls.find(key);
    if (it == session.calls.end() || (only && it->second.get() != only))
        return;  // finished already
    it->second->abandon();
    session.calls.erase(it);
    pool.cancel(key);
}

void end_session(Session& session, CallPool& pool) {
    std::lock_guard<std::mutex> lock(session.mu);
    session.closed = true;
    for (auto& [key, stream] : session.calls) {
        stream->abandon();
        pool.cancel(key);
    }
    session.calls.clear();
    if (session.push) session.push->abandon();
}

// ---- the session table ----

bool SessionTable::add(const std::shared_ptr<Session>& session) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        std::lock_guard<std::mutex> session_lock(it->second->mu);
        bool idle = it->second->calls.empty() && !it->second->push &&
                    now - it->second->last_used > kSessionIdle;
        if (idle) {
            LOG_INFO("session expired after an hour without requests");
            it->second->closed = true;  // a request that already found it gets 404 too
        }
        it = idle ? sessions_.erase(it) : std::next(it);
    }
    if (sessions_.size() >= kMaxSessions) {
        LOG_WARN("initialize refused: {} sessions open", sessions_.size());
        return false;
    }
    sessions_[session->id] = session;
    LOG_INFO("session opened ({} open)", sessions_.size());
    return true;
}

std::shared_ptr<Session> SessionTable::find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

std::shared_ptr<Session> SessionTable::remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    std::shared_ptr<Session> session = std::move(it->second);
    sessions_.erase(it);
    return session;
}

size_t SessionTable::end_if(const std::function<bool(const Session&)>& doomed, CallPool& pool) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t ended = 0;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        bool end;
        {
            std::lock_guard<std::mutex> session_lock(it->second->mu);
            end = doomed(*it->second);
        }
        if (!end) {
            ++it;
            continue;
        }
        end_session(*it->second, pool);
        it = sessions_.erase(it);
        ++ended;
    }
    return ended;
}

void SessionTable::end_all(CallPool& pool) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, session] : sessions_) end_session(*session, pool);
    sessions_.clear();
}

}  // namespace runtime::http_session
