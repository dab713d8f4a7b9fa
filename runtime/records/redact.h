// Redaction of secrets before anything reaches a run record (docs/RECORDS.md, "Redaction").
//
// Two rules, applied to tool arguments (JSON), argv and the sandbox environment:
//
//  1. Secret-named keys: the whole value becomes "[REDACTED]". A key is secret when, lowercased
//     with '-', '_', '.' and spaces removed, it contains password, passwd, secret, credential,
//     apikey, privatekey, authorization or cookie; or it is a "token" word (the key ends in
//     "token" or one of its words is "token": access_token, X-Auth-Token, githubToken); or a
//     "session" word (session, session_id, JSESSIONID). Words are split at separators and
//     lowerCamel humps. Deliberately NOT secret: tokenizer, max_tokens, sessions_dir.
//  2. Secret-looking values, wherever they appear inside a string: only the matching span is
//     replaced, so a script that embeds a key stays readable around it. Forms: "Bearer <tok>"
//     and "Basic <b64>", AWS access key ids (AKIA/ASIA + 16), GitHub tokens (ghp_ gho_ ghu_ ghs_
//     ghr_ github_pat_), Slack tokens (xox[abprs]-), OpenAI/Anthropic-style keys (sk-... of 20+
//     characters), Google API keys (AIza + 35), JWTs (eyJ... three base64url parts), PEM private
//     key blocks, and the password of URL userinfo (scheme://user:PASSWORD@host).
//
// argv and env elements follow rule 1 in their "NAME=value" / "--name=value" / "Name: value"
// forms, and an element right after a secret-named flag ("--password", "--api-key") is redacted
// whole. Everything else goes through rule 2.
//
// Each function reports the RFC 6901 pointers (under the caller's prefix) of what it changed, so
// the record can say *where* it redacted without ever saying what. Pure functions: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace runtime::redact {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// Rule 1 on one key or flag name (leading dashes are ignored).
bool is_secret_key(std::string_view key);

// Rule 2 on one string; returns true when anything was replaced.
bool redact_text(std::string& text);

// Both rules over a JSON value, recursively: object members with secret keys are replaced
// whole; every other string is scanned. Appends the pointer of each changed value.
void redact_json(nlohmann::json& value, const std::string& pointer,
                 std::vector<std::string>& redacted);

// argv / env ("NAME=value") lists; pointer is the list's own ("/argv"), elements get "/argv/3".
void redact_argv(std::vector<std::string>& argv, const std::string& pointer,
                 std::vector<std::string>& redacted);
void redact_env(std::vector<std::string>& env, const std::string& pointer,
                std::vector<std::string>& redacted);

}  // namespace runtime::redact
