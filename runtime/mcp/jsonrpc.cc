#include "runtime/mcp/jsonrpc.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace runtime::jsonrpc {
namespace {

// Checks nesting and size before nlohmann builds the tree. Its parser recurses per level, so a
// line of a million '[' would otherwise exhaust the stack; and a tree costs far more than its
// text (a 4 MiB line of "{}," parses into ~160 MiB of nodes), which a call holds while it waits
// in the queue, so the value count is what bounds the supervisor's memory (docs/BOUNDS.md).
const char* too_complex(std::string_view text) {
    int depth = 0;
    size_t values = 1;
    bool in_string = false, escaped = false;
    for (char ch : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (ch == '\\')
                escaped = true;
            else if (ch == '"')
                in_string = false;
            continue;
        }
        if (ch == '"')
            in_string = true;
        else if (ch == '[' || ch == '{') {
            if (++depth > kMaxDepth) return "message nested deeper than 64 levels";
        } else if (ch == ']' || ch == '}')
            --depth;
        // Every value but the message itself and an object's first member follows one of these,
        // so the tree has at most twice this many values.
        if ((ch == '[' || ch == '{' || ch == ',') && ++values > kMaxValues)
            return "message holds more than 10000 JSON values";
    }
    return nullptr;
}

Message invalid(nlohmann::json reply) {
    Message m;
    m.kind = Kind::Invalid;
    m.error_reply = std::move(reply);
    return m;
}

bool valid_id(const nlohmann::json& id) {
    // MCP: ids are strings or integers, never null or fractional.
    return id.is_string() || id.is_number_integer();
}

// The top-level members parse() looks at; null when absent. They point into a parsed document,
// or into what salvage() read of one.
struct Envelope {
    const nlohmann::json* jsonrpc = nullptr;
    const nlohmann::json* id = nullptr;
    const nlohmann::json* method = nullptr;
    const nlohmann::json* params = nullptr;
    bool result_or_error = false;
};

// The one reading of an envelope, for a parsed document and for salvage(): its kind (params are
// the caller's to move in), or the error it is answered with.
Message classify(const Envelope& e) {
    // A response (to a request of ours: we send none yet), or a peer's error reply to something
    // it could not read. Never answered, whatever else is wrong with it: two peers that answer
    // each other's malformed responses loop for ever (issue 16 item 11).
    if (!e.method && e.result_or_error) {
        Message m;
        m.kind = Kind::Response;
        if (e.id && valid_id(*e.id)) m.id = *e.id;
        return m;
    }
    nlohmann::json reply_id = (e.id && valid_id(*e.id)) ? *e.id : nlohmann::json(nullptr);
    if (!e.jsonrpc || *e.jsonrpc != "2.0")
        return invalid(error(reply_id, kInvalidRequest, "\"jsonrpc\" must be \"2.0\""));
    if (!e.method)
        return invalid(error(reply_id, kInvalidRequest,
                             "a message needs \"method\" (or, as a response, \"result\" or "
                             "\"error\")"));
    if (!e.method->is_string() || e.method->get_ref<const std::string&>().empty())
        return invalid(error(reply_id, kInvalidRequest, "\"method\" must be a non-empty string"));
    if (e.params && !e.params->is_object())
        return invalid(error(reply_id, kInvalidRequest, "\"params\" must be an object"));
    Message m;
    m.method = e.method->get<std::string>();
    if (!e.id) {
        m.kind = Kind::Notification;
        return m;
    }
    if (!valid_id(*e.id))
        return invalid(error(nullptr, kInvalidRequest, "\"id\" must be a string or an integer"));
    m.kind = Kind::Request;
    m.id = *e.id;
    return m;
}

// ---- valid JSON that parse() does not take ----

// JSON's grammar allows a \uD800..\uDFFF escape that is not half of a pair; nlohmann refuses it
// (its strings are UTF-8, which cannot hold one), and so does tooljail. To read the envelope of
// such a message anyway, each lone escape is replaced by \ufffd in a copy.
struct Repaired {
    std::string text;
    // Ordinals, in document order, of the string tokens (keys and values) that held one.
    std::vector<size_t> flagged;
    std::string first;  // the first lone escape as written, e.g. "\ud800"
};

