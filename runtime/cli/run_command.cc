#include "runtime/cli/run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "runtime/base/config_path.h"
#include "runtime/base/log.h"
#include "runtime/base/systemd_scope.h"
#include "runtime/policy/merge.h"
#include "runtime/policy/policy.h"
#include "runtime/records/record_store.h"
#include "runtime/records/recorded_run.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"
#include "sandbox/launcher.h"

namespace runtime {
namespace {

nlohmann::json capture_json(const sandbox::Capture& c) {
    return {{"bytes", c.total},
            {"captured_bytes", c.data.size()},
            {"truncated", c.truncated},
            {"sha256", c.sha256.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.sha256)},
            {"data", c.data}};
}

const char* status_word(const sandbox::Outcome& o) {
    if (o.reason == sandbox::Termination::SandboxError) return "error";
    return (o.reason == sandbox::Termination::Exit && o.exit_code == 0) ? "success" : "failure";
}

sandbox::Result<std::string> read_stdin(uint64_t cap) {
    std::string data;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sandbox::fail(sandbox::sys_error("read(stdin)"));
        if (n == 0) return data;
        if (data.size() + static_cast<size_t>(n) > cap)
            return sandbox::fail(
                sandbox::Errc::InvalidArgument,
                "stdin is larger than the policy's stdin_bytes (" + std::to_string(cap) + ")");
        data.append(buf, static_cast<size_t>(n));
    }
}

// Whose mistake stopped the run, for --json's "reason": "usage" (the command line asked for
// something that cannot be: fix the command) or "sandbox_error" (the host, a policy file or the
// record store failed: the operator's to fix). Both exit kExitSandboxError.
enum class Fault { Usage, Sandbox };

void report_error(const RunOptions& options, Fault fault, const std::string& message) {
    if (options.json) {
        nlohmann::json doc = {{"status", "error"},
                              {"reason", fault == Fault::Usage ? "usage" : "sandbox_error"},
                              {"policy", options.policy},
                              {"error", message}};
        std::cout << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    std::cerr << "tooljail: " << message << "\n";
}

// The workspace as the command line asks for it: nullopt (no --workspace) is the current
// directory, "" (--no-workspace) none. Never "/": binding the whole filesystem as the
// workspace is a mistake, not a wish.
sandbox::Result<std::string> resolve_workspace(const std::optional<std::string>& asked) {
    if (asked && asked->empty()) return std::string();
    std::string path;
    if (!asked) {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd))
            return sandbox::fail(sandbox::sys_error(
                "cannot determine the current directory for the workspace (pass --workspace DIR)"));
        path = cwd;
    } else {
        char resolved[PATH_MAX];
        if (!::realpath(asked->c_str(), resolved))
            return sandbox::fail(sandbox::sys_error("workspace " + *asked));
        path = resolved;
    }
    if (path == "/")
        return sandbox::fail(
            sandbox::Errc::InvalidArgument,
            asked ? "--workspace " + *asked +
                        " is the whole filesystem; name the project's directory instead"
                  : std::string("the workspace would be / (the current directory), the whole "
                                "filesystem: run tooljail from the project's directory, or pass "
                                "--workspace DIR or --no-workspace"));
    return path;
}

// "ci, default, strict": the policies a --policy could name, for the message of a wrong one.
std::string policy_names(const std::string& search_path) {
    auto files = config_path::list_json_files(search_path, "policy directory", "none");
    if (!files) return "none readable";
    std::string names;
    for (const std::string& file : *files) {
        std::string stem = file.substr(file.rfind('/') + 1);
        stem.resize(stem.size() - 5);  // ".json"
        names += (names.empty() ? "" : ", ") + stem;
    }
    return names.empty() ? "none" : names;
}

}  // namespace

int exit_status_for(const sandbox::Outcome& o) {
    using sandbox::Termination;
    switch (o.reason) {
        case Termination::Exit: return o.exit_code;
        case Termination::Signaled:
        case Termination::SeccompViolation: return 128 + o.signal;
        case Termination::Cancelled: return 128 + (o.signal > 0 ? o.signal : SIGTERM);
        case Termination::Timeout: return kExitTimeout;
        case Termination::CpuLimit:
        case Termination::MemoryLimit:
        case Termination::PidsLimit:
        case Termination::OutputCap: return kExitResourceLimit;
        case Termination::SandboxError:
            if (o.failed_step == sandbox::Step::Execve) {
                if (o.failed_errno == ENOENT || o.failed_errno == ENOTDIR) return kExitNotFound;
                return kExitNotExecutable;
            }
            return kExitSandboxError;
    }
    return kExitSandboxError;
}

