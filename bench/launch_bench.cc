// Launch latency of /bin/true, from request to reaped exit, for four launchers measured in one
// process run so the numbers are comparable (docs/BENCHMARKS.md has the method and results):
//
//   bare              posix_spawn(/bin/true) + waitpid. glibc's posix_spawn is clone(CLONE_VM |
//                     CLONE_VFORK) + execve, the cheapest way a supervisor can start a program.
//   bwrap             posix_spawn(bwrap ... /bin/true) + waitpid: namespaces and mounts only.
//   tooljail_default  sandbox::run_once under policies/default.json: all namespaces, the mount
//   tooljail_strict   tree, seccomp, capabilities, Landlock, rlimits and the cgroup leaf.
//   tooljail_default_pool  the same policy on a Host with the warm pool (2 per Sandbox, as
//                     `tooljail serve` runs it): launch + wait of a warm sandbox when one is
//                     ready, the cold path otherwise. Counters: warm_pct (launches that found a
//                     warm sandbox), launch_p50_ms (request to exec seen) and wait_p50_ms (exec
//                     to Outcome: the program, pid-namespace exit, reap, stats, leaf removal).
//
// Each launcher runs in two modes: back-to-back, and after 50 ms of idle (the sleep is not
// timed). Every launch is timed on its own with steady_clock and reported through manual time;
// the per-launch distribution (p50/p95/mean/min/max, ms) goes into counters, because Google
// Benchmark's own statistics are over repetitions, not iterations. The throughput variants run
// two worker threads launching back-to-back and report launches per wall-clock second.
//
// The benchmark needs root or unprivileged user namespaces, like tooljail itself. A launcher that
// cannot run on this host reports SkipWithError with the reason instead of a number.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "runtime/policy/policy.h"
#include "sandbox/launcher.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBackToBackLaunches = 200;
constexpr int kIdleLaunches = 40;
constexpr int kThroughputLaunchesPerThread = 150;
constexpr int kWarmupLaunches = 5;  // page cache, dentries, first cgroup mkdir: not steady state
constexpr auto kIdle = std::chrono::milliseconds(50);
constexpr const char* kProgram = "/bin/true";
constexpr const char* kBwrap = "/usr/bin/bwrap";

// One launch: empty string on success, else what went wrong.
using Launcher = std::function<std::string()>;

std::string spawn_and_wait(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    int err = ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (err != 0) return "posix_spawn(" + args[0] + "): " + std::strerror(err);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return std::string("waitpid: ") + std::strerror(errno);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return args[0] + " did not exit 0 (wait status " + std::to_string(status) + ")";
    return {};
}

std::string tooljail_launch(const sandbox::Sandbox& sb) {
    sandbox::Outcome o = sandbox::run_once(sb, sandbox::RunRequest{{kProgram}});
    if (o.reason == sandbox::Termination::Exit && o.exit_code == 0) return {};
    std::string why = std::string("tooljail: ") + sandbox::termination_name(o.reason) +
                      " exit_code=" + std::to_string(o.exit_code);
    if (o.failed_step != sandbox::Step::None)
        why += " step=" + std::string(sandbox::step_name(o.failed_step)) +
               " errno=" + std::to_string(o.failed_errno);
    if (!o.error_message.empty()) why += " (" + o.error_message + ")";
    if (!o.err.data.empty()) why += " stderr: " + o.err.data.substr(0, 200);
    return why;
}

// Warm-pool bookkeeping of one benchmark run: how many launches were warm, and the two halves
// of each launch (Sandbox::launch, then Run::wait).
struct PoolCounts {
    std::mutex mu;
    uint64_t launches = 0;
    uint64_t warm = 0;
    std::vector<double> launch_ms;
    std::vector<double> wait_ms;
    void clear() {
        std::lock_guard<std::mutex> lock(mu);
        launches = warm = 0;
        launch_ms.clear();
        wait_ms.clear();
    }
};

std::string tooljail_pool_launch(const sandbox::Sandbox& sb, PoolCounts& counts) {
    auto t0 = std::chrono::steady_clock::now();
    auto run = sb.launch(sandbox::RunRequest{{kProgram}});
    auto t1 = std::chrono::steady_clock::now();
    if (!run) return "tooljail pool: launch: " + run.error().message();
    bool warm = (*run)->warm();
    sandbox::Outcome o = (*run)->wait();
    auto t2 = std::chrono::steady_clock::now();
    if (o.reason != sandbox::Termination::Exit || o.exit_code != 0)
        return std::string("tooljail pool: ") + sandbox::termination_name(o.reason);
    std::lock_guard<std::mutex> lock(counts.mu);
    ++counts.launches;
    if (warm) ++counts.warm;
    counts.launch_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    counts.wait_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    return {};
}

