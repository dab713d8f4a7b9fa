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
#include <set>
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

// Runs one call and returns its JSON-RPC response, which carries the request's id.
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
    // may have finished already). Its key is free at once: the client awaits no response under
    // it any more, so a new call may take it while the old run is still being killed.
    void cancel(const std::string& key);

    // True while a call under `key` owes its client a response: submitted, not yet finished and
    // not cancelled. A request reusing an id must be refused while this holds (docs/FAULTS.md:
    // ids are unique among the requests not yet answered).
    bool pending(const std::string& key);

    // Drain (SIGTERM): from now on submit() answers Stopping; what was accepted still runs.
    void stop_accepting();
    // Calls accepted and not yet finished (queued or running, cancelled ones included).
    size_t in_flight();

    // What shutdown() does with the calls it ends.
    enum class Unfinished {
        Dropped,  // no reply: nobody is left to read it (stdin closed)
        // Each still gets one: a running call its own (its run killed: a result saying the
        // run was cancelled, with the output so far); a queued one a -32001 error with its
        // request's id and data.code SHUTTING_DOWN (nothing ran; it may be sent again).
        Answered,
    };
    // Stops taking work, cancels everything in flight (runs are killed and recorded as
    // cancelled), joins the workers; replies are written before it returns. Idempotent: only
    // the first call's `unfinished` counts.
    void shutdown(Unfinished unfinished = Unfinished::Dropped);

private:
    struct Call;
    void loop();
    static void signal(Call& call);

    size_t max_queued_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Call>> queue_;
    // Calls that owe a response, by key; cancelled ones move to cancelled_ until they end. Both
    // count against the capacity and in in_flight().
    std::map<std::string, std::shared_ptr<Call>> calls_;
    std::set<std::shared_ptr<Call>> cancelled_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
    bool accepting_ = true;
};

}  // namespace runtime
