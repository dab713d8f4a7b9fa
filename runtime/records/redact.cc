#include "runtime/records/redact.h"

#include <array>
#include <cctype>
#include <optional>

#include "runtime/base/json_reader.h"

namespace runtime::redact {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_upper_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_b64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// The words of a key: split at separators and at lowerCamel humps, lowercased.
std::vector<std::string> key_words(std::string_view key) {
    std::vector<std::string> words;
    std::string cur;
    for (size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        bool sep = c == '-' || c == '_' || c == '.' || c == ' ' || c == ':' || c == '/';
        bool hump = i > 0 && std::isupper(static_cast<unsigned char>(c)) &&
                    std::islower(static_cast<unsigned char>(key[i - 1]));
        if ((sep || hump) && !cur.empty()) words.push_back(std::exchange(cur, std::string()));
        if (!sep) cur += lower(c);
    }
    if (!cur.empty()) words.push_back(cur);
    return words;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with_at(std::string_view text, size_t i, std::string_view prefix) {
    return text.size() - i >= prefix.size() && text.compare(i, prefix.size(), prefix) == 0;
}

bool starts_with_nocase(std::string_view text, size_t i, std::string_view prefix) {
    if (text.size() - i < prefix.size()) return false;
    for (size_t k = 0; k < prefix.size(); ++k)
        if (lower(text[i + k]) != prefix[k]) return false;
    return true;
}

size_t run_of(std::string_view text, size_t i, bool (*pred)(char)) {
    size_t j = i;
    while (j < text.size() && pred(text[j])) ++j;
    return j - i;
}

// A secret value span [begin, end) inside a string.
struct Span {
    size_t begin;
    size_t end;
};

bool bearer_char(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

// Each matcher looks at position i (already known to follow a non-word character when it needs
// one) and returns the span to replace.
std::optional<Span> match_bearer(std::string_view t, size_t i) {
    if (!starts_with_nocase(t, i, "bearer")) return std::nullopt;
    size_t j = i + 6;
    size_t spaces = run_of(t, j, is_space);
    if (spaces == 0) return std::nullopt;
    j += spaces;
    size_t n = run_of(t, j, bearer_char);
    // Prose ("the bearer of", "bearer instruments") has short words without digits or symbols.
    bool tokenish = n >= 20;
    for (size_t k = j; k < j + n && !tokenish; ++k)
        tokenish = !std::isalpha(static_cast<unsigned char>(t[k]));
    if (n < 8 || !tokenish) return std::nullopt;
    return Span{j, j + n};
}

std::optional<Span> match_authorization_header(std::string_view t, size_t i) {
    if (!starts_with_nocase(t, i, "authorization:")) return std::nullopt;
    size_t j = i + 14;
    j += run_of(t, j, is_space);
    size_t end = t.find_first_of("\r\n", j);
    if (end == std::string_view::npos) end = t.size();
    if (end == j) return std::nullopt;
    return Span{j, end};
}

std::optional<Span> match_aws(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "AKIA") && !starts_with_at(t, i, "ASIA")) return std::nullopt;
    size_t n = run_of(t, i + 4, is_upper_digit);
    if (n != 16 || (i + 20 < t.size() && is_alnum(t[i + 20]))) return std::nullopt;
    return Span{i, i + 20};
}

std::optional<Span> match_github(std::string_view t, size_t i) {
    static constexpr std::array<std::string_view, 5> kPrefixes = {"ghp_", "gho_", "ghu_", "ghs_",
                                                                  "ghr_"};
    for (auto p : kPrefixes) {
        if (!starts_with_at(t, i, p)) continue;
        size_t n = run_of(t, i + 4, is_alnum);
        if (n >= 20) return Span{i, i + 4 + n};
    }
    if (starts_with_at(t, i, "github_pat_")) {
        size_t n = run_of(t, i + 11, [](char c) { return is_alnum(c) || c == '_'; });
        if (n >= 20) return Span{i, i + 11 + n};
    }
    return std::nullopt;
}

std::optional<Span> match_slack(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "xox") || t.size() - i < 5) return std::nullopt;
    char kind = t[i + 3];
    if (std::string_view("abprs").find(kind) == std::string_view::npos || t[i + 4] != '-')
        return std::nullopt;
    size_t n = run_of(t, i + 5, [](char c) { return is_alnum(c) || c == '-'; });
    if (n < 10) return std::nullopt;
    return Span{i, i + 5 + n};
}

