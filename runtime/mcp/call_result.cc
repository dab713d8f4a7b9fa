#include "runtime/mcp/call_result.h"

#include <algorithm>

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
        case Termination::Exit:
            return "the program exited with status " + std::to_string(o.exit_code);
        case Termination::Signaled:
            return "the program was killed by signal " + std::to_string(o.signal);
        case Termination::Timeout:
            return "the run exceeded its wall-clock limit of " +
                   std::to_string(limits.wall_timeout.count()) + " ms";
        case Termination::CpuLimit:
            return "the run exceeded its CPU-time limit of " +
                   std::to_string(limits.cpu_time.count()) + " ms";
        case Termination::MemoryLimit:
            return "the run exceeded its memory limit of " +
                   std::to_string(limits.memory_bytes >> 20) + " MiB";
        case Termination::PidsLimit:
            return "the run hit its process limit of " + std::to_string(limits.pids);
        case Termination::OutputCap: return "the run was stopped when its output exceeded the cap";
        case Termination::Cancelled: return "the run was cancelled";
        case Termination::SeccompViolation:
            return "the program made a forbidden system call and was killed";
        case Termination::SandboxError:
            return "the sandbox could not run the program: " + o.error_message;
    }
    return "internal error";
}

nlohmann::json nullable(const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

// One stream as the result shows it: the first shown bytes, and what the client should know
// about the rest.
struct Shown {
    std::string text;
    bool truncated = false;  // the result holds less than the program wrote
    std::string notice;      // empty unless truncated
};

Shown show(const char* name, const sandbox::Capture& c, uint64_t cap, size_t shown_bytes,
           const std::string& uri) {
    Shown s;
    size_t n = utf8_prefix(c.data, shown_bytes);
    s.text = c.data.substr(0, n);
    s.truncated = n < c.data.size() || c.total > c.data.size();
    if (!s.truncated) return s;
    s.notice = std::string(name) + ": the program wrote " + std::to_string(c.total) + " bytes";
    if (c.total > c.data.size())
        s.notice += "; only the first " + std::to_string(c.data.size()) +
                    " were captured (output cap " + std::to_string(cap) + " bytes)";
    s.notice += "; this result shows the first " + std::to_string(n) + ".";
    if (n < c.data.size()) {
        if (!uri.empty())
            s.notice += " Read the resource " + uri + "?offset=" + std::to_string(n) +
                        " for the rest of the captured output.";
        else
            s.notice +=
                " The rest is not kept; narrow the request (a path, a line range, a max count) to "
                "see it.";
    }
    return s;
}

}  // namespace

const nlohmann::json& run_result_schema() {
    static const nlohmann::json schema = nlohmann::json::parse(R"json({
      "type": "object",
      "properties": {
        "status": {"type": "string", "enum": ["success", "failure", "error"],
                   "description": "success: the run ended as the tool defines success; failure: ran but failed (exit status, limit, signal); error: not run"},
        "reason": {"type": "string", "description": "exit, signaled, timeout, cpu_limit, memory_limit, pids_limit, output_cap, cancelled, seccomp_violation, sandbox_error, validation_error"},
        "exit_code": {"type": ["integer", "null"]},
        "signal": {"type": ["integer", "null"]},
        "stdout": {"type": "string", "description": "standard output as shown in this result (a prefix when stdout_truncated)"},
        "stderr": {"type": "string", "description": "standard error as shown in this result (a prefix when stderr_truncated)"},
        "stdout_truncated": {"type": "boolean", "description": "stdout here is shorter than what the program wrote"},
        "stderr_truncated": {"type": "boolean"},
        "stdout_bytes": {"type": "integer", "description": "bytes the program wrote, including any dropped past the cap"},
        "stderr_bytes": {"type": "integer"},
        "stdout_captured_bytes": {"type": "integer", "description": "bytes captured (up to the policy's output cap)"},
        "stderr_captured_bytes": {"type": "integer"},
        "stdout_resource": {"type": ["string", "null"], "description": "resource URI holding the full captured stdout, while it is kept"},
        "stderr_resource": {"type": ["string", "null"]},
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
                   "stderr_truncated", "stdout_bytes", "stderr_bytes", "stdout_captured_bytes",
                   "stderr_captured_bytes", "stdout_resource", "stderr_resource", "wall_ms", "cpu_ms",
                   "peak_memory_bytes", "run_id"]
    })json");
    return schema;
}

size_t utf8_prefix(std::string_view text, size_t max_bytes) {
    if (text.size() <= max_bytes) return text.size();
    size_t n = max_bytes;
    // Step back over continuation bytes (10xxxxxx) to the lead byte; cut before it unless the
    // whole sequence fits. At most 3 steps: longer runs are invalid and cut anywhere.
    size_t lead = n;
    while (lead > 0 && n - lead < 3 && (static_cast<unsigned char>(text[lead]) & 0xC0) == 0x80)
        --lead;
    unsigned char b = static_cast<unsigned char>(text[lead]);
    if ((b & 0xC0) == 0x80) return n;  // not UTF-8 here: any cut is as good as another
    return lead;
}

