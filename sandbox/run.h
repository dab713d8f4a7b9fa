// One live run, as Sandbox::launch hands it out (sandbox/launcher.h) and Run::wait drives it
// (sandbox/run.cc). Its own header so that the launcher and the run's internals (run_impl.h)
// both include this one instead of each other.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "sandbox/spec.h"

namespace sandbox {

enum class Stream { Stdout, Stderr };
// Called from wait() with each chunk of captured output (only bytes within the cap).
using OutputObserver = std::function<void(Stream, std::string_view)>;
// Called from wait() about once a second while the run lasts, with the time since exec.
using TickObserver = std::function<void(Millis elapsed)>;

// One live run. Destroying it before wait() returns kills the whole process tree and reaps it.
class Run {
public:
    virtual ~Run() = default;

    // Blocks until the run ends. Becoming readable on cancel_fd (an eventfd or pipe, owned by
    // the caller) cancels it: the tree is killed and the reason is Cancelled.
    virtual Outcome wait(int cancel_fd = -1, const OutputObserver& observer = {},
                         const TickObserver& tick = {}) = 0;
    virtual pid_t pid() const = 0;  // host pid of the sandbox's pid 1
    // The run id (request.run_id or a new one). The cold path names the cgroup leaf after it;
    // a warm sandbox's leaf was named when it was filled.
    virtual const std::string& id() const = 0;
    virtual bool warm() const = 0;  // the run used a warm sandbox from the pool
};

}  // namespace sandbox
