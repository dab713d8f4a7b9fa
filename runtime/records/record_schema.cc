#include "runtime/records/record_schema.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "runtime/base/json_number.h"
#include "runtime/base/json_reader.h"
#include "sandbox/base/sys.h"

namespace runtime::records {

OsUser current_os_user() {
    OsUser user;
    user.uid = ::getuid();
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (::getpwuid_r(user.uid, &pw, buf, sizeof buf, &found) == 0 && found)
        user.name = found->pw_name;
    return user;
}
namespace {

using nlohmann::json;

bool all_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json capture_to_json(const sandbox::Capture& c, const StoredOutput& stored) {
    json j = {{"bytes", c.total},
              {"captured_bytes", c.data.size()},
              {"truncated", c.truncated},
              {"sha256", nullable(c.sha256)},
              {"file", nullable(stored.file)},
              {"file_sha256", nullable(stored.sha256)}};
    // Only when the file holds less than was captured, so records of whole captures keep the
    // shape they always had.
    if (!stored.cut.empty()) {
        j["stored_bytes"] = stored.bytes;
        j["store_cut"] = stored.cut;
        j["store_errno"] = nullable(stored.cut_errno);
    }
    return j;
}

json client_to_json(const ClientIdentity& c) {
    json os_user = nullptr;
    if (c.os_user) os_user = {{"uid", c.os_user->uid}, {"name", c.os_user->name}};
    return {{"transport", c.transport},
            {"os_user", os_user},
            {"token_client", nullable(c.token_client)},
            {"client_info", c.client_info}};
}

json supervisor_to_json(const Supervisor& s) {
    return {{"pid", s.pid},
            {"start_ticks", s.start_ticks},
            {"boot_id", s.boot_id},
            {"hostname", s.hostname},
            {"version", s.version}};
}

// The fields a start and a refused entry share.
json run_fields(const RunStart& r, const Supervisor& supervisor, Time at) {
    json stdin_info = nullptr;
    if (r.stdin_bytes)
        stdin_info = {{"bytes", *r.stdin_bytes}, {"sha256", nullable(r.stdin_sha256)}};
    return {{"at", units::format_time(at)},
            {"run_id", r.run_id},
            {"trace_id", r.trace_id},
            {"parent_span_id", nullable(r.parent_span_id)},
            {"client", client_to_json(r.client)},
            {"session", nullable(r.session)},
            {"tool", nullable(r.tool)},
            {"manifest_sha256", nullable(r.manifest_sha256)},
            {"policy", nullable(r.policy)},
            {"policy_sha256", nullable(r.policy_sha256)},
            {"layers", r.layers ? layers_to_json(*r.layers) : json(nullptr)},
            {"limits", r.limits ? limits_to_json(*r.limits) : json(nullptr)},
            {"arguments", r.arguments},
            {"argv", r.argv},
            {"env", r.env},
            {"workspace", nullable(r.workspace)},
            {"stdin", stdin_info},
            {"success_exit_codes", r.success_exit_codes},
            {"redacted", r.redacted},
            {"redacted_pointers", r.redacted_pointers},
            {"supervisor", supervisor_to_json(supervisor)}};
}

// The chain and bookkeeping fields, which a record does not repeat.
bool meta_key(const std::string& key) {
    return key == "v" || key == "seq" || key == "prev" || key == "hash" || key == "type" ||
           key == "at";
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view h) {
    // version "00": exactly 55 characters; other versions may append fields after a dash.
    if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
    std::string_view version = h.substr(0, 2), trace = h.substr(3, 32), span = h.substr(36, 16),
                     flags = h.substr(53, 2);
    if (!all_hex(version) || version == "ff" || !all_hex(trace) || !all_hex(span) ||
        !all_hex(flags))
        return std::nullopt;
    if (version == "00" && h.size() != 55) return std::nullopt;
    if (h.size() > 55 && h[55] != '-') return std::nullopt;
    if (trace == std::string(32, '0') || span == std::string(16, '0')) return std::nullopt;
    return TraceParent{std::string(trace), std::string(span)};
}

bool apply_traceparent(RunStart& run, std::string_view header) {
    auto tp = parse_traceparent(header);
    if (!tp) return false;
    run.trace_id = tp->trace_id;
    run.parent_span_id = tp->parent_span_id;
    return true;
}

std::string new_trace_id() {
    if (auto hex = sandbox::sys::random_hex(16)) return *hex;
    // Never expected; the run id still identifies the run. Keep the id valid (not all zero).
    auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return fmt::format("{:016x}{:016x}", now, uint64_t{1});
}

json layers_to_json(const sandbox::Layers& l) {
    // Hierarchy::describe() is "v2 memory,pids,cpu": split into version and controllers.
    std::string version = l.cgroup.substr(0, l.cgroup.find(' '));
    json controllers = json::array();
    if (size_t sp = l.cgroup.find(' '); sp != std::string::npos) {
        std::string list = l.cgroup.substr(sp + 1);
        for (size_t start = 0; start <= list.size();) {
            size_t comma = std::min(list.find(',', start), list.size());
            if (comma > start) controllers.push_back(list.substr(start, comma - start));
            start = comma + 1;
        }
    }
    return {{"namespaces", l.namespaces},
            {"seccomp_profile", l.seccomp_profile},
            {"cgroup", {{"version", version}, {"controllers", controllers}}},
            {"landlock_abi", l.landlock_abi},
            {"uid", l.uid},
            {"host_uid", l.host_uid}};
}

json limits_to_json(const sandbox::Limits& l) {
    return {{"memory_bytes", l.memory_bytes},    {"pids", l.pids},
            {"cpu_percent", l.cpu_percent},      {"wall_timeout_ms", l.wall_timeout.count()},
            {"cpu_time_ms", l.cpu_time.count()}, {"stdout_bytes", l.stdout_bytes},
            {"stderr_bytes", l.stderr_bytes},    {"kill_on_output_cap", l.kill_on_output_cap},
            {"tmpfs_bytes", l.tmpfs_bytes},      {"file_size_bytes", l.file_size_bytes},
            {"open_files", l.open_files},        {"stdin_bytes", l.stdin_bytes}};
}

json start_entry(const RunStart& run, const Supervisor& supervisor, Time at) {
    json e = run_fields(run, supervisor, at);
    e["type"] = "start";
    return e;
}

json refused_entry(const Refusal& refusal, const Supervisor& supervisor, Time at) {
    json e = run_fields(refusal.run, supervisor, at);
    e["type"] = "refused";
    e["reason"] = refusal.reason;
    e["message"] = refusal.message;
    return e;
}

json end_entry(const std::string& run_id, const sandbox::Outcome& o, const StoredOutput& out,
               const StoredOutput& err, Time at) {
    bool error = o.reason == sandbox::Termination::SandboxError;
    json e = {{"type", "end"},
              {"at", units::format_time(at)},
              {"run_id", run_id},
              {"reason", sandbox::termination_name(o.reason)},
              {"exit_code", error || o.signal != 0 ? json(nullptr) : json(o.exit_code)},
              {"signal", o.signal != 0 ? json(o.signal) : json(nullptr)},
              {"wall_ms", o.wall.count()},
              {"cpu_ms", o.cpu.count()},
              {"peak_memory_bytes", o.peak_memory_bytes},
              {"oom_kills", o.oom_kills},
              {"pids_limit_hits", o.pids_limit_hits},
              {"stdout", capture_to_json(o.out, out)},
              {"stderr", capture_to_json(o.err, err)},
              {"error", nullptr}};
    if (error || !o.error_message.empty())
        e["error"] = {{"step", nullable(sandbox::step_name(o.failed_step))},
                      {"errno", o.failed_errno},
                      {"errno_name", o.failed_errno ? json(sandbox::sys::errno_name(o.failed_errno))
                                                    : json(nullptr)},
                      {"message", o.error_message}};
    return e;
}

json interrupted_entry(const std::string& run_id, const std::string& detail, Time at,
                       const std::string& store_errno) {
    json e = {{"type", "interrupted"},
              {"at", units::format_time(at)},
              {"run_id", run_id},
              {"reason", "interrupted"},
              {"message", detail}};
    if (!store_errno.empty()) e["store_errno"] = store_errno;
    return e;
}

sandbox::Result<RunStart> run_start_from_json(const json& e) {
    try {
        RunStart r;
        r.run_id = e.at("run_id").get<std::string>();
        r.trace_id = e.at("trace_id").get<std::string>();
        r.parent_span_id = json_reader::string_or_empty(e, "parent_span_id");
        const json& c = e.at("client");
        r.client.transport = c.at("transport").get<std::string>();
        if (!c.at("os_user").is_null())
            r.client.os_user = OsUser{json_number::integer<uint32_t>(c["os_user"].at("uid")),
                                      c["os_user"].at("name").get<std::string>()};
        r.client.token_client = json_reader::string_or_empty(c, "token_client");
        r.client.client_info = c.at("client_info");
        r.session = json_reader::string_or_empty(e, "session");
        r.tool = json_reader::string_or_empty(e, "tool");
        r.manifest_sha256 = json_reader::string_or_empty(e, "manifest_sha256");
        r.policy = json_reader::string_or_empty(e, "policy");
        r.policy_sha256 = json_reader::string_or_empty(e, "policy_sha256");
        if (const json& l = e.at("layers"); !l.is_null()) {
            sandbox::Layers layers;
            layers.namespaces = l.at("namespaces").get<std::vector<std::string>>();
            layers.seccomp_profile = l.at("seccomp_profile").get<std::string>();
            std::string controllers;
            for (const auto& name : l.at("cgroup").at("controllers"))
                controllers += (controllers.empty() ? "" : ",") + name.get<std::string>();
            layers.cgroup = l.at("cgroup").at("version").get<std::string>();
            if (!controllers.empty()) layers.cgroup += " " + controllers;
            layers.landlock_abi = json_number::integer<int>(l.at("landlock_abi"));
            layers.uid = json_number::integer<uid_t>(l.at("uid"));
            layers.host_uid = json_number::integer<uid_t>(l.at("host_uid"));
            r.layers = layers;
        }
        if (const json& l = e.at("limits"); !l.is_null()) {
            sandbox::Limits limits;
            limits.memory_bytes = json_number::integer<uint64_t>(l.at("memory_bytes"));
            limits.pids = json_number::integer<uint32_t>(l.at("pids"));
            limits.cpu_percent = json_number::integer<uint32_t>(l.at("cpu_percent"));
            limits.wall_timeout =
                sandbox::Millis{json_number::integer<int64_t>(l.at("wall_timeout_ms"))};
            limits.cpu_time = sandbox::Millis{json_number::integer<int64_t>(l.at("cpu_time_ms"))};
            limits.stdout_bytes = json_number::integer<uint64_t>(l.at("stdout_bytes"));
            limits.stderr_bytes = json_number::integer<uint64_t>(l.at("stderr_bytes"));
            limits.kill_on_output_cap = l.at("kill_on_output_cap").get<bool>();
            limits.tmpfs_bytes = json_number::integer<uint64_t>(l.at("tmpfs_bytes"));
            limits.file_size_bytes = json_number::integer<uint64_t>(l.at("file_size_bytes"));
            limits.open_files = json_number::integer<uint32_t>(l.at("open_files"));
            limits.stdin_bytes = json_number::integer<uint64_t>(l.at("stdin_bytes"));
            r.limits = limits;
        }
        r.arguments = e.at("arguments");
        r.argv = e.at("argv").get<std::vector<std::string>>();
        r.env = e.at("env").get<std::vector<std::string>>();
        r.workspace = json_reader::string_or_empty(e, "workspace");
        r.success_exit_codes = json_number::integers<int>(e.at("success_exit_codes"));
        if (const json& s = e.at("stdin"); !s.is_null()) {
            r.stdin_bytes = json_number::integer<uint64_t>(s.at("bytes"));
            r.stdin_sha256 = json_reader::string_or_empty(s, "sha256");
        }
        r.redacted = e.at("redacted").get<bool>();
        r.redacted_pointers = e.at("redacted_pointers").get<std::vector<std::string>>();
        return r;
    } catch (const json::exception& ex) {
        return sandbox::fail(sandbox::Errc::InvalidArgument,
                             std::string("start entry: ") + ex.what());
    }
}

sandbox::Result<sandbox::Outcome> outcome_from_json(const json& e) {
    try {
        sandbox::Outcome o;
        std::string reason = e.at("reason").get<std::string>();
        bool known = false;
        for (int t = 0; t <= static_cast<int>(sandbox::Termination::SandboxError); ++t) {
            if (reason == sandbox::termination_name(static_cast<sandbox::Termination>(t))) {
                o.reason = static_cast<sandbox::Termination>(t);
                known = true;
            }
        }
        if (!known)
            return sandbox::fail(sandbox::Errc::InvalidArgument,
                                 "end entry: unknown reason '" + reason + "'");
        if (!e.at("exit_code").is_null()) o.exit_code = json_number::integer<int>(e["exit_code"]);
        if (!e.at("signal").is_null()) o.signal = json_number::integer<int>(e["signal"]);
        o.wall = sandbox::Millis{json_number::integer<int64_t>(e.at("wall_ms"))};
        o.cpu = sandbox::Millis{json_number::integer<int64_t>(e.at("cpu_ms"))};
        o.peak_memory_bytes = json_number::integer<uint64_t>(e.at("peak_memory_bytes"));
        o.oom_kills = json_number::integer<uint64_t>(e.at("oom_kills"));
        o.pids_limit_hits = json_number::integer<uint64_t>(e.at("pids_limit_hits"));
        for (auto [key, cap] : {std::pair{"stdout", &o.out}, std::pair{"stderr", &o.err}}) {
            const json& c = e.at(key);
            cap->total = json_number::integer<uint64_t>(c.at("bytes"));
            cap->truncated = c.at("truncated").get<bool>();
            cap->sha256 = json_reader::string_or_empty(c, "sha256");
        }
        if (const json& err = e.at("error"); !err.is_null()) {
            // An absent or null step is Step::None, a name this build does not know Unknown.
            o.failed_step = sandbox::parse_step(json_reader::string_or_empty(err, "step"));
            o.failed_errno = json_number::integer<int>(err.at("errno"));
            o.error_message = json_reader::string_or_empty(err, "message");
        }
        return o;
    } catch (const json::exception& ex) {
        return sandbox::fail(sandbox::Errc::InvalidArgument,
                             std::string("end entry: ") + ex.what());
    }
}

std::string record_status(const json& r) {
    std::string reason = json_reader::string_or_empty(r, "reason");
    if (r.contains("refused")) return "refused";
    if (reason.empty()) return "running";
    if (reason == "interrupted") return "interrupted";
    if (reason == kSandboxError) return "error";
    if (reason != "exit" || !r.contains("exit_code") || !r["exit_code"].is_number_integer())
        return "failure";
    std::vector<int> ok{0};
    if (auto it = r.find("success_exit_codes"); it != r.end() && it->is_array()) {
        ok.clear();
        for (const auto& v : *it)
            if (v.is_number_integer()) ok.push_back(v.get<int>());
    }
    return std::find(ok.begin(), ok.end(), r["exit_code"].get<int>()) != ok.end() ? "success"
                                                                                  : "failure";
}

void Folder::add(const json& entry) {
    auto id = entry.find("run_id");
    if (!entry.is_object() || id == entry.end() || !id->is_string()) return;
    std::string type = json_reader::string_or_empty(entry, "type");
    auto [it, inserted] = index_.try_emplace(id->get<std::string>(), records_.size());
    if (inserted) records_.push_back({{"schema", kSchemaVersion}, {"entries", json::array()}});
    json& r = records_[it->second];
    for (const auto& [key, value] : entry.items())
        if (!meta_key(key)) r[key] = value;
    if (auto seq = entry.find("seq"); seq != entry.end()) r["entries"].push_back(*seq);
    std::string at = json_reader::string_or_empty(entry, "at");
    if (type == "start" || type == "refused") r["started_at"] = at;
    if (type == "refused") r["refused"] = true;
    if (type == "end" || type == "interrupted" || type == "refused") r["ended_at"] = at;
}

std::vector<json> Folder::take() {
    for (json& r : records_) {
        if (!r.contains("started_at")) r["partial"] = true;
        r["status"] = record_status(r);
        r.erase("refused");
    }
    index_.clear();
    return std::move(records_);
}

}  // namespace runtime::records
