// Token buckets for admission control (docs/ADMISSION.md): one bucket, and a table of buckets by
// key (client, tool) whose size is bounded so that a flood of distinct keys cannot grow memory.
// Pure bookkeeping over an injected monotonic clock; no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sandbox/base/result.h"

namespace runtime::rate_limit {

using Clock = std::chrono::steady_clock;
using Now = std::function<Clock::time_point()>;

// A sustained rate and the burst allowed on top of it. per_second 0 means no limit.
struct Rate {
    double per_second = 0;
    double burst = 0;  // bucket capacity in tokens (>= 1 when per_second > 0)
    bool limited() const { return per_second > 0; }
};

// "R" or "R/B": R tokens per second (a positive decimal, at most 1e6), B the burst (a whole number
// 1..1e6; default: R rounded up, at least 1). "off" or "0" is no limit. InvalidArgument naming
// the expected form otherwise.
sandbox::Result<Rate> parse_rate(std::string_view text);

// One bucket: starts full, refills continuously at rate.per_second up to rate.burst, and each
// admitted event takes one token.
class TokenBucket {
public:
    TokenBucket(Rate rate, Clock::time_point now);

    // Takes a token and returns 0 when one is available; otherwise takes nothing and returns
    // the seconds until one will be (> 0).
    double take(Clock::time_point now);
    // Seconds until the bucket is full again (0 when it is): an idle full bucket carries no
    // state worth keeping.
    double seconds_until_full(Clock::time_point now) const;

private:
    double tokens_at(Clock::time_point now) const;

    Rate rate_;
    double tokens_;
    Clock::time_point last_;
};

// Buckets by key, created full on a key's first event, at most max_keys of them. Thread-safe.
// When the table is full, a new key evicts the least recently used bucket if that bucket is
// full (forgetting it loses nothing: it would be recreated full); otherwise the new key is
// refused until it would be (fail closed: evicting a busy bucket would let a caller reset its
// own limit by cycling through keys).
class KeyedLimiter {
public:
    KeyedLimiter(size_t max_keys, Now now);

    // One event for `key`, its bucket created with `rate` on first use: 0 when admitted,
    // else the seconds to wait (nothing taken).
    double take(const std::string& key, Rate rate);
    size_t size() const;

private:
    struct Entry {
        TokenBucket bucket;
        std::list<std::string>::iterator recent;  // its place in recent_
    };

    const size_t max_keys_;
    const Now now_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> buckets_;
    std::list<std::string> recent_;  // most recently used first
};

}  // namespace runtime::rate_limit
