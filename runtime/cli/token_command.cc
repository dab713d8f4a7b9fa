#include "runtime/cli/token_command.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "runtime/base/exit_codes.h"
#include "runtime/base/units.h"
#include "runtime/http/auth_tokens.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/tool_registry.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

constexpr int kExitNoSuchClient = 1;
// A running server re-reads the token file on SIGHUP (http_transport.cc, reload_tokens).
constexpr const char* kApplyHint =
    "A running tooljail serve --auth with this file applies it on SIGHUP (kill -HUP, or "
    "systemctl reload tooljail); no restart is needed.";

int error(const std::string& message) {
    std::cerr << "tooljail token: " << message << "\n";
    return kExitSandboxError;
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Read-modify-write of the file must not interleave with another `tooljail token`: both would
// read the same old list and the second rename would drop the first one's client. The lock is
// on the directory, which (unlike the file) survives the rename.
sandbox::Result<sandbox::UniqueFd> lock_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return sandbox::fail(sandbox::sys_error("mkdir " + dir));
    auto fd = sandbox::sys::open_file(dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return sandbox::fail(std::move(fd).error());
    while (::flock(fd->get(), LOCK_EX) != 0)
        if (errno != EINTR) return sandbox::fail(sandbox::sys_error("flock " + dir));
    return fd;
}

// The current file, or an empty one when it does not exist yet (create only).
sandbox::Result<auth::TokenFile> load_or_empty(const std::string& path) {
    auto file = auth::load_token_file(path);
    if (!file && file.error().code == sandbox::Errc::NotFound) return auth::TokenFile{};
    return file;
}

// tools.d as serve would load it: --tools must name tools that exist (disabled ones count).
sandbox::Result<ToolRegistry> load_tools(const TokenOptions& o) {
    auto policies =
        load_policy_dir(o.policy_dir.empty() ? default_policy_dir() : o.policy_dir, process_env());
    if (!policies) return sandbox::fail(std::move(policies).error());
    return ToolRegistry::load_dir(o.tools_dir.empty() ? default_tools_dir() : o.tools_dir,
                                  *policies);
}

int create(const TokenOptions& o, const std::string& path) {
    if (!auth::valid_client_name(o.client))
        return error("--client '" + o.client + "': must be 1-64 characters of A-Za-z0-9._-");
    auth::TokenEntry entry;
    entry.client = o.client;
    entry.tools = o.tools;
    entry.created = units::format_time(std::chrono::system_clock::now());
    size_t index = 0;
    if (std::string problem = auth::scope_problem(entry.tools, index); !problem.empty())
        return error("--tools" +
                     (entry.tools.empty() ? std::string() : " '" + entry.tools[index] + "'") +
                     ": " + problem);
    auto registry = load_tools(o);
    if (!registry)
        return error("cannot check --tools against tools.d: " + registry.error().message());
    for (const auto& t : entry.tools)
        if (t != auth::kAllTools && !registry->find_any(t))
            return error("--tools: unknown tool '" + t + "' (not in tools.d)");

    auto lock = lock_dir(dir_of(path));
    if (!lock) return error(lock.error().message());
    auto file = load_or_empty(path);
    if (!file) return error(file.error().message());
    if (file->find(o.client))
        return error("client '" + o.client + "' already exists in " + path +
                     " (revoke it first to replace its token)");
    auto token = auth::generate_token();
    if (!token) return error(token.error().message());
    entry.sha256 = sandbox::sha256_hex(*token);
    if (entry.sha256.size() != 64) return error("sha256 failed");
    file->clients.push_back(entry);
    if (auto saved = auth::save_token_file(path, *file); !saved)
        return error(saved.error().message());
    std::cout << *token << std::endl;
    std::string scope;
    for (const auto& t : entry.tools) scope += (scope.empty() ? "" : ",") + t;
    std::cerr << "tooljail token: created client '" << o.client << "' (tools: " << scope << ") in "
              << path << "; the token above is shown only this once. " << kApplyHint << "\n";
    return 0;
}

int list(const TokenOptions& o, const std::string& path) {
    auto file = auth::load_token_file(path);
    if (!file) return error(file.error().message());
    if (o.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& e : file->clients)
            out.push_back({{"client", e.client}, {"tools", e.tools}, {"created", e.created}});
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << "CLIENT                           CREATED                   TOOLS\n";
    for (const auto& e : file->clients) {
        std::string scope;
        for (const auto& t : e.tools) scope += (scope.empty() ? "" : ",") + t;
        std::string name =
            e.client.size() < 32 ? e.client + std::string(32 - e.client.size(), ' ') : e.client;
        std::string created =
            e.created.size() < 25 ? e.created + std::string(25 - e.created.size(), ' ') : e.created;
        std::cout << name << " " << created << " " << scope << "\n";
    }
    return 0;
}

int revoke(const TokenOptions& o, const std::string& path) {
    auto lock = lock_dir(dir_of(path));
    if (!lock) return error(lock.error().message());
    auto file = auth::load_token_file(path);
    if (!file) return error(file.error().message());
    auto& clients = file->clients;
    auto it = std::find_if(clients.begin(), clients.end(),
                           [&](const auth::TokenEntry& e) { return e.client == o.client; });
    if (it == clients.end()) {
        std::cerr << "tooljail token: no client '" << o.client << "' in " << path << "\n";
        return kExitNoSuchClient;
    }
    clients.erase(it);
    if (auto saved = auth::save_token_file(path, *file); !saved)
        return error(saved.error().message());
    std::cerr << "tooljail token: revoked client '" << o.client << "' in " << path << ". "
              << kApplyHint << "\n";
    return 0;
}

}  // namespace

int token_command(const TokenOptions& options) {
    std::string path = options.auth_file.empty() ? auth::kDefaultTokenFile : options.auth_file;
    if (options.action == "create") return create(options, path);
    if (options.action == "list") return list(options, path);
    if (options.action == "revoke") return revoke(options, path);
    return error("unknown action '" + options.action + "'");
}

}  // namespace runtime
