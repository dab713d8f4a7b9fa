// Policy files -> SandboxConfig. Every value that reaches the launcher is checked here, so that
// the sandbox layer can trust its input and an operator learns about a bad file at start-up,
// not at the first tool call. The security argument for each rule is in docs/POLICIES.md; the
// comments below only say what is non-obvious. The mount and env sections are checked in
// policy_rules.cc; the strict JSON readers (unknown and duplicate keys, pointers) are json_reader.
#include "runtime/policy/policy.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "runtime/base/config_path.h"
#include "runtime/base/json_reader.h"
#include "runtime/policy/policy_rules.h"
#include "sandbox/base/sys.h"
#include "sandbox/seccomp.h"

namespace runtime {

using namespace json_reader;
using nlohmann::json;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

namespace {

using policy_rules::parse_env;
using policy_rules::parse_mounts;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kDayMs = 24ull * 60 * 60 * 1000;
constexpr uint64_t kMaxId = 4294967294ull;  // (uid_t)-1 means "no id" to the kernel
constexpr int kMaxLandlockAbi = 32;         // well above any kernel's; catches typos, not versions

bool valid_policy_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// RFC 1123 host name, at most HOST_NAME_MAX (64) bytes.
bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 64) return false;
    for (std::size_t start = 0; start <= h.size();) {
        std::size_t end = std::min(h.find('.', start), h.size());
        std::string_view label = h.substr(start, end - start);
        if (label.empty() || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
            if (!ok) return false;
        }
        start = end + 1;
    }
    return true;
}

std::string file_stem(std::string_view label) {
    std::size_t slash = label.rfind('/');
    std::string_view base = slash == std::string_view::npos ? label : label.substr(slash + 1);
    if (base.size() > 5 && base.substr(base.size() - 5) == ".json") base.remove_suffix(5);
    return std::string(base);
}

Result<void> parse_identity(const Context& ctx, const Node& top, sandbox::SandboxConfig& cfg) {
    auto id = sub_object(ctx, top, "identity", {"uid", "gid", "host_uid", "host_gid"});
    if (!id) return fail(std::move(id).error());
    if (!*id) return {};
    const Node& n = **id;
    // 0 is refused inside (root in the namespace owns its mounts and can undo them) and on the
    // host side (never map onto host root).
    uint64_t uid = cfg.uid, gid = cfg.gid;
    SBX_TRY(read_uint(ctx, n, "uid", 1, kMaxId, uid));
    SBX_TRY(read_uint(ctx, n, "gid", 1, kMaxId, gid));
    cfg.uid = static_cast<uid_t>(uid);
    cfg.gid = static_cast<gid_t>(gid);
    uint64_t host = 0;
    if (const json* v = n.get("host_uid")) {
        SBX_TRY(check_uint(ctx, *v, n.at("host_uid"), 1, kMaxId, host));
        cfg.host_uid = static_cast<uid_t>(host);
    }
    if (const json* v = n.get("host_gid")) {
        SBX_TRY(check_uint(ctx, *v, n.at("host_gid"), 1, kMaxId, host));
        cfg.host_gid = static_cast<gid_t>(host);
    }
    return {};
}

Result<void> parse_limits(const Context& ctx, const Node& top, sandbox::Limits& lim) {
    auto node =
        sub_object(ctx, top, "limits",
                   {"memory_mb", "pids", "cpu_percent", "cpu_host_percent", "wall_timeout_ms",
                    "cpu_time_ms", "stdout_bytes", "stderr_bytes", "kill_on_output_cap", "tmpfs_mb",
                    "file_size_mb", "open_files", "stdin_bytes"});
    if (!node) return fail(std::move(node).error());
    if (!*node) return {};
    const Node& n = **node;

    // Each value starts as the member initialiser in the file's unit, so an absent key keeps
    // the default. Zero means "unlimited" to the sandbox layer; a policy may not ask for that.
    auto mib = [&](std::string_view key, uint64_t min, uint64_t max, uint64_t& bytes) {
        uint64_t v = bytes / kMiB;
        auto r = read_uint(ctx, n, key, min, max, v);
        if (r) bytes = v * kMiB;
        return r;
    };
    auto u32 = [&](std::string_view key, uint64_t min, uint64_t max, uint32_t& out) {
        uint64_t v = out;
        auto r = read_uint(ctx, n, key, min, max, v);
        if (r) out = static_cast<uint32_t>(v);
        return r;
    };
    auto ms = [&](std::string_view key, uint64_t min, uint64_t max, sandbox::Millis& out) {
        uint64_t v = static_cast<uint64_t>(out.count());
        auto r = read_uint(ctx, n, key, min, max, v);
        if (r) out = sandbox::Millis(static_cast<int64_t>(v));
        return r;
    };
    SBX_TRY(mib("memory_mb", 8, 1024 * 1024, lim.memory_bytes));
    SBX_TRY(u32("pids", 1, 65536, lim.pids));
    SBX_TRY(u32("cpu_percent", 1, 100 * 64, lim.cpu_percent));
    // A share of the host, so that a quota is one on every host (two CPUs are no limit on a
    // two-CPU host). Absent = none; 0 is refused like every other "no limit" value.
    SBX_TRY(u32("cpu_host_percent", 1, 100, lim.cpu_host_percent));
    SBX_TRY(ms("wall_timeout_ms", 1, kDayMs, lim.wall_timeout));
    SBX_TRY(ms("cpu_time_ms", 0, kDayMs, lim.cpu_time));
    SBX_TRY(read_uint(ctx, n, "stdout_bytes", 1, kGiB, lim.stdout_bytes));
    SBX_TRY(read_uint(ctx, n, "stderr_bytes", 1, kGiB, lim.stderr_bytes));
    SBX_TRY(read_bool(ctx, n, "kill_on_output_cap", lim.kill_on_output_cap));
    SBX_TRY(mib("tmpfs_mb", 1, 16 * 1024, lim.tmpfs_bytes));
    SBX_TRY(mib("file_size_mb", 1, 1024 * 1024, lim.file_size_bytes));
    SBX_TRY(u32("open_files", 16, 1 << 20, lim.open_files));
    SBX_TRY(read_uint(ctx, n, "stdin_bytes", 0, kGiB, lim.stdin_bytes));
    return {};
}