std::optional<Span> match_sk(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "sk-")) return std::nullopt;
    size_t n = run_of(t, i + 3, is_b64url);
    if (n < 20) return std::nullopt;
    return Span{i, i + 3 + n};
}

std::optional<Span> match_google(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "AIza")) return std::nullopt;
    size_t n = run_of(t, i + 4, is_b64url);
    if (n < 35) return std::nullopt;
    return Span{i, i + 4 + n};
}

std::optional<Span> match_jwt(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "eyJ")) return std::nullopt;
    size_t a = run_of(t, i, is_b64url);
    if (a < 10 || i + a >= t.size() || t[i + a] != '.') return std::nullopt;
    size_t j = i + a + 1;
    size_t b = run_of(t, j, is_b64url);
    if (b < 10 || j + b >= t.size() || t[j + b] != '.') return std::nullopt;
    size_t k = j + b + 1;
    return Span{i, k + run_of(t, k, is_b64url)};
}

std::optional<Span> match_pem(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "-----BEGIN ")) return std::nullopt;
    size_t label_end = t.find("-----", i + 11);
    if (label_end == std::string_view::npos || label_end - i > 64) return std::nullopt;
    if (!ends_with(t.substr(i, label_end - i), "PRIVATE KEY")) return std::nullopt;
    size_t end = t.find("-----END ", label_end + 5);
    if (end == std::string_view::npos) return Span{i, t.size()};  // unterminated: all of it
    size_t close = t.find("-----", end + 9);
    return Span{i, close == std::string_view::npos ? t.size() : close + 5};
}

// scheme://user:PASSWORD@host — only the password.
std::optional<Span> match_userinfo(std::string_view t, size_t i) {
    if (!starts_with_at(t, i, "://")) return std::nullopt;
    size_t j = i + 3;
    auto userinfo = [](char c) {
        return c != '/' && c != '@' && c != ':' && !std::isspace(static_cast<unsigned char>(c));
    };
    size_t user = run_of(t, j, userinfo);
    if (j + user >= t.size() || t[j + user] != ':') return std::nullopt;
    size_t p = j + user + 1;
    size_t pass = run_of(t, p, [](char c) {
        return c != '/' && c != '@' && !std::isspace(static_cast<unsigned char>(c));
    });
    if (pass == 0 || p + pass >= t.size() || t[p + pass] != '@') return std::nullopt;
    return Span{p, p + pass};
}

bool ident_char(char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }
bool value_char(char c) {
    return !std::isspace(static_cast<unsigned char>(c)) && c != '&' && c != ';' && c != '"' &&
           c != '\'' && c != ',';
}

// SECRET_NAME=value inside free text: "--password=x" in a shell command, "?access_token=x" in
// a URL, "API_KEY='x'" in a script. Only the value.
std::optional<Span> match_assignment(std::string_view t, size_t i) {
    size_t n = run_of(t, i, ident_char);
    if (n == 0 || i + n >= t.size() || t[i + n] != '=' || !is_secret_key(t.substr(i, n)))
        return std::nullopt;
    size_t v = i + n + 1;
    if (v < t.size() && (t[v] == '"' || t[v] == '\'')) {
        size_t close = t.find(t[v], v + 1);
        if (close == std::string_view::npos) close = t.size();
        return close > v + 1 ? std::optional<Span>(Span{v + 1, close}) : std::nullopt;
    }
    size_t len = run_of(t, v, value_char);
    return len > 0 ? std::optional<Span>(Span{v, v + len}) : std::nullopt;
}

