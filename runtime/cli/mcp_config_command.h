// `tooljail mcp-config`: the MCP client configuration that starts `tooljail serve` on stdio with
// this binary's absolute path and a workspace, printed or merged into the client's file.
//
//   tooljail mcp-config --client claude-desktop|cursor|vscode|claude-code [--workspace DIR]
//                       [--write] [--file FILE] [--name NAME]
//
// The clients, their default files and entries:
//   claude-desktop  $XDG_CONFIG_HOME/Claude/claude_desktop_config.json (~/.config/Claude/...,
//                   where Claude Desktop builds for Linux read it), "mcpServers": {command, args}
//   cursor          WORKSPACE/.cursor/mcp.json (the project's), "mcpServers": {type, command, args}
//   vscode          WORKSPACE/.vscode/mcp.json (the workspace's), "servers": {type, command, args}
//   claude-code     WORKSPACE/.mcp.json (project scope), "mcpServers": {type, command, args, env}
// type is "stdio"; --file names another file, e.g. ~/.cursor/mcp.json for every Cursor project.
// args is always ["serve", "--workspace", WORKSPACE]. Without --write the file's content after
// the merge is printed on stdout (the file itself when absent: just the new entry), and its path
// on stderr. With --write the merge replaces only the entry NAME (default "tooljail") under the
// servers key, keeping every other entry, every other top-level key and their order, and is
// written atomically (runtime/base/atomic_file.h) to the file, or, when the file is a symlink
// (dotfile managers), to its target. A file that is not a JSON object, or holds comments or
// trailing commas (VS Code allows them), is refused rather than rewritten without them.
// Exit status: 0 ok; 125 bad usage or a file that cannot be read, parsed or written.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sandbox/base/result.h"

namespace runtime {

struct McpConfigOptions {
    std::string client;     // claude-desktop, cursor, vscode, claude-code
    std::string workspace;  // "" = the current directory
    std::string file;       // "" = the client's default (above)
    std::string name = "tooljail";
    bool write = false;
};

int mcp_config_command(const McpConfigOptions& options);

namespace mcp_config {

enum class Client { ClaudeDesktop, Cursor, VsCode, ClaudeCode };

// "claude-desktop" -> Client::ClaudeDesktop, ...; nullopt-like failure as InvalidArgument
// naming the accepted names.
sandbox::Result<Client> parse_client(std::string_view name);
// The top-level key the client keeps its servers under: "servers" for VS Code, else
// "mcpServers".
const char* servers_key(Client client);
// The client's default file for a workspace (absolute). home and xdg_config_home come from the
// environment (xdg_config_home "" = home/.config); only claude-desktop's file is in the home.
std::string default_file(Client client, const std::string& workspace, const std::string& home,
                         const std::string& xdg_config_home);
// The server entry that starts `binary serve --workspace workspace` on stdio.
nlohmann::ordered_json entry(Client client, const std::string& binary,
                             const std::string& workspace);
// existing: the file's text, "" when it does not exist. Returns the text to write: the
// document with servers_key(client)/name set to entry, everything else as it was, 2-space
// indented with a final newline. InvalidArgument (naming label) when existing is not a JSON
// object, the servers key holds something else than an object, or the text has comments.
sandbox::Result<std::string> merge(std::string_view existing, Client client,
                                   const std::string& name, const nlohmann::ordered_json& entry,
                                   std::string_view label);

}  // namespace mcp_config
}  // namespace runtime
