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
#include "runtime/ops/metrics.h"
#include "sandbox/base/sys.h"

namespace runtime::http_session {
namespace {

using nlohmann::json;

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
                 std::function<void(bool)> releaser, std::function<bool()> over) {
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // nginx and friends: do not buffer the stream
    auto last_write = std::make_shared<Clock::time_point>(Clock::now());
    res.set_chunked_content_provider(
        "text/event-stream",
        [stream = std::move(stream), last_write, over = std::move(over)](size_t,
                                                                         httplib::DataSink& sink) {
            auto [events, ended] = stream->take(kProviderTick);
            if (!events.empty()) {
                if (!sink.write(events.data(), events.size())) return false;
                *last_write = Clock::now();
            }
            if (ended || (over && over())) {
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

// ---- expiry ----

const char* expiry_name(Expiry e) {
    switch (e) {
        case Expiry::None: return "none";
        case Expiry::Unused: return "unused";
        case Expiry::Idle: return "idle";
        case Expiry::Lifetime: return "lifetime";
    }
    return "none";
}

// An abandoned session (the SDK's close() sends no DELETE) must not hold its slot for long, nor
// may a client keep a slot forever by sending a request now and then: each session has three
// clocks (docs/ADMISSION.md, "Sessions"). A call in progress stops them all, so that no run is
// cancelled by an expiry; the calls themselves are bounded by their wall timeouts.
Expiry Session::expiry(Clock::time_point now, const SessionLimits& limits) const {
    if (!calls.empty()) return Expiry::None;
    if (limits.lifetime.count() > 0 && now - opened >= limits.lifetime) return Expiry::Lifetime;
    if (!used)
        return now - opened >= std::min(limits.unused, limits.idle) ? Expiry::Unused : Expiry::None;
    return !push && now - last_used >= limits.idle ? Expiry::Idle : Expiry::None;
}

Clock::time_point Session::deadline(const SessionLimits& limits) const {
    if (!calls.empty()) return Clock::time_point::max();
    Clock::time_point at = !used   ? opened + std::min(limits.unused, limits.idle)
                           : !push ? last_used + limits.idle
                                   : Clock::time_point::max();
    if (limits.lifetime.count() > 0) at = std::min(at, opened + limits.lifetime);
    return at;
}

// ---- the session table ----

SessionTable::Map::iterator SessionTable::erase_locked(Map::iterator it, const char* why) {
    Session& s = *it->second;
    // Called with s.mu held or for a session nobody else holds yet (see the callers): a request
    // that already found it gets 404, and its GET stream ends. It has no call in progress.
    s.closed = true;
    if (s.push) s.push->abandon();
    if (auto c = per_client_.find(s.quota_key); c != per_client_.end() && --c->second == 0)
        per_client_.erase(c);
    metrics::global().on_session_ended(why);
    return sessions_.erase(it);
}

void SessionTable::publish_locked() const { metrics::global().set_sessions_open(sessions_.size()); }

SessionTable::Added SessionTable::add(const std::shared_ptr<Session>& session) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        // Held beyond the lock: erasing the entry must not destroy the mutex while it is locked.
        std::shared_ptr<Session> s = it->second;
        std::lock_guard<std::mutex> session_lock(s->mu);
        Expiry why = s->expiry(now, limits_);
        if (why == Expiry::None) {
            ++it;
            continue;
        }
        LOG_INFO("session expired ({}) client={}", expiry_name(why), s->quota_key);
        it = erase_locked(it, expiry_name(why));
    }
    Added added;
    if (auto held = per_client_.find(session->quota_key);
        held != per_client_.end() && held->second >= limits_.max_per_client) {
        // The client's own sessions make room, never another client's: a client that keeps
        // opening sessions (or never DELETEs them) churns through its own share only. The one
        // to go is the least recently used of those without a call in progress, one without a
        // GET stream (a client listening on it is likely still there) before one with.
        auto victim = sessions_.end();
        std::pair<bool, Clock::time_point> victim_rank;
        for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
            if (it->second->quota_key != session->quota_key) continue;
            std::lock_guard<std::mutex> session_lock(it->second->mu);
            if (!it->second->calls.empty()) continue;
            std::pair<bool, Clock::time_point> rank{it->second->push != nullptr,
                                                    it->second->last_used};
            if (victim == sessions_.end() || rank < victim_rank) {
                victim = it;
                victim_rank = rank;
            }
        }
        if (victim == sessions_.end()) {
            LOG_WARN("initialize refused: client={} has {} sessions, all with calls in progress",
                     session->quota_key, limits_.max_per_client);
            added.status = Added::Status::ClientFull;
            added.retry_after = 1;
            return added;
        }
        LOG_INFO("session evicted: client={} opened one more than {}", session->quota_key,
                 limits_.max_per_client);
        std::shared_ptr<Session> evicted = victim->second;
        std::lock_guard<std::mutex> session_lock(evicted->mu);
        erase_locked(victim, "evicted");
    }
    if (sessions_.size() >= limits_.max_sessions) {
        Clock::time_point first = Clock::time_point::max();
        for (const auto& [id, s] : sessions_) {
            std::lock_guard<std::mutex> session_lock(s->mu);
            first = std::min(first, s->deadline(limits_));
        }
        added.status = Added::Status::ServerFull;
        added.retry_after = 1;
        if (first != Clock::time_point::max())
            added.retry_after =
                std::max<long>(1, std::chrono::ceil<std::chrono::seconds>(first - now).count());
        LOG_WARN("initialize refused: {} sessions open; the first expires in {} s",
                 sessions_.size(), added.retry_after);
        publish_locked();
        return added;
    }
    sessions_[session->id] = session;
    ++per_client_[session->quota_key];
    publish_locked();
    LOG_INFO("session opened ({} open, {} of client {})", sessions_.size(),
             per_client_[session->quota_key], session->quota_key);
    return added;
}

std::shared_ptr<Session> SessionTable::find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    std::shared_ptr<Session> session = it->second;
    std::lock_guard<std::mutex> session_lock(session->mu);
    Expiry why = session->expiry(Clock::now(), limits_);
    if (why == Expiry::None) return session;
    LOG_INFO("session expired ({}) client={}", expiry_name(why), session->quota_key);
    erase_locked(it, expiry_name(why));
    publish_locked();
    return nullptr;
}

std::shared_ptr<Session> SessionTable::remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    std::shared_ptr<Session> session = std::move(it->second);
    if (auto c = per_client_.find(session->quota_key); c != per_client_.end() && --c->second == 0)
        per_client_.erase(c);
    sessions_.erase(it);
    metrics::global().on_session_ended("deleted");
    publish_locked();
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
        if (auto c = per_client_.find(it->second->quota_key);
            c != per_client_.end() && --c->second == 0)
            per_client_.erase(c);
        metrics::global().on_session_ended("revoked");
        it = sessions_.erase(it);
        ++ended;
    }
    publish_locked();
    return ended;
}

void SessionTable::end_all(CallPool& pool) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, session] : sessions_) end_session(*session, pool);
    sessions_.clear();
    per_client_.clear();
    publish_locked();
}

}  // namespace runtime::http_session
