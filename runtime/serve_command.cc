#include "runtime/serve_command.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/log.h"
#include "runtime/mcp_server.h"
#include "runtime/policy.h"
#include "runtime/run_command.h"
#include "runtime/tool_registry.h"
#include "runtime/tool_runner.h"
#include "runtime/transport.h"
#include "sandbox/base/unique_fd.h"

namespace runtime {
namespace {

// A call waiting for or holding a worker. The eventfd is its cancel signal.
struct Call {
    std::string key;  // the request id, serialised ("1" and "\"1\"" differ)
    std::function<nlohmann::json(int)> work;
    sandbox::UniqueFd cancel;
    bool cancelled = false;
};

// Runs tools/call work on a fixed set of threads; owns the in-flight table that
// notifications/cancelled consults. A call that was cancelled sends no response.
class CallPool {
public:
    CallPool(LineWriter& out, size_t workers, size_t max_queued) : out_(out), max_queued_(max_queued) {
        for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~CallPool() { shutdown(); }

    enum class Submit { Ok, Busy, DuplicateId };
    Submit submit(const std::string& key, std::function<nlohmann::json(int)> work) {
        std::lock_guard<std::mutex> lock(mu_);
        if (calls_.count(key)) return Submit::DuplicateId;
        if (queue_.size() >= max_queued_) return Submit::Busy;
        auto call = std::make_shared<Call>();
        call->key = key;
        call->work = std::move(work);
        call->cancel.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        calls_[key] = call;
        queue_.push_back(call);
        cv_.notify_one();
        return Submit::Ok;
    }

    void cancel(const std::string& key) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = calls_.find(key);
        if (it == calls_.end()) return;  // finished already, or never ours: nothing to do
        signal(*it->second);
    }

    // Stops taking work, cancels everything in flight, waits for the workers.
    void shutdown() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (stopping_) return;
            stopping_ = true;
            for (auto& [key, call] : calls_) signal(*call);
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    static void signal(Call& call) {
        call.cancelled = true;
        uint64_t one = 1;
        ssize_t ignored = ::write(call.cancel.get(), &one, sizeof one);
        (void)ignored;
    }

    void loop() {
        for (;;) {
            std::shared_ptr<Call> call;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping
                call = queue_.front();
                queue_.pop_front();
                if (call->cancelled) {
                    calls_.erase(call->key);
                    continue;
                }
            }
            nlohmann::json reply;
            try {
                reply = call->work(call->cancel.get());
            } catch (const std::exception& e) {
                // Last-resort guard: one bad call must not take the server down.
                LOG_ERROR("tools/call {} failed: {}", call->key, e.what());
                reply = jsonrpc::error(nlohmann::json::parse(call->key), jsonrpc::kInternalError, "internal error");
            }
            bool cancelled;
            {
                std::lock_guard<std::mutex> lock(mu_);
                cancelled = call->cancelled;
                calls_.erase(call->key);
            }
            if (!cancelled) out_.write_line(jsonrpc::serialize(reply));
        }
    }

    LineWriter& out_;
    size_t max_queued_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Call>> queue_;
    std::map<std::string, std::shared_ptr<Call>> calls_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
};

std::string instructions(const std::string& workspace) {
    return "Tools run inside a sandbox: the workspace (" + workspace +
           ") is mounted read-only at /workspace, which is the working directory; there is no "
           "network; /tmp is private and discarded after each call. Paths are relative to the "
           "workspace. Failed runs return isError with a structured error code.";
}

}  // namespace

int serve_stdio(const ServeOptions& options) {
    std::string workspace = options.workspace;
    if (workspace.empty()) {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd)) {
            std::cerr << "tooljail serve: cannot determine the current directory\n";
            return kExitSandboxError;
        }
        workspace = cwd;
    }
    std::string policy_dir = options.policy_dir.empty() ? default_policy_dir() : options.policy_dir;
    auto policies = load_policy_dir(policy_dir, process_env());
    if (!policies) {
        std::cerr << "tooljail serve: " << policies.error().message() << "\n";
        return kExitSandboxError;
    }
    std::string tools_dir = options.tools_dir.empty() ? default_tools_dir() : options.tools_dir;
    auto tools = ToolRegistry::load_dir(tools_dir, *policies);
    if (!tools) {
        std::cerr << "tooljail serve: " << tools.error().message() << "\n";
        return kExitSandboxError;
    }
    auto host = sandbox::Host::open({});
    if (!host) {
        std::cerr << "tooljail serve: host: " << host.error().message() << "\n";
        return kExitSandboxError;
    }
    auto runner = ToolRunner::create(*tools, *policies, workspace, *host);
    if (!runner) {
        std::cerr << "tooljail serve: " << runner.error().message() << "\n";
        return kExitSandboxError;
    }
    LOG_INFO("serving {} tools over stdio, workspace={}", tools->enabled_tools().size(), (*runner)->workspace());

    McpServer server(*tools, **runner, ServerOptions{100, instructions((*runner)->workspace())});
    LineReader in(STDIN_FILENO);
    LineWriter out(STDOUT_FILENO);
    CallPool pool(out, std::max<size_t>(1, options.max_parallel), options.max_queued);

    while (auto line = in.next()) {
        if (line->oversized) {
            out.write_line(jsonrpc::serialize(jsonrpc::error(
                nullptr, jsonrpc::kParseError,
                "message larger than " + std::to_string(kMaxLineBytes) + " bytes discarded")));
            continue;
        }
        jsonrpc::Message m = jsonrpc::parse(line->text);
        if (m.kind == jsonrpc::Kind::Notification && m.method == "notifications/cancelled") {
            if (m.params.is_object() && m.params.contains("requestId")) pool.cancel(m.params["requestId"].dump());
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
        if (reply.work) {
            auto submitted = pool.submit(m.id.dump(), std::move(reply.work));
            if (submitted == CallPool::Submit::Busy)
                out.write_line(jsonrpc::serialize(jsonrpc::error(
                    m.id, jsonrpc::kServerBusy, "too many calls in progress; retry later",
                    {{"code", "RATE_LIMITED"}, {"retry_after", 1}})));
            else if (submitted == CallPool::Submit::DuplicateId)
                out.write_line(jsonrpc::serialize(
                    jsonrpc::error(m.id, jsonrpc::kInvalidRequest, "a request with this id is still in progress")));
        }
    }
    // stdin closed: the client is gone. Cancel what runs; nothing of it may outlive us.
    pool.shutdown();
    LOG_INFO("stdin closed; shut down");
    return 0;
}

}  // namespace runtime
