// The warm pool: per prepared Sandbox, a few sandboxes prepared ahead of demand (warm_child.h),
// each used for exactly one run and destroyed with it. Background fill threads keep every
// Sandbox at its target, within a Host-wide cap; a launch that finds none ready (or finds a
// dead one) takes the cold path instead, so the pool can make a launch faster but never make
// it fail.
//
//   Host::open(options with pool.per_sandbox > 0)   creates the Pool and its fill threads
//   Sandbox::prepare                                 registers a WarmSet (pool->add)
//   Sandbox::launch                                  warm = set->take(); else cold
//   ~Sandbox -> ~WarmSet                             kills and reaps its warm sandboxes
//   ~Host -> ~Pool                                   stops the fill threads
//
// The pool never holds a Sandbox or the Host, only the immutable Prepared plan (through its
// WarmSets, weakly), so the last reference to either is never dropped on a fill thread.
// Everything here runs in the parent. Nothing throws.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/prepared.h"
#include "sandbox/spec.h"
#include "sandbox/warm_child.h"

namespace sandbox {

namespace pool {

class Pool;

// One prepared Sandbox's warm sandboxes. Owned by the Sandbox; the Pool holds it weakly.
class WarmSet {
public:
    ~WarmSet();  // kills and reaps the ready sandboxes (each removes its leaf)
    WarmSet(const WarmSet&) = delete;
    WarmSet& operator=(const WarmSet&) = delete;

    // False in a process forked from the one that made the Pool: the warm sandboxes are the
    // original's children (this copy could not reap them, and their parent-death signal follows
    // the original), and a fork may have copied mu_ held by a fill thread that is not here.
    // Such a process must not call the other members; it launches cold.
    bool usable_here() const;
    // A ready warm sandbox, or nullopt. Never blocks on a fill; wakes a fill thread.
    std::optional<warm::Child> take();
    // Blocks until `count` are ready (true), or a fill fails, or timeout passes (false).
    bool wait_ready(size_t count, Millis timeout);
    PoolStats stats() const;
    void count_launch(bool warm, bool dead_discarded = false);

    WarmSet(Pool* pool, std::shared_ptr<const Prepared> prepared, size_t target);

private:
    friend class Pool;
    using Clock = std::chrono::steady_clock;

    Pool* pool_;
    std::shared_ptr<const Prepared> prepared_;
    // Guarded by pool_->mu_.
    std::deque<warm::Child> ready_;
    size_t filling_ = 0;
    Clock::time_point next_attempt_{};
    Millis backoff_{0};
    PoolStats stats_;
};

class Pool {
public:
    // Starts options.fill_threads threads (options.per_sandbox must be > 0).
    explicit Pool(const PoolOptions& options);
    // Stops and joins the fill threads. WarmSets still alive keep their ready sandboxes until
    // their Sandbox goes (Sandboxes hold the Host, so normally none are left).
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Registers a prepared Sandbox with the options' per_sandbox target; filling starts now.
    std::shared_ptr<WarmSet> add(std::shared_ptr<const Prepared> prepared);
    const PoolOptions& options() const { return options_; }

private:
    friend class WarmSet;
    void fill_loop();
    // With mu_ held: a set below its target, not backing off, while total_ < max_total.
    std::shared_ptr<WarmSet> pick(WarmSet::Clock::time_point now, WarmSet::Clock::time_point* wake);

    PoolOptions options_;
    pid_t owner_;  // the process whose fill threads fork the warm sandboxes
    mutable std::mutex mu_;
    std::condition_variable work_cv_;   // a take, a new set, or stop
    std::condition_variable ready_cv_;  // a fill finished (either way)
    std::vector<std::weak_ptr<WarmSet>> sets_;
    size_t next_set_ = 0;  // round robin over sets_
    size_t total_ = 0;     // warm sandboxes alive or being filled, all sets
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace pool
}  // namespace sandbox
