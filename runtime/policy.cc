// Policy files -> SandboxConfig. Every value that reaches the launcher is checked here, so that
// the sandbox layer can trust its input and an operator learns about a bad file at start-up,
// not at the first tool call. The security argument for each rule is in docs/POLICIES.md; the
// comments below only say what is non-obvious.
#include "runtime/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "sandbox/base/sys.h"
#include "sandbox/mount_plan.h"
#include "sandbox/seccomp.h"

namespace runtime {
namespace {

using nlohmann::json;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kDayMs = 24ull * 60 * 60 * 1000;
constexpr uint64_t kMaxId = 4294967294ull;     // (uid_t)-1 means "no id" to the kernel
constexpr std::size_t kMaxArgStrlen = 131072;  // MAX_ARG_STRLEN: one envp string incl. NUL
constexpr std::size_t kPathMax = 4095;
constexpr int kMaxLandlockAbi = 32;  // well above any kernel's; catches typos, not versions
// Every system mount and /etc entry is one bind; the mount plan also binds the /dev nodes and
// the workspace and refuses more than kMaxBindSources in all. Fail here, at load time.
constexpr std::size_t kMaxSystemMounts = 32;
constexpr std::size_t kMaxEtcEntries = 24;
static_assert(kMaxSystemMounts + kMaxEtcEntries + 8 <= sandbox::mount_plan::kMaxBindSources);

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string escape_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

std::string describe_type(const json& j) {
    if (j.is_number_float()) return "non-integer number";
    return j.type_name();
}

// Messages quote file content (keys, values, nlohmann's "last read" bytes, which may be invalid
// UTF-8). Escape control and non-ASCII bytes so one error stays one log line and can be put
// into a JSON reply without a UTF-8 error.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f)
            out += fmt::format("\\x{:02x}", u);
        else
            out += c;
    }
    return out;
}

// Error sink for one file: "<file>: <json pointer>: <message>".
class Ctx {
public:
    explicit Ctx(std::string_view file) : file_(file) {}
    sandbox::Unexpected bad(std::string_view ptr, std::string_view msg) const {
        if (ptr.empty())
            return fail(Errc::InvalidArgument, printable(fmt::format("{}: {}", file_, msg)));
        return fail(Errc::InvalidArgument, printable(fmt::format("{}: {}: {}", file_, ptr, msg)));
    }

private:
    std::string file_;
};

// A JSON object whose key set has been checked; knows its own pointer.
struct Node {
    const json* j = nullptr;
    std::string ptr;

    std::string at(std::string_view key) const { return ptr + "/" + escape_token(key); }
    const json* get(std::string_view key) const {
        auto it = j->find(std::string(key));
        return it == j->end() ? nullptr : &*it;
    }
};

using Keys = std::initializer_list<std::string_view>;

Result<Node> as_object(const Ctx& ctx, const json& j, std::string ptr, Keys allowed) {
    if (!j.is_object())
        return ctx.bad(ptr, fmt::format("expected object (got {})", describe_type(j)));
    for (const auto& item : j.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
            return ctx.bad(ptr + "/" + escape_token(item.key()),
                           fmt::format("unknown key (allowed: {})", fmt::join(allowed, ", ")));
    }
    return Node{&j, std::move(ptr)};
}

// nullopt when the key is absent: the section keeps its defaults.
Result<std::optional<Node>> sub_object(const Ctx& ctx, const Node& parent, std::string_view key,
                                       Keys allowed) {
    const json* v = parent.get(key);
    if (v == nullptr) return std::optional<Node>();
    auto node = as_object(ctx, *v, parent.at(key), allowed);
    if (!node) return fail(std::move(node).error());
    return std::optional<Node>(std::move(*node));
}

Result<void> read_bool(const Ctx& ctx, const Node& n, std::string_view key, bool& out) {
    const json* v = n.get(key);
    if (v == nullptr) return {};
    if (!v->is_boolean())
        return ctx.bad(n.at(key), fmt::format("expected boolean (got {})", describe_type(*v)));
    out = v->get<bool>();
    return {};
}

enum class Presence { Optional, Required };

Result<void> read_string(const Ctx& ctx, const Node& n, std::string_view key, std::string& out,
                         Presence presence = Presence::Optional) {
    const json* v = n.get(key);
    if (v == nullptr) {
        if (presence == Presence::Required) return ctx.bad(n.at(key), "missing required key");
        return {};
    }
    if (!v->is_string())
        return ctx.bad(n.at(key), fmt::format("expected string (got {})", describe_type(*v)));
    out = v->get<std::string>();
    return {};
}

