// ToolRunner: the bridge from a tools/call to a sandboxed run. Prepares one Sandbox per enabled
// tool at start-up (policy + the tool's tightened limits + the workspace), then turns each call
// into an Invocation, runs it, keeps its captured output for the resources and builds the MCP
// CallToolResult (runtime/mcp/call_result.h).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/call_result.h"
#include "runtime/mcp/mcp_log_level.h"
#include "runtime/mcp/run_archive.h"
#include "runtime/ops/metrics.h"
#include "runtime/policy/policy.h"
#include "runtime/records/record_store.h"
#include "runtime/tools/tool_registry.h"
#include "sandbox/base/result.h"
#include "sandbox/launcher.h"

namespace runtime {

struct RunnerOptions {
    size_t shown_bytes = 64 * 1024;  // per stream in a tool result; the rest via resources
    ArchiveLimits archive;           // captured output kept for resources
    // The archive to keep it in, shared by the runners of successive tool sets (a reload keeps
    // the runs' output readable); null = a new one with the limits above.
    std::shared_ptr<RunArchive> shared_archive;
    // Every call gets a record here (refusals too); null = none. A run whose record cannot be
    // started is refused (RECORD_ERROR) unless records_fail_open.
    RecordStore* records = nullptr;
    bool records_fail_open = false;
};

// Who made a call, and what they asked for besides the arguments.
struct CallOrigin {
    records::ClientIdentity client;        // for the record
    std::string session;                   // MCP session id; "" = none
    std::string traceparent;               // W3C traceparent from the call's _meta; "" = none
    std::string owner;                     // may read the run's output afterwards
    nlohmann::json progress_token;         // null: no notifications/progress
    std::optional<McpLogLevel> log_level;  // notifications/message at or above; none if unset
    bool resource_links = true;            // the protocol version has resource_link content
};

class ToolRunner {
public:
    // Fails (refuse to serve) when any enabled tool's sandbox cannot be prepared, naming it.
    static sandbox::Result<std::unique_ptr<ToolRunner>> create(const ToolRegistry& tools,
                                                               const PolicySet& policies,
                                                               const std::string& workspace,
                                                               std::shared_ptr<sandbox::Host> host,
                                                               RunnerOptions options = {});

    // Runs one call; never throws. ctx.cancel_fd cancels the run. With a progress token,
    // notifications/progress go out through ctx.notify: elapsed time about once a second and
    // the output as it arrives, at most one notification per 500 ms. With a log level,
    // notifications/message about the run (never its arguments or output) go the same way.
    // Returns the CallToolResult: content, structuredContent, isError.
    nlohmann::json call(const ToolDef& tool, const nlohmann::json& arguments,
                        const CallContext& ctx, const CallOrigin& origin = {}) const;

    const std::string& workspace() const { return workspace_; }
    const PolicySet& policies() const { return policies_; }
    // The policy a tool runs under, with the tool's tightened limits and the workspace applied;
    // nullptr for an unknown or disabled tool.
    const Policy* effective_policy(std::string_view tool) const;
    const RunArchive& archive() const { return *archive_; }
    // The warm-pool state of every prepared tool, for /metrics.
    std::vector<metrics::PoolSample> pool_stats() const;

    // Records a call refused before it reached a tool (unknown tool, server busy): reason is one
    // of the records::k* refusal reasons. No-op without a store.
    void record_refusal(const CallOrigin& origin, const std::string& tool,
                        const nlohmann::json& arguments, const char* reason,
                        const std::string& message) const;

private:
    struct Prepared {
        std::shared_ptr<const sandbox::Sandbox> sandbox;
        Policy effective;
        std::string manifest_sha256;
        std::string policy_sha256;
    };

    // What the record knows of a call before any check.
    records::RunStart initial_record(const CallOrigin& origin, const std::string& tool,
                                     const nlohmann::json& arguments) const;
    void refuse(const records::RunStart& record, const char* reason,
                const std::string& message) const;

    std::string workspace_;
    RunnerOptions options_;
    PolicySet policies_;
    std::map<std::string, Prepared, std::less<>> tools_;
    std::shared_ptr<RunArchive> archive_;
};

}  // namespace runtime