bool hex4(std::string_view s, size_t at, unsigned& out) {
    if (at + 4 > s.size()) return false;
    out = 0;
    for (size_t i = at; i < at + 4; ++i) {
        char c = s[i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = static_cast<unsigned>(c - 'A' + 10);
        else
            return false;
        out = out * 16 + digit;
    }
    return true;
}

// `copy`: build r.text too. A first pass without it finds whether there is anything to repair:
// a 4 MiB line refused for its size is not copied (docs/BOUNDS.md).
Repaired repair_lone_surrogates(std::string_view in, bool copy) {
    Repaired r;
    if (copy) r.text.reserve(in.size());
    size_t strings = 0;
    bool in_string = false;
    for (size_t i = 0; i < in.size();) {
        char c = in[i];
        if (!in_string || c == '"') {
            if (c == '"') in_string = !in_string;
            if (in_string) ++strings;
            if (copy) r.text += c;
            ++i;
            continue;
        }
        unsigned unit = 0;
        // Not a \u escape, or a malformed one (the parser refuses that): copied as it is.
        if (c != '\\' || i + 1 >= in.size() || in[i + 1] != 'u' || !hex4(in, i + 2, unit)) {
            size_t n = c == '\\' ? std::min<size_t>(2, in.size() - i) : 1;
            if (copy) r.text.append(in.substr(i, n));
            i += n;
            continue;
        }
        size_t len = 6;
        bool lone = unit >= 0xDC00 && unit <= 0xDFFF;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            unsigned low = 0;
            if (i + 12 <= in.size() && in[i + 6] == '\\' && in[i + 7] == 'u' &&
                hex4(in, i + 8, low) && low >= 0xDC00 && low <= 0xDFFF)
                len = 12;
            else
                lone = true;
        }
        if (lone) {
            if (r.first.empty()) r.first = std::string(in.substr(i, 6));
            if (r.flagged.empty() || r.flagged.back() != strings - 1)
                r.flagged.push_back(strings - 1);
            if (copy) r.text += "\\ufffd";
        } else if (copy) {
            r.text.append(in.substr(i, len));
        }
        i += len;
    }
    return r;
}

// Reads a document's syntax to its end (nlohmann's SAX parser keeps a stack of one bit per level,
// so depth costs no recursion) and keeps only the top-level members classify() needs: no tree is
// built, so a message of any depth or size within the line cap costs its text and little more.
class EnvelopeReader final : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit EnvelopeReader(const std::vector<size_t>& flagged) : flagged_(flagged) {}

    bool null() override { return value(nullptr); }
    bool boolean(bool v) override { return value(v); }
    bool number_integer(number_integer_t v) override { return value(v); }
    bool number_unsigned(number_unsigned_t v) override { return value(v); }
    bool number_float(number_float_t v, const string_t&) override { return value(v); }
    bool string(string_t& v) override {
        if (next_string_flagged() && depth_ == 1 && key_ == "id") id_flagged_ = true;
        return value(std::move(v));
    }
    bool binary(binary_t&) override { return value(nullptr); }  // not in JSON text
    bool start_object(std::size_t) override { return open(nlohmann::json::object()); }
    bool start_array(std::size_t) override { return open(nlohmann::json::array()); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }
    bool key(string_t& k) override {
        next_string_flagged();
        if (depth_ == 1) key_ = k;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

    bool is_object() const { return object_; }
    // The id was a string holding a lone surrogate: what it stood for cannot be known.
    bool id_flagged() const { return id_flagged_; }
    Envelope envelope() const {
        auto find = [this](const char* key) {
            auto it = members_.find(key);
            return it == members_.end() ? nullptr : &it->second;
        };
        return {find("jsonrpc"), find("id"), find("method"), find("params"),
                find("result") || find("error")};
    }

private:
    // A member's value (containers by an empty one of their type); the last of duplicates wins,
    // as when nlohmann builds the tree.
    bool value(nlohmann::json v) {
        if (depth_ == 1 && kKept.count(key_)) members_[key_] = std::move(v);
        return true;
    }
    bool open(nlohmann::json empty) {
        if (depth_ == 0) object_ = empty.is_object();
        value(std::move(empty));
        ++depth_;
        return true;
    }
    bool close() {
        --depth_;
        return true;
    }
    bool next_string_flagged() {
        return std::binary_search(flagged_.begin(), flagged_.end(), strings_++);
    }

    inline static const std::set<std::string> kKept = {"jsonrpc", "id",     "method",
                                                       "params",  "result", "error"};
    const std::vector<size_t>& flagged_;
    size_t depth_ = 0;
    size_t strings_ = 0;
    bool object_ = false;
    bool id_flagged_ = false;
    std::string key_;
    std::map<std::string, nlohmann::json> members_;
};

