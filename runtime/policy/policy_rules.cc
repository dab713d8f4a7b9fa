// The mount and env rules of a policy file; see policy_rules.h. The security argument for each
// rule is in docs/POLICIES.md; the comments below only say what is non-obvious.
#include "runtime/policy/policy_rules.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "sandbox/mount_plan.h"

namespace runtime::policy_rules {

using namespace json_reader;
using nlohmann::json;
using sandbox::fail;
using sandbox::Result;

namespace {

constexpr std::size_t kMaxArgStrlen = 131072;  // MAX_ARG_STRLEN: one envp string incl. NUL
constexpr std::size_t kPathMax = 4095;
// Every system mount and /etc entry is one bind; the mount plan also binds the /dev nodes and
// the workspace and refuses more than kMaxBindSources in all. Fail here, at load time.
constexpr std::size_t kMaxSystemMounts = 32;
constexpr std::size_t kMaxEtcEntries = 24;
static_assert(kMaxSystemMounts + kMaxEtcEntries + 8 <= sandbox::mount_plan::kMaxBindSources);

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

}  // namespace

Result<void> parse_mounts(const Context& ctx, const Node& top, sandbox::SandboxConfig& cfg) {
    auto mounts = sub_object(ctx, top, "mounts", {"system", "etc"});
    if (!mounts) return fail(std::move(mounts).error());
    if (!*mounts) return {};
    const Node& m = **mounts;

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

Result<void> parse_executables(const Context& ctx, const Node& top, sandbox::SandboxConfig& cfg) {
    const json* v = top.get("executables");
    if (v == nullptr) return {};
    const std::string ptr = top.at("executables");
    if (v->is_string() && v->get<std::string>() == "any") {
        cfg.executables.clear();
        return {};
    }
    if (!v->is_array())
        return ctx.bad(ptr, fmt::format("expected \"any\" or an array of paths (got {})",
                                        v->is_string() ? "\"" + v->get<std::string>() + "\""
                                                       : describe_type(*v)));
    // An empty list would mean "nothing may run", not even the program: a mistake, not a policy.
    if (v->empty() || v->size() > kMaxExecutables)
        return ctx.bad(ptr, fmt::format("between 1 and {} paths (or \"any\")", kMaxExecutables));
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < v->size(); ++i) {
        std::string eptr = fmt::format("{}/{}", ptr, i);
        const json& e = (*v)[i];
        if (!e.is_string())
            return ctx.bad(eptr, fmt::format("expected string (got {})", describe_type(e)));
        auto path = e.get<std::string>();
        if (auto why = path_problem(path); !why.empty()) return ctx.bad(eptr, why);
        if (path == "/") return ctx.bad(eptr, "must not be the root (that is \"any\")");
        if (std::find(paths.begin(), paths.end(), path) != paths.end())
            return ctx.bad(eptr, fmt::format("duplicate entry \"{}\"", path));
        paths.push_back(std::move(path));
    }
    cfg.executables = std::move(paths);
    return {};
}

Result<void> parse_env(const Context& ctx, const Node& top, Policy& p, const EnvLookup& lookup) {
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

}  // namespace runtime::policy_rules
