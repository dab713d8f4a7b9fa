#include "runtime/tool_runner.h"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "runtime/arguments.h"
#include "runtime/log.h"

namespace runtime {
namespace {

using sandbox::Termination;

// Stable machine-readable codes for tool-level failures (REQUIREMENTS.md section 3), extended
// with the run outcomes a model can act on.
const char* error_code(Termination t) {
    switch (t) {
        case Termination::Exit: return "EXIT_NONZERO";
        case Termination::Signaled: return "SIGNALED";
        case Termination::Timeout: return "TIMEOUT";
        case Termination::CpuLimit: return "CPU_LIMIT";
        case Termination::MemoryLimit: return "MEMORY_LIMIT";
        case Termination::PidsLimit: return "PIDS_LIMIT";
        case Termination::OutputCap: return "OUTPUT_TRUNCATED";
        case Termination::Cancelled: return "CANCELLED";
        case Termination::SeccompViolation: return "SECCOMP_VIOLATION";
        case Termination::SandboxError: return "SANDBOX_ERROR";
    }
    return "INTERNAL";
}

std::string failure_message(const sandbox::Outcome& o, const sandbox::Limits& limits) {
    switch (o.reason) {
        case Termination::Exit: return "the program exited with status " + std::to_string(o.exit_code);
        case Termination::Signaled: return "the program was killed by signal " + std::to_string(o.signal);
        case Termination::Timeout:
            return "the run exceeded its wall-clock limit of " + std::to_string(limits.wall_timeout.count()) + " ms";
        case Termination::CpuLimit:
            return "the run exceeded its CPU-time limit of " + std::to_string(limits.cpu_time.count()) + " ms";
        case Termination::MemoryLimit:
            return "the run exceeded its memory limit of " + std::to_string(limits.memory_bytes >> 20) + " MiB";
        case Termination::PidsLimit:
            return "the run hit its process limit of " + std::to_string(limits.pids);
        case Termination::OutputCap: return "the run was stopped when its output exceeded the cap";
        case Termination::Cancelled: return "the run was cancelled";
        case Termination::SeccompViolation: return "the program made a forbidden system call and was killed";
        case Termination::SandboxError: return "the sandbox could not run the program: " + o.error_message;
    }
    return "internal error";
}

nlohmann::json error_result(const std::string& code, const std::string& message,
                            nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json err = {{"code", code}, {"message", message}};
    err.update(extra);
    nlohmann::json structured = {
        {"status", "error"}, {"reason", code == "VALIDATION_ERROR" ? "validation_error" : "sandbox_error"},
        {"exit_code", nullptr}, {"signal", nullptr}, {"stdout", ""}, {"stderr", ""},
        {"stdout_truncated", false}, {"stderr_truncated", false}, {"stdout_bytes", 0},
        {"stderr_bytes", 0}, {"wall_ms", 0}, {"cpu_ms", 0}, {"peak_memory_bytes", 0},
        {"run_id", nullptr}, {"error", err}};
    return {{"content", {{{"type", "text"}, {"text", code + ": " + message}}}},
            {"structuredContent", structured},
            {"isError", true}};
}

}  // namespace

const nlohmann::json& run_result_schema() {
    static const nlohmann::json schema = nlohmann::json::parse(R"json({
      "type": "object",
      "properties": {
        "status": {"type": "string", "enum": ["success", "failure", "error"],
                   "description": "success: exited 0; failure: ran but failed (exit status, limit, signal); error: not run"},
        "reason": {"type": "string", "description": "exit, signaled, timeout, cpu_limit, memory_limit, pids_limit, output_cap, cancelled, seccomp_violation, sandbox_error, validation_error"},
        "exit_code": {"type": ["integer", "null"]},
        "signal": {"type": ["integer", "null"]},
        "stdout": {"type": "string", "description": "captured standard output (up to the cap)"},
        "stderr": {"type": "string", "description": "captured standard error (up to the cap)"},
        "stdout_truncated": {"type": "boolean"},
        "stderr_truncated": {"type": "boolean"},
        "stdout_bytes": {"type": "integer", "description": "bytes written, including any dropped past the cap"},
        "stderr_bytes": {"type": "integer"},
        "wall_ms": {"type": "integer"},
        "cpu_ms": {"type": "integer"},
        "peak_memory_bytes": {"type": "integer"},
        "run_id": {"type": ["string", "null"]},
        "error": {"type": "object",
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                 "argument": {"type": "string"}, "rule": {"type": "string"},
                                 "suggestion": {"type": "string"}},
                  "required": ["code", "message"]}
      },
      "required": ["status", "reason", "exit_code", "signal", "stdout", "stderr", "stdout_truncated",
                   "stderr_truncated", "stdout_bytes", "stderr_bytes", "wall_ms", "cpu_ms",
                   "peak_memory_bytes", "run_id"]
    })json");
    return schema;
}

