#include "sandbox/run_id.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "sandbox/base/sys.h"

namespace sandbox {
namespace {

// One per process: the suffix of probe leaves, and what new_run_id mixes with the clock when
// getrandom fails.
std::atomic<uint64_t> g_run_counter{0};

}  // namespace

std::string new_run_id() {
    // getrandom(2) of 8 bytes never blocks after boot and never returns short. If it fails
    // anyway, a per-process counter mixed with the clock keeps ids unique within this process.
    std::string hex;
    if (auto random = sys::random_hex(8)) {
        hex = std::move(*random);
    } else {
        auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        uint64_t mixed = (static_cast<uint64_t>(now) << 16) ^ g_run_counter.fetch_add(1);
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(mixed));
        hex = buf;
    }
    return "run-" + std::to_string(::getpid()) + "-" + hex;
}

bool valid_run_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char ch : id)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
    return true;
}

std::string new_probe_leaf_name() {
    return "probe-" + std::to_string(::getpid()) + "-" + std::to_string(g_run_counter.fetch_add(1));
}

}  // namespace sandbox
