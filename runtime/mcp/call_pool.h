// CallPool: runs tools/call work on a fixed set of worker threads with a bounded queue, and owns
// the in-flight table that cancellation consults. Transport-neutral: each call carries its own
// sinks for the final reply and for notifications (stdio writes lines; HTTP writes to the
// request's SSE stream).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/base/unique_fd.h"

namespace runtime {

// What a running call may use: the fd that becomes readable when it is cancelled, and a way to
// send notifications (progress) to the client that made it.
struct CallContext {
    int cancel_fd = -1;
    std::function<void(const nlohmann::json&)> notify;
};

using CallWork = std::function<nlohmann::json(const CallContext&)>;

class CallPool {
public:
    CallPool(size_t workers, size_t max_queued);
    ~CallPool();  // shutdown()

    // Busy: `workers` calls are running and `max_queued` are waiting already (calls cancelled
    // but not yet ended still count: their runs are being killed), or the process has no
    // descriptor left for the call's cancel eventfd.
    enum class Submit { Ok, Busy, DuplicateId, Stopping };
    // key identifies the call for cancel() (the request id, serialised, plus any session
    // prefix). reply receives the response unless the call was cancelled; notify receives
    // notifications while it runs. Both are called on a worker thread.
    Submit submit(const std::string& key, CallWork work,
                  std::function<void(const nlohmann::json&)> reply,
                  std::function<void(const nlohmann::json&)> notify);

    // Cancels a queued or running call: it gets no reply. Unknown keys are ignored (the call
    // may have finished already).
    void cancel(const std::string& key);

    // Drain (SIGTERM): from now on submit() answers Stopping; what was accepted still runs.
    void stop_accepting();
    // Calls accepted and not yet finished (queued or running).
    size_t in_flight();

    // Stops taking work, cancels everything in flight, joins the workers. Idempotent.
    void shutdown();

private:
    struct Call;
    void loop();
    static void signal(Call& call);

    size_t max_queued_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Call>> queue_;
    std::map<std::string, std::shared_ptr<Call>> calls_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
    bool accepting_ = true;
};

}  // namespace runtime
