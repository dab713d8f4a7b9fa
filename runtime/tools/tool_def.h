// A tool as tooljail serves it: plain data, filled in by the registry from one tools.d
// manifest (runtime/tools/tool_registry.h) and read by the argument rules, the lock, the kill
// switch, the hashes and the runner. docs/TOOLS.md documents the manifest each field comes from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/policy/merge.h"
#include "runtime/tools/json_schema.h"
#include "sandbox/spec.h"

namespace runtime {

// One argv element of the template: a literal, or exactly one argument (never split, never
// globbed). An absent optional argument drops its element (and the literal flag bound to it).
// Rendering of one value:   [flag]  prefix+value      (flag is its own element, if set)
//   {"arg":"n","flag":"-n"}            -> "-n", "5"
//   {"arg":"n","prefix":"--max-count="} -> "--max-count=5"
//   {"arg":"s","flag":"-v","prefix":"s="} -> "-v", "s=5"
// A boolean argument needs a flag and no prefix: true emits the flag, false emits nothing.
// With each, an array argument renders every item that way ("-e", "a", "-e", "b").
struct ArgvElement {
    std::string literal;  // used when arg is empty
    std::string arg;      // argument name
    std::string flag;     // optional literal emitted right before the value ("-n"), only if present
    std::string prefix;   // optional literal glued to the value in the same element ("s=")
    bool each = false;    // array argument: one element per item (each item still one element)

    bool is_literal() const { return arg.empty(); }
    // An operand: a value not bound to an option (no flag, no prefix). end_of_options puts "--"
    // before the first operand that is emitted.
    bool is_operand() const { return !arg.empty() && flag.empty() && prefix.empty(); }
};

// Per-argument handler rules, enforced after schema validation whatever the schema says.
struct ArgumentRule {
    enum class Kind { String, Path, Integer, Boolean } kind = Kind::String;
    bool allow_leading_dash = false;    // else a value starting with '-' is refused
    bool allow_metacharacters = false;  // else ; & | ` $ ( ) { } [ ] < > \ ' " * ? ! # ~ and ASCII
                                        // control characters (NL, CR, ...) are refused
    std::string metacharacter_exceptions;   // printable metacharacters allowed anyway ("~{}" for
                                            // git revisions); control characters never
    std::vector<std::string> deny_options;  // long options refused with any abbreviation
                                            // ("compress-program" refuses --compress-program=x,
                                            // --compress, --co); String kind with leading dash
    size_t max_length = 4096;               // bytes per value (each item for arrays)
    size_t max_items = 64;                  // arrays
    bool must_exist = true;  // Path: must resolve to an existing entry in the workspace
};

const char* kind_name(ArgumentRule::Kind kind);  // "string", "path", "integer", "boolean"

struct ToolDef {
    static constexpr const char* kConfigKind = "tool";  // in messages (ConfigSet)

    std::string name;  // snake_case verb_object, 1-64 of [a-z0-9_]
    std::string title;
    std::string description;                         // when to use it, what it refuses
    std::shared_ptr<const schema::Validator> input;  // compiled inputSchema
    nlohmann::json output_schema;                    // null = none declared
    nlohmann::json annotations;                      // MCP annotations object (all four hints)
    std::string risk;                                // "low" | "medium" | "high"
    // argv[0] is a literal absolute program path, or an argument whose schema is a string enum
    // (then `programs` lists the allowed argv[0] values: prefix + each enum value).
    std::vector<ArgvElement> argv;
    std::vector<std::string> programs;     // only when argv[0] comes from an argument
    bool end_of_options = false;           // insert "--" before the first operand
    std::string policy;                    // policy name (must exist)
    std::optional<std::string> stdin_arg;  // argument whose value becomes stdin
    // A path argument whose file becomes stdin: checked like a path placeholder, then opened by
    // the sandbox itself beneath the workspace (RunRequest::stdin_file), never by the program.
    std::optional<std::string> stdin_file_arg;
    std::map<std::string, ArgumentRule> rules;  // per argument (every schema property has one)
    // Per-tool tightening of the policy's limits (never loosening beyond it). output_bytes caps
    // stdout and stderr each; the server applies min(output_bytes, policy cap) per stream.
    ToolLimits limits;
    // Exit statuses that mean success for this program (grep: 1 = "no match"). Default {0}.
    std::vector<int> success_exit_codes{0};
    bool enabled = true;  // kill switch
    std::string path;     // manifest file
    std::string source;   // raw manifest text (for hashing later)

    // The tools/list entry: name, title, description, inputSchema, outputSchema?, annotations.
    nlohmann::json to_mcp() const;
};

// Tool and argument names: [a-z][a-z0-9_]{0,63}.
bool valid_tool_name(std::string_view name);

}  // namespace runtime