// Per-launch durations of one benchmark run, shared by its worker threads.
struct Samples {
    std::mutex mu;
    std::vector<double> ms;
};

double percentile(const std::vector<double>& sorted, double p) {
    // Nearest rank: the smallest sample with at least p of the samples at or below it.
    size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void report(benchmark::State& state, std::vector<double> ms) {
    if (ms.empty()) return;
    std::sort(ms.begin(), ms.end());
    state.counters["p50_ms"] = percentile(ms, 0.50);
    state.counters["p95_ms"] = percentile(ms, 0.95);
    state.counters["mean_ms"] =
        std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
    state.counters["min_ms"] = ms.front();
    state.counters["max_ms"] = ms.back();
}

double millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void report_pool(benchmark::State& state, PoolCounts* counts) {
    if (!counts) return;
    std::lock_guard<std::mutex> lock(counts->mu);
    if (counts->launches == 0) return;
    state.counters["warm_pct"] =
        100.0 * static_cast<double>(counts->warm) / static_cast<double>(counts->launches);
    std::sort(counts->launch_ms.begin(), counts->launch_ms.end());
    std::sort(counts->wait_ms.begin(), counts->wait_ms.end());
    state.counters["launch_p50_ms"] = percentile(counts->launch_ms, 0.5);
    state.counters["wait_p50_ms"] = percentile(counts->wait_ms, 0.5);
}

// Single-threaded latency: each launch timed alone; idle mode sleeps before it, untimed.
void latency(benchmark::State& state, const Launcher& launch, const std::string& setup_error,
             bool idle, PoolCounts* counts) {
    if (!setup_error.empty()) {
        state.SkipWithError(setup_error.c_str());
        for (auto _ : state) {
        }
        return;
    }
    for (int i = 0; i < kWarmupLaunches; ++i) {
        if (std::string err = launch(); !err.empty()) {
            state.SkipWithError(err.c_str());
            for (auto _ : state) {
            }
            return;
        }
    }
    if (counts) counts->clear();
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(state.max_iterations));
    for (auto _ : state) {
        if (idle) std::this_thread::sleep_for(kIdle);
        auto start = Clock::now();
        std::string err = launch();
        auto took = Clock::now() - start;
        if (!err.empty()) {
            state.SkipWithError(err.c_str());
            break;
        }
        state.SetIterationTime(std::chrono::duration<double>(took).count());
        ms.push_back(millis(took));
    }
    report(state, std::move(ms));
    report_pool(state, counts);
}

// Two workers launching back-to-back. Thread 0 clears the shared samples before the start
// barrier and reports them after the stop barrier (both part of the `for (auto _ : state)` loop),
// so no other thread touches them at those moments. Counters are summed over threads: the
// launch count as a rate becomes launches per wall-clock second.
void throughput(benchmark::State& state, const Launcher& launch, const std::string& setup_error,
                const std::shared_ptr<Samples>& samples, PoolCounts* counts) {
    if (!setup_error.empty()) {
        state.SkipWithError(setup_error.c_str());
        for (auto _ : state) {
        }
        return;
    }
    if (state.thread_index() == 0) {
        samples->ms.clear();
        if (counts) counts->clear();
    }
    std::vector<double> mine;
    mine.reserve(static_cast<size_t>(state.max_iterations));
    for (auto _ : state) {
        auto start = Clock::now();
        std::string err = launch();
        auto took = Clock::now() - start;
        if (!err.empty()) {
            state.SkipWithError(err.c_str());
            break;
        }
        mine.push_back(millis(took));
        if (mine.size() == static_cast<size_t>(state.max_iterations)) {
            std::lock_guard<std::mutex> lock(samples->mu);
            samples->ms.insert(samples->ms.end(), mine.begin(), mine.end());
        }
    }
    state.counters["launches_per_s"] =
        benchmark::Counter(static_cast<double>(mine.size()), benchmark::Counter::kIsRate);
    if (state.thread_index() == 0) {
        report(state, samples->ms);
        report_pool(state, counts);
    }
}

// Everything built once, outside every timed loop.
struct Setup {
    std::string workspace;
    std::shared_ptr<sandbox::Host> host;
    std::string host_error;
    struct Policy {
        std::string name;
        std::shared_ptr<const sandbox::Sandbox> sandbox;
        std::string error;
    };
    std::vector<Policy> policies;
    std::shared_ptr<sandbox::Host> pool_host;  // the warm pool, as `tooljail serve` runs it
    Policy pool_policy;
};

