#include "runtime/ops/metrics.h"

#include <algorithm>

#include <fmt/format.h>

#ifndef TOOLJAIL_VERSION
#define TOOLJAIL_VERSION "0"
#endif

namespace runtime::metrics {
namespace {

double unix_now() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence: label values must stay
// valid UTF-8 for the scraper.
std::string truncate_utf8(std::string_view s, size_t max) {
    if (s.size() <= max) return std::string(s);
    size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return std::string(s.substr(0, end));
}

// Prometheus accepts Go's float forms; integers print without a fraction.
std::string number(double v) { return fmt::format("{}", v); }

void header(std::string& out, const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string outcome_label(const sandbox::Outcome& o, const std::vector<int>& success_exit_codes,
                          bool launched) {
    if (!launched) return "launch_failed";
    if (o.reason == sandbox::Termination::Exit)
        return std::find(success_exit_codes.begin(), success_exit_codes.end(), o.exit_code) !=
                       success_exit_codes.end()
                   ? "ok"
                   : "exit_nonzero";
    return sandbox::termination_name(o.reason);
}

Registry::Registry() : start_time_(unix_now()) {}

double Registry::uptime_seconds() const { return std::max(0.0, unix_now() - start_time_); }

std::string Registry::client_label(const std::string& client) {
    std::string value = truncate_utf8(client.empty() ? "unknown" : client, kMaxLabelBytes);
    if (clients_.count(value)) return value;
    if (clients_.size() >= kMaxClients) return kOtherClient;
    clients_.insert(value);
    return value;
}

void Registry::on_finished(const std::string& tool, const std::string& client,
                           const std::string& outcome, const sandbox::Outcome& o) {
    if (o.reason == sandbox::Termination::Timeout) ++timeouts_;
    uint64_t ooms =
        std::max<uint64_t>(o.oom_kills, o.reason == sandbox::Termination::MemoryLimit ? 1 : 0);
    oom_kills_ += ooms;
    if (o.out.truncated || o.err.truncated || o.reason == sandbox::Termination::OutputCap)
        ++output_truncated_;
    double seconds = std::chrono::duration<double>(o.wall).count();
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[{tool, client_label(client), outcome}];
    Histogram& h = durations_[tool];
    auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
    if (bucket != kDurationBuckets.end())
        ++h.buckets[static_cast<size_t>(bucket - kDurationBuckets.begin())];
    ++h.count;
    h.sum += seconds;
}

void Registry::on_refused(std::string_view reason) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = refusals_.find(reason);
    if (it == refusals_.end()) it = refusals_.emplace(std::string(reason), 0).first;
    ++it->second;
}

void Registry::on_session_ended(std::string_view why) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_ended_.find(why);
    if (it == sessions_ended_.end()) it = sessions_ended_.emplace(std::string(why), 0).first;
    ++it->second;
}

std::string Registry::render(const std::vector<PoolSample>& pools) const {
    std::string out;
    auto line = [&out](std::string_view series, double value) {
        fmt::format_to(std::back_inserter(out), "{} {}\n", series, number(value));
    };
    header(out, "tooljail_build_info", "gauge", "Build information; always 1.");
    line(fmt::format("tooljail_build_info{{version=\"{}\"}}", escape_label(TOOLJAIL_VERSION)), 1);
    header(out, "process_start_time_seconds", "gauge",
           "Start time of the server since the Unix epoch in seconds.");
    line("process_start_time_seconds", start_time_);
    header(out, "tooljail_draining", "gauge",
           "1 while the server drains after SIGTERM (no new calls).");
    line("tooljail_draining", draining_.load() ? 1 : 0);
    header(out, "tooljail_runs_in_flight", "gauge", "Calls a worker is running now.");
    line("tooljail_runs_in_flight", static_cast<double>(in_flight_.load()));
    header(out, "tooljail_queue_depth", "gauge", "Calls waiting for a worker.");
    line("tooljail_queue_depth", static_cast<double>(queued_.load()));
    header(out, "tooljail_http_sessions", "gauge", "HTTP sessions (2025-11-25) open now.");
    line("tooljail_http_sessions", static_cast<double>(sessions_open_.load()));
    header(out, "tooljail_timeouts_total", "counter", "Runs killed at their wall-clock deadline.");
    line("tooljail_timeouts_total", static_cast<double>(timeouts_.load()));
    header(out, "tooljail_oom_kills_total", "counter", "Kernel OOM kills inside run cgroups.");
    line("tooljail_oom_kills_total", static_cast<double>(oom_kills_.load()));
    header(out, "tooljail_output_truncated_total", "counter",
           "Runs whose stdout or stderr reached the output cap.");
    line("tooljail_output_truncated_total", static_cast<double>(output_truncated_.load()));
    header(out, "tooljail_reloads_total", "counter",
           "SIGHUP reloads of the tools, taken or failed (old set kept).");
    line("tooljail_reloads_total{result=\"ok\"}", static_cast<double>(reloads_ok_.load()));
    line("tooljail_reloads_total{result=\"failed\"}", static_cast<double>(reloads_failed_.load()));
    header(out, "tooljail_tool_drift_total", "counter",
           "Tools whose hash a reload changed (logged as tool drift).");
    line("tooljail_tool_drift_total", static_cast<double>(tool_drift_.load()));

    {
        std::lock_guard<std::mutex> lock(mu_);
        header(out, "tooljail_calls_total", "counter",
               "Tool calls that ran (or failed to launch), by outcome.");
        for (const auto& [key, n] : calls_) {
            const auto& [tool, client, outcome] = key;
            line(fmt::format("tooljail_calls_total{{tool=\"{}\",client=\"{}\",outcome=\"{}\"}}",
                             escape_label(tool), escape_label(client), escape_label(outcome)),
                 static_cast<double>(n));
        }
        header(out, "tooljail_refusals_total", "counter",
               "Calls and requests refused before anything ran, by reason.");
        for (const auto& [reason, n] : refusals_)
            line(fmt::format("tooljail_refusals_total{{reason=\"{}\"}}", escape_label(reason)),
                 static_cast<double>(n));
        header(out, "tooljail_http_sessions_ended_total", "counter",
               "HTTP sessions ended by expiry, eviction, token reload or DELETE, by reason.");
        for (const auto& [why, n] : sessions_ended_)
            line(fmt::format("tooljail_http_sessions_ended_total{{reason=\"{}\"}}",
                             escape_label(why)),
                 static_cast<double>(n));
        header(out, "tooljail_run_duration_seconds", "histogram",
               "Wall-clock time of runs, by tool.");
        for (const auto& [tool, h] : durations_) {
            std::string t = escape_label(tool);
            uint64_t cumulative = 0;
            for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
                cumulative += h.buckets[i];
                line(fmt::format("tooljail_run_duration_seconds_bucket{{tool=\"{}\",le=\"{}\"}}", t,
                                 number(kDurationBuckets[i])),
                     static_cast<double>(cumulative));
            }
            line(fmt::format("tooljail_run_duration_seconds_bucket{{tool=\"{}\",le=\"+Inf\"}}", t),
                 static_cast<double>(h.count));
            line(fmt::format("tooljail_run_duration_seconds_sum{{tool=\"{}\"}}", t), h.sum);
            line(fmt::format("tooljail_run_duration_seconds_count{{tool=\"{}\"}}", t),
                 static_cast<double>(h.count));
        }
    }