Result<Policy> build_policy(const Context& ctx, const json& root, std::string_view label,
                            std::string_view text, const EnvLookup& env) {
    auto top = as_object(ctx, root, "",
                         {"name", "description", "network", "mounts", "executables", "workspace",
                          "tmp", "identity", "hostname", "limits", "seccomp", "landlock", "env"});
    if (!top) return fail(std::move(top).error());
    const Node& t = *top;

    Policy p;
    p.path = std::string(label);
    p.source = std::string(text);
    sandbox::SandboxConfig& cfg = p.sandbox;

    SBX_TRY(read_string(ctx, t, "name", p.name, Presence::Required));
    if (!valid_policy_name(p.name))
        return ctx.bad("/name",
                       fmt::format("must match [a-z][a-z0-9_-]{{0,63}} (got \"{}\")", p.name));
    if (std::string stem = file_stem(label); p.name != stem)
        return ctx.bad("/name", fmt::format("must equal the file name stem \"{}\" (got \"{}\")",
                                            stem, p.name));
    cfg.name = p.name;

    SBX_TRY(read_string(ctx, t, "description", p.description, Presence::Required));
    if (p.description.empty()) return ctx.bad("/description", "must not be empty");

    std::string network = cfg.loopback ? "loopback" : "none";
    SBX_TRY(read_enum(ctx, t, "network", {"none", "loopback"}, network));
    cfg.loopback = network == "loopback";

    SBX_TRY(parse_mounts(ctx, t, cfg));
    SBX_TRY(policy_rules::parse_executables(ctx, t, cfg));

    auto ws = sub_object(ctx, t, "workspace", {"noexec"});
    if (!ws) return fail(std::move(ws).error());
    if (*ws) SBX_TRY(read_bool(ctx, **ws, "noexec", cfg.workspace_noexec));

    auto tmp = sub_object(ctx, t, "tmp", {"noexec"});
    if (!tmp) return fail(std::move(tmp).error());
    if (*tmp) SBX_TRY(read_bool(ctx, **tmp, "noexec", cfg.tmp_noexec));

    SBX_TRY(parse_identity(ctx, t, cfg));

    SBX_TRY(read_string(ctx, t, "hostname", cfg.hostname));
    if (!valid_hostname(cfg.hostname))
        return ctx.bad("/hostname", fmt::format("must be an RFC 1123 host name of at most 64 "
                                                "bytes (got \"{}\")",
                                                cfg.hostname));

    SBX_TRY(parse_limits(ctx, t, cfg.limits));

    auto sec = sub_object(ctx, t, "seccomp", {"profile", "on_violation"});
    if (!sec) return fail(std::move(sec).error());
    if (*sec) {
        SBX_TRY(read_enum(ctx, **sec, "profile", sandbox::seccomp::profile_names(),
                          cfg.seccomp.profile));
        std::string action =
            cfg.seccomp.on_violation == sandbox::SeccompAction::Kill ? "kill" : "errno";
        SBX_TRY(read_enum(ctx, **sec, "on_violation", {"errno", "kill"}, action));
        cfg.seccomp.on_violation =
            action == "kill" ? sandbox::SeccompAction::Kill : sandbox::SeccompAction::Errno;
    }

    auto ll = sub_object(ctx, t, "landlock", {"mode", "min_abi"});
    if (!ll) return fail(std::move(ll).error());
    if (*ll) {
        std::string mode = cfg.landlock.mode == sandbox::LandlockMode::Off ? "off" : "required";
        SBX_TRY(read_enum(ctx, **ll, "mode", {"required", "off"}, mode));
        cfg.landlock.mode =
            mode == "off" ? sandbox::LandlockMode::Off : sandbox::LandlockMode::Required;
        auto abi = static_cast<uint64_t>(cfg.landlock.min_abi);
        SBX_TRY(read_uint(ctx, **ll, "min_abi", 1, kMaxLandlockAbi, abi));
        cfg.landlock.min_abi = static_cast<int>(abi);
    }
    // Only Landlock tells executables apart: without it the list would be silently ignored.
    if (!cfg.executables.empty() && cfg.landlock.mode == sandbox::LandlockMode::Off)
        return ctx.bad("/executables", "needs Landlock, but /landlock/mode is \"off\"");

    SBX_TRY(parse_env(ctx, t, p, env));
    return p;
}

}  // namespace

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

