// Redaction before anything reaches a run record (runtime/records/redact.h): each secret form, in
// keys, values, argv and env, and the things that must NOT be redacted.
#include "runtime/records/redact.h"

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace rd = runtime::redact;
using nlohmann::json;

namespace {

std::string redacted(std::string text) {
    rd::redact_text(text);
    return text;
}

}  // namespace

TEST_CASE("redact: secret-named keys", "[redact][unit]") {
    for (const char* key :
         {"password",    "PASSWORD",     "db_password",   "passwd",       "client_secret",
          "SECRET_KEY",  "api_key",      "apiKey",        "API-KEY",      "x-api-key",
          "apikey",      "credentials",  "Authorization", "private_key",  "privateKey",
          "cookie",      "Set-Cookie",   "token",         "access_token", "X-Auth-Token",
          "githubToken", "GITHUB_TOKEN", "session",       "session_id",   "JSESSIONID",
          "sessionKey",  "token_count",  "MYSQL_PWD",     "passphrase",   "--password",
          "--api-key"}) {
        INFO(key);
        CHECK(rd::is_secret_key(key));
    }
}

TEST_CASE("redact: names that only look like secrets are kept", "[redact][unit]") {
    // Decision (docs/RECORDS.md): "token" and "session" must be whole words (or the end of the
    // name), so model parameters and paths stay readable.
    for (const char* key :
         {"tokenizer", "tokenizer_path", "max_tokens", "tokens", "sessions_dir", "path", "PWD",
          "OLDPWD", "author", "user", "keyboard", "description", "passage"}) {
        INFO(key);
        CHECK_FALSE(rd::is_secret_key(key));
    }
}

TEST_CASE("redact: each secret value form is replaced wherever it appears", "[redact][unit]") {
    using Case = std::pair<std::string, std::string>;
    auto [in, out] = GENERATE(values<Case>({
        {"Authorization: Bearer abc.def-123_456", "Authorization: [REDACTED]"},
        {"header Bearer eyJzdWIiOiIxMjMifQ1234", "header Bearer [REDACTED]"},
        {"curl -H 'authorization: Basic dXNlcjpwYXNz'", "curl -H 'authorization: [REDACTED]"},
        {"key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here"},
        {"ASIAY34FZKBOKMUTVV7A", "[REDACTED]"},
        {"ghp_1234567890abcdefghijABCDEFGHIJ123456", "[REDACTED]"},
        {"gho_abcdefghijklmnopqrstuvwxyz0123", "[REDACTED]"},
        {"ghs_abcdefghijklmnopqrstuvwxyz0123", "[REDACTED]"},
        {"github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[REDACTED]"},
        {"slack xoxb-1234567890-abcdefghij ok", "slack [REDACTED] ok"},
        {"xoxp-12345-67890-abcdef", "[REDACTED]"},
        {"OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz", "OPENAI=[REDACTED]"},
        {"sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "[REDACTED]"},
        {"AIzaSyA1234567890abcdefghijklmnopqrstuv", "[REDACTED]"},
        {"jwt "
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
         "XgL0n3I9PlFUP0THsR8U end",
         "jwt [REDACTED] end"},
        {"a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nb",
         "a\n[REDACTED]\nb"},
        {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "[REDACTED]"},
        {"git clone https://bob:s3cret@github.com/x/y",
         "git clone https://bob:[REDACTED]@github.com/x/y"},
        {"curl https://api.example.com/?access_token=abc123&x=1",
         "curl https://api.example.com/?access_token=[REDACTED]&x=1"},
        {"mysql --password=hunter2 -h db", "mysql --password=[REDACTED] -h db"},
        {"API_KEY='a b c' python3 x.py", "API_KEY='[REDACTED]' python3 x.py"},
    }));
    INFO(in);
    CHECK(redacted(in) == out);
}

TEST_CASE("redact: ordinary text is left alone", "[redact][unit]") {
    for (const char* text :
         {"python3 tokenizer.py --max-tokens 100", "task-sk-abcdefghijklmnopqrstuvwxyz",
          "the bearer of bad news", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
          "https://github.com:443/x", "ssh://git@github.com/x", "AKIA1234", "basic usage",
          "eyJhbGciOiJIUzI1NiJ9 alone", "git log --format=%H", "session_count: 3",
          "password = input()"}) {
        INFO(text);
        CHECK(redacted(text) == text);
    }
}

TEST_CASE("redact: JSON arguments by key and by value, with pointers", "[redact][unit]") {
    json args = json::parse(R"json({
        "path": "tokenizer.py",
        "password": "hunter2",
        "nested": {"api_key": 12345, "list": ["ok", "Bearer abcdefgh12345678"]},
        "use_token": true,
        "a/b": {"secret": {"deep": "x"}},
        "max_tokens": 100,
        "code": "import os\nKEY = 'AKIAIOSFODNN7EXAMPLE'\nprint(KEY)"
    })json");
    std::vector<std::string> where;
    rd::redact_json(args, "/arguments", where);
    CHECK(args["path"] == "tokenizer.py");
    CHECK(args["password"] == "[REDACTED]");
    CHECK(args["nested"]["api_key"] == "[REDACTED]");
    CHECK(args["nested"]["list"][0] == "ok");
    CHECK(args["nested"]["list"][1] == "Bearer [REDACTED]");
    CHECK(args["use_token"] == true);
    CHECK(args["a/b"]["secret"] == "[REDACTED]");
    CHECK(args["max_tokens"] == 100);
    CHECK(args["code"] == "import os\nKEY = '[REDACTED]'\nprint(KEY)");
    std::vector<std::string> expected = {"/arguments/a~1b/secret", "/arguments/code",
                                         "/arguments/nested/api_key", "/arguments/nested/list/1",
                                         "/arguments/password"};
    std::sort(where.begin(), where.end());
    CHECK(where == expected);
    // The record says where, never what.
    for (const auto& p : where) CHECK(p.find("hunter2") == std::string::npos);
}

