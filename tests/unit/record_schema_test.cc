// Record schema v1 (runtime/records/record_schema.h): typed structs <-> JSON round trips, the fold
// of entries into records, trace context and time parsing.
#include "runtime/records/record_schema.h"

#include <catch2/catch.hpp>

namespace rec = runtime::records;
using nlohmann::json;

namespace {

rec::RunStart full_start() {
    rec::RunStart r;
    r.run_id = "run-42-00112233aabbccdd";
    r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    r.parent_span_id = "00f067aa0ba902b7";
    r.client.transport = "http";
    r.client.os_user = rec::OsUser{1000, "alice"};
    r.client.token_client = "ci-bot";
    r.client.client_info = {{"name", "claude-desktop"}, {"version", "1.2"}};
    r.session = "sess-1";
    r.tool = "read_file";
    r.manifest_sha256 = std::string(64, 'a');
    r.policy = "strict";
    r.policy_sha256 = std::string(64, 'b');
    sandbox::Layers layers;
    layers.namespaces = {"user", "mnt", "pid"};
    layers.seccomp_profile = "strict";
    layers.cgroup = "v2 memory,pids,cpu";
    layers.landlock_abi = 4;
    layers.uid = 1000;
    layers.host_uid = 65534;
    r.layers = layers;
    sandbox::Limits limits;
    limits.memory_bytes = 123 << 20;
    limits.pids = 7;
    limits.wall_timeout = sandbox::Millis{1500};
    limits.cpu_time = sandbox::Millis{900};
    limits.kill_on_output_cap = true;
    r.limits = limits;
    r.arguments = {{"path", "README.md"}, {"n", 3}};
    r.argv = {"/usr/bin/head", "-n", "3", "README.md"};
    r.env = {"PATH=/usr/bin", "LANG=C.UTF-8"};
    r.workspace = "/srv/repo";
    r.success_exit_codes = {0, 1};
    r.stdin_bytes = 5;
    r.stdin_sha256 = std::string(64, 'c');
    r.redacted = true;
    r.redacted_pointers = {"/arguments/token"};
    return r;
}

}  // namespace

TEST_CASE("record schema: a start entry round-trips every RunStart field", "[records][unit]") {
    rec::RunStart in = full_start();
    rec::Supervisor sup{123, 456, "boot", "host", "0.1.0"};
    json entry = rec::start_entry(in, sup, rec::Time{std::chrono::milliseconds(1'700'000'000'123)});
    CHECK(entry["type"] == "start");
    CHECK(entry["at"] == "2023-11-14T22:13:20.123Z");
    CHECK(entry["layers"]["cgroup"] ==
          json({{"version", "v2"}, {"controllers", {"memory", "pids", "cpu"}}}));
    CHECK(entry["limits"]["wall_timeout_ms"] == 1500);
    CHECK(entry["supervisor"]["pid"] == 123);
    auto out = rec::run_start_from_json(json::parse(entry.dump()));
    REQUIRE(out);
    CHECK(out->run_id == in.run_id);
    CHECK(out->trace_id == in.trace_id);
    CHECK(out->parent_span_id == in.parent_span_id);
    CHECK(out->client.transport == "http");
    REQUIRE(out->client.os_user);
    CHECK(out->client.os_user->uid == 1000);
    CHECK(out->client.os_user->name == "alice");
    CHECK(out->client.token_client == "ci-bot");
    CHECK(out->client.client_info == in.client.client_info);
    CHECK(out->session == in.session);
    CHECK(out->tool == in.tool);
    CHECK(out->manifest_sha256 == in.manifest_sha256);
    CHECK(out->policy == in.policy);
    CHECK(out->policy_sha256 == in.policy_sha256);
    REQUIRE(out->layers);
    CHECK(out->layers->namespaces == in.layers->namespaces);
    CHECK(out->layers->seccomp_profile == "strict");
    CHECK(out->layers->cgroup == "v2 memory,pids,cpu");
    CHECK(out->layers->landlock_abi == 4);
    CHECK(out->layers->host_uid == 65534u);
    REQUIRE(out->limits);
    CHECK(out->limits->memory_bytes == in.limits->memory_bytes);
    CHECK(out->limits->pids == 7u);
    CHECK(out->limits->wall_timeout == sandbox::Millis{1500});
    CHECK(out->limits->cpu_time == sandbox::Millis{900});
    CHECK(out->limits->kill_on_output_cap);
    CHECK(out->limits->stdout_bytes == in.limits->stdout_bytes);
    CHECK(out->arguments == in.arguments);
    CHECK(out->argv == in.argv);
    CHECK(out->env == in.env);
    CHECK(out->workspace == in.workspace);
    CHECK(out->success_exit_codes == in.success_exit_codes);
    CHECK(out->stdin_bytes == in.stdin_bytes);
    CHECK(out->stdin_sha256 == in.stdin_sha256);
    CHECK(out->redacted);
    CHECK(out->redacted_pointers == in.redacted_pointers);
}

