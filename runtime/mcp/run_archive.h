// RunArchive: the captured output of recent tool runs, kept in memory so that a client can page
// through what a tool result had to cut (MCP resources tooljail://runs/{run_id}/stdout ...).
//
// Bounded twice: by the number of runs and by the bytes held; the oldest runs go first. Each
// run belongs to an owner (the identity of the client that made the call) and is visible only
// to that owner. Thread-safe: workers add, the reader threads look up.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace runtime {

struct ArchivedRun {
    std::string run_id;
    std::string owner;
    std::string tool;
    std::chrono::system_clock::time_point finished;
    nlohmann::json summary;  // the call's structuredContent without stdout/stderr
    std::string out;         // captured (up to the policy's cap)
    std::string err;

    uint64_t bytes() const { return out.size() + err.size(); }
};

// tooljail://runs/{run_id}/stdout or .../stderr: where a kept run's captured output is read.
std::string run_output_uri(const std::string& run_id, const char* stream);

struct ArchiveLimits {
    size_t max_runs = 100;
    uint64_t max_bytes = 64ull << 20;
};

class RunArchive {
public:
    explicit RunArchive(ArchiveLimits limits = {}) : limits_(limits) {}

    // Keeps the run, evicting the oldest until both bounds hold. A run larger than max_bytes on
    // its own is not kept (the result said so; there is nothing better to offer).
    // Returns whether it was kept.
    bool add(ArchivedRun run);

    // nullptr when unknown, evicted, or owned by someone else (indistinguishable on purpose).
    std::shared_ptr<const ArchivedRun> find(const std::string& run_id,
                                            const std::string& owner) const;

    // The owner's runs, newest first.
    std::vector<std::shared_ptr<const ArchivedRun>> list(const std::string& owner) const;

    const ArchiveLimits& limits() const { return limits_; }

private:
    ArchiveLimits limits_;
    mutable std::mutex mu_;
    std::deque<std::shared_ptr<const ArchivedRun>> runs_;  // oldest first
    uint64_t bytes_ = 0;
};

}  // namespace runtime
