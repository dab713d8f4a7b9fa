#include "sandbox/reaper.h"

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

void Reaper::add(cgroup::Leaf leaf) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(leaf));
    }
    cv_.notify_one();
}

void Reaper::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and drained
        cgroup::Leaf leaf = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        leaf.kill_all();
        (void)leaf.remove();  // errors: the next start's remove_stale_leaves retries
        lock.lock();
    }
}

}  // namespace sandbox