// `value` holds the default (in the file's unit) and is replaced when the key is present.
Result<void> check_uint(const Ctx& ctx, const json& v, const std::string& ptr, uint64_t min,
                        uint64_t max, uint64_t& value) {
    if (!v.is_number_integer())
        return ctx.bad(ptr, fmt::format("expected integer (got {})", describe_type(v)));
    auto range = [&](auto got) {
        return ctx.bad(ptr, fmt::format("must be between {} and {} (got {})", min, max, got));
    };
    // The parser stores non-negative integers as unsigned, negative ones as signed.
    if (!v.is_number_unsigned() && v.get<int64_t>() < 0) return range(v.get<int64_t>());
    uint64_t got = v.get<uint64_t>();
    if (got < min || got > max) return range(got);
    value = got;
    return {};
}

Result<void> read_uint(const Ctx& ctx, const Node& n, std::string_view key, uint64_t min,
                       uint64_t max, uint64_t& value) {
    const json* v = n.get(key);
    if (v == nullptr) return {};
    return check_uint(ctx, *v, n.at(key), min, max, value);
}

Result<void> read_enum(const Ctx& ctx, const Node& n, std::string_view key,
                       const std::vector<std::string>& allowed, std::string& out) {
    std::string got = out;
    SBX_TRY(read_string(ctx, n, key, got));
    if (std::find(allowed.begin(), allowed.end(), got) == allowed.end())
        return ctx.bad(n.at(key), fmt::format("must be one of \"{}\" (got \"{}\")",
                                              fmt::join(allowed, "\", \""), got));
    out = got;
    return {};
}

