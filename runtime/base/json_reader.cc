#include "runtime/base/json_reader.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace runtime::json_reader {

using nlohmann::json;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

std::string string_or_empty(const nlohmann::json& j, std::string_view key) {
    if (!j.is_object()) return {};
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string escape_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

std::string describe_type(const json& j) {
    if (j.is_number_float()) return "non-integer number";
    return j.type_name();
}

// Messages quote file content (keys, values, nlohmann's "last read" bytes, which may be invalid
// UTF-8). Escape control and non-ASCII bytes so one error stays one log line and can be put
// into a JSON reply without a UTF-8 error.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f)
            out += fmt::format("\\x{:02x}", u);
        else
            out += c;
    }
    return out;
}

sandbox::Unexpected Context::bad(std::string_view ptr, std::string_view msg) const {
    if (ptr.empty())
        return fail(Errc::InvalidArgument, printable(fmt::format("{}: {}", file_, msg)));
    return fail(Errc::InvalidArgument, printable(fmt::format("{}: {}: {}", file_, ptr, msg)));
}

namespace {

// nlohmann keeps the last of duplicate keys silently. In a security config that is an
// ambiguity (which "memory_mb" did the reviewer read?), so find them during the parse.
class DuplicateKeyFinder {
public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start: stack_.push_back({true, {}, {}, 0}); break;
            case json::parse_event_t::array_start: stack_.push_back({false, {}, {}, 0}); break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                stack_.pop_back();
                element_done();
                break;
            case json::parse_event_t::key: {
                auto key = parsed.get<std::string>();
                Frame& top = stack_.back();
                if (!top.keys.insert(key).second && !duplicate_)
                    duplicate_ = prefix(stack_.size() - 1) + "/" + escape_token(key);
                top.key = std::move(key);
                break;
            }
            case json::parse_event_t::value: element_done(); break;
        }
        return true;
    }
    const std::optional<std::string>& duplicate() const { return duplicate_; }

private:
    struct Frame {
        bool is_object;
        std::set<std::string> keys;
        std::string key;    // object: the key being read
        std::size_t index;  // array: elements completed so far = index of the current one
    };
    void element_done() {
        if (!stack_.empty() && !stack_.back().is_object) ++stack_.back().index;
    }
    // Pointer to the container at stack_[depth].
    std::string prefix(std::size_t depth) const {
        std::string out;
        for (std::size_t i = 0; i < depth; ++i)
            out += "/" + (stack_[i].is_object ? escape_token(stack_[i].key)
                                              : std::to_string(stack_[i].index));
        return out;
    }
    std::vector<Frame> stack_;
    std::optional<std::string> duplicate_;
};

}  // namespace

Result<json> parse(const Context& ctx, std::string_view text) {
    try {
        DuplicateKeyFinder dups;
        json root = json::parse(text.begin(), text.end(), std::ref(dups),
                                /*allow_exceptions=*/true, /*ignore_comments=*/false);
        if (dups.duplicate()) return ctx.bad(*dups.duplicate(), "duplicate key");
        return root;
    } catch (const json::parse_error& e) {
        // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
        std::string_view what = e.what();
        if (auto close = what.find("] "); close != std::string_view::npos)
            what.remove_prefix(close + 2);
        return ctx.bad("", fmt::format("invalid JSON at byte {}: {}", e.byte, what));
    } catch (const json::exception& e) {
        return fail(Errc::InvalidArgument,
                    fmt::format("{}: invalid JSON: {}", ctx.file(), e.what()));
    }
}

std::string Node::at(std::string_view key) const { return ptr + "/" + escape_token(key); }

const json* Node::get(std::string_view key) const {
    auto it = j->find(std::string(key));
    return it == j->end() ? nullptr : &*it;
}

Result<Node> as_object(const Context& ctx, const json& j, std::string ptr, Keys allowed) {
    if (!j.is_object())
        return ctx.bad(ptr, fmt::format("expected object (got {})", describe_type(j)));
    for (const auto& item : j.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
            return ctx.bad(ptr + "/" + escape_token(item.key()),
                           fmt::format("unknown key (allowed: {})", fmt::join(allowed, ", ")));
    }
    return Node{&j, std::move(ptr)};
}

Result<std::optional<Node>> sub_object(const Context& ctx, const Node& parent, std::string_view key,
                                       Keys allowed) {
    const json* v = parent.get(key);
    if (v == nullptr) return std::optional<Node>();
    auto node = as_object(ctx, *v, parent.at(key), allowed);
    if (!node) return fail(std::move(node).error());
    return std::optional<Node>(std::move(*node));
}

Result<void> read_bool(const Context& ctx, const Node& n, std::string_view key, bool& out) {
    const json* v = n.get(key);
    if (v == nullptr) return {};
    if (!v->is_boolean())
        return ctx.bad(n.at(key), fmt::format("expected boolean (got {})", describe_type(*v)));
    out = v->get<bool>();
    return {};
}

Result<void> read_string(const Context& ctx, const Node& n, std::string_view key, std::string& out,
                         Presence presence) {
    const json* v = n.get(key);
    if (v == nullptr) {
        if (presence == Presence::Required) return ctx.bad(n.at(key), "missing required key");
        return {};
    }
    if (!v->is_string())
        return ctx.bad(n.at(key), fmt::format("expected string (got {})", describe_type(*v)));
    out = v->get<std::string>();
    return {};
}

Result<void> check_uint(const Context& ctx, const json& v, const std::string& ptr, uint64_t min,
                        uint64_t max, uint64_t& out) {
    if (!v.is_number_integer())
        return ctx.bad(ptr, fmt::format("expected integer (got {})", describe_type(v)));
    auto range = [&](auto got) {
        return ctx.bad(ptr, fmt::format("must be between {} and {} (got {})", min, max, got));
    };
    // The parser stores non-negative integers as unsigned, negative ones as signed.
    if (!v.is_number_unsigned() && v.get<int64_t>() < 0) return range(v.get<int64_t>());
    uint64_t got = v.get<uint64_t>();
    if (got < min || got > max) return range(got);
    out = got;
    return {};
}

Result<void> read_uint(const Context& ctx, const Node& n, std::string_view key, uint64_t min,
                       uint64_t max, uint64_t& out) {
    const json* v = n.get(key);
    if (v == nullptr) return {};
    return check_uint(ctx, *v, n.at(key), min, max, out);
}

Result<void> read_enum(const Context& ctx, const Node& n, std::string_view key,
                       const std::vector<std::string>& allowed, std::string& out) {
    std::string got = out;
    SBX_TRY(read_string(ctx, n, key, got));
    if (std::find(allowed.begin(), allowed.end(), got) == allowed.end())
        return ctx.bad(n.at(key), fmt::format("must be one of \"{}\" (got \"{}\")",
                                              fmt::join(allowed, "\", \""), got));
    out = got;
    return {};
}

}  // namespace runtime::json_reader
