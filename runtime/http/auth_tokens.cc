// The token file: strict parsing, serialisation and the atomic replace. Verification and
// token generation are in auth_verify.cc.
#include "runtime/http/auth_tokens.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/units.h"
#include "sandbox/base/sys.h"
#include "sandbox/base/unique_fd.h"

namespace runtime::auth {
namespace {

using nlohmann::json;
namespace jr = runtime::json_reader;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

constexpr off_t kMaxFileBytes = off_t{4} << 20;

// The MCP tool-name rule (1-128 of A-Za-z0-9_-.): a scope entry that could never name a tool
// is a typo, and refusing it says so at once.
bool valid_tool_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

bool lower_hex_sha256(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// RFC 3339 date-time only: units::parse_time also takes durations ("7d"), which mean
// nothing as a creation time.
bool rfc3339(std::string_view s) {
    return s.size() >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') &&
           units::parse_time(s, std::chrono::system_clock::now()).has_value();
}

Result<TokenEntry> parse_entry(const jr::Context& ctx, const json& j, const std::string& ptr) {
    auto node = jr::as_object(ctx, j, ptr, {"client", "sha256", "tools", "created"});
    if (!node) return fail(std::move(node).error());
    TokenEntry e;
    SBX_TRY(jr::read_string(ctx, *node, "client", e.client, jr::Presence::Required));
    if (!valid_client_name(e.client))
        return ctx.bad(node->at("client"),
                       "must be 1-64 characters of A-Za-z0-9._- (got \"" + e.client + "\")");
    SBX_TRY(jr::read_string(ctx, *node, "sha256", e.sha256, jr::Presence::Required));
    if (!lower_hex_sha256(e.sha256))
        return ctx.bad(node->at("sha256"),
                       "expected 64 lowercase hex digits (the sha256 of the token)");
    SBX_TRY(jr::read_string(ctx, *node, "created", e.created, jr::Presence::Required));
    if (!rfc3339(e.created))
        return ctx.bad(node->at("created"), "expected an RFC 3339 time, e.g. 2026-11-21T18:30:00Z");

    const json* tools = node->get("tools");
    std::string tools_ptr = node->at("tools");
    if (!tools) return ctx.bad(tools_ptr, "missing required key");
    if (!tools->is_array())
        return ctx.bad(tools_ptr,
                       fmt::format("expected array (got {})", jr::describe_type(*tools)));
    for (size_t i = 0; i < tools->size(); ++i) {
        const json& t = (*tools)[i];
        if (!t.is_string())
            return ctx.bad(tools_ptr + "/" + std::to_string(i),
                           fmt::format("expected string (got {})", jr::describe_type(t)));
        e.tools.push_back(t.get<std::string>());
    }
    size_t index = 0;
    if (std::string problem = scope_problem(e.tools, index); !problem.empty())
        return ctx.bad(e.tools.empty() ? tools_ptr : tools_ptr + "/" + std::to_string(index),
                       problem);
    return e;
}

}  // namespace

std::string scope_problem(const std::vector<std::string>& tools, size_t& index) {
    // An empty scope would be a client that can do nothing: almost surely a mistake, and
    // revoking is how to take everything away.
    if (tools.empty()) return "must list at least one tool, or \"*\" for all";
    std::set<std::string> seen;
    for (index = 0; index < tools.size(); ++index) {
        const std::string& name = tools[index];
        if (name == kAllTools) {
            if (tools.size() != 1)
                return "\"*\" must be the only entry (it already means every tool)";
        } else if (!valid_tool_name(name)) {
            return "not a tool name (1-128 of A-Za-z0-9_-.)";
        }
        if (!seen.insert(name).second) return "duplicate tool \"" + name + "\"";
    }
    return "";
}

bool valid_client_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

const TokenEntry* TokenFile::find(std::string_view client) const {
    for (const auto& e : clients)
        if (e.client == client) return &e;
    return nullptr;
}

Result<TokenFile> parse_token_file(std::string_view label, std::string_view text) {
    jr::Context ctx(label);
    auto root = jr::parse(ctx, text);
    if (!root) return fail(std::move(root).error());
    auto top = jr::as_object(ctx, *root, "", {"clients"});
    if (!top) return fail(std::move(top).error());
    const json* list = top->get("clients");
    if (!list) return ctx.bad("/clients", "missing required key");
    if (!list->is_array())
        return ctx.bad("/clients",
                       fmt::format("expected array (got {})", jr::describe_type(*list)));
    TokenFile file;
    std::map<std::string, size_t> names;
    std::map<std::string, size_t> hashes;
    for (size_t i = 0; i < list->size(); ++i) {
        std::string ptr = "/clients/" + std::to_string(i);
        auto entry = parse_entry(ctx, (*list)[i], ptr);
        if (!entry) return fail(std::move(entry).error());
        if (auto [it, fresh] = names.emplace(entry->client, i); !fresh)
            return ctx.bad(ptr + "/client",
                           fmt::format("duplicate client (also /clients/{})", it->second));
        // Two clients with one token could not be told apart: which identity would a record get?
        if (auto [it, fresh] = hashes.emplace(entry->sha256, i); !fresh)
            return ctx.bad(ptr + "/sha256",
                           fmt::format("the same token as /clients/{}", it->second));
        file.clients.push_back(std::move(*entry));
    }
    return file;
}

Result<void> check_known_tools(std::string_view label, const TokenFile& file,
                               const std::function<bool(const std::string&)>& known) {
    jr::Context ctx(label);
    for (size_t i = 0; i < file.clients.size(); ++i) {
        const auto& tools = file.clients[i].tools;
        for (size_t t = 0; t < tools.size(); ++t) {
            if (tools[t] == kAllTools || known(tools[t])) continue;
            return ctx.bad(fmt::format("/clients/{}/tools/{}", i, t),
                           "unknown tool '" + tools[t] + "' (not in tools.d)");
        }
    }
    return {};
}

std::string serialize_token_file(const TokenFile& file) {
    json clients = json::array();
    for (const auto& e : file.clients)
        clients.push_back(json{{"client", e.client},
                               {"sha256", e.sha256},
                               {"tools", e.tools},
                               {"created", e.created}});
    return json{{"clients", clients}}.dump(2) + "\n";
}

namespace {

// Opens the token file, following symbolic links only while they stay inside its directory
// (openat2(2) RESOLVE_BENEATH, Linux 5.6+), never through /proc's magic links. A Kubernetes
// Secret volume presents each key as NAME -> ..data/NAME, ..data -> ..<timestamp>/ and swaps
// ..data atomically on update; all of that is inside the directory. A link that leads out of
// it (to a file someone else controls, or anywhere at all) is refused: --auth names a file.
Result<sandbox::UniqueFd> open_token_file(const std::string& path) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dirfd = sandbox::sys::open_file(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!dirfd) return fail(std::move(dirfd).error().with_prefix("token file " + path + ": "));
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = ::syscall(SYS_openat2, dirfd->get(), name.c_str(), &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd >= 0) return sandbox::UniqueFd(static_cast<int>(fd));
    if (errno == ENOENT)
        return fail(Errc::NotFound, "token file " + path +
                                        ": does not exist (create it with tooljail token create)");
    if (errno == EXDEV || errno == ELOOP)
        return fail(Errc::PermissionDenied,
                    "token file " + path +
                        ": a symbolic link that leads out of its directory (or a loop); point "
                        "--auth at the file itself");
    return fail(sandbox::sys_error("token file " + path + ": open"));
}

}  // namespace

Result<TokenFile> load_token_file(const std::string& path) {
    // Opened once and checked through the fd, so the file checked is the file read.
    auto fd = open_token_file(path);
    if (!fd) return fail(std::move(fd).error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0)
        return fail(sandbox::sys_error("token file " + path + ": fstat"));
    if (!S_ISREG(st.st_mode))
        return fail(Errc::PermissionDenied, "token file " + path + ": not a regular file");
    // Whoever can write the file can add a client with every tool: refuse rather than trust it.
    // That is its owner too, who can chmod it: root or the account serve runs as, no one else.
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return fail(Errc::PermissionDenied,
                    fmt::format("token file {}: owned by uid {}, neither root nor this "
                                "process's uid {} (its owner could grant itself every tool)",
                                path, st.st_uid, ::geteuid()));
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fail(
            Errc::PermissionDenied,
            fmt::format("token file {}: writable by group or others (mode {:o}); chmod 600 it",
                        path, st.st_mode & 07777));
    // A token file is a few hundred bytes per client; a huge one is not ours.
    if (st.st_size > kMaxFileBytes)
        return fail(Errc::InvalidArgument,
                    fmt::format("token file {}: larger than {} bytes", path, kMaxFileBytes));
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sandbox::sys_error("token file " + path + ": read"));
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > static_cast<size_t>(kMaxFileBytes))
            return fail(Errc::InvalidArgument,
                        fmt::format("token file {}: larger than {} bytes", path, kMaxFileBytes));
    }
    return parse_token_file(path, text);
}

Result<void> save_token_file(const std::string& path, const TokenFile& file) {
    // Hashes only, but still the service's access list: never half-written, never writable by
    // group or others. A rewrite keeps the file's group and read bits, so a service that reads
    // it through its group (root:tooljail 0640) still can; a new file is owner-only, or
    // group-readable in a setgid directory, whose group it gets (the package's /etc/tooljail).
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
        return replace_file(path, serialize_token_file(file), (st.st_mode & 0644) | 0600,
                            "token file", st.st_gid);
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    struct stat dst {};
    bool shared = ::stat(dir.c_str(), &dst) == 0 && (dst.st_mode & S_ISGID);
    return replace_file(path, serialize_token_file(file), shared ? 0640 : 0600, "token file");
}

}  // namespace runtime::auth
