#include "runtime/mcp/progress_reporter.h"

#include <algorithm>

namespace runtime {

void ProgressReporter::output(sandbox::Stream stream, std::string_view chunk) {
    if (pending_.size() < kMaxChunk) {
        if (stream == sandbox::Stream::Stderr && !in_stderr_) pending_ += "[stderr] ";
        in_stderr_ = stream == sandbox::Stream::Stderr;
        pending_.append(chunk.substr(0, kMaxChunk - std::min(kMaxChunk, pending_.size())));
    }
    bytes_ += chunk.size();
    maybe_send(std::chrono::duration_cast<sandbox::Millis>(Clock::now() - start_), false);
}

void ProgressReporter::tick(sandbox::Millis elapsed) { maybe_send(elapsed, true); }

void ProgressReporter::maybe_send(sandbox::Millis elapsed, bool tick) {
    auto now = Clock::now();
    if (now - last_ < kMinGap || (!tick && pending_.empty())) return;
    last_ = now;
    // progress must increase: elapsed milliseconds do, and one more than last time if not.
    progress_ = std::max<int64_t>(progress_ + 1, elapsed.count());
    std::string message = "running for " + std::to_string(elapsed.count() / 1000) + "." +
                          std::to_string((elapsed.count() % 1000) / 100) + " s, " +
                          std::to_string(bytes_) + " bytes of output";
    if (!pending_.empty()) message += "\n" + pending_;
    pending_.clear();
    in_stderr_ = false;
    ctx_.notify(
        {{"jsonrpc", "2.0"},
         {"method", "notifications/progress"},
         {"params", {{"progressToken", token_}, {"progress", progress_}, {"message", message}}}});
}

}  // namespace runtime
