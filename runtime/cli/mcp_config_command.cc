#include "runtime/cli/mcp_config_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "runtime/base/atomic_file.h"
#include "runtime/base/exit_codes.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace mcp_config {

using nlohmann::ordered_json;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

namespace {

bool blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

Result<Client> parse_client(std::string_view name) {
    if (name == "claude-desktop") return Client::ClaudeDesktop;
    if (name == "cursor") return Client::Cursor;
    if (name == "vscode") return Client::VsCode;
    if (name == "claude-code") return Client::ClaudeCode;
    return fail(Errc::InvalidArgument, "--client '" + std::string(name) +
                                           "': one of claude-desktop, cursor, vscode, claude-code");
}

const char* servers_key(Client client) {
    return client == Client::VsCode ? "servers" : "mcpServers";
}

std::string default_file(Client client, const std::string& workspace, const std::string& home,
                         const std::string& xdg_config_home) {
    switch (client) {
        case Client::ClaudeDesktop:
            return (xdg_config_home.empty() ? home + "/.config" : xdg_config_home) +
                   "/Claude/claude_desktop_config.json";
        case Client::Cursor: return workspace + "/.cursor/mcp.json";
        case Client::VsCode: return workspace + "/.vscode/mcp.json";
        case Client::ClaudeCode: return workspace + "/.mcp.json";
    }
    return {};
}

ordered_json entry(Client client, const std::string& binary, const std::string& workspace) {
    ordered_json e = ordered_json::object();
    // Claude Desktop's file knows no "type"; the others accept or (VS Code) require it.
    if (client != Client::ClaudeDesktop) e["type"] = "stdio";
    e["command"] = binary;
    e["args"] = {"serve", "--workspace", workspace};
    // What `claude mcp add --scope project` writes.
    if (client == Client::ClaudeCode) e["env"] = ordered_json::object();
    return e;
}

Result<std::string> merge(std::string_view existing, Client client, const std::string& name,
                          const ordered_json& server, std::string_view label) {
    std::string where(label);
    ordered_json doc = ordered_json::object();
    if (!blank(existing)) {
        doc = ordered_json::parse(existing, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded()) {
            // Comments (JSONC, which VS Code allows) would be lost in the rewrite: refuse.
            bool commented =
                !ordered_json::parse(existing, nullptr, false, /*ignore_comments=*/true)
                     .is_discarded();
            return fail(Errc::InvalidArgument,
                        where +
                            (commented ? ": has comments, which rewriting it would drop"
                                       : ": not valid JSON (a trailing comma?)") +
                            "; add the entry by hand (tooljail mcp-config without --write "
                            "prints it)");
        }
        if (!doc.is_object()) return fail(Errc::InvalidArgument, where + ": not a JSON object");
    }
    const char* key = servers_key(client);
    if (!doc.contains(key)) doc[key] = ordered_json::object();
    if (!doc[key].is_object())
        return fail(Errc::InvalidArgument,
                    where + ": \"" + key + "\" is " + doc[key].type_name() + ", not an object");
    doc[key][name] = server;
    return doc.dump(2, ' ', false, ordered_json::error_handler_t::strict) + "\n";
}

}  // namespace mcp_config

namespace {

using mcp_config::Client;

int error(const std::string& message) {
    std::cerr << "tooljail mcp-config: " << message << "\n";
    return kExitSandboxError;
}

// This binary, as the client will start it.
sandbox::Result<std::string> own_binary() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) return sandbox::fail(sandbox::sys_error("readlink /proc/self/exe"));
    return std::string(buf, static_cast<size_t>(n));
}

sandbox::Result<std::string> absolute_dir(const std::string& asked) {
    std::string path = asked.empty() ? "." : asked;
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved))
        return sandbox::fail(sandbox::sys_error("--workspace " + path));
    struct stat st {};
    if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        return sandbox::fail(sandbox::Errc::InvalidArgument,
                             "--workspace " + path + ": not a directory");
    if (std::string(resolved) == "/")
        return sandbox::fail(sandbox::Errc::InvalidArgument,
                             "the workspace would be / (the whole filesystem): run this from the "
                             "project's directory or pass --workspace DIR");
    return std::string(resolved);
}

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    return true;
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// A dotfile manager's symlink stays a symlink: the rename replaces its target.
std::string write_target(const std::string& file) {
    char resolved[PATH_MAX];
    struct stat st {};
    if (::lstat(file.c_str(), &st) == 0 && S_ISLNK(st.st_mode) &&
        ::realpath(file.c_str(), resolved))
        return resolved;
    return file;
}

sandbox::Result<void> make_dirs(const std::string& dir, mode_t mode) {
    if (dir.empty() || dir == "/" || dir == ".") return {};
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) return {};
    SBX_TRY(make_dirs(dir_of(dir), mode));
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
        return sandbox::fail(sandbox::sys_error("mkdir " + dir));
    return {};
}

}  // namespace

int mcp_config_command(const McpConfigOptions& o) {
    auto client = mcp_config::parse_client(o.client);
    if (!client) return error(client.error().context);
    if (!valid_name(o.name)) return error("--name '" + o.name + "': 1-64 of A-Za-z0-9._-");
    auto workspace = absolute_dir(o.workspace);
    if (!workspace) return error(workspace.error().message());
    auto binary = own_binary();
    if (!binary) return error(binary.error().message());

    std::string file = o.file;
    if (file.empty()) {
        const char* home = std::getenv("HOME");
        const char* xdg = std::getenv("XDG_CONFIG_HOME");
        std::string xdg_dir = xdg && *xdg == '/' ? xdg : "";
        if (*client == Client::ClaudeDesktop && (!home || *home != '/') && xdg_dir.empty())
            return error(
                "no home directory for Claude Desktop's configuration: set HOME or "
                "XDG_CONFIG_HOME, or pass --file");
        file = mcp_config::default_file(*client, *workspace, home ? home : "", xdg_dir);
    }
    std::string target = write_target(file);
    bool in_home = *client == Client::ClaudeDesktop && o.file.empty();
    // Another `tooljail mcp-config --write` must not interleave its read and rename with ours.
    std::optional<sandbox::UniqueFd> guard;
    if (o.write) {
        if (auto made = make_dirs(dir_of(target), in_home ? 0700 : 0755); !made)
            return error(made.error().message());
        auto locked = lock_parent_dir(target);
        if (!locked) return error(locked.error().message());
        guard = std::move(*locked);
    }

    std::string existing;
    struct stat st {};
    bool exists = ::stat(target.c_str(), &st) == 0;
    if (exists) {
        auto text = sandbox::sys::read_file(target, 4 << 20);
        if (!text) return error(text.error().message());
        existing = std::move(*text);
    }
    auto merged = mcp_config::merge(existing, *client, o.name,
                                    mcp_config::entry(*client, *binary, *workspace), file);
    if (!merged) return error(merged.error().context);

    if (!o.write) {
        std::cout << *merged;
        std::cerr << "tooljail mcp-config: " << (exists ? "merged into " : "new ") << file
                  << " as above; --write writes it\n";
        return 0;
    }
    // A new file in the home holds what other servers' entries may add (tokens in env):
    // owner-only. A project file is as readable as the project. An existing file keeps its mode.
    mode_t mode = exists ? (st.st_mode & 07777) : in_home ? 0600 : 0644;
    if (auto w = replace_file(target, *merged, mode, file); !w) return error(w.error().message());
    std::cerr << "tooljail mcp-config: wrote server '" << o.name << "' (" << *binary
              << " serve --workspace " << *workspace << ") to " << file
              << "; restart or reload the client to start it\n";
    return 0;
}

}  // namespace runtime
