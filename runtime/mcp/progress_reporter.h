// ProgressReporter: turns a run's output chunks and ticks into rate-limited
// notifications/progress for the client that asked (a progressToken in the call's _meta).
// Lives on the worker thread that runs Run::wait, the only caller of its methods.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/mcp/call_pool.h"
#include "sandbox/launcher.h"

namespace runtime {

class ProgressReporter {
public:
    ProgressReporter(const CallContext& ctx, nlohmann::json token)
        : ctx_(ctx), token_(std::move(token)) {}

    // Output as it arrives: at most kMaxChunk bytes of it ride on the next notification.
    void output(sandbox::Stream stream, std::string_view chunk);
    // About once a second from Run::wait: elapsed time even when the program is silent.
    void tick(sandbox::Millis elapsed);

private:
    using Clock = std::chrono::steady_clock;
    static constexpr size_t kMaxChunk = 4096;
    static constexpr sandbox::Millis kMinGap{500};

    void maybe_send(sandbox::Millis elapsed, bool tick);

    const CallContext& ctx_;
    nlohmann::json token_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_{};
    int64_t progress_ = 0;
    uint64_t bytes_ = 0;
    std::string pending_;
    bool in_stderr_ = false;
};

}  // namespace runtime