TEST_CASE("record schema: a minimal start (tooljail run, nothing prepared) round-trips",
          "[records][unit]") {
    rec::RunStart in;
    in.run_id = "run-1-a";
    in.trace_id = rec::new_trace_id();
    in.argv = {"/bin/true"};
    json entry = rec::start_entry(in, {}, rec::Time{});
    CHECK(entry["layers"].is_null());
    CHECK(entry["tool"].is_null());
    CHECK(entry["client"]["os_user"].is_null());
    auto out = rec::run_start_from_json(entry);
    REQUIRE(out);
    CHECK_FALSE(out->layers);
    CHECK_FALSE(out->limits);
    CHECK_FALSE(out->stdin_bytes);
    CHECK(out->tool.empty());
    CHECK(out->argv == in.argv);
    CHECK_FALSE(rec::run_start_from_json(json{{"run_id", "x"}}));

    // A stored number that is not an integer of the field's type is a malformed entry, never a
    // float-to-integer conversion out of range (undefined behaviour; found by fuzz_records).
    json edited = entry;
    edited["success_exit_codes"] = json::array({1.5e64});
    auto bad = rec::run_start_from_json(edited);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message(), Catch::Contains("start entry: "));
    edited = entry;
    edited["client"]["os_user"] = {{"uid", 1.55e64}, {"name", "x"}};
    CHECK_FALSE(rec::run_start_from_json(edited));
    edited["client"]["os_user"] = {{"uid", -1}, {"name", "x"}};
    CHECK_FALSE(rec::run_start_from_json(edited));
    edited["client"]["os_user"] = {{"uid", 4294967295u}, {"name", "x"}};
    CHECK(rec::run_start_from_json(edited));
}

TEST_CASE("record schema: an end entry round-trips the outcome", "[records][unit]") {
    sandbox::Outcome o;
    o.reason = sandbox::Termination::Signaled;
    o.signal = 9;
    o.wall = sandbox::Millis{1234};
    o.cpu = sandbox::Millis{56};
    o.peak_memory_bytes = 7 << 20;
    o.oom_kills = 1;
    o.pids_limit_hits = 2;
    o.out = {"hello", 100, true, std::string(64, 'd')};
    o.err = {"", 0, false, std::string(64, 'e')};
    json e = rec::end_entry("run-1-a", o, {"output/run-1-a.stdout", std::string(64, 'f')}, {},
                            rec::Time{});
    CHECK(e["exit_code"].is_null());
    CHECK(e["signal"] == 9);
    CHECK(e["stdout"] == json({{"bytes", 100},
                               {"captured_bytes", 5},
                               {"truncated", true},
                               {"sha256", std::string(64, 'd')},
                               {"file", "output/run-1-a.stdout"},
                               {"file_sha256", std::string(64, 'f')}}));
    CHECK(e["stderr"]["file"].is_null());
    auto back = rec::outcome_from_json(e);
    REQUIRE(back);
    CHECK(back->reason == o.reason);
    CHECK(back->signal == 9);
    CHECK(back->wall == o.wall);
    CHECK(back->cpu == o.cpu);
    CHECK(back->peak_memory_bytes == o.peak_memory_bytes);
    CHECK(back->oom_kills == 1);
    CHECK(back->pids_limit_hits == 2);
    CHECK(back->out.total == 100);
    CHECK(back->out.truncated);
    CHECK(back->out.sha256 == o.out.sha256);

    sandbox::Outcome failed;
    failed.failed_step = sandbox::Step::Execve;
    failed.failed_errno = 2;
    failed.error_message = "execve: /bin/nope: No such file or directory (ENOENT)";
    json fe = rec::end_entry("run-1-b", failed, {}, {}, rec::Time{});
    CHECK(fe["reason"] == "sandbox_error");
    CHECK(fe["error"]["errno_name"] == "ENOENT");
    auto fb = rec::outcome_from_json(fe);
    REQUIRE(fb);
    CHECK(fb->failed_step == sandbox::Step::Execve);
    CHECK(fb->failed_errno == 2);
}

