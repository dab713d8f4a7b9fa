#include "runtime/mcp/call_pool.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/log.h"
#include "runtime/mcp/jsonrpc.h"
#include "runtime/ops/metrics.h"

namespace runtime {

struct CallPool::Call {
    std::string key;
    CallWork work;
    std::function<void(const nlohmann::json&)> reply;
    std::function<void(const nlohmann::json&)> notify;
    sandbox::UniqueFd cancel;
    bool started = false;    // a worker took it off the queue
    bool cancelled = false;  // by the client: no response
    // By the server before it started (shutdown, Answered): SHUTTING_DOWN as its response.
    bool ended = false;
};

namespace {

// The response of a call the server ended before it started: nothing ran (the work only records
// the cancellation), so the client may send it again, to another server. The same error as a
// call refused during the drain, so a client handles both alike.
nlohmann::json shutting_down(const nlohmann::json& response) {
    nlohmann::json id =
        response.is_object() && response.contains("id") ? response["id"] : nlohmann::json();
    return jsonrpc::error(id, jsonrpc::kServerBusy,
                          "the server shut down before the call started; nothing ran",
                          {{"code", "SHUTTING_DOWN"}});
}

}  // namespace

CallPool::CallPool(size_t workers, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
}

CallPool::~CallPool() { shutdown(); }

CallPool::Submit CallPool::submit(const std::string& key, CallWork work,
                                  std::function<void(const nlohmann::json&)> reply,
                                  std::function<void(const nlohmann::json&)> notify) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !accepting_) return Submit::Stopping;
    if (calls_.count(key)) return Submit::DuplicateId;
    // Running and waiting calls together: with every worker busy and max_queued_ waiting, no
    // more. (The queue alone would refuse everything when max_queued_ is 0, and would let a
    // burst in before the workers take their calls off it.)
    if (calls_.size() + cancelled_.size() >= threads_.size() + max_queued_) return Submit::Busy;
    // Without its cancel fd a run could not be stopped: refuse the call as busy (the process is
    // out of descriptors; retrying later can succeed) rather than run it uncancellable.
    sandbox::UniqueFd cancel(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!cancel) {
        LOG_ERROR("call refused: eventfd: {}", std::strerror(errno));
        return Submit::Busy;
    }
    auto call = std::make_shared<Call>();
    call->key = key;
    call->work = std::move(work);
    call->reply = std::move(reply);
    call->notify = std::move(notify);
    call->cancel = std::move(cancel);
    calls_[key] = call;
    queue_.push_back(call);
    metrics::global().queue_add(1);
    cv_.notify_one();
    return Submit::Ok;
}

void CallPool::cancel(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(key);
    if (it == calls_.end()) return;
    it->second->cancelled = true;
    signal(*it->second);
    cancelled_.insert(it->second);
    calls_.erase(it);
}

bool CallPool::pending(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.count(key) > 0;
}

void CallPool::stop_accepting() {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
}

size_t CallPool::in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size() + cancelled_.size();
}

void CallPool::shutdown(Unfinished unfinished) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        for (auto& [key, call] : calls_) {
            if (unfinished == Unfinished::Answered) {
                // A running call answers with what its run came to: killed now, recorded and
                // reported cancelled with the output so far (or its result, had it just ended).
                call->ended = !call->started;
            } else {
                call->cancelled = true;
                cancelled_.insert(call);
            }
            signal(*call);
        }
        if (unfinished == Unfinished::Dropped) calls_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

// Makes the call's cancel fd readable: a queued call sees it before launching anything, a
// running one's run is killed.
void CallPool::signal(Call& call) {
    uint64_t one = 1;
    ssize_t ignored = ::write(call.cancel.get(), &one, sizeof one);
    (void)ignored;
}

void CallPool::loop() {
    for (;;) {
        std::shared_ptr<Call> call;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            call = queue_.front();
            queue_.pop_front();
            call->started = true;
            metrics::global().queue_add(-1);
            metrics::global().in_flight_add(1);
            // A call cancelled while queued still runs, with its cancel fd already readable: the
            // work sees that before launching anything and records the cancellation. Its reply
            // is dropped below like any cancelled call's.
        }
        CallContext ctx{call->cancel.get(), [call](const nlohmann::json& n) {
                            // No notifications for a call the client has given up on.
                            if (!call->cancelled && call->notify) call->notify(n);
                        }};
        nlohmann::json response;
        try {
            response = call->work(ctx);
        } catch (const std::exception& e) {
            // Last-resort guard: one bad call must not take the server down.
            LOG_ERROR("tools/call {} failed: {}", call->key, e.what());
            response = jsonrpc::error(nullptr, jsonrpc::kInternalError, "internal error");
        }
        bool cancelled;
        bool ended;
        {
            // Out of calls_ before the reply is written: a client that has read the response
            // may reuse the id at once, and must not be refused for it.
            std::lock_guard<std::mutex> lock(mu_);
            cancelled = call->cancelled;
            ended = call->ended;
            if (cancelled)
                cancelled_.erase(call);
            else
                calls_.erase(call->key);
        }
        metrics::global().in_flight_add(-1);
        if (!cancelled && call->reply) call->reply(ended ? shutting_down(response) : response);
    }
}

}  // namespace runtime
