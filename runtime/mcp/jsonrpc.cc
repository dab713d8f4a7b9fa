#include "runtime/mcp/jsonrpc.h"

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

}  // namespace

Message parse(std::string_view line) {
    if (const char* why = too_complex(line)) return invalid(error(nullptr, kParseError, why));
    nlohmann::json doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (doc.is_discarded()) return invalid(error(nullptr, kParseError, "invalid JSON"));
    if (doc.is_array())
        return invalid(error(nullptr, kInvalidRequest,
                             "batches are not supported; send one message per line"));
    if (!doc.is_object())
        return invalid(error(nullptr, kInvalidRequest, "a message must be a JSON object"));

    auto jsonrpc = doc.find("jsonrpc");
    auto id = doc.find("id");
    nlohmann::json reply_id = (id != doc.end() && valid_id(*id)) ? *id : nlohmann::json(nullptr);
    if (jsonrpc == doc.end() || *jsonrpc != "2.0")
        return invalid(error(reply_id, kInvalidRequest, "\"jsonrpc\" must be \"2.0\""));

    auto method = doc.find("method");
    if (method == doc.end()) {
        // A response to a request of ours. We send none yet; it is accepted and dropped.
        if (id != doc.end() && valid_id(*id) && (doc.contains("result") || doc.contains("error"))) {
            Message m;
            m.kind = Kind::Response;
            m.id = *id;
            return m;
        }
        return invalid(error(reply_id, kInvalidRequest,
                             "a message needs \"method\" (or is a response with \"id\")"));
    }
    if (!method->is_string() || method->get_ref<const std::string&>().empty())
        return invalid(error(reply_id, kInvalidRequest, "\"method\" must be a non-empty string"));

    Message m;
    m.method = method->get<std::string>();
    auto params = doc.find("params");
    if (params != doc.end()) {
        if (!params->is_object())
            return invalid(error(reply_id, kInvalidRequest, "\"params\" must be an object"));
        m.params = std::move(*params);  // not a copy: a body can be megabytes
    }
    if (id == doc.end()) {
        m.kind = Kind::Notification;
        return m;
    }
    if (!valid_id(*id))
        return invalid(error(nullptr, kInvalidRequest, "\"id\" must be a string or an integer"));
    m.kind = Kind::Request;
    m.id = *id;
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

std::string serialize(const nlohmann::json& message) {
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace runtime::jsonrpc