sandbox::Result<std::unique_ptr<ToolRunner>> ToolRunner::create(const ToolRegistry& tools,
                                                                const PolicySet& policies,
                                                                const std::string& workspace,
                                                                std::shared_ptr<sandbox::Host> host) {
    auto runner = std::make_unique<ToolRunner>();
    char resolved[PATH_MAX];
    if (!::realpath(workspace.c_str(), resolved))
        return sandbox::fail(sandbox::sys_error("workspace " + workspace));
    runner->workspace_ = resolved;
    for (const ToolDef* tool : tools.enabled_tools()) {
        const Policy* policy = policies.find(tool->policy);
        if (!policy)
            return sandbox::fail(sandbox::Errc::NotFound,
                                 "tool '" + tool->name + "': policy '" + tool->policy + "' not loaded");
        sandbox::SandboxConfig config = policy->sandbox;
        config.workspace = runner->workspace_;
        // Manifests may only tighten (checked at load); apply the tighter values.
        if (tool->wall_timeout) config.limits.wall_timeout = std::min(config.limits.wall_timeout, *tool->wall_timeout);
        if (tool->memory_bytes) config.limits.memory_bytes = std::min(config.limits.memory_bytes, *tool->memory_bytes);
        if (tool->output_bytes) {
            config.limits.stdout_bytes = std::min(config.limits.stdout_bytes, *tool->output_bytes);
            config.limits.stderr_bytes = std::min(config.limits.stderr_bytes, *tool->output_bytes);
        }
        auto sb = sandbox::Sandbox::prepare(config, host);
        if (!sb) return sandbox::fail(std::move(sb).error().with_prefix("tool '" + tool->name + "': "));
        runner->sandboxes_.emplace(tool->name, std::move(*sb));
    }
    return runner;
}

namespace {

// Turns output chunks and ticks into rate-limited notifications/progress. Lives on the worker
// thread that runs Run::wait, which is the only caller of its methods.
class ProgressReporter {
public:
    ProgressReporter(const CallContext& ctx, nlohmann::json token) : ctx_(ctx), token_(std::move(token)) {}

    void output(sandbox::Stream stream, std::string_view chunk) {
        if (pending_.size() < kMaxChunk) {
            if (stream == sandbox::Stream::Stderr && !in_stderr_) pending_ += "[stderr] ";
            in_stderr_ = stream == sandbox::Stream::Stderr;
            pending_.append(chunk.substr(0, kMaxChunk - pending_.size()));
        }
        bytes_ += chunk.size();
        maybe_send(std::chrono::duration_cast<sandbox::Millis>(Clock::now() - start_), false);
    }
    void tick(sandbox::Millis elapsed) { maybe_send(elapsed, true); }

private:
    using Clock = std::chrono::steady_clock;
    static constexpr size_t kMaxChunk = 4096;
    static constexpr sandbox::Millis kMinGap{500};

    void maybe_send(sandbox::Millis elapsed, bool tick) {
        auto now = Clock::now();
        if (now - last_ < kMinGap || (!tick && pending_.empty())) return;
        last_ = now;
        // progress must increase: elapsed milliseconds do, and one more than last time if not.
        progress_ = std::max<int64_t>(progress_ + 1, elapsed.count());
        std::string message = "running for " + std::to_string(elapsed.count() / 1000) + "." +
                              std::to_string((elapsed.count() % 1000) / 100) + " s, " +
                              std::to_string(bytes_) + " bytes of output";
        if (!pending_.empty()) message += "\n" + pending_;
        pending_.clear();
        in_stderr_ = false;
        ctx_.notify({{"jsonrpc", "2.0"},
                     {"method", "notifications/progress"},
                     {"params", {{"progressToken", token_}, {"progress", progress_}, {"message", message}}}});
    }

    const CallContext& ctx_;
    nlohmann::json token_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_{};
    int64_t progress_ = 0;
    uint64_t bytes_ = 0;
    std::string pending_;
    bool in_stderr_ = false;
};

}  // namespace

