#include "runtime/mcp/tool_runner.h"

#include <poll.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "runtime/base/log.h"
#include "runtime/mcp/progress_reporter.h"
#include "runtime/ops/metrics.h"
#include "runtime/policy/merge.h"
#include "runtime/records/recorded_run.h"
#include "runtime/tools/arguments.h"
#include "sandbox/base/sha256.h"

namespace runtime {
namespace {

// notifications/message for the client's log, when it asked for this level or a lower one.
// data is a small object about the run: never arguments or output, which may hold secrets.
void client_log(const CallContext& ctx, const CallOrigin& origin, McpLogLevel level,
                nlohmann::json data) {
    if (!origin.log_level || level < *origin.log_level || !ctx.notify) return;
    ctx.notify({{"jsonrpc", "2.0"},
                {"method", "notifications/message"},
                {"params",
                 {{"level", mcp_log_level_name(level)},
                  {"logger", "tooljail"},
                  {"data", std::move(data)}}}});
}

// Who the metrics count a call for: the authenticated token's client (the operator named it),
// else the name the MCP client gave itself, else the transport.
std::string metrics_client(const CallOrigin& origin) {
    if (!origin.client.token_client.empty()) return origin.client.token_client;
    const nlohmann::json& info = origin.client.client_info;
    if (info.is_object() && info.contains("name") && info["name"].is_string())
        return info["name"].get<std::string>();
    return origin.client.transport;
}

bool already_cancelled(int cancel_fd) {
    if (cancel_fd < 0) return false;
    pollfd p{cancel_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

}  // namespace

sandbox::Result<std::unique_ptr<ToolRunner>> ToolRunner::create(const ToolRegistry& tools,
                                                                const PolicySet& policies,
                                                                const std::string& workspace,
                                                                std::shared_ptr<sandbox::Host> host,
                                                                RunnerOptions options) {
    auto runner = std::make_unique<ToolRunner>();
    char resolved[PATH_MAX];
    if (!::realpath(workspace.c_str(), resolved))
        return sandbox::fail(sandbox::sys_error("workspace " + workspace));
    runner->workspace_ = resolved;
    runner->options_ = options;
    runner->policies_ = policies;
    runner->archive_ = options.shared_archive ? options.shared_archive
                                              : std::make_shared<RunArchive>(options.archive);
    for (const ToolDef* tool : tools.enabled_tools()) {
        const Policy* policy = policies.find(tool->policy);
        if (!policy)
            return sandbox::fail(sandbox::Errc::NotFound, "tool '" + tool->name + "': policy '" +
                                                              tool->policy + "' not loaded");
        Policy effective = *policy;
        effective.sandbox = merge(*policy, tool->limits, RunSite{runner->workspace_, std::nullopt});
        const sandbox::SandboxConfig& config = effective.sandbox;
        auto sb = sandbox::Sandbox::prepare(config, host);
        if (!sb)
            return sandbox::fail(std::move(sb).error().with_prefix("tool '" + tool->name + "': "));
        runner->tools_.emplace(tool->name, Prepared{std::move(*sb), std::move(effective),
                                                    sandbox::sha256_hex(tool->source),
                                                    sandbox::sha256_hex(policy->source)});
    }
    return runner;
}

const Policy* ToolRunner::effective_policy(std::string_view tool) const {
    auto it = tools_.find(tool);
    return it == tools_.end() ? nullptr : &it->second.effective;
}

std::vector<metrics::PoolSample> ToolRunner::pool_stats() const {
    std::vector<metrics::PoolSample> samples;
    for (const auto& [name, prepared] : tools_)
        samples.push_back({name, prepared.sandbox->pool_stats()});
    return samples;
}

records::RunStart ToolRunner::initial_record(const CallOrigin& origin, const std::string& tool,
                                             const nlohmann::json& arguments) const {
    records::RunStart rs;
    rs.client = origin.client;
    rs.session = origin.session;
    // A malformed traceparent from a client starts a new trace.
    if (!origin.traceparent.empty()) records::apply_traceparent(rs, origin.traceparent);
    rs.tool = tool;
    rs.arguments = arguments;
    rs.workspace = workspace_;
    if (auto it = tools_.find(tool); it != tools_.end()) {
        rs.manifest_sha256 = it->second.manifest_sha256;
        rs.policy = it->second.effective.name;
        rs.policy_sha256 = it->second.policy_sha256;
    }
    return rs;
}

void ToolRunner::refuse(const records::RunStart& record, const char* reason,
                        const std::string& message) const {
    metrics::global().on_refused(reason);
    if (!options_.records) return;
    if (auto r = options_.records->refuse({record, reason, message}); !r)
        LOG_ERROR("records: could not record a refused call of {}: {}", record.tool,
                  r.error().message());
}

void ToolRunner::record_refusal(const CallOrigin& origin, const std::string& tool,
                                const nlohmann::json& arguments, const char* reason,
                                const std::string& message) const {
    refuse(initial_record(origin, tool, arguments), reason, message);
}

nlohmann::json ToolRunner::call(const ToolDef& tool, const nlohmann::json& arguments,
                                const CallContext& ctx, const CallOrigin& origin) const {
    auto it = tools_.find(tool.name);
    if (it == tools_.end())
        return refusal_result("INTERNAL", "tool '" + tool.name + "' has no prepared sandbox");
    const sandbox::Sandbox& sb = *it->second.sandbox;
    records::RunStart record = initial_record(origin, tool.name, arguments);
    record.success_exit_codes = tool.success_exit_codes;

    // Cancelled while it waited for a worker: nothing runs, but the record says so.
    if (already_cancelled(ctx.cancel_fd)) {
        refuse(record, records::kCancelled, "cancelled before it started");
        return refusal_result("CANCELLED", "the call was cancelled before it started");
    }

    auto prepared = prepare_invocation(tool, arguments, workspace_, sb.config().workspace_target);
    if (auto* bad = std::get_if<ArgumentError>(&prepared)) {
        nlohmann::json extra = {
            {"rule", bad->rule},
            {"suggestion", "fix the argument and call again; see the tool's inputSchema"}};
        if (!bad->argument.empty()) extra["argument"] = bad->argument;
        LOG_INFO("call tool={} refused rule={} argument={}", tool.name, bad->rule, bad->argument);
        refuse(record, records::kValidationError, bad->message);
        client_log(ctx, origin, McpLogLevel::Warning,
                   {{"event", "call_refused"},
                    {"tool", tool.name},
                    {"code", "VALIDATION_ERROR"},
                    {"rule", bad->rule}});
        return refusal_result("VALIDATION_ERROR", bad->message, extra);
    }
    Invocation& inv = std::get<Invocation>(prepared);

    sandbox::RunRequest request;
    request.argv = std::move(inv.argv);
    request.stdin_data = std::move(inv.stdin_data);
    request.stdin_file = std::move(inv.stdin_file);

    std::optional<ProgressReporter> progress;
    if (!origin.progress_token.is_null() && ctx.notify)
        progress.emplace(ctx, origin.progress_token);
    RunHooks hooks;
    hooks.cancel_fd = ctx.cancel_fd;
    if (progress) {
        hooks.on_output = [&progress](sandbox::Stream s, std::string_view chunk) {
            progress->output(s, chunk);
        };
        hooks.on_tick = [&progress](sandbox::Millis elapsed) { progress->tick(elapsed); };
    }
    hooks.on_unrecorded = [&tool](const sandbox::Error& e) {
        LOG_WARN("call tool={} runs without a record (--records-fail-open): {}", tool.name,
                 e.message());
    };
    hooks.on_launched = [&](const sandbox::Run& run) {
        client_log(ctx, origin, McpLogLevel::Debug,
                   {{"event", "run_started"},
                    {"run_id", run.id()},
                    {"tool", tool.name},
                    {"policy", tool.policy}});
    };
    RecordedRun ran = run_recorded(sb, std::move(request), std::move(record),
                                   {options_.records, options_.records_fail_open}, hooks,
                                   "call tool=" + tool.name);
    if (ran.refused) {
        // The details (paths, errno) are for the operator's log, not the client.
        LOG_ERROR("call tool={} refused: cannot record the start of the run: {}", tool.name,
                  ran.refused->message());
        metrics::global().on_refused("record_error");
        return refusal_result(
            "RECORD_ERROR",
            "the run was refused because its audit record could not be written; the "
            "server's operator has the details");
    }
    sandbox::Outcome& o = ran.outcome;
    metrics::global().on_finished(tool.name, metrics_client(origin),
                                  metrics::outcome_label(o, tool.success_exit_codes, ran.launched),
                                  o);
    if (ran.unfinished)
        LOG_ERROR(
            "records: could not complete the record of run {}: {} (it will be marked interrupted)",
            ran.run_id, ran.unfinished->message());
    if (!ran.launched) {
        LOG_WARN("call tool={} launch failed: {}", tool.name, o.error_message);
        client_log(ctx, origin, McpLogLevel::Error,
                   {{"event", "launch_failed"}, {"tool", tool.name}, {"code", "SANDBOX_ERROR"}});
        return refusal_result("SANDBOX_ERROR",
                              "the sandbox could not run the tool: " + o.error_message);
    }
    const std::string& run_id = ran.run_id;

    RunView view{
        o,  sb.config().limits,   run_id, tool.success_exit_codes, options_.shown_bytes, {},
        {}, origin.resource_links};
    // Keep the captured output when the result cannot show all of it and the archive can hold it.
    const ArchiveLimits& keep_limits = archive_->limits();
    bool keep =
        (o.out.data.size() > options_.shown_bytes || o.err.data.size() > options_.shown_bytes) &&
        keep_limits.max_runs > 0 && o.out.data.size() + o.err.data.size() <= keep_limits.max_bytes;
    if (keep) {
        view.stdout_uri = run_output_uri(run_id, "stdout");
        view.stderr_uri = run_output_uri(run_id, "stderr");
    }
    nlohmann::json result = run_result(view);
    if (keep) {
        nlohmann::json summary = result["structuredContent"];
        summary.erase("stdout");
        summary.erase("stderr");
        archive_->add(ArchivedRun{run_id, origin.owner, tool.name, std::chrono::system_clock::now(),
                                  std::move(summary), std::move(o.out.data),
                                  std::move(o.err.data)});
    }
    bool failed = result["isError"].get<bool>();
    client_log(ctx, origin,
               o.reason == sandbox::Termination::SandboxError ? McpLogLevel::Error
               : failed                                       ? McpLogLevel::Warning
                                                              : McpLogLevel::Info,
               {{"event", "run_finished"},
                {"run_id", run_id},
                {"tool", tool.name},
                {"reason", sandbox::termination_name(o.reason)},
                {"wall_ms", o.wall.count()}});
    return result;
}

}  // namespace runtime
