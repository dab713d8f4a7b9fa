#include "runtime/cli/tools_command.h"

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/base/atomic_file.h"
#include "runtime/base/exit_codes.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/tool_def.h"
#include "runtime/tools/tool_hash.h"
#include "runtime/tools/tool_kill_switch.h"
#include "runtime/tools/tool_registry.h"
#include "runtime/tools/tools_lock.h"

namespace runtime {
namespace {

using HashMap = std::map<std::string, std::string, std::less<>>;

int error(const std::string& message) {
    std::cerr << "tooljail tools: " << message << "\n";
    return kExitSandboxError;
}

// tools.d as serve would load it, and the hash serve would compute for each enabled tool.
sandbox::Result<std::pair<ToolRegistry, HashMap>> load_tools(const ToolsOptions& o) {
    auto policies =
        load_policy_dir(o.policy_dir.empty() ? default_policy_dir() : o.policy_dir, process_env());
    if (!policies) return sandbox::fail(std::move(policies).error());
    auto tools =
        ToolRegistry::load_dir(o.tools_dir.empty() ? default_tools_dir() : o.tools_dir, *policies);
    if (!tools) return sandbox::fail(std::move(tools).error());
    HashMap hashes;
    for (const ToolDef* tool : tools->enabled_tools()) {
        auto hash = tool_hash(*tool);
        if (!hash) return sandbox::fail(std::move(hash).error());
        hashes.emplace(tool->name, std::move(*hash));
    }
    return std::pair{std::move(*tools), std::move(hashes)};
}

sandbox::Result<std::string> state_dir(const ToolsOptions& o) {
    if (!o.state_dir.empty()) return o.state_dir;
    return default_state_dir();
}

int list(const ToolsOptions& o) {
    auto loaded = load_tools(o);
    if (!loaded) return error(loaded.error().message());
    const auto& [tools, hashes] = *loaded;
    std::optional<ToolsLock> lock;
    if (!o.lock_file.empty()) {
        auto read = read_tools_lock(o.lock_file);
        if (!read) return error(read.error().message());
        lock = std::move(*read);
    }
    auto dir = state_dir(o);
    if (!dir) return error(dir.error().message());
    auto disabled = read_disabled_tools(disabled_tools_file(*dir));
    if (!disabled) return error(disabled.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const ToolDef* tool : tools.enabled_tools()) {
        const std::string& hash = hashes.at(tool->name);
        nlohmann::json entry = {
            {"name", tool->name}, {"sha256", hash}, {"disabled", disabled->count(tool->name) > 0}};
        std::string state = entry["disabled"] ? "disabled (kill switch)" : "served";
        if (lock) {
            auto approved = lock->find(tool->name);
            entry["approved_sha256"] = approved == lock->end() ? nlohmann::json(nullptr)
                                                               : nlohmann::json(approved->second);
            entry["approved"] = approved != lock->end() && approved->second == hash;
            if (!entry["approved"])
                state = approved == lock->end() ? "not approved (not in the lock)"
                                                : "not approved (changed)";
        }
        entry["state"] = state;
        out.push_back(std::move(entry));
    }
    if (o.json) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    for (const auto& e : out)
        std::cout << fmt::format("{:<24} {} {}\n", e["name"].get<std::string>(),
                                 e["sha256"].get<std::string>(), e["state"].get<std::string>());
    return 0;
}

int approve(const ToolsOptions& o) {
    if (o.lock_file.empty()) return error("approve needs --lock FILE");
    if (o.all == !o.names.empty()) return error("approve needs tool names or --all (not both)");
    auto loaded = load_tools(o);
    if (!loaded) return error(loaded.error().message());
    const auto& [tools, hashes] = *loaded;
    auto guard = lock_parent_dir(o.lock_file);
    if (!guard) return error("tools lock " + o.lock_file + ": " + guard.error().message());
    ToolsLock lock;
    if (!o.all) {
        auto read = read_tools_lock(o.lock_file);
        if (read) {
            lock = std::move(*read);
        } else if (read.error().code != sandbox::Errc::NotFound) {
            return error(read.error().message());
        }
    }
    std::vector<std::string> names = o.names;
    if (o.all)
        for (const auto& [name, hash] : hashes) names.push_back(name);
    for (const auto& name : names) {
        auto it = hashes.find(name);
        if (it == hashes.end())
            return error(tools.find_any(name)
                             ? "tool '" + name +
                                   "' is disabled in its manifest (\"enabled\": false)"
                             : "no tool '" + name + "' in tools.d");
        lock[name] = it->second;
    }
    if (auto w = write_tools_lock(o.lock_file, lock); !w) return error(w.error().message());
    for (const auto& name : names) std::cout << "approved " << name << " " << lock[name] << "\n";
    std::cout << "a running server takes the change at its next SIGHUP\n";
    return 0;
}

int switch_tools(const ToolsOptions& o, bool disable) {
    if (o.names.empty())
        return error(std::string(disable ? "disable" : "enable") + " needs tool names");
    for (const auto& name : o.names)
        if (!valid_tool_name(name))
            return error("'" + name + "' is not a tool name ([a-z][a-z0-9_]{0,63})");
    auto dir = state_dir(o);
    if (!dir) return error(dir.error().message());
    std::string file = disabled_tools_file(*dir);
    if (auto made = make_parent_dirs(file); !made)
        return error("disabled tools: " + made.error().message());
    auto guard = lock_parent_dir(file);
    if (!guard) return error("disabled tools " + file + ": " + guard.error().message());
    auto current = read_disabled_tools(file);
    if (!current) return error(current.error().message());
    for (const auto& name : o.names) {
        if (disable)
            current->insert(name);
        else
            current->erase(name);
    }
    if (auto w = write_disabled_tools(file, *current); !w) return error(w.error().message());
    for (const auto& name : o.names)
        std::cout << (disable ? "disabled " : "enabled ") << name << "\n";
    return 0;
}

}  // namespace

int tools_command(const ToolsOptions& options) {
    if (options.action == "list") return list(options);
    if (options.action == "approve") return approve(options);
    if (options.action == "disable") return switch_tools(options, true);
    if (options.action == "enable") return switch_tools(options, false);
    return error("unknown action '" + options.action + "'");
}

}  // namespace runtime
