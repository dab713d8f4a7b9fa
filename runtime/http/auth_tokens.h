// Bearer-token authentication for `tooljail serve --http` (docs/AUTH.md): the token file, the
// tokens themselves and their verification. The file maps each client to the sha256 of its
// token and the tools it may call; the token itself is never stored, only shown once by
// `tooljail token create`.
//
// Token file (JSON, default /etc/tooljail/tokens.json, strict like every config file:
// unknown keys, duplicate keys, bad values are errors naming the file and JSON pointer):
//
//   {
//     "clients": [
//       {"client": "ci-bot",                  // 1-64 of A-Za-z0-9._-, unique
//        "sha256": "9f86d08...",              // 64 lowercase hex: sha256 of the token, unique
//        "tools": ["read_file", "git_log"],   // tool names (unique), or ["*"] for every tool
//        "created": "2026-11-21T18:30:00.123Z"}   // RFC 3339
//     ]
//   }
//
// Tokens are "tjk_" + 43 base64url characters (32 random bytes). Nothing here touches HTTP;
// runtime/http/http_transport.cc reads the Authorization header through bearer_token().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"

namespace runtime::auth {

inline constexpr const char* kTokenPrefix = "tjk_";
inline constexpr const char* kAllTools = "*";

struct TokenEntry {
    std::string client;              // identity: goes into records as client.token_client
    std::string sha256;              // 64 lowercase hex digits of sha256(token)
    std::vector<std::string> tools;  // allowed tool names, or {"*"}
    std::string created;             // RFC 3339, as written

    // The scope check: true when this client may list and call `tool`.
    bool allows(std::string_view tool) const;
    bool all_tools() const { return tools.size() == 1 && tools[0] == kAllTools; }
};

struct TokenFile {
    std::vector<TokenEntry> clients;  // file order; names and hashes unique
    const TokenEntry* find(std::string_view client) const;
};

// The documented default path, used by `tooljail token` when --auth is not given.
inline constexpr const char* kDefaultTokenFile = "/etc/tooljail/tokens.json";

// A client name: 1-64 characters of A-Za-z0-9._-.
bool valid_client_name(std::string_view name);

// The scope rules, shared by the file parser and `token create --tools`: at least one entry;
// each a tool name (1-128 of A-Za-z0-9_-.) or "*" alone; no duplicates. Returns "" when the
// list is valid, else the problem, with `index` set to the offending entry.
std::string scope_problem(const std::vector<std::string>& tools, size_t& index);

// Parses and validates the text of a token file; `label` names it in errors
// ("tokens.json: /clients/1/sha256: expected 64 lowercase hex digits (sha256 of the token)").
// InvalidArgument for every refusal. Tool names are checked for form only; known_tools()
// checks them against the registry.
sandbox::Result<TokenFile> parse_token_file(std::string_view label, std::string_view text);

// Every scoped tool name must be `known` (in the loaded tools.d, disabled tools included);
// InvalidArgument "<label>: /clients/0/tools/1: unknown tool 'x' (not in tools.d)" otherwise.
sandbox::Result<void> check_known_tools(std::string_view label, const TokenFile& file,
                                        const std::function<bool(const std::string&)>& known);

// The file as written by save_token_file(): pretty-printed, one key order, trailing newline.
std::string serialize_token_file(const TokenFile& file);

// Reads and parses the file. Symbolic links are followed only within the file's directory (a
// Kubernetes Secret volume's NAME -> ..data/NAME); the file reached must be a regular file owned
// by root or by this process's user and not writable by group or others (whoever can write it
// can grant themselves any tool): PermissionDenied otherwise, and for a link that leads out of
// the directory. NotFound when it does not exist.
sandbox::Result<TokenFile> load_token_file(const std::string& path);

// Replaces the file atomically: a temporary file in the same directory, written and fsync'd,
// renamed over `path`, then the directory fsync'd. A crash leaves the old file or the new one,
// never a mix. The new file keeps the old one's group and read bits (never group or other
// write); a first file is 0600, or 0640 in a setgid directory (whose group it inherits), so that
// a service reading it through that group can.
sandbox::Result<void> save_token_file(const std::string& path, const TokenFile& file);

// A fresh token: kTokenPrefix + base64url (no padding) of 32 bytes from getrandom(2).
sandbox::Result<std::string> generate_token();

// Reads an Authorization header value: "Bearer <token>" (scheme case-insensitive, RFC 7235),
// the token being 1-256 characters of the RFC 6750 token68 set. Ok sets `token`. Absent (no
// header) and NotBearer (another scheme) mean the client sent no bearer credentials; Malformed
// (empty, oversized, bad characters) is answered like a wrong token.
enum class BearerHeader { Absent, NotBearer, Malformed, Ok };
BearerHeader bearer_token(const std::optional<std::string>& header, std::string& token);

// Checks presented tokens against a TokenFile's hashes. Each check hashes the token once and
// compares it with every entry's hash by CRYPTO_memcmp, always visiting all entries: how long
// it takes depends on the number of clients, never on how much of a hash matched.
// The file is a snapshot that replace() swaps atomically (serve reloads it on SIGHUP): a check
// sees the old file or the new one, and an entry it returned stays valid for its holder.
class TokenVerifier {
public:
    explicit TokenVerifier(TokenFile file)
        : file_(std::make_shared<const TokenFile>(std::move(file))) {}
    // The entry whose hash matches, or null (also for an empty token).
    std::shared_ptr<const TokenEntry> verify(std::string_view token) const;
    std::shared_ptr<const TokenFile> file() const { return file_.load(); }
    void replace(TokenFile file) {
        file_.store(std::make_shared<const TokenFile>(std::move(file)));
    }

private:
    std::atomic<std::shared_ptr<const TokenFile>> file_;
};

}  // namespace runtime::auth
