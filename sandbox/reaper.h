// A background thread that kills and removes finished runs' cgroup leaves, so a call does not
// wait for the rmdirs (4 on cgroup v1) after its Outcome is complete. The Host owns one when
// the warm pool is on (`tooljail serve`); without it Run::wait removes the leaf itself, so a
// one-shot `tooljail run` leaves nothing behind when it exits. Parent only; nothing throws.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "sandbox/base/unique_fd.h"
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
    // Takes a process that must not be used (a warm sandbox found dead, or whose launch failed)
    // with its leaf: the process is killed and reaped through its pidfd, then the leaf goes as
    // above. Keeps the kill, the reap and the rmdirs off the caller's path.
    void add(UniqueFd pidfd, cgroup::Leaf leaf);

private:
    struct Item {
        UniqueFd pidfd;  // invalid: only the leaf
        cgroup::Leaf leaf;
    };
    void loop();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> queue_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace sandbox
