#include "runtime/mcp/tool_set.h"

#include "runtime/base/log.h"
#include "runtime/ops/metrics.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/tool_hash.h"

namespace runtime {
namespace {

using HashMap = std::map<std::string, std::string, std::less<>>;

}  // namespace

bool ToolSet::approved(std::string_view tool) const {
    if (!lock) return true;
    auto want = lock->find(tool);
    auto have = hashes.find(tool);
    return want != lock->end() && have != hashes.end() && want->second == have->second;
}

std::string ToolSet::approved_hash(std::string_view tool) const {
    if (!lock) return "";
    auto it = lock->find(tool);
    return it == lock->end() ? "" : it->second;
}

HashMap ToolSet::visible() const {
    HashMap out;
    for (const auto& [name, hash] : hashes)
        if (approved(name)) out.emplace(name, hash);
    return out;
}

sandbox::Result<std::shared_ptr<const ToolSet>> load_tool_set(const ToolSetSource& source) {
    auto policies = load_policy_dir(source.policy_dir, process_env());
    if (!policies) return sandbox::fail(std::move(policies).error());
    auto tools = ToolRegistry::load_dir(source.tools_dir, *policies);
    if (!tools) return sandbox::fail(std::move(tools).error());
    auto set = std::make_shared<ToolSet>();
    set->tools = std::move(*tools);
    for (const ToolDef* tool : set->tools.enabled_tools()) {
        auto hash = tool_hash(*tool);
        if (!hash) return sandbox::fail(std::move(hash).error());
        set->hashes.emplace(tool->name, std::move(*hash));
    }
    if (!source.lock_file.empty()) {
        auto lock = read_tools_lock(source.lock_file);
        if (!lock) return sandbox::fail(std::move(lock).error());
        set->lock = std::move(*lock);
    }
    auto runner =
        ToolRunner::create(set->tools, *policies, source.workspace, source.host, source.runner);
    if (!runner) return sandbox::fail(std::move(runner).error());
    set->runner = std::move(*runner);
    for (const auto& [name, hash] : set->hashes)
        if (!set->approved(name))
            LOG_WARN(
                "tool {} is not approved in {} (approved={} current={}): not served until "
                "`tooljail tools "
                "approve`",
                name, source.lock_file,
                set->approved_hash(name).empty() ? "none" : set->approved_hash(name), hash);
    return std::shared_ptr<const ToolSet>(std::move(set));
}

LiveTools::LiveTools(ToolSetSource source, std::shared_ptr<const ToolSet> first,
                     std::string disabled_file)
    : source_(std::move(source)),
      current_(std::move(first)),
      kill_switch_(std::move(disabled_file)) {}

bool LiveTools::reload() {
    std::lock_guard lock(reload_mu_);
    LOG_INFO("reload: loading {} and {}", source_.tools_dir, source_.policy_dir);
    auto next = load_tool_set(source_);
    if (!next) {
        LOG_ERROR("reload failed, still serving the previous tools: {}", next.error().message());
        metrics::global().on_reload(false, 0);
        return false;
    }
    std::shared_ptr<const ToolSet> old = current_.load();
    std::vector<std::string> added, removed, changed;
    for (const auto& [name, hash] : (*next)->hashes) {
        auto it = old->hashes.find(name);
        if (it == old->hashes.end()) {
            added.push_back(name);
        } else if (it->second != hash) {
            changed.push_back(name);
            LOG_WARN("tool drift: {} old={} new={}", name, it->second, hash);
        }
    }
    for (const auto& [name, hash] : old->hashes)
        if (!(*next)->hashes.count(name)) removed.push_back(name);
    bool list_changed = (*next)->visible() != old->visible();
    current_.store(*next);
    metrics::global().on_reload(true, changed.size());
    LOG_INFO("reload: {} tools served, added={} removed={} changed={}{}", (*next)->visible().size(),
             log::names(added), log::names(removed), log::names(changed),
             list_changed ? "" : " (list unchanged)");
    // The old set goes when the last call that holds it ends (its warm sandboxes with it).
    old.reset();
    if (list_changed) announce();
    return true;
}

void LiveTools::on_list_changed(std::function<void()> listener) {
    bool first;
    {
        std::lock_guard lock(listeners_mu_);
        first = listeners_.empty();
        listeners_.push_back(std::move(listener));
    }
    if (!first) return;
    // Without the watcher calls still see the kill switch at once; only the announcement waits.
    if (auto watching = kill_switch_.watch([this] { announce(); }); !watching)
        LOG_ERROR("kill switch: {}; a change is not announced until the next reload",
                  watching.error().message());
}

void LiveTools::announce() {
    std::lock_guard lock(listeners_mu_);
    for (const auto& listener : listeners_) listener();
}

}  // namespace runtime
