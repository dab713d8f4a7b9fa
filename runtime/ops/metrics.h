// Operational metrics of `tooljail serve`, rendered in the Prometheus text exposition format
// 0.0.4 (docs/OPERATIONS.md lists every series). Hand-written: a handful of counters, gauges and
// one histogram need no client library.
//
// Thread-safe. Unlabelled values are atomics; labelled series live in maps under one mutex held
// only for a lookup and an add (a call costs milliseconds, an update nanoseconds). Memory is
// bounded: tool names come from the registry, outcomes and reasons from fixed vocabularies, and
// client names, which a client chooses (MCP clientInfo), are capped at kMaxClients distinct
// values (the rest count as "other") and kMaxLabelBytes each.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sandbox/spec.h"

namespace runtime::metrics {

inline constexpr size_t kMaxClients = 64;
inline constexpr size_t kMaxLabelBytes = 64;
inline constexpr const char* kOtherClient = "other";

// Upper bounds (seconds) of tooljail_run_duration_seconds: 1 ms (a warm run) to 5 min (the
// longest wall timeout a policy allows by default); +Inf is implicit.
inline constexpr std::array<double, 16> kDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

// The outcome label of a run that launched (or failed to): "ok" or "exit_nonzero" for a program
// that exited (by the tool's success exit codes), "launch_failed" when no program started,
// else the record's reason (sandbox::termination_name: timeout, memory_limit, output_cap,
// cancelled, ...), so that metrics and `tooljail runs list --reason` use the same words.
std::string outcome_label(const sandbox::Outcome& outcome,
                          const std::vector<int>& success_exit_codes, bool launched);

// A label value as the exposition format wants it inside double quotes: backslash, double quote
// and line feed escaped.
std::string escape_label(std::string_view value);

// Warm-pool state of one tool, for the gauges (sandbox::PoolStats of its Sandbox).
struct PoolSample {
    std::string tool;
    sandbox::PoolStats stats;
};

class Registry {
public:
    Registry();

    // A run finished (or failed to launch): calls_total, the duration histogram, and the
    // timeout / OOM / output-cap counters.
    void on_finished(const std::string& tool, const std::string& client, const std::string& outcome,
                     const sandbox::Outcome& o);
    // A call refused before it ran (a records::k* reason, or an HTTP one: unauthorized,
    // forbidden, shutting_down).
    void on_refused(std::string_view reason);

    // A SIGHUP reload of the tools: taken or refused (the old set kept), and how many tools'
    // drift hashes it changed.
    void on_reload(bool ok, size_t drifted) {
        ++(ok ? reloads_ok_ : reloads_failed_);
        tool_drift_ += drifted;
    }

    // HTTP sessions (2025-11-25): how many are open, and each one that ended without a DELETE
    // or that was ended by the server, by why: "unused", "idle", "lifetime" (expiry), "evicted"
    // (its client opened one more than --max-client-sessions), "revoked" (token reload),
    // "deleted" (the client's DELETE). Refused initializes count as on_refused
    // ("session_cap_client", "session_cap_server").
    void set_sessions_open(size_t open) { sessions_open_ = static_cast<int64_t>(open); }
    void on_session_ended(std::string_view why);

    // Gauges moved by CallPool: calls waiting for a worker, and calls a worker is running.
    void queue_add(int delta) { queued_ += delta; }
    void in_flight_add(int delta) { in_flight_ += delta; }
    void set_draining(bool draining) { draining_ = draining; }
    bool draining() const { return draining_.load(); }
    double uptime_seconds() const;

    // The whole exposition, with the warm-pool gauges of `pools`.
    std::string render(const std::vector<PoolSample>& pools = {}) const;

private:
    // A client label value: truncated at a UTF-8 boundary, "other" past the cap.
    std::string client_label(const std::string& client);

    const double start_time_;  // process start, Unix seconds
    std::atomic<int64_t> queued_{0};
    std::atomic<int64_t> in_flight_{0};
    std::atomic<int64_t> sessions_open_{0};
    std::atomic<bool> draining_{false};
    std::atomic<uint64_t> timeouts_{0};
    std::atomic<uint64_t> oom_kills_{0};
    std::atomic<uint64_t> output_truncated_{0};
    std::atomic<uint64_t> reloads_ok_{0};
    std::atomic<uint64_t> reloads_failed_{0};
    std::atomic<uint64_t> tool_drift_{0};

    struct Histogram {
        std::array<uint64_t, kDurationBuckets.size()> buckets{};  // not cumulative; render sums
        uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mu_;
    std::set<std::string, std::less<>> clients_;
    std::map<std::tuple<std::string, std::string, std::string>, uint64_t>
        calls_;  // tool, client, outcome
    std::map<std::string, uint64_t, std::less<>> refusals_;
    std::map<std::string, uint64_t, std::less<>> sessions_ended_;  // a fixed vocabulary
    std::map<std::string, Histogram> durations_;                   // by tool
};

// The process-wide registry that ToolRunner, CallPool and the transports report to.
Registry& global();

}  // namespace runtime::metrics
