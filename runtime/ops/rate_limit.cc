#include "runtime/ops/rate_limit.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace runtime::rate_limit {
namespace {

constexpr double kMaxRate = 1e6;

sandbox::Unexpected bad_rate(std::string_view text) {
    return sandbox::fail(sandbox::Errc::InvalidArgument,
                         "rate '" + std::string(text) +
                             "': expected RATE or RATE/BURST (calls per second, e.g. 5 or 0.5/10; "
                             "off for no limit)");
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

sandbox::Result<Rate> parse_rate(std::string_view text) {
    if (text == "off" || text == "0") return Rate{};
    std::string_view rate_text = text.substr(0, text.find('/'));
    double per_second = 0;
    auto [end, ec] =
        std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), per_second);
    // from_chars also takes "inf" and "nan"; the range check below refuses them.
    if (ec != std::errc() || end != rate_text.data() + rate_text.size() || !(per_second > 0) ||
        per_second > kMaxRate)
        return bad_rate(text);
    double burst = std::max(1.0, std::ceil(per_second));
    if (rate_text.size() < text.size()) {
        std::string_view burst_text = text.substr(rate_text.size() + 1);
        unsigned long long whole = 0;
        auto [burst_end, burst_ec] =
            std::from_chars(burst_text.data(), burst_text.data() + burst_text.size(), whole);
        if (burst_ec != std::errc() || burst_end != burst_text.data() + burst_text.size() ||
            whole < 1 || whole > kMaxRate)
            return bad_rate(text);
        burst = static_cast<double>(whole);
    }
    return Rate{per_second, burst};
}

TokenBucket::TokenBucket(Rate rate, Clock::time_point now)
    : rate_(rate), tokens_(rate.burst), last_(now) {}

double TokenBucket::tokens_at(Clock::time_point now) const {
    // The clock is monotonic, but a caller may pass a time read before another thread's: never
    // refill backwards.
    double elapsed = std::max(0.0, seconds(now - last_));
    return std::min(rate_.burst, tokens_ + elapsed * rate_.per_second);
}

double TokenBucket::take(Clock::time_point now) {
    if (!rate_.limited()) return 0;
    double tokens = tokens_at(now);
    if (tokens >= 1) {
        tokens_ = tokens - 1;
        last_ = std::max(last_, now);
        return 0;
    }
    return (1 - tokens) / rate_.per_second;
}

double TokenBucket::seconds_until_full(Clock::time_point now) const {
    if (!rate_.limited()) return 0;
    return (rate_.burst - tokens_at(now)) / rate_.per_second;
}

KeyedLimiter::KeyedLimiter(size_t max_keys, Now now)
    : max_keys_(std::max<size_t>(1, max_keys)), now_(std::move(now)) {}

double KeyedLimiter::take(const std::string& key, Rate rate) {
    if (!rate.limited()) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    Clock::time_point now = now_();
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) {
            auto oldest = buckets_.find(recent_.back());
            double busy_for = oldest->second.bucket.seconds_until_full(now);
            if (busy_for > 0) return busy_for;
            buckets_.erase(oldest);
            recent_.pop_back();
        }
        recent_.push_front(key);
        it = buckets_.emplace(key, Entry{TokenBucket(rate, now), recent_.begin()}).first;
    } else {
        recent_.splice(recent_.begin(), recent_, it->second.recent);
    }
    return it->second.bucket.take(now);
}

size_t KeyedLimiter::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return buckets_.size();
}

}  // namespace runtime::rate_limit