nlohmann::json outcome_to_json(const sandbox::Outcome& o, const std::string& policy,
                               const std::string& run_id) {
    nlohmann::json doc = {
        {"status", status_word(o)},
        {"reason", sandbox::termination_name(o.reason)},
        {"exit_code", o.reason == sandbox::Termination::SandboxError || o.signal != 0
                          ? nlohmann::json(nullptr)
                          : nlohmann::json(o.exit_code)},
        {"signal", o.signal != 0 ? nlohmann::json(o.signal) : nlohmann::json(nullptr)},
        {"wall_ms", o.wall.count()},
        {"cpu_ms", o.cpu.count()},
        {"peak_memory_bytes", o.peak_memory_bytes},
        {"oom_kills", o.oom_kills},
        {"pids_limit_hits", o.pids_limit_hits},
        {"stdout", capture_json(o.out)},
        {"stderr", capture_json(o.err)},
        {"policy", policy},
        {"run_id", run_id},
        {"tooljail_exit_status", exit_status_for(o)},
    };
    if (o.reason == sandbox::Termination::SandboxError) {
        doc["error"] = o.error_message;
        doc["failed_step"] = sandbox::step_name(o.failed_step);
        doc["errno"] = o.failed_errno;
    }
    return doc;
}

namespace {

// The run's record, as far as it is known before any check: refusals record this much.
records::RunStart initial_record(const RunOptions& options) {
    records::RunStart rs;
    rs.client.transport = "cli";
    rs.client.os_user = records::current_os_user();
    rs.policy = options.policy;
    rs.argv = options.argv;
    std::string traceparent = options.traceparent;
    if (traceparent.empty()) {
        if (const char* env = std::getenv("TRACEPARENT")) traceparent = env;
    }
    if (!traceparent.empty() && !records::apply_traceparent(rs, traceparent))
        LOG_WARN("ignoring malformed traceparent '{}'", traceparent);
    return rs;
}

}  // namespace

