// Internal to the Streamable HTTP transport (runtime/http/): the GET streams of 2025-11-25
// sessions, on which the server sends what no request asked for (notifications/tools/list_changed
// after a reload or a kill-switch change). Include it nowhere else.
//
// A session hears of a change only when its own tools/list changed (McpServer::
// listed_fingerprint): a client scoped to some tools learns nothing of the others.
//
// Each stream holds an httplib thread for as long as the client keeps it open, so they are
// bounded apart from the calls' streams: at most one per session (a second GET is 409, as the
// spec forbids sending one message on two streams) and `max` at once (503 beyond); the
// transport sizes its thread pool for them. No event ids: a client that reconnects gets what is
// sent from then on (a missed list_changed is made up by its next tools/list).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/http/http_session.h"

namespace httplib {
struct Response;
}

namespace runtime::http_session {

class PushStreams : public std::enable_shared_from_this<PushStreams> {
public:
    // max 0: GET opens nothing (405), and sessions are not offered listChanged. A stream ends
    // when its session expires under `limits` (its lifetime, or its unused time).
    PushStreams(size_t max, const SessionLimits& limits) : max_(max), limits_(limits) {}

    size_t max() const { return max_; }

    // Called with session->mu held, after authentication and the session lookup: makes res the
    // session's GET stream (until the client closes it, the session ends or the server stops),
    // or answers 409 (the session has one open) or 503 with Retry-After (all are in use).
    void open(const std::shared_ptr<Session>& session, httplib::Response& res);

    // Queues notifications/tools/list_changed on every open stream whose session's list
    // differs from when it was last told (or opened). Any thread.
    void announce_list_changed();

private:
    struct Listener {
        std::weak_ptr<Session> session;
        std::string listed;  // the session's listed_fingerprint() it was last told of
    };

    const size_t max_;
    const SessionLimits limits_;
    std::mutex mu_;  // after a Session::mu, before an SseStream's
    std::map<std::shared_ptr<SseStream>, Listener> open_;
};

}  // namespace runtime::http_session
