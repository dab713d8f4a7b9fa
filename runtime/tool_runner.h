// ToolRunner: the bridge from a tools/call to a sandboxed run. Prepares one Sandbox per enabled
// tool at start-up (policy + the tool's tightened limits + the workspace), then turns each call
// into an Invocation, runs it and builds the MCP CallToolResult.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/call_pool.h"
#include "runtime/policy.h"
#include "runtime/tool_registry.h"
#include "sandbox/base/result.h"
#include "sandbox/launcher.h"

namespace runtime {

// The outputSchema every tool publishes unless its manifest declares its own.
const nlohmann::json& run_result_schema();

class ToolRunner {
public:
    // Fails (refuse to serve) when any enabled tool's sandbox cannot be prepared, naming it.
    static sandbox::Result<std::unique_ptr<ToolRunner>> create(const ToolRegistry& tools,
                                                               const PolicySet& policies,
                                                               const std::string& workspace,
                                                               std::shared_ptr<sandbox::Host> host);

    // Runs one call; never throws. ctx.cancel_fd cancels the run. With a progress token,
    // notifications/progress go out through ctx.notify: elapsed time about once a second and
    // the output as it arrives, at most one notification per 500 ms.
    // Returns the CallToolResult: content, structuredContent, isError.
    nlohmann::json call(const ToolDef& tool, const nlohmann::json& arguments, const CallContext& ctx,
                        const nlohmann::json& progress_token = nullptr) const;

    const std::string& workspace() const { return workspace_; }

private:
    std::string workspace_;
    std::map<std::string, std::shared_ptr<const sandbox::Sandbox>, std::less<>> sandboxes_;
};

}  // namespace runtime