std::optional<Span> match_at(std::string_view t, size_t i) {
    // Token prefixes count only at a word start: "task-sk-..." or "xAKIA..." are not keys.
    bool word_start = i == 0 || !(is_alnum(t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '-');
    if (word_start) {
        for (auto m : {match_bearer, match_authorization_header, match_aws, match_github,
                       match_slack, match_sk, match_google, match_jwt})
            if (auto s = m(t, i)) return s;
    }
    if (i == 0 || !(is_alnum(t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '-' || t[i - 1] == '.')) {
        if (auto s = match_assignment(t, i)) return s;
    }
    if (t[i] == '-') return match_pem(t, i);
    if (t[i] == ':') return match_userinfo(t, i);
    return std::nullopt;
}

// "NAME=value", "--name=value", "Name: value": the name, and where the value starts.
std::optional<std::pair<std::string_view, size_t>> split_named(std::string_view s) {
    size_t dashes = s.find_first_not_of('-');
    if (dashes == std::string_view::npos) return std::nullopt;
    size_t eq = s.find('=');
    size_t colon = s.find(": ");
    size_t cut = std::min(eq, colon);
    if (cut == std::string_view::npos || cut == dashes) return std::nullopt;
    std::string_view name = s.substr(dashes, cut - dashes);
    for (char c : name)
        if (!(is_alnum(c) || c == '_' || c == '-' || c == '.')) return std::nullopt;
    return std::make_pair(name, cut + (cut == eq ? 1 : 2));
}

std::string element_pointer(const std::string& pointer, size_t index) {
    return pointer + "/" + std::to_string(index);
}

}  // namespace

bool is_secret_key(std::string_view key) {
    auto words = key_words(key);
    std::string joined;
    for (const auto& w : words) joined += w;
    static constexpr std::array<std::string_view, 9> kContains = {
        "password", "passwd",     "passphrase",    "secret", "credential",
        "apikey",   "privatekey", "authorization", "cookie"};
    for (auto c : kContains)
        if (joined.find(c) != std::string::npos) return true;
    if (ends_with(joined, "token") || ends_with(joined, "session") ||
        ends_with(joined, "sessionid") || ends_with(joined, "sessionkey"))
        return true;
    for (const auto& w : words)
        if (w == "token" || w == "session" || (w == "pwd" && words.size() > 1)) return true;
    return false;
}

bool redact_text(std::string& text) {
    std::string out;
    size_t copied = 0;
    bool changed = false;
    for (size_t i = 0; i < text.size();) {
        auto span = match_at(text, i);
        if (!span) {
            ++i;
            continue;
        }
        if (!changed) out.reserve(text.size());
        changed = true;
        out.append(text, copied, span->begin - copied);
        out += kRedacted;
        copied = span->end;
        i = std::max(span->end, i + 1);
    }
    if (!changed) return false;
    out.append(text, copied, std::string::npos);
    text = std::move(out);
    return true;
}

void redact_json(nlohmann::json& value, const std::string& pointer,
                 std::vector<std::string>& redacted) {
    if (value.is_string()) {
        if (redact_text(value.get_ref<std::string&>())) redacted.push_back(pointer);
    } else if (value.is_object()) {
        for (auto& [key, member] : value.items()) {
            std::string ptr = pointer + "/" + json_reader::escape_token(key);
            // A boolean or null under a secret name ("use_token": true) reveals nothing.
            if (is_secret_key(key) && !member.is_null() && !member.is_boolean()) {
                member = std::string(kRedacted);
                redacted.push_back(ptr);
            } else {
                redact_json(member, ptr, redacted);
            }
        }
    } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i)
            redact_json(value[i], element_pointer(pointer, i), redacted);
    }
}

void redact_argv(std::vector<std::string>& argv, const std::string& pointer,
                 std::vector<std::string>& redacted) {
    bool next_is_secret = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string& arg = argv[i];
        bool changed = false;
        // "--password hunter2": the value of a secret flag, unless it is the next flag.
        if (next_is_secret && arg.rfind("--", 0) != 0) {
            next_is_secret = false;
            arg = std::string(kRedacted);
            redacted.push_back(element_pointer(pointer, i));
            continue;
        }
        next_is_secret = false;
        if (auto named = split_named(arg); named && is_secret_key(named->first)) {
            arg = arg.substr(0, named->second) + std::string(kRedacted);
            changed = true;
        } else if (arg.size() > 1 && arg[0] == '-' && arg.find('=') == std::string::npos &&
                   arg.find(' ') == std::string::npos) {
            next_is_secret = is_secret_key(arg);
            changed = redact_text(arg);
        } else {
            changed = redact_text(arg);
        }
        if (changed) redacted.push_back(element_pointer(pointer, i));
    }
}

void redact_env(std::vector<std::string>& env, const std::string& pointer,
                std::vector<std::string>& redacted) {
    for (size_t i = 0; i < env.size(); ++i) {
        std::string& kv = env[i];
        size_t eq = kv.find('=');
        bool changed = false;
        if (eq != std::string::npos && is_secret_key(std::string_view(kv).substr(0, eq))) {
            kv = kv.substr(0, eq + 1) + std::string(kRedacted);
            changed = true;
        } else if (eq != std::string::npos) {
            std::string value = kv.substr(eq + 1);
            if (redact_text(value)) {
                kv = kv.substr(0, eq + 1) + value;
                changed = true;
            }
        } else {
            changed = redact_text(kv);
        }
        if (changed) redacted.push_back(element_pointer(pointer, i));
    }
}

}  // namespace runtime::redact
