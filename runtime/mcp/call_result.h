// The MCP CallToolResult of a sandboxed run: text content for the model, structuredContent that
// matches run_result_schema(), isError. Pure functions over a finished run, so every shape the
// client can see is unit-tested without launching anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/spec.h"

namespace runtime {

// The outputSchema every tool publishes unless its manifest declares its own.
const nlohmann::json& run_result_schema();

// A result for a call that never ran: validation, policy or sandbox refusal. code is the
// machine-readable error code (VALIDATION_ERROR, SANDBOX_ERROR, ...); extra goes into
// structuredContent.error (argument, rule, suggestion).
nlohmann::json refusal_result(const std::string& code, const std::string& message,
                              nlohmann::json extra = nlohmann::json::object());

// The longest prefix of text no longer than max_bytes that does not split a UTF-8 sequence.
// Invalid bytes count as one-byte characters (they are passed through; JSON output replaces them).
size_t utf8_prefix(std::string_view text, size_t max_bytes);

struct RunView {
    const sandbox::Outcome& outcome;
    const sandbox::Limits& limits;
    std::string run_id;
    std::vector<int> success_exit_codes;
    // Bytes of each stream shown in the result; the rest of the captured output stays
    // readable through the resources below (empty = not kept).
    size_t shown_bytes = 64 * 1024;
    std::string stdout_uri;  // tooljail://runs/{id}/stdout, or empty
    std::string stderr_uri;
    bool resource_links = true;  // the client's protocol has resource_link content (2025-06-18+)
};

nlohmann::json run_result(const RunView& run);

}  // namespace runtime
