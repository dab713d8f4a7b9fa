// Test-only entry points of json_schema.cc. Not for production callers: these skip compile()'s
// checks and strictness rewrite.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/json_schema.h"
#include "sandbox/base/result.h"

namespace runtime::schema::detail {

// Validates instance (any JSON type) against schema exactly as written: no supported-keyword
// check, no additionalProperties default, no maxLength requirement. It runs the same pipeline as
// Validator::validate (instance limits, our "pattern" matcher, valijson, error conversion), so
// the official JSON-Schema-Test-Suite can exercise valijson and the conversion together. A
// "pattern" without "maxLength" is matched only against strings up to kMaxPatternSubject
// characters. Errors: the schema cannot be parsed (valijson's message) or has a bad pattern.
sandbox::Result<std::vector<Violation>> validate_raw(const nlohmann::json& schema,
                                                     const nlohmann::json& instance);

}  // namespace runtime::schema::detail
