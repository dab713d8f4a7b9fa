#include "runtime/cli/serve_command.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>

#include "runtime/base/exit_codes.h"
#include "runtime/base/log.h"
#include "runtime/http/http_ops.h"
#include "runtime/mcp/call_pool.h"
#include "runtime/mcp/mcp_server.h"
#include "runtime/mcp/transport.h"
#include "runtime/policy/policy.h"
#include "runtime/serve/drain.h"
#include "runtime/serve/reload_signal.h"
#include "sandbox/base/unique_fd.h"

namespace runtime {

int serve_stdio(const ServeOptions& options) {
    block_stop_signals();  // before the warm pool's threads: the Drainer below takes the signals
    // Before the context: the list_changed listener writes here until the context is gone.
    LineWriter out(STDOUT_FILENO);
    std::atomic<bool> initialized{false};
    auto context = load_serve_context(options);
    if (!context) {
        std::cerr << "tooljail serve: " << context.error().message() << "\n";
        return kExitSandboxError;
    }
    ServeContext& ctx = **context;
    auto metrics_listener =
        http_ops::serve_metrics(options.metrics_listen, options.metrics_allow, *ctx.tools);
    if (!metrics_listener) {
        std::cerr << "tooljail serve: " << metrics_listener.error().message() << "\n";
        return kExitSandboxError;
    }
    sandbox::UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop) {
        std::cerr << "tooljail serve: eventfd: " << std::strerror(errno) << "\n";
        return kExitSandboxError;
    }
    LOG_INFO("serving {} tools over stdio, workspace={}", ctx.tools->current()->visible().size(),
             ctx.workspace);

    ServerOptions server_options{100, ctx.instructions, "stdio"};
    server_options.admission = ctx.admission.get();
    server_options.list_changed = true;
    McpServer server(*ctx.tools, server_options);
    // Not before the client finished initialize: a notification may not precede its result.
    ctx.tools->on_list_changed([&out, &initialized] {
        if (initialized.load())
            out.write_line(jsonrpc::serialize(
                {{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}}));
    });
    LineReader in(STDIN_FILENO);
    in.stop_on(stop.get());
    CallPool pool(std::max<size_t>(1, options.max_parallel), options.max_queued);
    // SIGTERM: refuse new calls, let the accepted ones finish (their replies go out), then end
    // the read loop. Declared after the pool: destroyed (joined) first.
    Drainer drainer(std::chrono::seconds(options.drain_timeout_seconds),
                    {[&pool] { pool.stop_accepting(); }, [&pool] { return pool.in_flight() == 0; },
                     [&pool, &stop] {
                         // Each call still running gets its response before the loop ends.
                         pool.shutdown(CallPool::Unfinished::Answered);
                         uint64_t one = 1;
                         if (::write(stop.get(), &one, sizeof one) != sizeof one)
                             LOG_ERROR("cannot end the stdio loop: {}", std::strerror(errno));
                     }});
    auto write = [&out](const nlohmann::json& message) {
        out.write_line(jsonrpc::serialize(message));
    };

    while (auto line = in.next()) {
        if (line->oversized) {
            out.write_line(jsonrpc::serialize(jsonrpc::error(
                nullptr, jsonrpc::kParseError,
                "message larger than " + std::to_string(kMaxLineBytes) + " bytes discarded")));
            continue;
        }
        jsonrpc::Message m = jsonrpc::parse(line->text);
        if (m.kind == jsonrpc::Kind::Notification && m.method == "notifications/cancelled") {
            if (m.params.is_object() && m.params.contains("requestId"))
                pool.cancel(m.params["requestId"].dump());
            continue;
        }
        // Whatever the method: the id belongs to a call not yet answered (docs/FAULTS.md).
        if (m.kind == jsonrpc::Kind::Request && pool.pending(m.id.dump())) {
            LOG_WARN("request {} refused: its id belongs to a call still in progress",
                     m.method.substr(0, 128));
            out.write_line(jsonrpc::serialize(jsonrpc::reused_id(m.id)));
            continue;
        }
        McpServer::Reply reply;
        try {
            reply = server.handle(m);
        } catch (const std::exception& e) {
            LOG_ERROR("{} failed: {}", m.method, e.what());
            reply.message = jsonrpc::error(m.id, jsonrpc::kInternalError, "internal error");
        }
        if (reply.message) out.write_line(jsonrpc::serialize(*reply.message));
        if (!server.protocol_version().empty()) initialized = true;
        if (reply.work) {
            auto submitted = pool.submit(m.id.dump(), std::move(reply.work), write, write);
            if (submitted == CallPool::Submit::Busy) {
                server.record_refused_call(m, records::kRateLimited, "too many calls in progress");
                out.write_line(jsonrpc::serialize(jsonrpc::error(
                    m.id, jsonrpc::kServerBusy, "too many calls in progress; retry later",
                    {{"code", "RATE_LIMITED"}, {"retry_after", 1}})));
            } else if (submitted == CallPool::Submit::Stopping) {
                server.record_refused_call(m, records::kShuttingDown,
                                           "the server is shutting down");
                out.write_line(jsonrpc::serialize(jsonrpc::error(
                    m.id, jsonrpc::kServerBusy, "the server is shutting down; no new calls",
                    {{"code", "SHUTTING_DOWN"}})));
            } else if (submitted != CallPool::Submit::Ok)
                out.write_line(jsonrpc::serialize(jsonrpc::reused_id(m.id)));
        }
    }
    // stdin closed (the client is gone) or the drain ended: cancel what runs; nothing of it may
    // outlive us.
    pool.shutdown();
    LOG_INFO("{}; shut down", drainer.stopped() ? "drained" : "stdin closed");
    return 0;
}

}  // namespace runtime
