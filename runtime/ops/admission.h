// Admission control of `tooljail serve` (docs/ADMISSION.md): the per-client and per-tool rate
// limits of tools/call and the per-client rate of HTTP requests. Shared by every session and
// transport thread of one server; thread-safe. The concurrency cap and its bounded queue are
// CallPool's; the size and time limits of an HTTP request are runtime/http/http_limits.h's.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "runtime/ops/rate_limit.h"

namespace runtime {

struct AdmissionOptions {
    // tools/call by one client, all tools together. Off by default.
    rate_limit::Rate client_rate;
    // tools/call of one tool, all clients together; tool_rates overrides it per tool. Off by
    // default.
    rate_limit::Rate tool_rate;
    std::map<std::string, rate_limit::Rate> tool_rates;
    // HTTP: requests to /mcp by one client, any method. Off by default.
    rate_limit::Rate request_rate;
    // Bound on the buckets kept per limiter (rate_limit::KeyedLimiter).
    size_t max_keys = 4096;

    bool any() const;
};

// "TOOL=RATE[/BURST]" into options.tool_rates, or "RATE[/BURST]" into options.tool_rate.
// InvalidArgument naming the form.
sandbox::Result<void> add_tool_rate(AdmissionOptions& options, const std::string& text);

// A refusal: which limit, and the seconds until a retry could pass it.
struct Refused {
    const char* limit;  // "client" or "tool" (calls); "request" (HTTP requests)
    double retry_after;
};

// The seconds a client should wait, as sent: Retry-After takes whole seconds (RFC 9110 section
// 10.2.3), rounded up so that a retry at that time passes; at least 1.
long retry_after_header(double seconds);

class Admission {
public:
    explicit Admission(AdmissionOptions options, rate_limit::Now now = rate_limit::Clock::now);

    // One tools/call of `tool` by `client`. The client's bucket is asked first, so a client over
    // its own limit never spends the tool's tokens that other clients share.
    std::optional<Refused> admit_call(const std::string& client, const std::string& tool);
    // One HTTP request by `client`.
    std::optional<Refused> admit_request(const std::string& client);

private:
    const AdmissionOptions options_;
    rate_limit::KeyedLimiter clients_;
    rate_limit::KeyedLimiter tools_;
    rate_limit::KeyedLimiter requests_;
};

}  // namespace runtime
