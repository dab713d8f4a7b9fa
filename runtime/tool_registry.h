// tools.d: one JSON manifest per tool, loaded strictly at start-up (the allowlist). Every error
// names the file and the JSON pointer; an invalid manifest refuses start-up. docs/TOOLS.md
// documents the format.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/json_schema.h"
#include "runtime/policy.h"
#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace runtime {

// One argv element of the template: a literal, or exactly one argument (never split, never
// globbed). An absent optional argument drops its element (and the literal flag bound to it).
struct ArgvElement {
    std::string literal;   // used when arg is empty
    std::string arg;       // argument name
    std::string flag;      // optional literal emitted right before the value ("-n"), only if present
    bool each = false;     // array argument: one element per item (each item still one element)
};

// Per-argument handler rules, enforced after schema validation whatever the schema says.
struct ArgumentRule {
    enum class Kind { String, Path, Integer, Boolean } kind = Kind::String;
    bool allow_leading_dash = false;   // else a value starting with '-' is refused
    bool allow_metacharacters = false; // else ; & | ` $ ( ) { } [ ] < > \ ' " * ? ! # ~ NL CR NUL refused
    size_t max_length = 4096;          // bytes per value (each item for arrays)
    size_t max_items = 64;             // arrays
    bool must_exist = true;            // Path: must resolve to an existing entry in the workspace
};

struct ToolDef {
    std::string name;         // snake_case verb_object, 1-64 of [a-z0-9_]
    std::string title;
    std::string description;  // when to use it, what it refuses
    std::shared_ptr<const schema::Validator> input;   // compiled inputSchema
    nlohmann::json output_schema;                      // null = none declared
    nlohmann::json annotations;                        // MCP annotations object (all four hints)
    std::string risk;                                  // "low" | "medium" | "high"
    std::vector<ArgvElement> argv;                     // argv[0] is always a literal program
    bool end_of_options = false;                       // insert "--" before the first argument value
    std::string policy;                                // policy name (must exist)
    std::optional<std::string> stdin_arg;              // argument whose value becomes stdin
    std::map<std::string, ArgumentRule> rules;         // per argument (every schema property has one)
    // Per-tool tightening of the policy's limits (never loosening beyond it).
    std::optional<sandbox::Millis> wall_timeout;
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> output_bytes;
    bool enabled = true;                               // kill switch
    std::string path;                                  // manifest file
    std::string source;                                // raw manifest text (for hashing later)

    // The tools/list entry: name, title, description, inputSchema, outputSchema?, annotations.
    nlohmann::json to_mcp() const;
};

class ToolRegistry {
public:
    // Loads every *.json in dir (sorted). A manifest naming a policy not in `policies`, a
    // placeholder that names no argument, an argument without a placeholder, an invalid schema,
    // an unknown key: each fails the whole load naming the file and JSON pointer.
    static sandbox::Result<ToolRegistry> load_dir(const std::string& dir, const PolicySet& policies);

    const ToolDef* find(std::string_view name) const;  // nullptr if unknown
    std::vector<const ToolDef*> enabled_tools() const; // name order
    size_t size() const { return tools_.size(); }

    sandbox::Result<void> add(ToolDef tool);

private:
    std::map<std::string, ToolDef, std::less<>> tools_;
};

// $TOOLJAIL_TOOLS_DIR, else <source>/tools.d when present, else /usr/local/share/tooljail/tools.d.
std::string default_tools_dir();

}  // namespace runtime
