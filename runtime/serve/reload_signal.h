// SIGHUP reloads the served tools (LiveTools::reload) in `tooljail serve`, stdio and HTTP alike.
// The signal is blocked in every thread and taken synchronously by one thread of its own, so
// the reload runs as ordinary code (it logs, allocates, prepares sandboxes), never in a handler.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/mcp/tool_set.h"

namespace runtime {

// Blocks SIGHUP in the calling thread. Call it before any thread starts so that all inherit
// the mask (sandboxed children reset theirs, sandbox/child.cc).
void block_reload_signal();

// While it lives, a thread waits for SIGHUP and reloads `tools`, then runs the steps added
// with also() (the HTTP token file). Declare it after what it reloads: it must stop first.
class HangupReloader {
public:
    explicit HangupReloader(LiveTools& tools);
    ~HangupReloader();
    HangupReloader(const HangupReloader&) = delete;
    HangupReloader& operator=(const HangupReloader&) = delete;

    // Runs `step` on every SIGHUP after the tools, whether or not they reloaded. It must stay
    // callable until this object is destroyed.
    void also(std::function<void()> step);

private:
    std::atomic<bool> done_{false};
    std::mutex steps_mu_;
    std::vector<std::function<void()>> steps_;
    std::thread thread_;  // last: started once the rest is built
};

}  // namespace runtime
