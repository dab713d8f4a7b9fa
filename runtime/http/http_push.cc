// Internal to the Streamable HTTP transport: see http_push.h.
#include "runtime/http/http_push.h"

#include <httplib.h>

#include <utility>

#include "runtime/base/log.h"
#include "runtime/http/http_headers.h"
#include "runtime/mcp/jsonrpc.h"

namespace runtime::http_session {

void PushStreams::open(const std::shared_ptr<Session>& session, httplib::Response& res) {
    if (session->push && !session->push->ended())
        return http_headers::send_error(res, 409, jsonrpc::kInvalidRequest,
                                        "Conflict: this session already has a GET stream open");
    auto stream = std::make_shared<SseStream>();
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (open_.size() >= max_) {
            LOG_WARN("GET stream refused: {} open", open_.size());
            return http_headers::send_rate_limited(
                res, 503, 5,
                "Service Unavailable: too many GET streams open; the session "
                "works without one (tools/list shows changes)");
        }
        open_[stream] = {session, session->server.listed_fingerprint()};
        LOG_INFO("GET stream opened ({} open)", open_.size());
    }
    session->push = stream;
    std::weak_ptr<Session> weak = session;
    // Runs when the response is destroyed: the client closed the stream, a write failed, or the
    // stream was ended (session deleted or expired, server stopping).
    send_stream(
        res, stream,
        [self = shared_from_this(), stream, weak](bool) {
            if (auto s = weak.lock()) {
                std::lock_guard<std::mutex> lock(s->mu);
                if (s->push == stream) s->push.reset();
            }
            stream->abandon();
            std::lock_guard<std::mutex> lock(self->mu_);
            self->open_.erase(stream);
        },
        // An open stream keeps a session from going idle, not beyond its lifetime: the session
        // may end with no request to notice it, so the stream looks for itself.
        [weak, limits = limits_] {
            auto s = weak.lock();
            if (!s) return true;
            std::lock_guard<std::mutex> lock(s->mu);
            return s->closed || s->expiry(Clock::now(), limits) != Expiry::None;
        });
}

void PushStreams::announce_list_changed() {
    static const nlohmann::json kListChanged = {{"jsonrpc", "2.0"},
                                                {"method", "notifications/tools/list_changed"}};
    std::lock_guard<std::mutex> lock(mu_);
    size_t told = 0;
    for (auto& [stream, listener] : open_) {
        auto session = listener.session.lock();
        if (!session) continue;  // ended: its stream is going too
        std::string listed = session->server.listed_fingerprint();
        if (listed == listener.listed) continue;
        listener.listed = std::move(listed);
        stream->notify(kListChanged);
        ++told;
    }
    if (!open_.empty())
        LOG_INFO("tools/list_changed sent on {} of {} GET streams", told, open_.size());
}

}  // namespace runtime::http_session