TEST_CASE("redact: argv forms", "[redact][unit]") {
    std::vector<std::string> argv = {"tool",         "--password=hunter2",
                                     "--token",      "abc",
                                     "-v",           "--api-key",
                                     "--verbose",    "PGPASSWORD=pw",
                                     "X-Api-Key: k", "--tokenizer=tokenizer.py",
                                     "--session",    "s1",
                                     "input.txt",    "Authorization: Bearer abcdefghijk1"};
    std::vector<std::string> where;
    rd::redact_argv(argv, "/argv", where);
    std::vector<std::string> expected = {
        "tool",
        "--password=[REDACTED]",
        "--token",
        "[REDACTED]",
        "-v",
        "--api-key",
        "--verbose",  // a flag after a secret flag is not its value
        "PGPASSWORD=[REDACTED]",
        "X-Api-Key: [REDACTED]",
        "--tokenizer=tokenizer.py",
        "--session",
        "[REDACTED]",
        "input.txt",
        "Authorization: [REDACTED]"};
    CHECK(argv == expected);
    CHECK(where == std::vector<std::string>{"/argv/1", "/argv/3", "/argv/7", "/argv/8", "/argv/11",
                                            "/argv/13"});
}

TEST_CASE("redact: env by name and by value", "[redact][unit]") {
    std::vector<std::string> env = {"PATH=/usr/bin",
                                    "GITHUB_TOKEN=ghp_x",
                                    "HOME=/tmp",
                                    "NOTE=key is AKIAIOSFODNN7EXAMPLE",
                                    "TOKENIZERS_PARALLELISM=false",
                                    "PWD=/workspace"};
    std::vector<std::string> where;
    rd::redact_env(env, "/env", where);
    CHECK(env == std::vector<std::string>{"PATH=/usr/bin", "GITHUB_TOKEN=[REDACTED]", "HOME=/tmp",
                                          "NOTE=key is [REDACTED]", "TOKENIZERS_PARALLELISM=false",
                                          "PWD=/workspace"});
    CHECK(where == std::vector<std::string>{"/env/1", "/env/3"});
}