TEST_CASE("record schema: entries fold into records with a status", "[records][unit]") {
    rec::RunStart s;
    s.run_id = "run-1-a";
    s.success_exit_codes = {0, 1};
    sandbox::Outcome o;
    o.reason = sandbox::Termination::Exit;
    o.exit_code = 1;
    rec::RunStart s2 = s;
    s2.run_id = "run-1-b";
    rec::RunStart s3 = s;
    s3.run_id = "run-1-c";
    rec::Refusal refusal{s, "validation_error", "bad path"};
    refusal.run.run_id = "run-1-d";
    sandbox::Outcome late;
    late.reason = sandbox::Termination::Timeout;

    rec::Folder f;
    auto seq = [n = 0](json e) mutable {
        e["seq"] = ++n;
        return e;
    };
    f.add(seq(rec::start_entry(s, {}, rec::Time{})));
    f.add(seq(rec::start_entry(s2, {}, rec::Time{})));
    f.add(seq(rec::end_entry("run-1-a", o, {}, {}, rec::Time{})));
    f.add(seq(rec::interrupted_entry("run-1-b", "supervisor died", rec::Time{})));
    f.add(seq(rec::start_entry(s3, {}, rec::Time{})));
    f.add(seq(rec::refused_entry(refusal, {}, rec::Time{})));
    f.add(seq(rec::end_entry("run-1-e", late, {}, {}, rec::Time{})));  // its start was pruned
    f.add(seq(json{{"type", "prune"}, {"through_seq", 3}}));
    auto records = f.take();
    REQUIRE(records.size() == 5);
    CHECK(records[0]["status"] == "success");  // exit 1 is a success for this tool
    CHECK(records[0]["entries"] == json({1, 3}));
    CHECK(records[0]["schema"] == 1);
    CHECK_FALSE(records[0].contains("seq"));
    CHECK_FALSE(records[0].contains("hash"));
    CHECK(records[1]["status"] == "interrupted");
    CHECK(records[1]["message"] == "supervisor died");
    CHECK(records[2]["status"] == "running");
    CHECK(records[3]["status"] == "refused");
    CHECK(records[3]["reason"] == "validation_error");
    CHECK(records[3]["started_at"] == records[3]["ended_at"]);
    CHECK(records[4]["status"] == "failure");
    CHECK(records[4]["partial"] == true);
}

TEST_CASE("record schema: W3C traceparent", "[records][unit]") {
    auto tp = rec::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    REQUIRE(tp);
    CHECK(tp->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(tp->parent_span_id == "00f067aa0ba902b7");
    for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"}) {
        INFO(bad);
        CHECK_FALSE(rec::parse_traceparent(bad));
    }
    std::string id = rec::new_trace_id();
    CHECK(id.size() == 32);
    CHECK(id != rec::new_trace_id());
}
