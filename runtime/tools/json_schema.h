// JSON Schema validation of tool arguments, on valijson (Debian libvalijson-dev, draft 7) with
// its nlohmann adapter. Tool manifests may use only the keywords listed in supported_keywords();
// compile() refuses any other keyword so that a schema never silently means less than it says.
// "format" is refused too: valijson checks only date/time/date-time, with an unbounded regex.
//
// Untrusted input meets operator-written patterns here. valijson would evaluate "pattern" with
// std::regex's default (backtracking, recursive) executor, which overflows the stack within a few
// thousand characters and takes exponential time on patterns such as ^(a|aa)*$. So "pattern" is
// evaluated by this module instead, with libstdc++'s polynomial (Thompson NFA) executor, and
// compile() also requires every string schema that has a "pattern" to bound its length with
// "maxLength" (at most kMaxPatternSubject). Backreferences are refused (no polynomial matcher).
//
// Runs in the parent, before any sandbox exists. Nothing here throws.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/base/result.h"

namespace runtime::schema {

// Longest "maxLength" that a string schema with a "pattern" may declare (characters).
inline constexpr size_t kMaxPatternSubject = 4096;
// Longest "maxItems" that an array schema with "uniqueItems": true may declare. Uniqueness is
// checked pairwise (number equality across integers and floats is not transitive past 2^53, so
// there is no consistent sort order to use), so the cost is quadratic in this: 256 strings of
// 16 KiB that differ only at the end take ~25 ms.
inline constexpr size_t kMaxUniqueItems = 256;
// Limits on the instance, checked before valijson sees it (valijson recurses per level and keeps
// one error record per failing value): nesting levels of arrays/objects (the arguments object is
// level 1), and JSON values in total.
inline constexpr size_t kMaxInstanceDepth = 64;
inline constexpr size_t kMaxInstanceNodes = 10000;
// validate() reports at most this many violations (sorted by pointer).
inline constexpr size_t kMaxViolations = 64;

// type, properties, required, additionalProperties, enum, const, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, items, minItems, maxItems,
// uniqueItems, default, plus the annotations title, description, examples, $schema, $comment.
const std::vector<std::string>& supported_keywords();

struct Violation {
    std::string pointer;  // JSON pointer into the instance ("" = the whole object, "/path")
    std::string keyword;  // the schema keyword that failed ("required", "maxLength", ...), or
                          // "depth" / "size" / "nul" for the instance limits above
    std::string message;  // one line, safe to show to a client (no schema internals beyond it);
                          // echoes at most 64 bytes of any instance value
};

class Validator {
public:
    // Checks the schema and compiles it. Every error is Errc::InvalidArgument with context
    // "<label>: <JSON pointer inside the schema>: <what>". Refused:
    //  - a keyword outside supported_keywords() (at any level; names inside "properties" are
    //    property names, and values of enum/const/default/examples are data, not schemas);
    //  - a keyword value of the wrong shape ("minLength": -1, "required": "x", ...);
    //  - a top level that is not {"type": "object", ...};
    //  - "$schema" other than draft-07 or 2020-12 (MCP's default dialect; the supported subset
    //    means the same in both, except array-form "items", which 2020-12 does not have);
    //  - "pattern" that std::regex (ECMAScript) rejects or that has a backreference, or without
    //    a "maxLength" of at most kMaxPatternSubject beside it;
    //  - "uniqueItems": true without a "maxItems" of at most kMaxUniqueItems beside it;
    //  - a "default" that does not validate against the schema it sits in;
    //  - "required" naming a property that "additionalProperties": false forbids;
    //  - subschemas nested more than 32 deep.
    // Strictness: every schema that describes objects ("type" includes "object", or it has
    // "properties") and has no "additionalProperties" gets "additionalProperties": false, so
    // unknown arguments are rejected. Other schemas are left as written ({} still means "any").
    static sandbox::Result<std::shared_ptr<const Validator>> compile(const nlohmann::json& schema,
                                                                     std::string_view label);

    // The schema as published in tools/list (with the additionalProperties default made explicit).
    const nlohmann::json& schema() const { return schema_; }

    // Fills in top-level "default"s for absent properties, then validates. Returns the
    // violations (empty = valid); on success *with_defaults (if not null) holds the arguments to
    // use, and on failure it is left untouched. A non-object instance is one "type" violation.
    // Instances beyond the limits above (or with U+0000 in a string: arguments become argv, and
    // valijson measures strings with strlen), and "uniqueItems" arrays longer than their
    // "maxItems", get only that violation: valijson never runs. Otherwise every violation is
    // reported (up to kMaxViolations), each at the deepest pointer that explains it: a bad item
    // is reported at "/list/3", not also as an "items" failure of "/list". Note that 1.0 is not
    // an "integer" here (valijson follows draft 4; draft 6+ would accept it).
    // Safe to call from several threads at once on one Validator.
    std::vector<Violation> validate(const nlohmann::json& instance,
                                    nlohmann::json* with_defaults) const;

    struct Impl;
    Validator(nlohmann::json schema, std::shared_ptr<Impl> impl);

private:
    nlohmann::json schema_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace runtime::schema
