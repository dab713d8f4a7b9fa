// Why a call never launched: the "reason" of a refused record (docs/RECORDS.md) and the label
// of the refusal metrics. Runs that launched end with a sandbox::termination_name() reason, or
// "interrupted". A header of its own so that a transport can count a refusal without the
// record schema.
#pragma once

namespace runtime::records {

inline constexpr const char* kValidationError = "validation_error";  // bad arguments or usage
inline constexpr const char* kPolicyDenied =
    "policy_denied";  // policy missing, invalid or forbids it
inline constexpr const char* kRateLimited = "rate_limited";    // queue full / too many calls
inline constexpr const char* kUnauthorized = "unauthorized";   // HTTP auth failed
inline constexpr const char* kSandboxError = "sandbox_error";  // host or sandbox preparation failed
inline constexpr const char* kCancelled = "cancelled";         // cancelled before it launched
inline constexpr const char* kToolDisabled = "tool_disabled";  // the kill switch (tools disable)
inline constexpr const char* kToolNotApproved =
    "tool_not_approved";  // drift: its hash is not the one in serve --tools-lock
inline constexpr const char* kShuttingDown =
    "shutting_down";  // arrived while serve drained (SIGTERM)

}  // namespace runtime::records
