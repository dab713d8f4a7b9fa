#include "runtime/cli/check_command.h"

#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/base/exit_codes.h"
#include "runtime/policy/merge.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/tool_def.h"
#include "runtime/tools/tool_hash.h"
#include "runtime/tools/tool_kill_switch.h"
#include "runtime/tools/tool_registry.h"
#include "runtime/tools/tools_lock.h"

namespace runtime {
namespace {

using nlohmann::json;

int invalid(const std::string& message) {
    std::cerr << "tooljail check: " << message << "\n";
    return kExitCheckInvalid;
}

bool hint(const ToolDef& tool, const char* name) {
    auto it = tool.annotations.find(name);
    return it != tool.annotations.end() && it->is_boolean() && it->get<bool>();
}

// What the MCP hints say the tool does, in words: read-only, writes, or destructive; and
// whether it reaches beyond the workspace (open-world).
std::string hints_text(const ToolDef& tool) {
    std::string out = hint(tool, "readOnlyHint")      ? "read-only"
                      : hint(tool, "destructiveHint") ? "destructive"
                                                      : "writes";
    if (hint(tool, "openWorldHint")) out += ",open-world";
    return out;
}

std::string size_text(uint64_t bytes) {
    if (bytes == 0) return "-";
    if (bytes % (1ull << 30) == 0) return fmt::format("{}GiB", bytes >> 30);
    if (bytes % (1ull << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
    if (bytes % (1ull << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
    return fmt::format("{}B", bytes);
}

std::string millis_text(sandbox::Millis ms) {
    if (ms.count() == 0) return "-";
    if (ms.count() % 1000 == 0) return fmt::format("{}s", ms.count() / 1000);
    return fmt::format("{}ms", ms.count());
}

std::string program_of(const ToolDef& tool) {
    if (!tool.programs.empty()) {
        std::string out;
        for (const auto& p : tool.programs) out += (out.empty() ? "" : ",") + p;
        return out;
    }
    return tool.argv.empty() ? std::string() : tool.argv[0].literal;
}

struct Served {
    std::string state = "served";  // or why not
    bool served = true;
};

// Whether serve would serve the tool now, in the order serve decides it.
Served served_state(const ToolDef& tool, const std::optional<ToolsLock>& lock,
                    const DisabledTools& disabled, const std::string& hash) {
    if (!tool.enabled) return {"disabled in its manifest", false};
    if (disabled.count(tool.name)) return {"disabled (kill switch)", false};
    if (lock) {
        auto approved = lock->find(tool.name);
        if (approved == lock->end()) return {"not approved (not in the lock)", false};
        if (approved->second != hash) return {"not approved (changed)", false};
    }
    return {};
}

json limits_json(const sandbox::Limits& l) {
    return {{"wall_timeout_ms", l.wall_timeout.count()},
            {"cpu_time_ms", l.cpu_time.count()},
            {"memory_bytes", l.memory_bytes},
            {"pids", l.pids},
            {"cpu_percent", l.cpu_percent},
            {"stdout_bytes", l.stdout_bytes},
            {"stderr_bytes", l.stderr_bytes},
            {"tmpfs_bytes", l.tmpfs_bytes}};
}

}  // namespace

int check_command(const CheckOptions& o) {
    std::string policy_path = o.policy_dir.empty() ? default_policy_dir() : o.policy_dir;
    std::string tools_path = o.tools_dir.empty() ? default_tools_dir() : o.tools_dir;
    auto policies = load_policy_dir(policy_path, process_env());
    if (!policies) return invalid(policies.error().message());
    auto tools = ToolRegistry::load_dir(tools_path, *policies);
    if (!tools) return invalid(tools.error().message());
    std::optional<ToolsLock> lock;
    if (!o.lock_file.empty()) {
        auto read = read_tools_lock(o.lock_file);
        if (!read) return invalid(read.error().message());
        lock = std::move(*read);
    }
    DisabledTools disabled;
    auto state =
        o.state_dir.empty() ? default_state_dir() : sandbox::Result<std::string>(o.state_dir);
    // Without a home for the default state there is no kill switch to consult; --state names one.
    if (state) {
        auto read = read_disabled_tools(disabled_tools_file(*state));
        if (!read) return invalid(read.error().message());
        disabled = std::move(*read);
    } else if (!o.state_dir.empty()) {
        return invalid(state.error().message());
    }

    json doc = {{"policy_path", policy_path}, {"tools_path", tools_path}};
    json policy_list = json::array();
    for (const auto& [name, policy] : *policies)
        policy_list.push_back({{"name", name},
                               {"description", policy.description},
                               {"file", policy.path},
                               {"network", policy.sandbox.loopback ? "loopback" : "none"},
                               {"seccomp", policy.sandbox.seccomp.profile}});
    doc["policies"] = std::move(policy_list);

    json tool_list = json::array();
    std::map<std::string, int> served_by_risk;
    size_t served = 0;
    for (const auto& [name, tool] : tools->all()) {
        auto hash = tool_hash(tool);
        if (!hash) return invalid(tool.path + ": " + hash.error().message());
        Served s = served_state(tool, lock, disabled, *hash);
        const Policy& policy = *policies->find(tool.policy);
        sandbox::SandboxConfig config = merge(policy, tool.limits, RunSite{});
        if (s.served) {
            ++served;
            ++served_by_risk[tool.risk];
        }
        tool_list.push_back({{"name", name},
                             {"risk", tool.risk},
                             {"policy", tool.policy},
                             {"served", s.served},
                             {"state", s.state},
                             {"annotations", tool.annotations},
                             {"hints", hints_text(tool)},
                             {"limits", limits_json(config.limits)},
                             {"network", config.loopback ? "loopback" : "none"},
                             {"program", program_of(tool)},
                             {"file", tool.path},
                             {"sha256", *hash}});
    }
    doc["tools"] = tool_list;
    doc["served"] = served;
    doc["served_by_risk"] = served_by_risk;
    if (o.json) {
        std::cout << doc.dump(2) << "\n";
        return 0;
    }

    std::cout << "policies: " << policy_path << "\n";
    for (const auto& p : doc["policies"])
        std::cout << fmt::format("  {:<10} {:<9} {}\n", p["name"].get<std::string>(),
                                 p["network"].get<std::string>(), p["file"].get<std::string>());
    std::cout << "tools: " << tools_path << "\n";
    std::cout << fmt::format("  {:<16} {:<7} {:<9} {:<23} {:<9} {:>6} {:>7} {:<9} {}\n", "TOOL",
                             "RISK", "POLICY", "HINTS", "NETWORK", "WALL", "MEMORY", "STATE",
                             "FILE");
    for (const auto& t : tool_list) {
        const ToolDef* tool = tools->find_any(t["name"].get<std::string>());
        sandbox::SandboxConfig config =
            merge(*policies->find(tool->policy), tool->limits, RunSite{});
        std::cout << fmt::format(
            "  {:<16} {:<7} {:<9} {:<23} {:<9} {:>6} {:>7} {:<9} {}\n", tool->name, tool->risk,
            tool->policy, t["hints"].get<std::string>(), t["network"].get<std::string>(),
            millis_text(config.limits.wall_timeout), size_text(config.limits.memory_bytes),
            t["served"].get<bool>() ? "served" : "NOT", tool->path);
        if (!t["served"].get<bool>())
            std::cout << "    not served: " << t["state"].get<std::string>() << "\n";
    }
    std::string risks;
    for (const char* risk : {"low", "medium", "high"})
        if (served_by_risk.count(risk))
            risks += fmt::format("{}{} {}", risks.empty() ? "" : ", ", served_by_risk[risk], risk);
    std::cout << fmt::format("{} policies, {} tools, {} served{}{}\n", policies->size(),
                             tools->size(), served, risks.empty() ? "" : ": ", risks);
    return 0;
}

}  // namespace runtime
