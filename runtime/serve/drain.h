// Graceful stop of `tooljail serve` (both transports): SIGTERM or SIGINT starts a drain (no new
// calls; the transport refuses them), accepted calls may finish until the drain timeout, then
// the rest are cancelled (their runs are killed and their records completed as cancelled) and
// the transport stops. A second SIGTERM/SIGINT during the drain cancels at once.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace runtime {

// Blocks SIGTERM and SIGINT in the calling thread. Call it before any thread exists, so that
// every thread inherits the mask and only the Drainer's sigtimedwait receives them (sandboxed
// children reset their mask, sandbox/child.cc).
void block_stop_signals();

struct DrainHooks {
    std::function<void()> begin;  // stop taking new calls (first signal)
    std::function<bool()> idle;   // true once nothing accepted is still running
    std::function<void()> stop;   // cancel what is left and stop the transport
};

// Owns the thread that waits for the signals and runs the hooks on it. Destroying it (the
// transport ended on its own: stdin closed, the listener failed) ends the thread without
// calling any hook.
class Drainer {
public:
    Drainer(std::chrono::seconds timeout, DrainHooks hooks);
    ~Drainer();
    Drainer(const Drainer&) = delete;
    Drainer& operator=(const Drainer&) = delete;

    bool draining() const { return draining_.load(); }
    bool stopped() const { return stopped_.load(); }  // hooks.stop ran

private:
    void run();

    const std::chrono::seconds timeout_;
    const DrainHooks hooks_;
    std::atomic<bool> done_{false};
    std::atomic<bool> draining_{false};
    std::atomic<bool> stopped_{false};
    std::thread thread_;
};

}  // namespace runtime