    if (pools.empty()) return out;
    header(out, "tooljail_warm_pool_ready", "gauge", "Warm sandboxes ready now, by tool.");
    for (const auto& p : pools)
        line(fmt::format("tooljail_warm_pool_ready{{tool=\"{}\"}}", escape_label(p.tool)),
             static_cast<double>(p.stats.ready));
    header(out, "tooljail_warm_pool_target", "gauge",
           "Warm sandboxes kept ready, by tool (0: no pool).");
    for (const auto& p : pools)
        line(fmt::format("tooljail_warm_pool_target{{tool=\"{}\"}}", escape_label(p.tool)),
             static_cast<double>(p.stats.target));
    header(out, "tooljail_launches_total", "counter",
           "Sandbox launches by path: warm (from the pool) or cold.");
    for (const auto& p : pools) {
        std::string t = escape_label(p.tool);
        line(fmt::format("tooljail_launches_total{{tool=\"{}\",path=\"warm\"}}", t),
             static_cast<double>(p.stats.warm_launches));
        line(fmt::format("tooljail_launches_total{{tool=\"{}\",path=\"cold\"}}", t),
             static_cast<double>(p.stats.cold_launches));
    }
    header(out, "tooljail_warm_pool_fill_failures_total", "counter",
           "Warm sandboxes that failed to prepare.");
    for (const auto& p : pools)
        line(fmt::format("tooljail_warm_pool_fill_failures_total{{tool=\"{}\"}}",
                         escape_label(p.tool)),
             static_cast<double>(p.stats.fill_failures));
    return out;
}

// A namespace-scope object rather than a function-local static: constructed before main, so
// process_start_time_seconds and /healthz's uptime count from the start, not the first scrape.
Registry g_registry;

Registry& global() { return g_registry; }

}  // namespace runtime::metrics
