// The Prometheus exposition of `tooljail serve` (runtime/ops/metrics.h): label escaping, histogram
// buckets/sum/count, outcome labels and the bound on client label values.
#include "runtime/ops/metrics.h"

#include <string>

#include <catch2/catch.hpp>

using runtime::metrics::Registry;

namespace {

sandbox::Outcome exited(int code, int wall_ms) {
    sandbox::Outcome o;
    o.reason = sandbox::Termination::Exit;
    o.exit_code = code;
    o.wall = sandbox::Millis(wall_ms);
    return o;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("metrics: label values escape backslash, quote and newline", "[metrics][unit]") {
    CHECK(runtime::metrics::escape_label("plain") == "plain");
    CHECK(runtime::metrics::escape_label("a\\b") == "a\\\\b");
    CHECK(runtime::metrics::escape_label("say \"hi\"") == "say \\\"hi\\\"");
    CHECK(runtime::metrics::escape_label("two\nlines") == "two\\nlines");

    Registry r;
    r.on_finished("run_python", "evil\"} 1\nfake_metric{x=\"", "ok", exited(0, 5));
    std::string text = r.render();
    CHECK(has_line(
        text,
        "tooljail_calls_total{tool=\"run_python\",client=\"evil\\\"} 1\\nfake_metric{x=\\\"\","
        "outcome=\"ok\"} 1"));
    CHECK(text.find("\nfake_metric") == std::string::npos);
}

TEST_CASE("metrics: the duration histogram is cumulative with sum and count", "[metrics][unit]") {
    Registry r;
    r.on_finished("git_status", "c", "ok", exited(0, 1));       // 0.001: le="0.001" (inclusive)
    r.on_finished("git_status", "c", "ok", exited(0, 40));      // 0.04: le="0.05"
    r.on_finished("git_status", "c", "ok", exited(0, 400000));  // 400 s: only +Inf
    std::string text = r.render();
    CHECK(
        has_line(text, "tooljail_run_duration_seconds_bucket{tool=\"git_status\",le=\"0.001\"} 1"));
    CHECK(
        has_line(text, "tooljail_run_duration_seconds_bucket{tool=\"git_status\",le=\"0.025\"} 1"));
    CHECK(
        has_line(text, "tooljail_run_duration_seconds_bucket{tool=\"git_status\",le=\"0.05\"} 2"));
    CHECK(has_line(text, "tooljail_run_duration_seconds_bucket{tool=\"git_status\",le=\"300\"} 2"));
    CHECK(
        has_line(text, "tooljail_run_duration_seconds_bucket{tool=\"git_status\",le=\"+Inf\"} 3"));
    CHECK(has_line(text, "tooljail_run_duration_seconds_count{tool=\"git_status\"} 3"));
    CHECK(has_line(text, "tooljail_run_duration_seconds_sum{tool=\"git_status\"} 400.041"));
    CHECK(text.find("# TYPE tooljail_run_duration_seconds histogram\n") != std::string::npos);
}

TEST_CASE("metrics: client label values are capped in number and length", "[metrics][unit]") {
    Registry r;
    for (size_t i = 0; i < runtime::metrics::kMaxClients + 10; ++i)
        r.on_finished("echo", "client-" + std::to_string(i), "ok", exited(0, 1));
    std::string long_name(1000, 'x');
    r.on_finished("echo", long_name, "ok", exited(0, 1));
    r.on_finished("echo", "client-0", "ok", exited(0, 1));  // known before the cap: keeps its label
    std::string text = r.render();
    CHECK(
        has_line(text, "tooljail_calls_total{tool=\"echo\",client=\"client-0\",outcome=\"ok\"} 2"));
    CHECK(has_line(text,
                   "tooljail_calls_total{tool=\"echo\",client=\"client-63\",outcome=\"ok\"} 1"));
    CHECK(text.find("client=\"client-64\"") == std::string::npos);
    CHECK(has_line(text, "tooljail_calls_total{tool=\"echo\",client=\"other\",outcome=\"ok\"} 11"));
    CHECK(text.find(std::string(65, 'x')) == std::string::npos);

    SECTION("a long name is cut at a UTF-8 boundary") {
        Registry u;
        std::string name(63, 'a');
        name += "\xc3\xa9";  // é straddles byte 64
        u.on_finished("echo", name, "ok", exited(0, 1));
        CHECK(u.render().find("client=\"" + std::string(63, 'a') + "\"") != std::string::npos);
    }
}

TEST_CASE("metrics: outcomes, refusals and the limit counters", "[metrics][unit]") {
    using runtime::metrics::outcome_label;
    CHECK(outcome_label(exited(0, 1), {0}, true) == "ok");
    CHECK(outcome_label(exited(1, 1), {0}, true) == "exit_nonzero");
    CHECK(outcome_label(exited(1, 1), {0, 1}, true) == "ok");  // grep: 1 = no match
    CHECK(outcome_label(exited(0, 1), {0}, false) == "launch_failed");
    sandbox::Outcome timeout;
    timeout.reason = sandbox::Termination::Timeout;
    CHECK(outcome_label(timeout, {0}, true) == "timeout");

    Registry r;
    r.on_finished("t", "c", "timeout", timeout);
    sandbox::Outcome oom;
    oom.reason = sandbox::Termination::MemoryLimit;
    r.on_finished("t", "c", "memory_limit", oom);
    sandbox::Outcome spew = exited(0, 1);
    spew.out.truncated = true;
    r.on_finished("t", "c", "ok", spew);
    r.on_refused("rate_limited");
    r.on_refused("rate_limited");
    r.on_refused("unauthorized");
    r.on_reload(true, 2);
    r.on_reload(true, 0);
    r.on_reload(false, 0);
    r.queue_add(3);
    r.in_flight_add(2);
    r.in_flight_add(-1);
    std::string text = r.render();
    CHECK(has_line(text, "tooljail_timeouts_total 1"));
    CHECK(has_line(text, "tooljail_oom_kills_total 1"));
    CHECK(has_line(text, "tooljail_output_truncated_total 1"));
    CHECK(has_line(text, "tooljail_refusals_total{reason=\"rate_limited\"} 2"));
    CHECK(has_line(text, "tooljail_refusals_total{reason=\"unauthorized\"} 1"));
    CHECK(has_line(text, "tooljail_reloads_total{result=\"ok\"} 2"));
    CHECK(has_line(text, "tooljail_reloads_total{result=\"failed\"} 1"));
    CHECK(has_line(text, "tooljail_tool_drift_total 2"));
    CHECK(has_line(text, "tooljail_queue_depth 3"));
    CHECK(has_line(text, "tooljail_runs_in_flight 1"));
    CHECK(has_line(text, "tooljail_draining 0"));
    CHECK(text.find("tooljail_build_info{version=\"") != std::string::npos);
    CHECK(text.back() == '\n');
}

TEST_CASE("metrics: HTTP sessions open and ended, by reason", "[metrics][unit]") {
    Registry r;
    r.set_sessions_open(17);
    r.on_session_ended("evicted");
    r.on_session_ended("evicted");
    r.on_session_ended("lifetime");
    r.on_refused("session_cap_server");
    std::string text = r.render();
    CHECK(has_line(text, "tooljail_http_sessions 17"));
    CHECK(has_line(text, "tooljail_http_sessions_ended_total{reason=\"evicted\"} 2"));
    CHECK(has_line(text, "tooljail_http_sessions_ended_total{reason=\"lifetime\"} 1"));
    CHECK(has_line(text, "tooljail_refusals_total{reason=\"session_cap_server\"} 1"));
    CHECK(text.find("# TYPE tooljail_http_sessions_ended_total counter") != std::string::npos);
}

TEST_CASE("metrics: warm-pool gauges appear per tool", "[metrics][unit]") {
    Registry r;
    sandbox::PoolStats stats;
    stats.target = 2;
    stats.ready = 1;
    stats.warm_launches = 5;
    stats.cold_launches = 1;
    std::string text = r.render({{"git_status", stats}});
    CHECK(has_line(text, "tooljail_warm_pool_ready{tool=\"git_status\"} 1"));
    CHECK(has_line(text, "tooljail_warm_pool_target{tool=\"git_status\"} 2"));
    CHECK(has_line(text, "tooljail_launches_total{tool=\"git_status\",path=\"warm\"} 5"));
    CHECK(has_line(text, "tooljail_launches_total{tool=\"git_status\",path=\"cold\"} 1"));
    CHECK(r.render().find("tooljail_warm_pool_ready") == std::string::npos);
}
