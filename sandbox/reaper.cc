#include "sandbox/reaper.h"

#include "sandbox/base/sys.h"

namespace sandbox {

Reaper::Reaper() : thread_([this] { loop(); }) {}

Reaper::~Reaper() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Reaper::add(cgroup::Leaf leaf) { add(UniqueFd(), std::move(leaf)); }

void Reaper::add(UniqueFd pidfd, cgroup::Leaf leaf) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(Item{std::move(pidfd), std::move(leaf)});
    }
    cv_.notify_one();
}

void Reaper::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and drained
        Item item = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        if (item.pidfd.valid()) sys::kill_and_reap(item.pidfd.get());
        item.leaf.kill_all();
        (void)item.leaf.remove();  // errors: the next start's remove_stale_leaves retries
        lock.lock();
    }
}

}  // namespace sandbox
