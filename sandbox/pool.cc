#include "sandbox/pool.h"

#include <unistd.h>

#include <algorithm>

namespace sandbox::pool {
namespace {

// After a failed fill the set waits before the next attempt, doubling up to the maximum, so a
// persistent failure (cgroup refused, workspace gone) costs a fill every few seconds, not a
// busy loop. Launches meanwhile take the cold path, which reports the failure to its caller.
constexpr Millis kFirstBackoff{50};
constexpr Millis kMaxBackoff{5000};

}  // namespace

WarmSet::WarmSet(Pool* pool, std::shared_ptr<const Prepared> prepared, size_t target)
    : pool_(pool), prepared_(std::move(prepared)) {
    stats_.target = target;
}

WarmSet::~WarmSet() {
    std::deque<warm::Child> victims;
    {
        std::lock_guard<std::mutex> lock(pool_->mu_);
        victims.swap(ready_);
        pool_->total_ -= victims.size();
    }
    pool_->work_cv_.notify_all();
    // victims' destructors kill and reap each child, outside the lock.
}

std::optional<warm::Child> WarmSet::take() {
    std::optional<warm::Child> child;
    {
        std::lock_guard<std::mutex> lock(pool_->mu_);
        if (!ready_.empty()) {
            child.emplace(std::move(ready_.front()));
            ready_.pop_front();
            --pool_->total_;
        }
    }
    pool_->work_cv_.notify_one();
    return child;
}

bool WarmSet::usable_here() const { return ::getpid() == pool_->owner_; }

bool WarmSet::wait_ready(size_t count, Millis timeout) {
    std::unique_lock<std::mutex> lock(pool_->mu_);
    const uint64_t failures = stats_.fill_failures;
    count = std::min(count, stats_.target);
    return pool_->ready_cv_.wait_for(lock, timeout, [&] {
        return ready_.size() >= count || stats_.fill_failures != failures || pool_->stop_;
    }) && ready_.size() >= count;
}

PoolStats WarmSet::stats() const {
    std::lock_guard<std::mutex> lock(pool_->mu_);
    PoolStats s = stats_;
    s.ready = ready_.size();
    return s;
}

void WarmSet::count_launch(bool warm, bool dead_discarded) {
    std::lock_guard<std::mutex> lock(pool_->mu_);
    ++(warm ? stats_.warm_launches : stats_.cold_launches);
    if (dead_discarded) ++stats_.dead_discarded;
}

Pool::Pool(const PoolOptions& options) : options_(options), owner_(::getpid()) {
    size_t threads = std::max<size_t>(1, options_.fill_threads);
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { fill_loop(); });
}

Pool::~Pool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    work_cv_.notify_all();
    ready_cv_.notify_all();
    for (auto& t : threads_) t.join();
}

std::shared_ptr<WarmSet> Pool::add(std::shared_ptr<const Prepared> prepared) {
    auto set = std::make_shared<WarmSet>(this, std::move(prepared), options_.per_sandbox);
    {
        std::lock_guard<std::mutex> lock(mu_);
        sets_.push_back(set);
    }
    work_cv_.notify_all();
    return set;
}

std::shared_ptr<WarmSet> Pool::pick(WarmSet::Clock::time_point now,
                                    WarmSet::Clock::time_point* wake) {
    sets_.erase(
        std::remove_if(sets_.begin(), sets_.end(), [](const auto& w) { return w.expired(); }),
        sets_.end());
    if (total_ >= options_.max_total || sets_.empty()) return nullptr;
    for (size_t i = 0; i < sets_.size(); ++i) {
        size_t index = (next_set_ + i) % sets_.size();
        auto set = sets_[index].lock();
        if (!set || set->ready_.size() + set->filling_ >= set->stats_.target) continue;
        if (now < set->next_attempt_) {
            *wake = std::min(*wake, set->next_attempt_);
            continue;
        }
        next_set_ = index + 1;  // the next pick starts after this one: fair between tools
        return set;
    }
    return nullptr;
}

void Pool::fill_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
        auto now = WarmSet::Clock::now();
        auto wake = WarmSet::Clock::time_point::max();
        std::shared_ptr<WarmSet> set = pick(now, &wake);
        if (!set) {
            if (wake == WarmSet::Clock::time_point::max())
                work_cv_.wait(lock);
            else
                work_cv_.wait_until(lock, wake);
            continue;
        }
        ++total_;
        ++set->filling_;
        lock.unlock();

        std::optional<std::string> injected;
        if (options_.before_fill) injected = options_.before_fill();
        Result<warm::Child> filled =
            injected ? Result<warm::Child>(fail(Errc::Internal, "warm sandbox: " + *injected))
                     : warm::fill(*set->prepared_);

        lock.lock();
        --set->filling_;
        if (filled) {
            set->ready_.push_back(std::move(*filled));
            ++set->stats_.fills;
            set->stats_.last_fill_error.clear();
            set->backoff_ = Millis{0};
        } else {
            --total_;
            ++set->stats_.fill_failures;
            set->stats_.last_fill_error = filled.error().message();
            set->backoff_ = set->backoff_.count() == 0 ? kFirstBackoff
                                                       : std::min(set->backoff_ * 2, kMaxBackoff);
            set->next_attempt_ = WarmSet::Clock::now() + set->backoff_;
        }
        ready_cv_.notify_all();
        // The Sandbox may have gone meanwhile: then this is the last reference, and ~WarmSet
        // takes mu_ to dismiss what was just filled.
        lock.unlock();
        set.reset();
        lock.lock();
    }
}

}  // namespace sandbox::pool
