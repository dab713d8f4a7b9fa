// tooljail: the command-line entry point. Subcommands live in their own files; this one only
// parses flags and dispatches.
#include <malloc.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "runtime/base/log.h"
#include "runtime/cli/check_command.h"
#include "runtime/cli/mcp_config_command.h"
#include "runtime/cli/run_command.h"
#include "runtime/cli/runs_command.h"
#include "runtime/cli/serve_command.h"
#include "runtime/cli/token_command.h"
#include "runtime/cli/tools_command.h"
#include "runtime/cli/usage.h"
#include "runtime/http/http_transport.h"

namespace {

// Search paths (runtime/base/config_path.h, docs/INSTALL.md).
constexpr const char* kPolicyDirHelp =
    "Policy directory, or DIR:DIR... where the first holding NAME.json wins (default: "
    "/etc/tooljail/policies over the installed ones)";
constexpr const char* kToolsDirHelp =
    "Tool manifest directory, or DIR:DIR... where the first holding NAME.json wins (default: "
    "/etc/tooljail/tools.d over the installed ones)";

}  // namespace

int main(int argc, char** argv) {
    // Blocks of 1 MiB and more (request bodies, their parse, captured output) are mmapped and go
    // back to the kernel when freed. glibc would otherwise raise this threshold to the size of
    // the largest block freed so far and serve later ones from its per-thread arenas, which keep
    // what is freed: each server thread's arena would end up holding its largest request
    // (docs/BOUNDS.md). Setting it fixes the threshold; failure only costs that memory.
    if (mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1)
        std::cerr << "tooljail: mallopt(M_MMAP_THRESHOLD) failed\n";
    CLI::App app{"tooljail: run tools inside a locked-down Linux sandbox"};
    app.require_subcommand(1);
    app.set_version_flag("--version", TOOLJAIL_VERSION);
    std::string log_level = "warn";
    app.add_option("--log-level", log_level, "debug, info, warn, error or off (logs go to stderr)");
    std::string log_format = "text";
    app.add_option(
        "--log-format", log_format,
        "text, or json: one JSON object per line (ts, level, src, msg, key=value fields)");

    runtime::RunOptions run;
    std::string workspace;
    bool no_workspace = false;
    double timeout = 0;
    auto* run_cmd =
        app.add_subcommand("run", "Run one program in the sandbox and exit with its status");
    run_cmd->add_option("--policy", run.policy, "Policy name (a file in the policy directory)");
    run_cmd->add_option("--policy-dir", run.policy_dir, kPolicyDirHelp);
    auto* ws =
        run_cmd->add_option("--workspace", workspace,
                            "Directory bound read-only at /workspace (default: current directory)");
    run_cmd->add_flag("--no-workspace", no_workspace, "Bind no workspace; the program starts in /")
        ->excludes(ws);
    auto* to = run_cmd->add_option("--timeout", timeout,
                                   "Wall-clock limit in seconds (overrides the policy)");
    run_cmd->add_flag("--json", run.json, "Print the outcome as one JSON document on stdout");
    run_cmd->add_flag("--stdin", run.forward_stdin, "Pass this process's stdin to the program");
    run_cmd->add_option(
        "--records", run.records_dir,
        "Record store directory (default: $TOOLJAIL_RECORDS, /var/lib/tooljail/records as root, "
        "else ~/.local/state/tooljail/records)");
    run_cmd->add_flag("--records-fail-open", run.records_fail_open,
                      "Run even when the record cannot be written (default: refuse, exit 125)");
    run_cmd->add_flag("--syslog", run.syslog,
                      "Also send a one-line summary of the record to syslog (LOG_AUTHPRIV)");
    run_cmd->add_option(
        "--traceparent", run.traceparent,
        "W3C traceparent whose trace id the record carries (default: $TRACEPARENT)");
    run_cmd->add_option("command", run.argv, "PROGRAM [ARGS...] (after --, or as the last words)")
        ->required();
    // Everything from the program on is its argv, as with env(1) and timeout(1): "tooljail run
    // ls -la" runs "ls -la", and "tooljail run echo --json" prints --json.
    run_cmd->positionals_at_end(true);

    runtime::ServeOptions serve;
    runtime::HttpOptions http_options;
    auto* serve_cmd = app.add_subcommand(
        "serve", "Serve the tools in tools.d as an MCP server (stdio, or HTTP with --http)");
    serve_cmd->add_option("--tools-dir", serve.tools_dir, kToolsDirHelp);
    serve_cmd->add_option("--policy-dir", serve.policy_dir, kPolicyDirHelp);
    serve_cmd->add_option(
        "--workspace", serve.workspace,
        "Directory the tools see read-only at /workspace (default: current directory)");
    serve_cmd->add_option("--max-parallel", serve.max_parallel, "Tool calls running at once")
        ->check(CLI::Range(1, 256));
    serve_cmd
        ->add_option("--max-queued", serve.max_queued, "Calls waiting beyond that before refusing")
        ->check(CLI::Range(0, 4096));
    auto* http = serve_cmd->add_option(
        "--http", http_options.listen,
        "Serve MCP Streamable HTTP at http://ADDR:PORT/mcp instead of stdio (loopback only "
        "unless --auth; PORT 0 picks a free port, printed on stderr)");
    serve_cmd
        ->add_option(
            "--allowed-origin", http_options.allowed_origins,
            "With --http: also accept requests with this Origin (repeatable; default: only the "
            "listener's own http://127.0.0.1:PORT, http://localhost:PORT, http://[::1]:PORT)")
        ->needs(http);
    serve_cmd
        ->add_option(
            "--auth", http_options.auth_file,
            "With --http: require bearer tokens from this token file (see `tooljail token`; "
            "e.g. /etc/tooljail/tokens.json); allows listening beyond loopback")
        ->needs(http);
    serve_cmd
        ->add_option("--allowed-host", http_options.allowed_hosts,
                     "With --http beyond loopback: also accept requests whose Host names this "
                     "(repeatable; the listen address itself is always accepted)")
        ->needs(http);
    serve_cmd->add_option(
        "--records", serve.records_dir,
        "Record store directory (default: $TOOLJAIL_RECORDS, /var/lib/tooljail/records as root, "
        "else ~/.local/state/tooljail/records)");
    serve_cmd->add_flag("--records-fail-open", serve.records_fail_open,
                        "Serve and run calls even when records cannot be written (default: refuse "
                        "to start, and refuse each call whose record fails, RECORD_ERROR)");
    serve_cmd->add_flag("--syslog", serve.syslog,
                        "Also send a one-line summary of each record to syslog (LOG_AUTHPRIV)");
    serve_cmd
        ->add_option("--pool-size", serve.pool_size,
                     "Warm sandboxes kept ready per tool, each used for one call (0 = off: every "
                     "call builds its sandbox when it arrives)")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    serve_cmd
        ->add_option("--pool-max", serve.pool_max,
                     "Warm sandboxes kept ready for all tools together (bounds their idle memory)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    serve_cmd->add_option(
        "--tools-lock", serve.tools_lock,
        "Serve only tools whose hash this lock file approves (`tooljail tools approve`; "
        "re-read on SIGHUP)");
    serve_cmd->add_option(
        "--state", serve.state_dir,
        "Kill-switch directory (`tooljail tools disable`; default: $TOOLJAIL_STATE, "
        "/var/lib/tooljail as root, else ~/.local/state/tooljail)");

    // Admission control (docs/ADMISSION.md); rates are parsed after the command line.
    std::string client_rate;
    std::string request_rate;
    std::vector<std::string> tool_rates;
    serve_cmd->add_option(
        "--client-rate", client_rate,
        "tools/call per second by one client, RATE[/BURST] (e.g. 5/20; default off)");
    serve_cmd->add_option(
        "--tool-rate", tool_rates,
        "tools/call per second of each tool, all clients together: RATE[/BURST], or "
        "TOOL=RATE[/BURST] for one tool (repeatable; default off)");
    serve_cmd
        ->add_option("--request-rate", request_rate,
                     "With --http: requests per second by one client, any method, RATE[/BURST]; "
                     "beyond it 429 (default off)")
        ->needs(http);
    serve_cmd
        ->add_option("--max-body", http_options.max_body_bytes,
                     "With --http: the largest request body in bytes; beyond it 413")
        ->check(CLI::Range(size_t{1} << 10, size_t{64} << 20))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--max-body-total", http_options.max_body_total_bytes,
                     "With --http: request body bytes received and handled at once, all clients "
                     "together (at least --max-body); beyond it 503 with Retry-After")
        ->check(CLI::Range(size_t{1} << 10, size_t{4} << 30))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option(
            "--request-timeout", http_options.request_timeout_seconds,
            "With --http: seconds a request's headers and body may take to arrive; then the "
            "connection is closed")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option(
            "--max-get-streams", http_options.max_get_streams,
            "With --http: sessions that may keep a GET stream open at once, for notifications "
            "such as tools/list_changed (each holds a server thread; 0 = none, GET is 405)")
        ->check(CLI::Range(0, 256))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--max-sessions", http_options.max_sessions,
                     "With --http: sessions open at once, all clients together; beyond it "
                     "initialize is 503 with Retry-After")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--max-client-sessions", http_options.max_client_sessions,
                     "With --http: sessions of one client (token client, or without --auth the "
                     "uid owning the connection); one more ends its least recently used idle "
                     "session, 429 when all have calls in progress")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--session-idle", http_options.session_idle_seconds,
                     "With --http: seconds after its last request a session ends (a session that "
                     "made no request but initialize and ping: 300 s after it opened)")
        ->check(CLI::Range(int64_t{1}, int64_t{7} * 86400))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--session-lifetime", http_options.session_lifetime_seconds,
                     "With --http: seconds after it opened a session ends, however busy (after "
                     "its calls in progress; 0 = never)")
        ->check(CLI::Range(int64_t{0}, int64_t{365} * 86400))
        ->capture_default_str()
        ->needs(http);
    serve_cmd
        ->add_option("--drain-timeout", serve.drain_timeout_seconds,
                     "On SIGTERM: seconds running calls may take to finish before they are "
                     "cancelled (a second SIGTERM or SIGINT cancels at once)")
        ->check(CLI::Range(0, 3600))
        ->capture_default_str();
    serve_cmd
        ->add_option("--instance-id", http_options.instance_id,
                     "With --http: prefix session ids with NAME- so a load balancer can pin each "
                     "session to this instance (docs/OPERATIONS.md, scale-out)")
        ->check([](const std::string& v) {
            bool ok = !v.empty() && v.size() <= 16;
            for (char c : v) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
            return ok ? std::string() : std::string("--instance-id: 1..16 of [a-z0-9]");
        })
        ->needs(http);
    serve_cmd->add_option(
        "--metrics-listen", serve.metrics_listen,
        "Serve GET /metrics (Prometheus) and /healthz on this ADDR:PORT (e.g. 127.0.0.1:9464), "
        "with stdio or --http; loopback only unless --metrics-allow");
    serve_cmd->add_option(
        "--metrics-allow", serve.metrics_allow,
        "Let --metrics-listen bind beyond loopback and answer scrapers from this ADDR[/PREFIX] "
        "(repeatable; e.g. the cluster's pod network 10.0.0.0/8)");
    serve_cmd
        ->add_option("--trusted-proxy", http_options.trusted_proxies,
                     "With --http: a reverse proxy in front, ADDR[/PREFIX] (repeatable); the "
                     "client of a request it forwards is logged from X-Forwarded-For")
        ->needs(http);

    runtime::RunsOptions runs;
    auto* runs_cmd =
        app.add_subcommand("runs", "Inspect and maintain the per-run records (docs/RECORDS.md)");
    runs_cmd->require_subcommand(1);
    auto runs_sub = [&](const char* name, const char* help) {
        auto* sub = runs_cmd->add_subcommand(name, help);
        sub->add_option("--records", runs.records,
                        "Record store directory (default as for `tooljail run`)");
        sub->callback([&runs, name] { runs.action = name; });
        return sub;
    };
    auto filters = [&](CLI::App* sub) {
        sub->add_option("--since", runs.since,
                        "Only runs started at or after: RFC 3339, or a duration ago (1h, 7d)");
        sub->add_option("--until", runs.until, "Only runs started at or before (same forms)");
    };
    auto* list_cmd = runs_sub("list", "List runs (the most recent --limit), as a table or --json");
    filters(list_cmd);
    list_cmd->add_option("--tool", runs.tool, "Only this tool (or program, for tooljail run)");
    list_cmd->add_option("--client", runs.client,
                         "Only this client: transport, OS user, token client or clientInfo name");
    list_cmd->add_option("--status", runs.status,
                         "success, failure, error, refused, interrupted or running");
    list_cmd->add_option("--reason", runs.reason,
                         "exit, timeout, memory_limit, ..., validation_error, interrupted");
    list_cmd->add_option("--limit", runs.limit, "Show the most recent N (0 = all; default 50)");
    list_cmd->add_flag("--json", runs.json, "A JSON array of records instead of a table");
    auto* show_cmd = runs_sub("show", "Show one run's record and its captured output");
    show_cmd->add_option("run_id", runs.run_id, "Run id (or a unique prefix)")->required();
    show_cmd->add_flag("--json", runs.json, "One JSON document: record, stdout, stderr");
    auto* tail_cmd = runs_sub("tail", "Print journal entries as they are appended");
    tail_cmd->add_flag("-f,--follow", runs.follow, "Keep following, across segment rotation");
    tail_cmd->add_option("-n,--lines", runs.lines, "Entries to show first (default 10)");
    tail_cmd->add_flag("--json", runs.json, "Raw journal lines");
    auto* verify_cmd =
        runs_sub("verify",
                 "Check the hash chain and output files; exit 1 when tampered, 2 when runs "
                 "ended without an outcome (interrupted)");
    verify_cmd->add_flag("--json", runs.json, "The report as JSON");
    filters(runs_sub("export", "All records as JSON lines (for a SIEM)"));
    auto retention_flags = [&](CLI::App* sub, bool segment) {
        sub->add_option("--max-age", runs.max_age,
                        "Remove segments whose newest entry is older (30d, 12h; 0 = keep)");
        sub->add_option("--max-bytes", runs.max_bytes,
                        "Keep journal + output under this size (1G, 512M; 0 = no cap)");
        if (segment)
            sub->add_option("--segment-bytes", runs.segment_bytes,
                            "Rotate segments at this size (8M)");
    };
    retention_flags(
        runs_sub("prune", "Apply retention now (default: the store's retention settings)"), false);
    retention_flags(
        runs_sub("retention", "Show, or with options set, the store's retention settings"), true);

    runtime::TokenOptions token;
    auto* token_cmd = app.add_subcommand(
        "token", "Manage the bearer tokens of serve --http --auth (stored only as sha256)");
    token_cmd->require_subcommand(1);
    auto token_sub = [&](const char* name, const char* help) {
        auto* sub = token_cmd->add_subcommand(name, help);
        sub->add_option("--auth", token.auth_file,
                        "Token file (default: /etc/tooljail/tokens.json)");
        sub->callback([&token, name] { token.action = name; });
        return sub;
    };
    auto* create_cmd = token_sub("create", "Add a client and print its new token once on stdout");
    create_cmd->add_option("--client", token.client, "Client name: 1-64 of A-Za-z0-9._-")
        ->required();
    create_cmd
        ->add_option("--tools", token.tools,
                     "Tools the client may list and call: a,b,c, or * for all")
        ->required()
        ->delimiter(',');
    create_cmd->add_option("--tools-dir", token.tools_dir,
                           "Directory of tool manifests (to check --tools)");
    create_cmd->add_option("--policy-dir", token.policy_dir, kPolicyDirHelp);
    auto* token_list = token_sub("list", "List clients, their tools and creation times");
    token_list->add_flag("--json", token.json, "A JSON array instead of a table");
    token_sub("revoke", "Remove a client (its token stops working when serve gets SIGHUP)")
        ->add_option("--client", token.client, "Client name")
        ->required();

    runtime::ToolsOptions tools;
    auto* tools_cmd = app.add_subcommand(
        "tools", "Tool hashes, the approval lock file and the kill switch (docs/TOOLS.md)");
    tools_cmd->require_subcommand(1);
    auto tools_sub = [&](const char* name, const char* help, bool loads) {
        auto* sub = tools_cmd->add_subcommand(name, help);
        if (loads) {
            sub->add_option("--tools-dir", tools.tools_dir, kToolsDirHelp);
            sub->add_option("--policy-dir", tools.policy_dir, kPolicyDirHelp);
        }
        sub->callback([&tools, name] { tools.action = name; });
        return sub;
    };
    auto state_opt = [&](CLI::App* sub) {
        sub->add_option("--state", tools.state_dir, "Kill-switch directory (default as for serve)");
    };
    auto* tools_list = tools_sub("list", "Each tool's sha256 and whether it is served", true);
    tools_list->add_option("--lock", tools.lock_file, "Also show approval against this lock file");
    tools_list->add_flag("--json", tools.json, "A JSON array instead of a table");
    state_opt(tools_list);
    auto* tools_approve =
        tools_sub("approve", "Write tools' current hashes into the lock file", true);
    tools_approve->add_option("--lock", tools.lock_file, "The lock file (serve --tools-lock)")
        ->required();
    tools_approve->add_flag("--all", tools.all, "Approve exactly the current tool set");
    tools_approve->add_option("names", tools.names, "Tools to approve");
    for (auto [name, help] :
         {std::pair{"disable", "Kill switch: refuse these tools from the next call on"},
          std::pair{"enable", "Undo disable"}}) {
        auto* sub = tools_sub(name, help, false);
        sub->add_option("names", tools.names, "Tool names")->required();
        state_opt(sub);
    }

    runtime::CheckOptions check;
    auto* check_cmd = app.add_subcommand(
        "check",
        "Validate the policies and tool manifests as serve loads them; print each tool's risk, "
        "policy, limits and file (exit 1 when a file is invalid)");
    check_cmd->add_option("--tools-dir", check.tools_dir, kToolsDirHelp);
    check_cmd->add_option("--policy-dir", check.policy_dir, kPolicyDirHelp);
    check_cmd->add_option("--tools-lock", check.lock_file,
                          "Also show which tools this lock file approves (serve --tools-lock)");
    check_cmd->add_option("--state", check.state_dir,
                          "Kill-switch directory (default as for serve)");
    check_cmd->add_flag("--json", check.json, "One JSON document instead of a table");

    runtime::McpConfigOptions mcp_config;
    auto* mcp_config_cmd = app.add_subcommand(
        "mcp-config",
        "Print (or --write) an MCP client's configuration that starts this tooljail serve");
    mcp_config_cmd
        ->add_option("--client", mcp_config.client, "claude-desktop, cursor, vscode or claude-code")
        ->required();
    mcp_config_cmd->add_option(
        "--workspace", mcp_config.workspace,
        "Directory the tools see read-only (default: the current directory)");
    mcp_config_cmd->add_flag("--write", mcp_config.write,
                             "Merge the entry into the client's file (atomically, keeping the "
                             "other entries) instead of printing the result");
    mcp_config_cmd->add_option(
        "--file", mcp_config.file,
        "The client's configuration file (default: the client's, for the workspace)");
    mcp_config_cmd->add_option("--name", mcp_config.name, "The server's name in the file")
        ->capture_default_str();

    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() != 0) {
            if (auto hint = runtime::usage::misplaced_option(app, args)) {
                std::cerr << "tooljail: " << *hint << "\n";
                return runtime::kExitSandboxError;
            }
        }
        int rc = app.exit(e);
        // Usage errors share "tooljail failed" with sandbox errors (125), like timeout(1).
        return rc == 0 ? 0 : runtime::kExitSandboxError;
    }
    if (auto hint = runtime::usage::unexpanded_tilde(app)) {
        std::cerr << "tooljail: " << *hint << "\n";
        return runtime::kExitSandboxError;
    }
    runtime::log::Level level;
    if (!runtime::log::parse_level(log_level, level)) {
        std::cerr << "tooljail: unknown --log-level '" << log_level << "'\n";
        return runtime::kExitSandboxError;
    }
    runtime::log::set_level(level);
    runtime::log::Format format;
    if (!runtime::log::parse_format(log_format, format)) {
        std::cerr << "tooljail: unknown --log-format '" << log_format << "' (text or json)\n";
        return runtime::kExitSandboxError;
    }
    runtime::log::set_format(format);

    if (*run_cmd) {
        for (const std::string& arg :
             runtime::usage::run_options_after_program(*run_cmd, run.argv, args))
            std::cerr << "tooljail: note: " << arg
                      << " comes after the program, so the program gets it; tooljail's own options "
                         "go before the program (or put -- before the program)\n";
        if (no_workspace)
            run.workspace = std::string();
        else if (!workspace.empty())
            run.workspace = workspace;
        if (*to) run.timeout_seconds = timeout;
        return runtime::run_command(run);
    }
    if (*runs_cmd) return runtime::runs_command(runs);
    if (*token_cmd) return runtime::token_command(token);
    if (*serve_cmd) {
        auto rate = [](const char* flag, const std::string& text, runtime::rate_limit::Rate& out) {
            if (text.empty()) return true;
            auto parsed = runtime::rate_limit::parse_rate(text);
            if (!parsed)
                std::cerr << "tooljail serve: " << flag << ": " << parsed.error().context << "\n";
            if (parsed) out = *parsed;
            return parsed.has_value();
        };
        if (!rate("--client-rate", client_rate, serve.admission.client_rate) ||
            !rate("--request-rate", request_rate, serve.admission.request_rate))
            return runtime::kExitSandboxError;
        for (const auto& text : tool_rates)
            if (auto added = runtime::add_tool_rate(serve.admission, text); !added) {
                std::cerr << "tooljail serve: " << added.error().context << "\n";
                return runtime::kExitSandboxError;
            }
    }
    if (*tools_cmd) return runtime::tools_command(tools);
    if (*check_cmd) return runtime::check_command(check);
    if (*mcp_config_cmd) return runtime::mcp_config_command(mcp_config);
    if (*serve_cmd)
        return http_options.listen.empty() ? runtime::serve_stdio(serve)
                                           : runtime::serve_http(serve, http_options);
    return runtime::kExitSandboxError;
}