bool has_control_char(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

bool is_under(std::string_view path, std::string_view dir) {
    if (dir == "/") return true;
    return path == dir || (path.size() > dir.size() && path.substr(0, dir.size()) == dir &&
                           path[dir.size()] == '/');
}

// Empty when p is an absolute, normalised path; otherwise why not. Normalised matters: the
// collision checks below compare strings, so "/usr/../proc" or "/tmp/" must not slip past.
std::string path_problem(std::string_view p) {
    if (p.empty() || p[0] != '/') return "must be an absolute path";
    if (p.size() > kPathMax) return fmt::format("must be at most {} bytes", kPathMax);
    if (has_control_char(p)) return "must not contain control characters";
    if (p.size() > 1 && p.back() == '/') return "must not end with '/'";
    if (p.find("//") != std::string_view::npos) return "must not contain '//'";
    for (std::size_t start = 1; start <= p.size();) {
        std::size_t end = std::min(p.find('/', start), p.size());
        std::string_view part = p.substr(start, end - start);
        if (part == "." || part == "..") return "must not contain '.' or '..' components";
        start = end + 1;
    }
    return {};
}

// Host directories that must never be bound in, whatever the target.
struct Denied {
    std::string_view dir;
    std::string_view why;
};
constexpr Denied kDeniedSources[] = {
    {"/proc", "host process and kernel state"},
    {"/sys", "host kernel and device state"},
    {"/dev", "host devices; the launcher builds a minimal /dev"},
    {"/run", "host sockets and runtime state"},
    {"/var/run", "host sockets and runtime state"},
    {"/tmp", "other users' files and sockets"},
    {"/etc", "host configuration and secrets; list single entries in /mounts/etc"},
};
// Mount points the launcher owns. "/" is checked separately (everything is under it).
constexpr std::string_view kReservedTargets[] = {"/proc", "/dev", "/tmp", "/etc"};

// /etc entries a policy may not expose. passwd/group: the launcher writes minimal ones so the
// sandbox cannot learn host accounts; the rest hold credentials or privilege configuration.
constexpr std::string_view kDeniedEtc[] = {
    "passwd",   "group",  "shadow", "gshadow", "passwd-",   "group-", "shadow-",
    "gshadow-", "subuid", "subgid", "sudoers", "sudoers.d", "ssh",    "ssl/private",
};

bool valid_env_name(std::string_view name) {
    if (name.empty()) return false;
    auto alpha = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    };
    if (!alpha(name[0])) return false;
    return std::all_of(name.begin(), name.end(),
                       [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

// Variables the dynamic loader or libc act on before main() (glibc's "unsecure" list, minus
// TMPDIR/TZDIR which only name data). Refused in both set and pass: whoever controls them
// runs code in every sandboxed process.
bool is_loader_variable(std::string_view name) {
    static constexpr std::string_view kNames[] = {
        "GCONV_PATH",  "GETCONF_DIR",      "GLIBC_TUNABLES", "HOSTALIASES",
        "LOCALDOMAIN", "LOCPATH",          "MALLOC_TRACE",   "NIS_PATH",
        "NLSPATH",     "RESOLV_HOST_CONF", "RES_OPTIONS",
    };
    if (name.substr(0, 3) == "LD_") return true;
    return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// Startup hooks of shells and interpreters. A policy may set them to a reviewed value, but not
// copy them from the supervisor's environment, whose contents nobody reviewed.
bool is_startup_hook_variable(std::string_view name) {
    static constexpr std::string_view kNames[] = {
        "BASH_ENV",     "ENV",        "SHELLOPTS",         "BASHOPTS",      "PS4",
        "IFS",          "PYTHONPATH", "PYTHONHOME",        "PYTHONSTARTUP", "PYTHONUSERBASE",
        "PERL5LIB",     "PERLLIB",    "PERL5OPT",          "RUBYOPT",       "RUBYLIB",
        "NODE_OPTIONS", "NODE_PATH",  "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
    };
    if (name.substr(0, 4) == "GIT_" || name.substr(0, 9) == "BASH_FUNC") return true;
    return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

std::string env_value_problem(std::string_view name, std::string_view value) {
    if (value.find('\0') != std::string_view::npos) return "value must not contain NUL";
    if (name.size() + 1 + value.size() + 1 > kMaxArgStrlen)
        return fmt::format("NAME=value must be shorter than {} bytes", kMaxArgStrlen);
    return {};
}

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

// nlohmann keeps the last of duplicate keys silently. In a security config that is an
// ambiguity (which "memory_mb" did the reviewer read?), so find them during the parse.
class DuplicateKeyFinder {
public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
                stack_.push_back({true, {}, {}, 0});
                break;
            case json::parse_event_t::array_start:
                stack_.push_back({false, {}, {}, 0});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                stack_.pop_back();
                element_done();
                break;
            case json::parse_event_t::key: {
                auto key = parsed.get<std::string>();
                Frame& top = stack_.back();
                if (!top.keys.insert(key).second && !duplicate_)
                    duplicate_ = prefix(stack_.size() - 1) + "/" + escape_token(key);
                top.key = std::move(key);
                break;
            }
            case json::parse_event_t::value:
                element_done();
                break;
        }
        return true;
    }
    const std::optional<std::string>& duplicate() const { return duplicate_; }

private:
    struct Frame {
        bool is_object;
        std::set<std::string> keys;
        std::string key;    // object: the key being read
        std::size_t index;  // array: elements completed so far = index of the current one
    };
    void element_done() {
        if (!stack_.empty() && !stack_.back().is_object) ++stack_.back().index;
    }
    // Pointer to the container at stack_[depth].
    std::string prefix(std::size_t depth) const {
        std::string out;
        for (std::size_t i = 0; i < depth; ++i)
            out += "/" + (stack_[i].is_object ? escape_token(stack_[i].key)
                                              : std::to_string(stack_[i].index));
        return out;
    }
    std::vector<Frame> stack_;
    std::optional<std::string> duplicate_;
};

// ---- sections ----------------------------------------------------------------------------

Result<void> parse_mounts(const Ctx& ctx, const Node& top, Policy& p) {
    auto mounts = sub_object(ctx, top, "mounts", {"system", "etc"});
    if (!mounts) return fail(std::move(mounts).error());
    if (!*mounts) return {};
    const Node& m = **mounts;
    sandbox::SandboxConfig& cfg = p.sandbox;

    if (const json* system = m.get("system")) {
        std::string sptr = m.at("system");
        if (!system->is_array())
            return ctx.bad(sptr, fmt::format("expected array (got {})", describe_type(*system)));
        if (system->size() > kMaxSystemMounts)
            return ctx.bad(sptr, fmt::format("at most {} entries", kMaxSystemMounts));
        std::map<std::string, std::string> targets;  // effective target -> pointer of its entry
        for (std::size_t i = 0; i < system->size(); ++i) {
            auto entry = as_object(ctx, (*system)[i], fmt::format("{}/{}", sptr, i),
                                   {"source", "target", "optional", "noexec"});
            if (!entry) return fail(std::move(entry).error());
            sandbox::BindMount bind;
            SBX_TRY(read_string(ctx, *entry, "source", bind.source, Presence::Required));
            SBX_TRY(read_string(ctx, *entry, "target", bind.target));
            SBX_TRY(read_bool(ctx, *entry, "optional", bind.optional));
            SBX_TRY(read_bool(ctx, *entry, "noexec", bind.noexec));

            std::string src_ptr = entry->at("source");
            if (auto why = path_problem(bind.source); !why.empty()) return ctx.bad(src_ptr, why);
            if (bind.source == "/") return ctx.bad(src_ptr, "must not bind the host root");
            for (const Denied& d : kDeniedSources) {
                if (is_under(bind.source, d.dir))
                    return ctx.bad(src_ptr,
                                   fmt::format("must not expose host {} ({})", d.dir, d.why));
            }
            bool has_target = entry->get("target") != nullptr;
            std::string tgt_ptr = has_target ? entry->at("target") : src_ptr;
            const std::string& target = has_target ? bind.target : bind.source;
            if (auto why = path_problem(target); !why.empty()) return ctx.bad(tgt_ptr, why);
            if (target == "/") return ctx.bad(tgt_ptr, "must not be mounted over the root");
            for (std::string_view reserved : kReservedTargets) {
                if (is_under(target, reserved))
                    return ctx.bad(tgt_ptr, fmt::format("collides with {}, which the launcher "
                                                        "mounts itself",
                                                        reserved));
            }
            if (is_under(target, cfg.workspace_target))
                return ctx.bad(tgt_ptr, fmt::format("collides with the workspace mount {}",
                                                    cfg.workspace_target));
            auto [it, inserted] = targets.emplace(target, tgt_ptr);
            if (!inserted)
                return ctx.bad(tgt_ptr, fmt::format("duplicate mount target {} (also at {})",
                                                    target, it->second));
            cfg.binds.push_back(std::move(bind));
        }
    }

    if (const json* etc = m.get("etc")) {
        std::string eptr = m.at("etc");
        if (!etc->is_array())
            return ctx.bad(eptr, fmt::format("expected array (got {})", describe_type(*etc)));
        if (etc->size() > kMaxEtcEntries)
            return ctx.bad(eptr, fmt::format("at most {} entries", kMaxEtcEntries));
        std::set<std::string> seen;
        for (std::size_t i = 0; i < etc->size(); ++i) {
            std::string ptr = fmt::format("{}/{}", eptr, i);
            const json& v = (*etc)[i];
            if (!v.is_string())
                return ctx.bad(ptr, fmt::format("expected string (got {})", describe_type(v)));
            auto name = v.get<std::string>();
            if (name.empty()) return ctx.bad(ptr, "must not be empty");
            if (name[0] == '/')
                return ctx.bad(ptr, "must be a name under /etc, not an absolute path");
            // Reuse the path rules on "/etc/<name>": no "..", ".", "//", trailing "/".
            if (auto why = path_problem("/etc/" + name); !why.empty()) return ctx.bad(ptr, why);
            for (std::string_view denied : kDeniedEtc) {
                if (is_under(name, denied))
                    return ctx.bad(ptr, fmt::format("/etc/{} must not be exposed (the launcher "
                                                    "writes passwd/group; the rest hold host "
                                                    "secrets)",
                                                    denied));
            }
            if (!seen.insert(name).second)
                return ctx.bad(ptr, fmt::format("duplicate entry \"{}\"", name));
            cfg.etc_entries.push_back(std::move(name));
        }
    }
    return {};
}

Result<void> parse_identity(const Ctx& ctx, const Node& top, sandbox::SandboxConfig& cfg) {
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

Result<void> parse_limits(const Ctx& ctx, const Node& top, sandbox::Limits& lim) {
    auto node = sub_object(ctx, top, "limits",
                           {"memory_mb", "pids", "cpu_percent", "wall_timeout_ms", "cpu_time_ms",
                            "stdout_bytes", "stderr_bytes", "kill_on_output_cap", "tmpfs_mb",
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

Result<void> parse_env(const Ctx& ctx, const Node& top, Policy& p, const EnvLookup& lookup) {
    auto node = sub_object(ctx, top, "env", {"set", "pass"});
    if (!node) return fail(std::move(node).error());
    if (*node) {
        const Node& n = **node;
        if (const json* set = n.get("set")) {
            // Any variable name is a key here, so check the type only (not as_object).
            if (!set->is_object())
                return ctx.bad(n.at("set"),
                               fmt::format("expected object (got {})", describe_type(*set)));
            for (const auto& item : set->items()) {
                const std::string& name = item.key();
                std::string ptr = n.at("set") + "/" + escape_token(name);
                if (!valid_env_name(name))
                    return ctx.bad(ptr, "must be a variable name matching [A-Za-z_][A-Za-z0-9_]*");
                if (is_loader_variable(name))
                    return ctx.bad(ptr, "is read by the dynamic loader or libc and cannot be set");
                if (!item.value().is_string())
                    return ctx.bad(
                        ptr, fmt::format("expected string (got {})", describe_type(item.value())));
                auto value = item.value().get<std::string>();
                if (auto why = env_value_problem(name, value); !why.empty())
                    return ctx.bad(ptr, why);
                p.env_set.emplace(name, std::move(value));
            }
        }
        if (const json* pass = n.get("pass")) {
            std::string pptr = n.at("pass");
            if (!pass->is_array())
                return ctx.bad(pptr, fmt::format("expected array (got {})", describe_type(*pass)));
            for (std::size_t i = 0; i < pass->size(); ++i) {
                std::string ptr = fmt::format("{}/{}", pptr, i);
                const json& v = (*pass)[i];
                if (!v.is_string())
                    return ctx.bad(ptr, fmt::format("expected string (got {})", describe_type(v)));
                auto name = v.get<std::string>();
                if (!valid_env_name(name))
                    return ctx.bad(ptr, fmt::format("\"{}\" is not a variable name matching "
                                                    "[A-Za-z_][A-Za-z0-9_]*",
                                                    name));
                if (is_loader_variable(name) || is_startup_hook_variable(name))
                    return ctx.bad(ptr, fmt::format("{} runs code in the sandbox and must not be "
                                                    "copied from the supervisor's environment",
                                                    name));
                if (p.env_set.count(name) != 0)
                    return ctx.bad(ptr, fmt::format("{} is also in {}/set; list it in one place",
                                                    name, n.ptr));
                if (std::find(p.env_pass.begin(), p.env_pass.end(), name) != p.env_pass.end())
                    return ctx.bad(ptr, fmt::format("duplicate entry \"{}\"", name));
                p.env_pass.push_back(std::move(name));
            }
        }
    }

    // Resolve: set, plus each passed variable that the supervisor has. std::map keeps the
    // final list sorted by name.
    std::map<std::string, std::string> final_env = p.env_set;
    for (std::size_t i = 0; i < p.env_pass.size(); ++i) {
        const std::string& name = p.env_pass[i];
        std::optional<std::string> value = lookup ? lookup(name) : std::nullopt;
        if (!value) continue;
        if (auto why = env_value_problem(name, *value); !why.empty())
            return ctx.bad(fmt::format("/env/pass/{}", i),
                           fmt::format("{} in the supervisor's environment: {}", name, why));
        final_env.emplace(name, std::move(*value));
    }
    for (const auto& [name, value] : final_env) p.sandbox.env.push_back(name + "=" + value);
    return {};
}

Result<Policy> build_policy(const Ctx& ctx, const json& root, std::string_view label,
                            std::string_view text, const EnvLookup& env) {
    auto top = as_object(ctx, root, "",
                         {"name", "description", "network", "mounts", "workspace", "identity",
                          "hostname", "limits", "seccomp", "landlock", "env"});
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

    SBX_TRY(parse_mounts(ctx, t, p));

    auto ws = sub_object(ctx, t, "workspace", {"noexec"});
    if (!ws) return fail(std::move(ws).error());
    if (*ws) SBX_TRY(read_bool(ctx, **ws, "noexec", cfg.workspace_noexec));

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
    Ctx ctx(file_label);
    json root;
    try {
        DuplicateKeyFinder dups;
        root = json::parse(json_text.begin(), json_text.end(), std::ref(dups),
                           /*allow_exceptions=*/true, /*ignore_comments=*/false);
        if (dups.duplicate()) return ctx.bad(*dups.duplicate(), "duplicate key");
    } catch (const json::parse_error& e) {
        // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
        std::string_view what = e.what();
        if (auto close = what.find("] "); close != std::string_view::npos)
            what.remove_prefix(close + 2);
        return ctx.bad("", fmt::format("invalid JSON at byte {}: {}", e.byte, what));
    } catch (const json::exception& e) {
        return fail(Errc::InvalidArgument,
                    fmt::format("{}: invalid JSON: {}", file_label, e.what()));
    }
    try {
        return build_policy(ctx, root, file_label, json_text, env);
    } catch (const json::exception& e) {
        // The readers check every type first; reaching this is a bug in this file.
        return fail(Errc::Internal, fmt::format("{}: {}", file_label, e.what()));
    }
}

Result<Policy> load_policy_file(const std::string& path, const EnvLookup& env) {
    auto text = sandbox::sys::read_file(path, kMaxPolicyFileBytes);
    if (!text) return fail(std::move(text).error().with_prefix(path + ": cannot read policy: "));
    return parse_policy(*text, path, env);
}

const Policy* PolicySet::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second;
}

std::vector<std::string> PolicySet::names() const {
    std::vector<std::string> out;
    out.reserve(by_name_.size());
    for (const auto& entry : by_name_) out.push_back(entry.first);
    return out;
}

Result<void> PolicySet::add(Policy policy) {
    std::string name = policy.name;
    auto [it, inserted] = by_name_.try_emplace(name, std::move(policy));
    if (!inserted)
        return fail(Errc::InvalidArgument, fmt::format("policy \"{}\" defined twice ({} and {})",
                                                       name, it->second.path, policy.path));
    return {};
}

Result<PolicySet> load_policy_dir(const std::string& dir, const EnvLookup& env) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec)
        return fail(sandbox::Error{
            ec == std::errc::no_such_file_or_directory ? Errc::NotFound : Errc::Syscall, ec.value(),
            "policy directory " + dir});
    std::vector<fs::path> files;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        const fs::path& path = it->path();
        std::string file = path.filename().string();
        if (file.empty() || file[0] == '.' || path.extension() != ".json") continue;
        if (!fs::is_regular_file(it->status(ec)))
            return fail(Errc::InvalidArgument, path.string() + ": not a regular file");
        files.push_back(path);
    }
    if (ec) return fail(sandbox::Error{Errc::Syscall, ec.value(), "policy directory " + dir});
    if (files.empty())
        return fail(Errc::NotFound, "policy directory " + dir + ": no policies (*.json)");
    std::sort(files.begin(), files.end());

    PolicySet set;
    for (const fs::path& path : files) {
        auto policy = load_policy_file(path.string(), env);
        if (!policy) return fail(std::move(policy).error());
        SBX_TRY(set.add(std::move(*policy)));
    }
    return set;
}

std::string default_policy_dir() {
    if (const char* env = std::getenv("TOOLJAIL_POLICY_DIR"); env != nullptr && *env != '\0')
        return env;
#ifdef TOOLJAIL_SOURCE_DIR
    std::error_code ec;
    std::string source = std::string(TOOLJAIL_SOURCE_DIR) + "/policies";
    if (std::filesystem::is_directory(source, ec)) return source;
#endif
    return "/usr/local/share/tooljail/policies";
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

    return json{
        {"name", policy.name},
        {"description", policy.description},
        {"network", cfg.loopback ? "loopback" : "none"},
        {"mounts", {{"system", std::move(system)}, {"etc", cfg.etc_entries}}},
        {"workspace", {{"noexec", cfg.workspace_noexec}}},
        {"identity", std::move(identity)},
        {"hostname", cfg.hostname},
        {"limits",
         {{"memory_mb", lim.memory_bytes / kMiB},
          {"pids", lim.pids},
          {"cpu_percent", lim.cpu_percent},
          {"wall_timeout_ms", lim.wall_timeout.count()},
          {"cpu_time_ms", lim.cpu_time.count()},
          {"stdout_bytes", lim.stdout_bytes},
          {"stderr_bytes", lim.stderr_bytes},
          {"kill_on_output_cap", lim.kill_on_output_cap},
          {"tmpfs_mb", lim.tmpfs_bytes / kMiB},
          {"file_size_mb", lim.file_size_bytes / kMiB},
          {"open_files", lim.open_files},
          {"stdin_bytes", lim.stdin_bytes}}},
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
