// A background thread that kills and removes finished runs' cgroup leaves, so a call does not
// wait for the rmdirs (4 on cgroup v1) after its Outcome is complete. The Host owns one when
// the warm pool is on (`tooljail serve`); without it Run::wait removes the leaf itself, so a
// one-shot `tooljail run` leaves nothing behind when it exits. Parent only; nothing throws.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "sandbox/cgroup.h"

namespace sandbox {

class Reaper {
public:
    Reaper();
    // Removes every leaf still queued, then stops the thread.
    ~Reaper();
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;

    // Takes the leaf of a run whose stats have been read. It is killed (a backstop: its pid
    // namespace is already gone) and removed soon; a leaf that cannot be removed (it stays
    // busy for 2 s) is left to the stale-leaf sweep of the next start.
    void add(cgroup::Leaf leaf);

private:
    void loop();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<cgroup::Leaf> queue_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace sandbox
