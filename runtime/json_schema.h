// JSON Schema validation of tool arguments, on valijson (Debian libvalijson-dev, draft 7) with
// its nlohmann adapter. Tool manifests may use only the keywords listed in kSupportedKeywords;
// compile() refuses any other keyword so that a schema never silently means less than it says.
//
// Untrusted input meets operator-written patterns here: valijson evaluates "pattern" with
// std::regex, which recurses per character, so compile() requires every string schema that has
// a "pattern" to also bound its length with "maxLength" (at most kMaxPatternSubject).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/base/result.h"

namespace runtime::schema {

inline constexpr size_t kMaxPatternSubject = 4096;

// type, properties, required, additionalProperties, enum, const, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, items, minItems, maxItems,
// uniqueItems, default, plus the annotations title, description, examples, $schema, $comment.
const std::vector<std::string>& supported_keywords();

struct Violation {
    std::string pointer;  // JSON pointer into the instance ("" = the whole object, "/path")
    std::string keyword;  // the schema keyword that failed ("required", "maxLength", ...)
    std::string message;  // one line, safe to show to a client (no schema internals beyond it)
};

class Validator {
public:
    // Checks that schema uses only supported keywords (errors name the JSON pointer inside the
    // schema, prefixed with label), that "type" is "object" at the top, that additionalProperties
    // is given or defaults to false (strict: unknown arguments are rejected), and compiles it.
    static sandbox::Result<std::shared_ptr<const Validator>> compile(const nlohmann::json& schema,
                                                                     std::string_view label);

    // The schema as published in tools/list (with the additionalProperties default made explicit).
    const nlohmann::json& schema() const { return schema_; }

    // Fills in top-level "default"s for absent properties, then validates. Returns the
    // violations (empty = valid); on success *with_defaults holds the arguments to use.
    std::vector<Violation> validate(const nlohmann::json& instance, nlohmann::json* with_defaults) const;

    struct Impl;
    Validator(nlohmann::json schema, std::shared_ptr<Impl> impl);

private:
    nlohmann::json schema_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace runtime::schema
