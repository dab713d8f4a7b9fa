// Strict reading of JSON config files (policies/*.json, tools.d/*.json), fail closed as
// STYLE.md section 7 asks: malformed JSON, duplicate keys, unknown keys, wrong types and
// out-of-range integers are errors, and every error names the file and the JSON pointer of the
// offending value:
//
//   policies/default.json: /limits/memory_mb: must be between 8 and 1048576 (got 0)
//
// Usage: parse() the text, as_object() the root with its allowed keys, then read each field
// into a variable that already holds its default. An absent optional key leaves the variable
// alone; so does every failed read.
//
// All errors are sandbox::Error with code InvalidArgument. Nothing here throws: parse() catches
// nlohmann's exceptions and the readers check a value's type before converting it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/base/result.h"

namespace runtime::json_reader {

// The error sink for one file. Every message becomes "<file>: <pointer>: <message>", or
// "<file>: <message>" for an empty pointer (the whole document), passed through printable().
class Context {
public:
    explicit Context(std::string_view file_label) : file_(file_label) {}
    sandbox::Unexpected bad(std::string_view ptr, std::string_view msg) const;
    const std::string& file() const { return file_; }

private:
    std::string file_;
};

// Parses one JSON document. Comments and trailing content are errors, and so is a key that
// appears twice in one object: nlohmann would silently keep the last one.
// Errors: "<file>: invalid JSON at byte <n>: <reason>", "<file>: <pointer>: duplicate key".
sandbox::Result<nlohmann::json> parse(const Context& ctx, std::string_view text);

// A JSON object whose keys have been checked against an allow-list; knows its own pointer.
// j points into the document passed to as_object(), which must outlive the Node.
struct Node {
    const nlohmann::json* j = nullptr;
    std::string ptr;  // "" for the root

    // The pointer of a member: ptr + "/" + escape_token(key).
    std::string at(std::string_view key) const;
    // The member, or nullptr when absent.
    const nlohmann::json* get(std::string_view key) const;
};

using Keys = std::initializer_list<std::string_view>;
enum class Presence { Optional, Required };

// j at pointer ptr must be an object whose keys are all in allowed.
// Errors: "expected object (got <type>)"; "<ptr>/<key>: unknown key (allowed: a, b)".
sandbox::Result<Node> as_object(const Context& ctx, const nlohmann::json& j, std::string ptr,
                                Keys allowed);
// The member key of parent as_object()-checked, or nullopt when it is absent (the section keeps
// its defaults).
sandbox::Result<std::optional<Node>> sub_object(const Context& ctx, const Node& parent,
                                                std::string_view key, Keys allowed);

// Readers: out is replaced only when the key is present and valid.
// Errors: "expected <type> (got <type>)"; "missing required key" (read_string, Required).
sandbox::Result<void> read_bool(const Context& ctx, const Node& n, std::string_view key, bool& out);
sandbox::Result<void> read_string(const Context& ctx, const Node& n, std::string_view key,
                                  std::string& out, Presence presence = Presence::Optional);
// A string that must be one of allowed. out holds the default, which need not be in allowed.
// Errors: as read_string; "must be one of "a", "b" (got "c")".
sandbox::Result<void> read_enum(const Context& ctx, const Node& n, std::string_view key,
                                const std::vector<std::string>& allowed, std::string& out);
// An integer in [min, max]. 1.0, 1e3 and "1" are not integers; negative values are out of range.
// Errors: "expected integer (got <type>)"; "must be between <min> and <max> (got <value>)".
sandbox::Result<void> read_uint(const Context& ctx, const Node& n, std::string_view key,
                                uint64_t min, uint64_t max, uint64_t& out);
// The same check for a value already in hand (an array element, a key read by hand) at ptr.
sandbox::Result<void> check_uint(const Context& ctx, const nlohmann::json& v,
                                 const std::string& ptr, uint64_t min, uint64_t max, uint64_t& out);

// Lenient, for documents already checked or read for display (records, their entries): the
// member key's string, or "" when j is not an object, the key is absent or not a string.
std::string string_or_empty(const nlohmann::json& j, std::string_view key);

// For messages that the readers above do not cover.
// RFC 6901 reference token: "~" -> "~0", "/" -> "~1".
std::string escape_token(std::string_view key);
// The type name for "expected X (got Y)": nlohmann's, but "non-integer number" for floats.
std::string describe_type(const nlohmann::json& j);
// s with control and non-ASCII bytes written as \xNN.
std::string printable(std::string_view s);

}  // namespace runtime::json_reader
