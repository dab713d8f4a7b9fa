#include "runtime/serve/serve_context.h"

#include <unistd.h>

#include <climits>

#include "runtime/base/log.h"
#include "runtime/base/systemd_scope.h"
#include "runtime/policy/policy.h"

namespace runtime {
namespace {

std::string instructions(const std::string& workspace) {
    return "Tools run inside a sandbox: the workspace (" + workspace +
           ") is mounted read-only at /workspace, which is the working directory; there is no "
           "network; /tmp is private and discarded after each call. Paths are relative to the "
           "workspace. Failed runs return isError with a structured error code.";
}

}  // namespace

sandbox::Result<std::unique_ptr<ServeContext>> load_serve_context(const ServeOptions& options) {
    block_reload_signal();  // before the Host's threads start: all of them inherit the mask
    std::string workspace = options.workspace;
    if (workspace.empty()) {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd))
            return sandbox::fail(sandbox::sys_error("cannot determine the current directory"));
        workspace = cwd;
    }
    ToolSetSource source;
    source.policy_dir = options.policy_dir.empty() ? default_policy_dir() : options.policy_dir;
    source.tools_dir = options.tools_dir.empty() ? default_tools_dir() : options.tools_dir;
    source.workspace = workspace;
    source.lock_file = options.tools_lock;
    sandbox::HostOptions host_options;
    host_options.pool.per_sandbox = options.pool_size;
    host_options.pool.max_total = options.pool_max;
    // A cgroup of its own first, as `tooljail run` does (runtime/base/systemd_scope.h): a
    // desktop MCP host starts serve inside the app's own, shared cgroup.
    if (auto scope = systemd_scope::enter_if_needed(); !scope)
        return sandbox::fail(std::move(scope).error().with_prefix("host: "));
    auto host = sandbox::Host::open(host_options);
    if (!host) return sandbox::fail(std::move(host).error().with_prefix("host: "));
    source.host = std::move(*host);
    if (options.pool_size > 0)
        LOG_INFO("warm pool: {} per tool, at most {} in total", options.pool_size,
                 options.pool_max);
    else
        LOG_INFO("warm pool: off; every call builds its sandbox");
    auto context = std::make_unique<ServeContext>();
    RecordOptions record_options;
    record_options.dir = options.records_dir;  // "" = default_records_dir(), RecordStore::open
    record_options.syslog = options.syslog;
    if (auto store = RecordStore::open(record_options)) {
        context->records = std::move(*store);
    } else if (!options.records_fail_open) {
        return sandbox::fail(std::move(store).error().with_prefix(
            "cannot open the run records (--records-fail-open serves without them): "));
    } else {
        LOG_WARN("serving without run records (--records-fail-open): {}", store.error().message());
    }
    source.runner.records = context->records.get();
    source.runner.records_fail_open = options.records_fail_open;
    source.runner.shared_archive = std::make_shared<RunArchive>(source.runner.archive);
    auto first = load_tool_set(source);
    if (!first) return sandbox::fail(std::move(first).error());
    for (const auto& [tool, rate] : options.admission.tool_rates)
        if (!(*first)->tools.find_any(tool))
            return sandbox::fail(sandbox::Errc::InvalidArgument,
                                 "--tool-rate: unknown tool '" + tool + "'");
    if (options.admission.any())
        context->admission = std::make_unique<Admission>(options.admission);
    context->workspace = (*first)->runner->workspace();
    context->instructions = instructions(context->workspace);
    std::string state_dir = options.state_dir;
    if (state_dir.empty()) {
        auto fallback = default_state_dir();
        if (!fallback) return sandbox::fail(std::move(fallback).error());
        state_dir = std::move(*fallback);
    }
    context->tools = std::make_unique<LiveTools>(std::move(source), std::move(*first),
                                                 disabled_tools_file(state_dir));
    context->reloader = std::make_unique<HangupReloader>(*context->tools);
    return context;
}

}  // namespace runtime