nlohmann::json refusal_result(const std::string& code, const std::string& message,
                              nlohmann::json extra) {
    nlohmann::json err = {{"code", code}, {"message", message}};
    err.update(extra);
    nlohmann::json structured = {
        {"status", "error"},
        {"reason", code == "VALIDATION_ERROR" ? "validation_error" : "sandbox_error"},
        {"exit_code", nullptr},
        {"signal", nullptr},
        {"stdout", ""},
        {"stderr", ""},
        {"stdout_truncated", false},
        {"stderr_truncated", false},
        {"stdout_bytes", 0},
        {"stderr_bytes", 0},
        {"stdout_captured_bytes", 0},
        {"stderr_captured_bytes", 0},
        {"stdout_resource", nullptr},
        {"stderr_resource", nullptr},
        {"wall_ms", 0},
        {"cpu_ms", 0},
        {"peak_memory_bytes", 0},
        {"run_id", nullptr},
        {"error", err}};
    return {{"content", {{{"type", "text"}, {"text", code + ": " + message}}}},
            {"structuredContent", structured},
            {"isError", true}};
}

nlohmann::json run_result(const RunView& run) {
    const sandbox::Outcome& o = run.outcome;
    bool ok = o.reason == Termination::Exit &&
              std::find(run.success_exit_codes.begin(), run.success_exit_codes.end(),
                        o.exit_code) != run.success_exit_codes.end();
    Shown out = show("stdout", o.out, run.limits.stdout_bytes, run.shown_bytes, run.stdout_uri);
    Shown err = show("stderr", o.err, run.limits.stderr_bytes, run.shown_bytes, run.stderr_uri);
    nlohmann::json structured = {
        {"status", ok ? "success" : (o.reason == Termination::SandboxError ? "error" : "failure")},
        {"reason", sandbox::termination_name(o.reason)},
        {"exit_code", o.signal == 0 && o.reason != Termination::SandboxError
                          ? nlohmann::json(o.exit_code)
                          : nlohmann::json(nullptr)},
        {"signal", o.signal != 0 ? nlohmann::json(o.signal) : nlohmann::json(nullptr)},
        {"stdout", out.text},
        {"stderr", err.text},
        {"stdout_truncated", out.truncated},
        {"stderr_truncated", err.truncated},
        {"stdout_bytes", o.out.total},
        {"stderr_bytes", o.err.total},
        {"stdout_captured_bytes", o.out.data.size()},
        {"stderr_captured_bytes", o.err.data.size()},
        {"stdout_resource", nullable(run.stdout_uri)},
        {"stderr_resource", nullable(run.stderr_uri)},
        {"wall_ms", o.wall.count()},
        {"cpu_ms", o.cpu.count()},
        {"peak_memory_bytes", o.peak_memory_bytes},
        {"run_id", nullable(run.run_id)}};

    nlohmann::json content = nlohmann::json::array();
    if (!out.text.empty()) content.push_back({{"type", "text"}, {"text", out.text}});
    if (!err.text.empty()) content.push_back({{"type", "text"}, {"text", "stderr:\n" + err.text}});
    std::string summary;
    if (!ok) {
        std::string message = failure_message(o, run.limits);
        structured["error"] = {{"code", error_code(o.reason)}, {"message", message}};
        summary = std::string(error_code(o.reason)) + ": " + message;
    }
    for (const Shown* s : {&out, &err}) {
        if (s->notice.empty()) continue;
        if (!summary.empty()) summary += "\n";
        summary += s->notice;
    }
    if (!summary.empty()) content.push_back({{"type", "text"}, {"text", summary}});
    if (run.resource_links) {
        if (out.text.size() < o.out.data.size() && !run.stdout_uri.empty())
            content.push_back({{"type", "resource_link"},
                               {"uri", run.stdout_uri},
                               {"name", "stdout of run " + run.run_id},
                               {"mimeType", "text/plain"},
                               {"size", o.out.data.size()}});
        if (err.text.size() < o.err.data.size() && !run.stderr_uri.empty())
            content.push_back({{"type", "resource_link"},
                               {"uri", run.stderr_uri},
                               {"name", "stderr of run " + run.run_id},
                               {"mimeType", "text/plain"},
                               {"size", o.err.data.size()}});
    }
    if (content.empty()) content.push_back({{"type", "text"}, {"text", "(no output)"}});
    return {{"content", content}, {"structuredContent", structured}, {"isError", !ok}};
}

}  // namespace runtime
