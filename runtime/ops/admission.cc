#include "runtime/ops/admission.h"

#include <cmath>

namespace runtime {

bool AdmissionOptions::any() const {
    if (client_rate.limited() || tool_rate.limited() || request_rate.limited()) return true;
    for (const auto& [tool, rate] : tool_rates)
        if (rate.limited()) return true;
    return false;
}

sandbox::Result<void> add_tool_rate(AdmissionOptions& options, const std::string& text) {
    auto equals = text.find('=');
    auto rate =
        rate_limit::parse_rate(equals == std::string::npos ? text : text.substr(equals + 1));
    if (!rate) return sandbox::fail(std::move(rate).error().with_prefix("--tool-rate: "));
    if (equals == std::string::npos) {
        options.tool_rate = *rate;
        return {};
    }
    std::string tool = text.substr(0, equals);
    if (tool.empty())
        return sandbox::fail(
            sandbox::Errc::InvalidArgument,
            "--tool-rate '" + text + "': expected TOOL=RATE[/BURST] or RATE[/BURST]");
    options.tool_rates[tool] = *rate;
    return {};
}

long retry_after_header(double seconds) {
    return std::max(1L, static_cast<long>(std::ceil(seconds)));
}

Admission::Admission(AdmissionOptions options, rate_limit::Now now)
    : options_(std::move(options)),
      clients_(options_.max_keys, now),
      tools_(options_.max_keys, now),
      requests_(options_.max_keys, std::move(now)) {}

std::optional<Refused> Admission::admit_call(const std::string& client, const std::string& tool) {
    if (double wait = clients_.take(client, options_.client_rate); wait > 0)
        return Refused{"client", wait};
    auto override = options_.tool_rates.find(tool);
    rate_limit::Rate rate =
        override == options_.tool_rates.end() ? options_.tool_rate : override->second;
    if (double wait = tools_.take(tool, rate); wait > 0) return Refused{"tool", wait};
    return std::nullopt;
}

std::optional<Refused> Admission::admit_request(const std::string& client) {
    if (double wait = requests_.take(client, options_.request_rate); wait > 0)
        return Refused{"request", wait};
    return std::nullopt;
}

}  // namespace runtime
