// tooljail: the command-line entry point. Subcommands live in their own files; this one only
// parses flags and dispatches.
#include <CLI/CLI.hpp>

#include <iostream>

#include "runtime/http_transport.h"
#include "runtime/log.h"
#include "runtime/run_command.h"
#include "runtime/serve_command.h"

int main(int argc, char** argv) {
    CLI::App app{"tooljail: run tools inside a locked-down Linux sandbox"};
    app.require_subcommand(1);
    app.set_version_flag("--version", TOOLJAIL_VERSION);
    std::string log_level = "warn";
    app.add_option("--log-level", log_level, "debug, info, warn, error or off (logs go to stderr)");

    runtime::RunOptions run;
    std::string workspace;
    bool no_workspace = false;
    double timeout = 0;
    auto* run_cmd = app.add_subcommand("run", "Run one program in the sandbox and exit with its status");
    run_cmd->add_option("--policy", run.policy, "Policy name (a file in the policy directory)");
    run_cmd->add_option("--policy-dir", run.policy_dir, "Directory of policy files");
    auto* ws = run_cmd->add_option("--workspace", workspace,
                                   "Directory bound read-only at /workspace (default: current directory)");
    run_cmd->add_flag("--no-workspace", no_workspace, "Bind no workspace; the program starts in /")->excludes(ws);
    auto* to = run_cmd->add_option("--timeout", timeout, "Wall-clock limit in seconds (overrides the policy)");
    run_cmd->add_flag("--json", run.json, "Print the outcome as one JSON document on stdout");
    run_cmd->add_flag("--stdin", run.forward_stdin, "Pass this process's stdin to the program");
    run_cmd->add_option("command", run.argv, "PROGRAM [ARGS...] (after --)")->required();
    run_cmd->prefix_command(false);

    runtime::ServeOptions serve;
    auto* serve_cmd = app.add_subcommand("serve", "Serve the tools in tools.d as an MCP server (stdio, or HTTP with --http)");
    serve_cmd->add_option("--tools-dir", serve.tools_dir, "Directory of tool manifests");
    serve_cmd->add_option("--policy-dir", serve.policy_dir, "Directory of policy files");
    serve_cmd->add_option("--workspace", serve.workspace,
                          "Directory the tools see read-only at /workspace (default: current directory)");
    serve_cmd->add_option("--max-parallel", serve.max_parallel, "Tool calls running at once")->check(CLI::Range(1, 256));
    serve_cmd->add_option("--max-queued", serve.max_queued, "Calls waiting beyond that before refusing")
        ->check(CLI::Range(0, 4096));
    auto* http = serve_cmd->add_option("--http", serve.http_listen,
                                       "Serve MCP Streamable HTTP at http://ADDR:PORT/mcp instead of stdio (loopback "
                                       "only; PORT 0 picks a free port, printed on stderr)");
    serve_cmd->add_option("--allowed-origin", serve.allowed_origins,
                          "With --http: also accept requests with this Origin (repeatable; default: only the "
                          "listener's own http://127.0.0.1:PORT, http://localhost:PORT, http://[::1]:PORT)")
        ->needs(http);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        // Usage errors share "tooljail failed" with sandbox errors (125), like timeout(1).
        return rc == 0 ? 0 : runtime::kExitSandboxError;
    }
    runtime::log::Level level;
    if (!runtime::log::parse_level(log_level, level)) {
        std::cerr << "tooljail: unknown --log-level '" << log_level << "'\n";
        return runtime::kExitSandboxError;
    }
    runtime::log::set_level(level);

    if (*run_cmd) {
        if (no_workspace) run.workspace = std::string();
        else if (!workspace.empty()) run.workspace = workspace;
        if (*to) run.timeout_seconds = timeout;
        return runtime::run_command(run);
    }
    if (*serve_cmd) return serve.http_listen.empty() ? runtime::serve_stdio(serve) : runtime::serve_http(serve);
    return runtime::kExitSandboxError;
}