// A line parse() could not take: too deep or too many values (`why`, from too_complex()), or
// not parsed by nlohmann. When it is nevertheless JSON, an object whose id can be read, the
// client must hear why at once with that id (-32602 naming the problem) instead of waiting out
// its request timeout for a reply to id null (issue 16 item 9); a notification gets nothing
// (JSON-RPC: never answered, not even with an error), nor does a response. Anything else is a
// parse error with id null, as before.
Message salvage(std::string_view line, const char* why) {
    Repaired repaired = repair_lone_surrogates(line, false);
    if (!repaired.flagged.empty()) repaired = repair_lone_surrogates(line, true);
    if (!why && repaired.flagged.empty())
        return invalid(error(nullptr, kParseError, "invalid JSON"));
    EnvelopeReader reader(repaired.flagged);
    std::string_view text = repaired.flagged.empty() ? line : std::string_view(repaired.text);
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &reader) || !reader.is_object())
        return invalid(error(nullptr, kParseError, why ? why : "invalid JSON"));
    Message m = classify(reader.envelope());
    if (m.kind == Kind::Response) return m;
    if (reader.id_flagged())
        return invalid(error(nullptr, kInvalidRequest,
                             "\"id\" holds a lone UTF-16 surrogate escape (" + repaired.first +
                                 "); strings must be valid Unicode"));
    if (m.kind == Kind::Invalid) return m;
    std::string problem = why ? std::string(why)
                              : "a string holds a lone UTF-16 surrogate escape (" + repaired.first +
                                    "); strings must be valid Unicode";
    if (m.kind == Kind::Request) return invalid(error(m.id, kInvalidParams, problem));
    Message refused = invalid(nullptr);
    refused.refusal = "notification " + m.method.substr(0, 128) + " refused: " + problem;
    return refused;
}

}  // namespace

Message parse(std::string_view line) {
    const char* why = too_complex(line);
    nlohmann::json doc;
    if (!why) doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (why || doc.is_discarded()) return salvage(line, why);
    if (doc.is_array())
        return invalid(error(nullptr, kInvalidRequest,
                             "batches are not supported; send one message per line"));
    if (!doc.is_object())
        return invalid(error(nullptr, kInvalidRequest, "a message must be a JSON object"));

    auto find = [&doc](const char* key) {
        auto it = doc.find(key);
        return it == doc.end() ? nullptr : &*it;
    };
    nlohmann::json* params = find("params");
    Message m = classify({find("jsonrpc"), find("id"), find("method"), params,
                          doc.contains("result") || doc.contains("error")});
    if ((m.kind == Kind::Request || m.kind == Kind::Notification) && params)
        m.params = std::move(*params);  // not a copy: a body can be megabytes
    return m;
}

nlohmann::json result(const nlohmann::json& id, nlohmann::json res) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(res)}};
}

nlohmann::json error(const nlohmann::json& id, int code, std::string_view message,
                     const nlohmann::json& data) {
    nlohmann::json err = {{"code", code}, {"message", std::string(message)}};
    if (!data.is_null()) err["data"] = data;
    return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

nlohmann::json reused_id(const nlohmann::json& id) {
    return error(nullptr, kInvalidRequest,
                 "the request's id " + serialize(id).substr(0, 128) +
                     " is that of a request still in progress; use an id not yet answered",
                 {{"id", id}});
}

std::string serialize(const nlohmann::json& message) {
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace runtime::jsonrpc