Result<Policy> parse_policy(std::string_view json_text, std::string_view file_label,
                            const EnvLookup& env) {
    Context ctx(file_label);
    auto root = json_reader::parse(ctx, json_text);
    if (!root) return fail(std::move(root).error());
    try {
        return build_policy(ctx, *root, file_label, json_text, env);
    } catch (const json::exception& e) {
        // The readers check every type first; reaching this is a bug in the policy code.
        return fail(Errc::Internal, fmt::format("{}: {}", file_label, e.what()));
    }
}

Result<Policy> load_policy_file(const std::string& path, const EnvLookup& env) {
    auto text = sandbox::sys::read_file(path, kMaxPolicyFileBytes);
    if (!text) return fail(std::move(text).error().with_prefix(path + ": cannot read policy: "));
    return parse_policy(*text, path, env);
}

Result<PolicySet> load_policy_dir(const std::string& search_path, const EnvLookup& env) {
    return load_config_dir<Policy>(
        search_path, "policy directory", "no policies (*.json)",
        [&env](const std::string& path) { return load_policy_file(path, env); });
}

std::string default_policy_dir() {
    return config_path::default_search_path("TOOLJAIL_POLICY_DIR", "policies");
}

json policy_to_json(const Policy& policy) {
    const sandbox::SandboxConfig& cfg = policy.sandbox;
    const sandbox::Limits& lim = cfg.limits;

    json system = json::array();
    for (const auto& bind : cfg.binds) {
        json m = {{"source", bind.source}, {"optional", bind.optional}, {"noexec", bind.noexec}};
        if (!bind.target.empty()) m["target"] = bind.target;
        system.push_back(std::move(m));
    }
    json identity = {{"uid", cfg.uid}, {"gid", cfg.gid}};
    if (cfg.host_uid) identity["host_uid"] = *cfg.host_uid;
    if (cfg.host_gid) identity["host_gid"] = *cfg.host_gid;

    json limits = {
        {"memory_mb", lim.memory_bytes / kMiB}, {"pids", lim.pids},
        {"cpu_percent", lim.cpu_percent},       {"wall_timeout_ms", lim.wall_timeout.count()},
        {"cpu_time_ms", lim.cpu_time.count()},  {"stdout_bytes", lim.stdout_bytes},
        {"stderr_bytes", lim.stderr_bytes},     {"kill_on_output_cap", lim.kill_on_output_cap},
        {"tmpfs_mb", lim.tmpfs_bytes / kMiB},   {"file_size_mb", lim.file_size_bytes / kMiB},
        {"open_files", lim.open_files},         {"stdin_bytes", lim.stdin_bytes}};
    if (lim.cpu_host_percent != 0) limits["cpu_host_percent"] = lim.cpu_host_percent;

    return json{
        {"name", policy.name},
        {"description", policy.description},
        {"network", cfg.loopback ? "loopback" : "none"},
        {"mounts", {{"system", std::move(system)}, {"etc", cfg.etc_entries}}},
        {"executables", cfg.executables.empty() ? json("any") : json(cfg.executables)},
        {"workspace", {{"noexec", cfg.workspace_noexec}}},
        {"tmp", {{"noexec", cfg.tmp_noexec}}},
        {"identity", std::move(identity)},
        {"hostname", cfg.hostname},
        {"limits", std::move(limits)},
        {"seccomp",
         {{"profile", cfg.seccomp.profile},
          {"on_violation",
           cfg.seccomp.on_violation == sandbox::SeccompAction::Kill ? "kill" : "errno"}}},
        {"landlock",
         {{"mode", cfg.landlock.mode == sandbox::LandlockMode::Off ? "off" : "required"},
          {"min_abi", cfg.landlock.min_abi}}},
        {"env", {{"set", policy.env_set}, {"pass", policy.env_pass}}},
    };
}

}  // namespace runtime
