// A shared counter with a cap, taken from by many threads without a lock (request body bytes,
// SSE stream slots).
#pragma once

#include <atomic>
#include <cstddef>

namespace runtime {

// Adds n to `used` unless the sum would pass `max`; false, and nothing added, then.
inline bool bounded_add(std::atomic<size_t>& used, size_t n, size_t max) {
    size_t now = used.load();
    do {
        if (n > max - now) return false;
    } while (!used.compare_exchange_weak(now, now + n));
    return true;
}

}  // namespace runtime
