// `tooljail token`: manages the token file that `serve --http --auth FILE` reads
// (runtime/http/auth_tokens.h, docs/AUTH.md).
//
//   tooljail token create --client NAME --tools a,b|* [--auth FILE] [--tools-dir D] [--policy-dir
//   D]
//        prints the new token once on stdout (it is not stored, only its sha256); tool names are
//        checked against tools.d; the client name must be new
//   tooljail token list   [--auth FILE] [--json]       clients, tools, created (never hashes)
//   tooljail token revoke --client NAME [--auth FILE]  removes the client
//
// --auth defaults to /etc/tooljail/tokens.json. Every change rewrites the file atomically
// (keeping its group and mode; runtime/http/auth_tokens.h) under an exclusive lock on its
// directory, so concurrent commands do not lose each other's updates. A running server re-reads the
// file on SIGHUP (systemctl reload tooljail), which applies a change without a restart; the
// commands say so. Exit status: 0 ok; 1 revoke of an unknown client; 125 bad usage or an
// unreadable/invalid file.
#pragma once

#include <string>
#include <vector>

namespace runtime {

struct TokenOptions {
    std::string action;     // create, list, revoke
    std::string auth_file;  // "" = auth::kDefaultTokenFile
    std::string client;
    std::vector<std::string> tools;  // create: names, or {"*"}
    std::string tools_dir;           // "" = default_tools_dir()
    std::string policy_dir;          // "" = default_policy_dir()
    bool json = false;               // list
};

int token_command(const TokenOptions& options);

}  // namespace runtime
