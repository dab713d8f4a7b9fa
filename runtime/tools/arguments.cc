// Tool arguments -> argv. The schema says what shape an argument has; the rules here say what a
// value may never be, whatever the schema says, because the schema is written per tool and a
// loose one must not become a hole:
//   - no shell is ever involved, so metacharacters are inert today; they are still refused by
//     default so that a value can never become dangerous if a program re-interprets it (an
//     interpreter, a wrapper script, a future template) and so that refusals are loud;
//   - a leading '-' would make the program read a value as an option (`--output=/x`);
//   - a path is confined to the workspace on the host, after following symlinks, and the
//     program receives the resolved path, so it opens what the check looked at;
//   - every value is one argv element: nothing is split, globbed or expanded.
// Messages quote at most kEchoBytes of a value: arguments may hold secrets, and errors end up in
// logs and model contexts.
#include "runtime/tools/arguments.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "runtime/base/json_reader.h"

namespace runtime {

using nlohmann::json;
using Kind = ArgumentRule::Kind;

namespace {

constexpr std::size_t kEchoBytes = 64;
constexpr std::size_t kMaxReportedViolations = 5;
constexpr std::size_t kMaxViolationMessage = 160;
constexpr std::string_view kMetacharacters = ";&|`$(){}[]<>\\'\"*?!#~";

using Refusal = std::optional<ArgumentError>;

// The value as quoted in messages: at most kEchoBytes, control and non-ASCII bytes escaped.
std::string excerpt(std::string_view v) {
    std::string out = json_reader::printable(v.substr(0, kEchoBytes));
    if (v.size() > kEchoBytes) out += "...";
    return "\"" + out + "\"";
}

ArgumentError refuse(const std::string& arg, std::string rule, std::string detail) {
    std::string who =
        arg.empty() ? std::string("arguments") : "argument \"" + arg.substr(0, kEchoBytes) + "\"";
    std::string message = json_reader::printable(fmt::format("{}: {}: {}", who, rule, detail));
    return ArgumentError{arg, std::move(rule), std::move(message)};
}

std::string char_name(char c) {
    if (c == '\n') return "newline";
    if (c == '\r') return "carriage return";
    if (c == '\0') return "NUL";
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return fmt::format("control character \\x{:02x}", u);
    return fmt::format("'{}'", c);
}

// The first refused character: printable metacharacters not in `exceptions`, and ASCII
// control characters (which include newline, CR and NUL). Bytes >= 0x80 (UTF-8) are fine.
std::optional<std::size_t> find_metacharacter(std::string_view v, std::string_view exceptions) {
    for (std::size_t i = 0; i < v.size(); ++i) {
        auto u = static_cast<unsigned char>(v[i]);
        if (u < 0x20 || u == 0x7f) return i;
        if (kMetacharacters.find(v[i]) != std::string_view::npos &&
            exceptions.find(v[i]) == std::string_view::npos)
            return i;
    }
    return std::nullopt;
}

// Checks shared by string and path values (and the stdin value, where in_argv is false: a NUL
// byte is data on a pipe but would silently cut an argv string short).
Refusal check_text(const std::string& arg, const ArgumentRule& rule, std::string_view v,
                   bool in_argv) {
    if (v.size() > rule.max_length)
        return refuse(arg, "max_length",
                      fmt::format("{} bytes, at most {} allowed", v.size(), rule.max_length));
    if (in_argv) {
        if (auto nul = v.find('\0'); nul != std::string_view::npos)
            return refuse(
                arg, "metacharacter",
                fmt::format("NUL at byte {} cannot be passed in argv (value {})", nul, excerpt(v)));
    }
    if (!rule.allow_metacharacters) {
        if (auto pos = find_metacharacter(v, rule.metacharacter_exceptions))
            return refuse(arg, "metacharacter",
                          fmt::format("{} at byte {} is not allowed (value {})", char_name(v[*pos]),
                                      *pos, excerpt(v)));
    }
    if (!rule.allow_leading_dash && !v.empty() && v[0] == '-')
        return refuse(
            arg, "leading_dash",
            fmt::format("starts with '-' and would be read as an option (value {})", excerpt(v)));
    return std::nullopt;
}

// GNU getopt_long accepts any unambiguous abbreviation of a long option, so "--comp" is
// --compress-program. Refuse every "--name[=...]" whose name is a prefix of a denied option;
// this also refuses some harmless abbreviations of other options, which is the safe side.
Refusal check_denied_option(const std::string& arg, const ArgumentRule& rule, std::string_view v) {
    if (rule.deny_options.empty() || v.size() < 3 || v.substr(0, 2) != "--") return std::nullopt;
    std::string_view name = v.substr(
        2, v.find('=') == std::string_view::npos ? std::string_view::npos : v.find('=') - 2);
    if (name.empty()) return std::nullopt;
    for (const std::string& denied : rule.deny_options) {
        if (std::string_view(denied).substr(0, name.size()) == name)
            return refuse(arg, "denied_option",
                          fmt::format("{} is (an abbreviation of) --{}, which this tool refuses",
                                      excerpt(v), denied));
    }
    return std::nullopt;
}

std::optional<std::string> real_path(const std::string& p, int& err) {
    std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
    if (!r) {
        err = errno;
        return std::nullopt;
    }
    return std::string(r.get());
}

bool inside(const std::string& path, const std::string& root) {
    if (root == "/") return true;
    return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                            path[root.size()] == '/');
}

struct Workspace {
    std::string host;    // realpath of the workspace on the host; empty = none
    std::string target;  // "/workspace"
    int error = 0;       // why host could not be resolved
};

// Resolves a path value on the host and returns the path the sandbox must be given.
// The longest existing prefix goes through realpath(3) (following every symlink as the kernel
// would); a missing tail (must_exist false) is appended as written, but may not contain "..",
// since the kernel would fail to walk up out of a directory that does not exist.
Refusal resolve_path(const std::string& arg, const ArgumentRule& rule, const std::string& value,
                     const Workspace& ws, std::string& out) {
    if (ws.host.empty())
        return refuse(arg, "path_missing",
                      ws.error != 0 ? fmt::format("the workspace cannot be resolved ({})",
                                                  std::strerror(ws.error))
                                    : std::string("this run has no workspace"));
    std::string_view rel = value;
    if (!rel.empty() && rel[0] == '/') {
        // Absolute paths are accepted only in the form the sandbox shows ("/workspace/src/x"),
        // which is what the tools print.
        if (rel == ws.target) {
            rel = {};
        } else if (rel.size() > ws.target.size() && rel.substr(0, ws.target.size()) == ws.target &&
                   rel[ws.target.size()] == '/') {
            rel.remove_prefix(ws.target.size() + 1);
        } else {
            return refuse(arg, "path_escape",
                          fmt::format("absolute path outside {} (value {}); give a path "
                                      "relative to the workspace",
                                      ws.target, excerpt(value)));
        }
    }
    std::vector<std::string> comps;
    for (std::size_t start = 0; start <= rel.size();) {
        std::size_t end = std::min(rel.find('/', start), rel.size());
        std::string_view c = rel.substr(start, end - start);
        if (!c.empty() && c != ".") comps.emplace_back(c);
        start = end + 1;
    }

    std::size_t known = comps.size();  // components [0, known) resolve
    std::string resolved;
    for (;;) {
        std::string candidate = ws.host;
        for (std::size_t i = 0; i < known; ++i) candidate += "/" + comps[i];
        int err = 0;
        if (auto r = real_path(candidate, err)) {
            resolved = std::move(*r);
            break;
        }
        if ((err == ENOENT || err == ENOTDIR) && known > 0) {
            // A dangling symlink is not a "new file": its target (which the check cannot see,
            // and which might exist inside the sandbox but not here) is what would be opened.
            struct stat st {};
            if (err == ENOENT && ::lstat(candidate.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
                return refuse(arg, "path_missing",
                              fmt::format("{} goes through a symlink whose target does not "
                                          "exist",
                                          excerpt(value)));
            --known;
            continue;
        }
        return refuse(arg, "path_missing",
                      fmt::format("{} cannot be resolved: {}", excerpt(value), std::strerror(err)));
    }
    if (!inside(resolved, ws.host))
        return refuse(
            arg, "path_escape",
            fmt::format("{} resolves outside the workspace (\"..\" or a symlink)", excerpt(value)));
    if (known < comps.size()) {
        if (rule.must_exist)
            return refuse(arg, "path_missing",
                          fmt::format("{} does not exist in the workspace", excerpt(value)));
        for (std::size_t i = known; i < comps.size(); ++i) {
            if (comps[i] == "..")
                return refuse(arg, "path_missing",
                              fmt::format("{}: \"{}\" does not exist, so \"..\" after it cannot "
                                          "be resolved",
                                          excerpt(value), json_reader::printable(comps[known])));
            resolved += "/" + comps[i];
        }
    }
    std::string tail = ws.host == "/" ? resolved : resolved.substr(ws.host.size());
    if (tail == "/") tail.clear();
    out = ws.target + tail;
    return std::nullopt;
}

// One value of an argument rendered as its argv string (before flag and prefix).
Refusal render(const std::string& arg, const ArgumentRule& rule, const json& v, const Workspace& ws,
               std::string& out) {
    switch (rule.kind) {
        case Kind::Integer:
            // Canonical decimal: 5, never 5.0, "5" or 0x5.
            if (!v.is_number_integer())
                return refuse(
                    arg, "type",
                    fmt::format("expected an integer (got {})", json_reader::describe_type(v)));
            out = v.dump();
            return std::nullopt;
        case Kind::Boolean: return refuse(arg, "type", "a boolean renders only as a flag");
        case Kind::String:
        case Kind::Path: break;
    }
    if (!v.is_string())
        return refuse(arg, "type",
                      fmt::format("expected a string (got {})", json_reader::describe_type(v)));
    const std::string& s = v.get_ref<const std::string&>();
    if (auto r = check_text(arg, rule, s, /*in_argv=*/true)) return r;
    if (rule.kind == Kind::String) {
        if (auto r = check_denied_option(arg, rule, s)) return r;
        out = s;
        return std::nullopt;
    }
    return resolve_path(arg, rule, s, ws, out);
}

// The first path segment of a JSON pointer, unescaped: the argument a violation is about.
std::string first_segment(std::string_view ptr) {
    if (ptr.empty() || ptr[0] != '/') return {};
    ptr.remove_prefix(1);
    std::string_view seg = ptr.substr(0, ptr.find('/'));
    std::string out;
    for (std::size_t i = 0; i < seg.size(); ++i) {
        if (seg[i] == '~' && i + 1 < seg.size() && (seg[i + 1] == '0' || seg[i + 1] == '1')) {
            out += seg[i + 1] == '0' ? '~' : '/';
            ++i;
        } else {
            out += seg[i];
        }
    }
    return out;
}

ArgumentError schema_error(const std::vector<schema::Violation>& violations) {
    const schema::Violation& first = violations.front();
    std::string detail;
    for (std::size_t i = 0; i < violations.size() && i < kMaxReportedViolations; ++i) {
        const schema::Violation& v = violations[i];
        std::string msg = v.message.substr(0, kMaxViolationMessage);
        if (v.message.size() > kMaxViolationMessage) msg += "...";
        if (!detail.empty()) detail += "; ";
        detail +=
            fmt::format("{}: {}", v.pointer.empty() ? std::string("(arguments)") : v.pointer, msg);
    }
    if (violations.size() > kMaxReportedViolations)
        detail += fmt::format(" (and {} more)", violations.size() - kMaxReportedViolations);
    return refuse(first_segment(first.pointer), "schema:" + first.keyword, detail);
}

}  // namespace

std::variant<Invocation, ArgumentError> prepare_invocation(const ToolDef& tool,
                                                           const json& arguments,
                                                           const std::string& workspace_host,
                                                           const std::string& workspace_target) {
    json args = arguments.is_null() ? json::object() : arguments;
    if (!args.is_object())
        return refuse("", "type",
                      fmt::format("expected an object (got {})", json_reader::describe_type(args)));
    if (!tool.input) return refuse("", "type", "tool has no compiled input schema");
    json values;
    auto violations = tool.input->validate(args, &values);
    if (!violations.empty()) return schema_error(violations);
    if (!values.is_object()) values = args;

    // The schema is strict (additionalProperties false), but the rules are the last word.
    for (const auto& item : values.items()) {
        if (tool.rules.count(item.key()) == 0)
            return refuse(item.key(), "unknown_argument", "this tool takes no such argument");
    }

    Workspace ws;
    ws.target = workspace_target;
    if (!workspace_host.empty()) {
        if (auto r = real_path(workspace_host, ws.error)) ws.host = std::move(*r);
    }

    Invocation inv;
    bool end_of_options_done = false;
    for (std::size_t i = 0; i < tool.argv.size(); ++i) {
        const ArgvElement& el = tool.argv[i];
        if (el.is_literal()) {
            inv.argv.push_back(el.literal);
            continue;
        }
        const ArgumentRule& rule = tool.rules.at(el.arg);
        auto it = values.find(el.arg);
        if (it == values.end() || it->is_null()) {
            if (i == 0) return refuse(el.arg, "schema:required", "the program must be given");
            continue;  // an absent optional argument drops its element and flag
        }
        const json& v = *it;

        std::vector<std::string> rendered;
        if (rule.kind == Kind::Boolean) {
            if (!v.is_boolean())
                return refuse(
                    el.arg, "type",
                    fmt::format("expected a boolean (got {})", json_reader::describe_type(v)));
            if (v.get<bool>()) inv.argv.push_back(el.flag);
            continue;
        }
        if (el.each) {
            if (!v.is_array())
                return refuse(
                    el.arg, "type",
                    fmt::format("expected an array (got {})", json_reader::describe_type(v)));
            if (v.size() > rule.max_items)
                return refuse(
                    el.arg, "max_items",
                    fmt::format("{} items, at most {} allowed", v.size(), rule.max_items));
            for (std::size_t k = 0; k < v.size(); ++k) {
                std::string out;
                if (auto r = render(el.arg, rule, v[k], ws, out)) {
                    r->message += fmt::format(" (item {})", k);
                    return *r;
                }
                rendered.push_back(std::move(out));
            }
        } else {
            std::string out;
            if (auto r = render(el.arg, rule, v, ws, out)) return *r;
            rendered.push_back(std::move(out));
        }

        // A negative integer as a bare operand would be read as an option ("-5").
        for (const std::string& r : rendered) {
            if (rule.kind == Kind::Integer && el.is_operand() && !r.empty() && r[0] == '-')
                return refuse(el.arg, "leading_dash",
                              fmt::format("{} as an operand would be read as an option", r));
        }
        if (i == 0) {
            // argv[0] from the allowlist: re-checked here, not trusted to the schema's enum.
            std::string program = el.prefix + rendered.front();
            if (std::find(tool.programs.begin(), tool.programs.end(), program) ==
                tool.programs.end())
                return refuse(
                    el.arg, "schema:enum",
                    fmt::format("{} is not an allowed program", excerpt(rendered.front())));
            inv.argv.push_back(std::move(program));
            continue;
        }
        if (tool.end_of_options && !end_of_options_done && el.is_operand() && !rendered.empty()) {
            inv.argv.emplace_back("--");
            end_of_options_done = true;
        }
        for (std::string& r : rendered) {
            if (!el.flag.empty()) inv.argv.push_back(el.flag);
            inv.argv.push_back(el.prefix + r);
        }
    }

    if (tool.stdin_arg) {
        auto it = values.find(*tool.stdin_arg);
        if (it != values.end() && !it->is_null()) {
            const std::string& name = *tool.stdin_arg;
            if (!it->is_string())
                return refuse(
                    name, "type",
                    fmt::format("expected a string (got {})", json_reader::describe_type(*it)));
            const std::string& s = it->get_ref<const std::string&>();
            if (auto r = check_text(name, tool.rules.at(name), s, /*in_argv=*/false)) return *r;
            inv.stdin_data = s;
        }
    }
    if (tool.stdin_file_arg) {
        const std::string& name = *tool.stdin_file_arg;
        auto it = values.find(name);
        if (it != values.end() && !it->is_null()) {
            // Checked here like a path placeholder, for honest errors; what is read is decided
            // inside the sandbox, which opens the path beneath the workspace in one operation.
            std::string out;
            if (auto r = render(name, tool.rules.at(name), *it, ws, out)) return *r;
            inv.stdin_file = out.size() > ws.target.size() ? out.substr(ws.target.size() + 1) : ".";
        }
    }
    return inv;
}

}  // namespace runtime