nlohmann::json ToolRunner::call(const ToolDef& tool, const nlohmann::json& arguments, const CallContext& ctx,
                                const nlohmann::json& progress_token) const {
    auto it = sandboxes_.find(tool.name);
    if (it == sandboxes_.end())
        return error_result("INTERNAL", "tool '" + tool.name + "' has no prepared sandbox");
    const sandbox::Sandbox& sb = *it->second;

    auto prepared = prepare_invocation(tool, arguments, workspace_, sb.config().workspace_target);
    if (auto* bad = std::get_if<ArgumentError>(&prepared)) {
        nlohmann::json extra = {{"rule", bad->rule},
                                {"suggestion", "fix the argument and call again; see the tool's inputSchema"}};
        if (!bad->argument.empty()) extra["argument"] = bad->argument;
        LOG_INFO("call tool={} refused rule={} argument={}", tool.name, bad->rule, bad->argument);
        return error_result("VALIDATION_ERROR", bad->message, extra);
    }
    Invocation& inv = std::get<Invocation>(prepared);

    sandbox::RunRequest request;
    request.argv = std::move(inv.argv);
    request.stdin_data = std::move(inv.stdin_data);
    auto run = sb.launch(request);
    if (!run) {
        LOG_WARN("call tool={} launch failed: {}", tool.name, run.error().message());
        return error_result("SANDBOX_ERROR", "the sandbox could not run the tool: " + run.error().message());
    }
    std::string run_id = (*run)->id();
    sandbox::Outcome o;
    if (!progress_token.is_null() && ctx.notify) {
        ProgressReporter progress(ctx, progress_token);
        o = (*run)->wait(
            ctx.cancel_fd,
            [&progress](sandbox::Stream s, std::string_view chunk) { progress.output(s, chunk); },
            [&progress](sandbox::Millis elapsed) { progress.tick(elapsed); });
    } else {
        o = (*run)->wait(ctx.cancel_fd);
    }
    const sandbox::Limits& limits = sb.config().limits;
    LOG_INFO("call tool={} run_id={} reason={} exit={} wall_ms={} stdout_bytes={} stderr_bytes={}", tool.name,
             run_id, sandbox::termination_name(o.reason), o.exit_code, o.wall.count(), o.out.total, o.err.total);

    bool ok = o.reason == Termination::Exit &&
              std::find(tool.success_exit_codes.begin(), tool.success_exit_codes.end(), o.exit_code) !=
                  tool.success_exit_codes.end();
    nlohmann::json structured = {
        {"status", ok ? "success" : (o.reason == Termination::SandboxError ? "error" : "failure")},
        {"reason", sandbox::termination_name(o.reason)},
        {"exit_code", o.signal == 0 && o.reason != Termination::SandboxError ? nlohmann::json(o.exit_code) : nlohmann::json(nullptr)},
        {"signal", o.signal != 0 ? nlohmann::json(o.signal) : nlohmann::json(nullptr)},
        {"stdout", o.out.data}, {"stderr", o.err.data},
        {"stdout_truncated", o.out.truncated}, {"stderr_truncated", o.err.truncated},
        {"stdout_bytes", o.out.total}, {"stderr_bytes", o.err.total},
        {"wall_ms", o.wall.count()}, {"cpu_ms", o.cpu.count()},
        {"peak_memory_bytes", o.peak_memory_bytes}, {"run_id", run_id}};

    nlohmann::json content = nlohmann::json::array();
    if (!o.out.data.empty()) content.push_back({{"type", "text"}, {"text", o.out.data}});
    if (!o.err.data.empty()) content.push_back({{"type", "text"}, {"text", "stderr:\n" + o.err.data}});
    std::string summary;
    if (!ok) {
        std::string message = failure_message(o, limits);
        structured["error"] = {{"code", error_code(o.reason)}, {"message", message}};
        summary = std::string(error_code(o.reason)) + ": " + message;
    }
    if (o.out.truncated || o.err.truncated) {
        if (!summary.empty()) summary += "\n";
        summary += "Output truncated: stdout " + std::to_string(o.out.total) + " bytes, stderr " +
                   std::to_string(o.err.total) + " bytes, of which the first " +
                   std::to_string(limits.stdout_bytes) + "/" + std::to_string(limits.stderr_bytes) +
                   " are shown (run " + run_id + "). Narrow the request (a path, a line range, a " +
                   "max count) to see the rest.";
    }
    if (!summary.empty()) content.push_back({{"type", "text"}, {"text", summary}});
    if (content.empty()) content.push_back({{"type", "text"}, {"text", "(no output)"}});
    return {{"content", content}, {"structuredContent", structured}, {"isError", !ok}};
}

}  // namespace runtime