int run_command(const RunOptions& options) {
    // The record store comes first, so that every refusal below is recorded too.
    std::unique_ptr<RecordStore> store;
    RecordOptions record_options;
    record_options.dir = options.records_dir;  // "" = default_records_dir()
    record_options.syslog = options.syslog;
    auto opened = RecordStore::open(record_options);
    const std::string records_dir = opened ? (*opened)->dir() : options.records_dir;
    const std::string store_name = records_dir.empty() ? "" : " " + records_dir;
    if (opened) {
        store = std::move(*opened);
    } else if (!options.records_fail_open) {
        report_error(options, Fault::Sandbox,
                     "cannot open the record store" + store_name + ": " + opened.error().message() +
                         "; refusing to run without a record (--records-fail-open runs anyway)");
        return kExitSandboxError;
    } else {
        std::cerr << "tooljail: warning: running without a record (--records-fail-open): cannot "
                     "open the record store"
                  << store_name << ": " << opened.error().message() << "\n";
    }
    records::RunStart record = initial_record(options);
    auto refuse = [&](const char* reason, Fault fault, const std::string& message) {
        report_error(options, fault, message);
        if (store) {
            if (auto r = store->refuse({record, reason, message}); !r)
                std::cerr << "tooljail: records: could not record the refusal in " << records_dir
                          << ": " << r.error().message() << "\n";
        }
        return kExitSandboxError;
    };

    if (options.argv.empty())
        return refuse(records::kValidationError, Fault::Usage,
                      "no program given (usage: tooljail run [OPTIONS] -- PROGRAM [ARGS...])");
    // A policy is named, never a path: "--policy ../x" must not reach files outside the directory.
    bool plain = !options.policy.empty() && options.policy.size() <= 64;
    for (char ch : options.policy)
        plain = plain &&
                ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-');
    if (!plain)
        return refuse(records::kValidationError, Fault::Usage,
                      "--policy must be a policy name ([a-z0-9_-], at most 64), got '" +
                          options.policy + "'");
    std::string dir = options.policy_dir.empty() ? default_policy_dir() : options.policy_dir;
    auto file = config_path::find_json_file(dir, options.policy);
    auto policy = file ? load_policy_file(*file, process_env()) : sandbox::fail(file.error());
    if (!policy && policy.error().sys_errno == ENOENT)
        return refuse(records::kPolicyDenied, Fault::Usage,
                      "unknown policy '" + options.policy + "' (policies in " + dir + ": " +
                          policy_names(dir) + ")");
    if (!policy)
        return refuse(records::kPolicyDenied, Fault::Sandbox,
                      "policy '" + options.policy + "': " + policy.error().message());
    record.policy_sha256 = sandbox::sha256_hex(policy->source);
    RunSite site;
    auto workspace = resolve_workspace(options.workspace);
    if (!workspace)
        return refuse(records::kValidationError, Fault::Usage, workspace.error().message());
    site.workspace = std::move(*workspace);
    record.workspace = site.workspace;
    if (options.timeout_seconds) {
        double s = *options.timeout_seconds;
        if (!(s > 0) || s > 86400)
            return refuse(records::kValidationError, Fault::Usage,
                          "--timeout must be between 0 and 86400 seconds");
        site.wall_timeout = sandbox::Millis{static_cast<int64_t>(std::ceil(s * 1000))};
    }
    const sandbox::SandboxConfig config = merge(*policy, ToolLimits{}, site);

    sandbox::RunRequest request;
    request.argv = options.argv;
    if (options.forward_stdin) {
        auto data = read_stdin(config.limits.stdin_bytes);
        if (!data) return refuse(records::kValidationError, Fault::Usage, data.error().message());
        record.stdin_bytes = data->size();
        record.stdin_sha256 = sandbox::sha256_hex(*data);
        request.stdin_data = std::move(*data);
    }

    // On a cgroup v2 host, a cgroup of tooljail's own first (a login shell's or a desktop app's
    // is shared): systemd moves this process into a delegated scope.
    if (auto scope = systemd_scope::enter_if_needed(); !scope)
        return refuse(records::kSandboxError, Fault::Sandbox, "host: " + scope.error().message());
    // One launch follows at once, and its leaf creation checks what prepare's probe leaf would.
    sandbox::HostOptions host_options;
    host_options.probe_cgroups = false;
    auto host = sandbox::Host::open(host_options);
    if (!host)
        return refuse(records::kSandboxError, Fault::Sandbox, "host: " + host.error().message());
    auto sb = sandbox::Sandbox::prepare(config, *host);
    if (!sb) return refuse(records::kSandboxError, Fault::Sandbox, sb.error().message());

    // SIGINT/SIGTERM to tooljail cancel the run (the whole tree dies) instead of orphaning it.
    // Blocked before the start entry, so a signal after it is a recorded cancellation.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    sandbox::UniqueFd cancel(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));

    RunHooks hooks;
    hooks.cancel_fd = cancel.get();
    // Without --json the program's output streams through as it arrives, as if unsandboxed.
    if (!options.json) {
        hooks.on_output = [](sandbox::Stream s, std::string_view chunk) {
            int fd = s == sandbox::Stream::Stdout ? STDOUT_FILENO : STDERR_FILENO;
            auto ignored = sandbox::sys::write_all(fd, chunk);
            (void)ignored;
        };
    }
    hooks.on_unrecorded = [](const sandbox::Error& e) {
        std::cerr << "tooljail: warning: running without a record (--records-fail-open): "
                  << e.message() << "\n";
    };
    hooks.amend = [&cancel](sandbox::Outcome& o) {
        if (o.reason != sandbox::Termination::Cancelled) return;
        signalfd_siginfo si{};
        if (::read(cancel.get(), &si, sizeof si) == sizeof si)
            o.signal = static_cast<int>(si.ssi_signo);
    };
    RecordedRun ran = run_recorded(**sb, std::move(request), std::move(record),
                                   {store.get(), options.records_fail_open}, hooks, "run");
    if (ran.refused) {
        report_error(options, Fault::Sandbox,
                     "cannot record the start of the run in " + records_dir + ": " +
                         ran.refused->message() +
                         "; refusing to run without a record (--records-fail-open runs anyway)");
        return kExitSandboxError;
    }
    if (ran.unfinished)
        std::cerr << "tooljail: records: could not complete the record of run " << ran.run_id
                  << " in " << records_dir << ": " << ran.unfinished->message()
                  << " (it will be marked interrupted)\n";
    const sandbox::Outcome& outcome = ran.outcome;
    const std::string& run_id = ran.run_id;

    int status = exit_status_for(outcome);
    if (options.json) {
        auto doc = outcome_to_json(outcome, options.policy, run_id);
        if (!ran.trace_id.empty()) doc["trace_id"] = ran.trace_id;
        std::cout << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        if (outcome.out.truncated || outcome.err.truncated)
            std::cerr << "tooljail: output truncated (stdout " << outcome.out.total
                      << " bytes, stderr " << outcome.err.total << " bytes; caps "
                      << config.limits.stdout_bytes << "/" << config.limits.stderr_bytes
                      << "); use --json or a policy with larger caps\n";
        if (outcome.reason == sandbox::Termination::SandboxError)
            std::cerr << "tooljail: " << outcome.error_message << "\n";
        else if (outcome.reason != sandbox::Termination::Exit)
            std::cerr << "tooljail: run ended: " << sandbox::termination_name(outcome.reason)
                      << "\n";
    }
    return status;
}

}  // namespace runtime