Setup::Policy prepare_policy(const Setup& setup, const std::string& name,
                             const std::shared_ptr<sandbox::Host>& host) {
    Setup::Policy p{name, nullptr, {}};
    if (!host) {
        p.error = setup.host_error;
        return p;
    }
    std::string path = runtime::default_policy_dir() + "/" + name + ".json";
    auto policy = runtime::load_policy_file(path, runtime::process_env());
    if (!policy) {
        p.error = "policy " + path + ": " + policy.error().message();
        return p;
    }
    sandbox::SandboxConfig config = policy->sandbox;
    config.workspace = setup.workspace;
    auto sb = sandbox::Sandbox::prepare(config, host);
    if (!sb) {
        p.error = "prepare: " + sb.error().message();
        return p;
    }
    p.sandbox = *sb;
    benchmark::AddCustomContext("tooljail_" + name,
                                "cgroup " + p.sandbox->layers().cgroup + ", seccomp " +
                                    p.sandbox->layers().seccomp_profile + ", landlock abi " +
                                    std::to_string(p.sandbox->layers().landlock_abi));
    return p;
}

std::string kernel_release() {
    struct utsname u {};
    if (::uname(&u) != 0) return "unknown";
    return std::string(u.sysname) + " " + u.release;
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    Setup setup;
    char dir_template[] = "/tmp/tooljail-bench-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) {
        std::fprintf(stderr, "mkdtemp: %s\n", std::strerror(errno));
        return 1;
    }
    setup.workspace = dir_template;
    // The sandbox's uid maps to an unprivileged host uid; it must be able to enter the workspace.
    ::chmod(setup.workspace.c_str(), 0755);

    auto host = sandbox::Host::open({});
    if (host)
        setup.host = *host;
    else
        setup.host_error = "Host::open: " + host.error().message();
    for (const char* name : {"default", "strict"})
        setup.policies.push_back(prepare_policy(setup, name, setup.host));
    sandbox::HostOptions pool_options;
    pool_options.pool.per_sandbox = 2;  // `tooljail serve`'s default
    if (auto pool_host = sandbox::Host::open(pool_options)) setup.pool_host = *pool_host;
    setup.pool_policy = prepare_policy(setup, "default", setup.pool_host);

    benchmark::AddCustomContext("kernel", kernel_release());
    benchmark::AddCustomContext("workload", std::string(kProgram) + ", request to reaped exit");

    // clang-format off
    const std::vector<std::string> bwrap_args = {
        kBwrap, "--unshare-all", "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/sbin", "/sbin",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--ro-bind", setup.workspace, "/workspace", "--chdir", "/workspace",
        kProgram};
    // clang-format on
    std::string bwrap_error = ::access(kBwrap, X_OK) == 0 ? "" : std::string(kBwrap) + " not found";

    struct Entry {
        std::string name;
        Launcher launch;
        std::string error;
        bool throughput;
        std::shared_ptr<PoolCounts> counts;  // warm-pool entries only
    };
    std::vector<Entry> entries = {
        {"bare", [] { return spawn_and_wait({kProgram}); }, "", true, nullptr},
        {"bwrap", [bwrap_args] { return spawn_and_wait(bwrap_args); }, bwrap_error, true, nullptr},
    };
    for (const auto& p : setup.policies) {
        auto sb = p.sandbox;
        entries.push_back({"tooljail_" + p.name, [sb] { return tooljail_launch(*sb); }, p.error,
                           p.name == "default", nullptr});
    }
    {
        auto sb = setup.pool_policy.sandbox;
        auto counts = std::make_shared<PoolCounts>();
        std::string error = setup.pool_policy.error;
        if (error.empty() && !sb->wait_warm(2, std::chrono::seconds(10)))
            error = "warm pool did not fill: " + sb->pool_stats().last_fill_error;
        entries.push_back({"tooljail_default_pool",
                           [sb, counts] { return tooljail_pool_launch(*sb, *counts); }, error, true,
                           counts});
    }

    for (const auto& e : entries) {
        benchmark::RegisterBenchmark(
            ("launch/" + e.name + "/back_to_back").c_str(),
            [e](benchmark::State& s) { latency(s, e.launch, e.error, false, e.counts.get()); })
            ->Iterations(kBackToBackLaunches)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(
            ("launch/" + e.name + "/after_50ms_idle").c_str(),
            [e](benchmark::State& s) { latency(s, e.launch, e.error, true, e.counts.get()); })
            ->Iterations(kIdleLaunches)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
    for (const auto& e : entries) {
        if (!e.throughput) continue;
        auto samples = std::make_shared<Samples>();
        benchmark::RegisterBenchmark(("throughput/" + e.name).c_str(),
                                     [e, samples](benchmark::State& s) {
                                         throughput(s, e.launch, e.error, samples, e.counts.get());
                                     })
            ->Iterations(kThroughputLaunchesPerThread)
            ->Threads(2)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    }

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    setup.policies.clear();  // sandboxes before the host, then the workspace
    setup.pool_policy.sandbox.reset();
    setup.host.reset();
    setup.pool_host.reset();
    ::rmdir(setup.workspace.c_str());
    return 0;
}
