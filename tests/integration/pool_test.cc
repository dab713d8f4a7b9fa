// The warm pool (sandbox/pool.h): what one run leaves behind is invisible to the next, the
// pool stays within its bounds, and every way a warm sandbox can be missing or broken ends in a
// cold launch rather than a failed one. The containment tests themselves also run on warm
// sandboxes: tests/CMakeLists.txt registers them a second time as "pool: ..." with
// TOOLJAIL_TEST_POOL set (sandbox_fixture.cc).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "sandbox/launcher.h"
#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/skip.h"

using sandbox::Outcome;
using tjtest::attempt;
using tjtest::require_ran;
using tjtest::SandboxFixture;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<sandbox::Host> pool_host(sandbox::PoolOptions pool) {
    sandbox::HostOptions options;
    options.pool = std::move(pool);
    auto host = sandbox::Host::open(options);
    if (!host && host.error().code == sandbox::Errc::Unsupported)
        skip_test("Host::open: " + host.error().message());
    if (!host) FAIL("Host::open: " << host.error().message());
    return *host;
}

std::shared_ptr<sandbox::Host> pool_host(size_t per_sandbox, size_t max_total = 16) {
    sandbox::PoolOptions pool;
    pool.per_sandbox = per_sandbox;
    pool.max_total = max_total;
    return pool_host(pool);
}

std::shared_ptr<const sandbox::Sandbox> prepare_on(const sandbox::SandboxConfig& config,
                                                   std::shared_ptr<sandbox::Host> host) {
    auto sb = sandbox::Sandbox::prepare(config, std::move(host));
    if (!sb) FAIL("prepare: " << sb.error().message());
    return *sb;
}

std::unique_ptr<sandbox::Run> launch(const sandbox::Sandbox& sb, std::vector<std::string> argv) {
    sandbox::RunRequest request;
    request.argv = std::move(argv);
    auto run = sb.launch(request);
    if (!run) FAIL("launch: " << run.error().message());
    return std::move(*run);
}

// Waits for a warm sandbox, runs argv in it and REQUIREs that it was warm.
Outcome warm_run(const sandbox::Sandbox& sb, std::vector<std::string> argv) {
    INFO("pool: " << sb.pool_stats().last_fill_error);
    REQUIRE(sb.wait_warm(1, 10s));
    auto run = launch(sb, std::move(argv));
    REQUIRE(run->warm());
    return run->wait();
}

// Processes whose parent is `parent` (from /proc/<pid>/stat; the kernel here has no
// /proc/<pid>/task/<tid>/children).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> found;
    DIR* proc = opendir("/proc");
    if (!proc) return found;
    while (dirent* e = readdir(proc)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        char state = 0;
        int ppid = 0;
        if (sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid == parent && state != 'Z') found.push_back(static_cast<pid_t>(atoi(e->d_name)));
    }
    closedir(proc);
    return found;
}

// Leaf directories named run-<pid>-* under the host's cgroup parents.
std::vector<std::string> leaves_of(const sandbox::Host& host, pid_t supervisor) {
    std::vector<std::string> found;
    const std::string prefix = "run-" + std::to_string(supervisor) + "-";
    for (const auto& parent : host.cgroups().parent_dirs()) {
        if (parent.empty()) continue;
        DIR* d = opendir(parent.c_str());
        if (!d) continue;
        while (dirent* e = readdir(d))
            if (std::string(e->d_name).rfind(prefix, 0) == 0)
                found.push_back(parent + "/" + e->d_name);
        closedir(d);
    }
    return found;
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (kill(pid, 0) != 0 && errno == ESRCH) return true;
        std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        size_t paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z')
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

// The host-side memory cgroup of a process ("/.../run-123-abc"), from /proc/<pid>/cgroup.
std::string memory_cgroup_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
    std::string line;
    while (std::getline(f, line)) {
        auto first = line.find(':');
        auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        std::string controllers = line.substr(first + 1, second - first - 1);
        if (controllers == "memory" || (controllers.empty() && line.rfind("0::", 0) == 0))
            return line.substr(second + 1);
    }
    return {};
}

}  // namespace

TEST_CASE_METHOD(SandboxFixture, "pool: consecutive warm runs share no /tmp",
                 "[pool][integration]") {
    auto sb = prepare_on(config, pool_host(2));
    Outcome first = warm_run(*sb, {tjtest::kProbe, "write", "/tmp/left-by-run-1"});
    require_ran(first);
    REQUIRE(attempt(first, "write") == "ok");
    Outcome second = warm_run(*sb, {tjtest::kProbe, "read", "/tmp/left-by-run-1"});
    require_ran(second);
    CHECK(attempt(second, "read") == "ENOENT");
}

TEST_CASE_METHOD(SandboxFixture, "pool: a process left by one warm run is gone in the next",
                 "[pool][integration]") {
    const std::string token = tjtest::unique_token("tooljail-pool-daemon");
    auto sb = prepare_on(config, pool_host(2));
    Outcome first = warm_run(*sb, {tjtest::kProbe, "daemon", "30000", token});
    require_ran(first);
    REQUIRE(tjtest::result_of(first.out.data, "daemon").has_value());
    Outcome second = warm_run(*sb, {tjtest::kProbe, "ps"});
    require_ran(second);
    // Only the probe itself, as pid 1 of a fresh pid namespace.
    auto lines = tjtest::split_lines(second.out.data);
    CHECK(lines == std::vector<std::string>{"1 tooljail-probe"});
    CHECK(tjtest::host_pids_with(token).empty());
}

TEST_CASE_METHOD(SandboxFixture, "pool: every namespace is new for each warm run",
                 "[pool][integration]") {
    auto sb = prepare_on(config, pool_host(2));
    std::vector<std::string> argv = {"/usr/bin/readlink"};
    for (const char* ns : {"net", "mnt", "pid", "ipc", "uts", "user", "cgroup"})
        argv.push_back(std::string("/proc/self/ns/") + ns);
    Outcome first = warm_run(*sb, argv);
    Outcome second = warm_run(*sb, argv);
    require_ran(first);
    require_ran(second);
    auto a = tjtest::split_lines(first.out.data);
    auto b = tjtest::split_lines(second.out.data);
    REQUIRE(a.size() == 7);
    REQUIRE(b.size() == 7);
    for (size_t i = 0; i < a.size(); ++i) {
        INFO(a[i] << " vs " << b[i]);
        CHECK(a[i] != b[i]);  // "net:[4026532001]": another inode is another namespace
    }
}

TEST_CASE_METHOD(SandboxFixture, "pool: each warm run has its own cgroup leaf and accounting",
                 "[pool][integration]") {
    auto sb = prepare_on(config, pool_host(2));
    REQUIRE(sb->wait_warm(2, 10s));
    auto a = launch(*sb, {tjtest::kProbe, "sleep", "300"});
    auto b = launch(*sb, {tjtest::kProbe, "sleep", "300"});
    REQUIRE(a->warm());
    REQUIRE(b->warm());
    std::string leaf_a = memory_cgroup_of(a->pid());
    std::string leaf_b = memory_cgroup_of(b->pid());
    CHECK(!leaf_a.empty());
    CHECK(leaf_a != leaf_b);
    require_ran(a->wait());
    require_ran(b->wait());

    Outcome big = warm_run(*sb, {tjtest::kProbe, "memory-bomb", "48"});
    require_ran(big);
    Outcome small = warm_run(*sb, {tjtest::kProbe, "exit", "0"});
    require_ran(small);
    CHECK(big.peak_memory_bytes >= 48 * tjtest::kMiB);
    CHECK(small.peak_memory_bytes < 16 * tjtest::kMiB);
    // The warm sandbox's own preparation is not charged to the program (v1: reset at fill).
    CHECK(small.cpu.count() < 50);
}

TEST_CASE_METHOD(SandboxFixture, "pool: warm sandboxes of a SIGKILLed supervisor leave nothing",
                 "[pool][integration]") {
    int report[2];
    REQUIRE(pipe2(report, O_CLOEXEC) == 0);
    pid_t supervisor = fork();
    REQUIRE(supervisor >= 0);
    if (supervisor == 0) {
        // Child: no Catch2 here. A supervisor with a filled pool, reporting when it is ready.
        close(report[0]);
        sandbox::HostOptions options;
        options.pool.per_sandbox = 2;
        auto host = sandbox::Host::open(options);
        if (!host) _exit(1);
        auto sb = sandbox::Sandbox::prepare(config, *host);
        if (!sb || !(*sb)->wait_warm(2, 10s)) _exit(2);
        char ok = 'r';
        (void)!write(report[1], &ok, 1);
        for (;;) pause();
    }
    close(report[1]);
    char ready = 0;
    pollfd p{report[0], POLLIN, 0};
    bool reported = poll(&p, 1, 15000) == 1 && read(report[0], &ready, 1) == 1 && ready == 'r';
    close(report[0]);
    std::vector<pid_t> warm = children_of(supervisor);
    std::vector<std::string> leaves_before = leaves_of(*tjtest::shared_host(), supervisor);

    kill(supervisor, SIGKILL);
    int status = 0;
    while (waitpid(supervisor, &status, 0) < 0 && errno == EINTR) {
    }
    bool all_gone = true;
    for (pid_t pid : warm) all_gone = gone_within(pid, 3000ms) && all_gone;
    // The next start (Host::open) removes the dead supervisor's leaves.
    auto next = pool_host(1);
    std::vector<std::string> leaves_after = leaves_of(*next, supervisor);

    REQUIRE(reported);
    CHECK(warm.size() == 2);
    CHECK(leaves_before.size() >= 2);
    CHECK(all_gone);
    CHECK(leaves_after.empty());
}

TEST_CASE_METHOD(SandboxFixture, "pool: sizes stay within the per-sandbox target and global cap",
                 "[pool][integration]") {
    auto host = pool_host(3, 4);
    auto one = prepare_on(config, host);
    auto two = prepare_on(config, host);
    REQUIRE(one->wait_warm(2, 10s));
    std::this_thread::sleep_for(500ms);  // room for any over-fill to show
    auto check_bounds = [&] {
        sandbox::PoolStats s1 = one->pool_stats();
        sandbox::PoolStats s2 = two->pool_stats();
        CHECK(s1.ready <= 3);
        CHECK(s2.ready <= 3);
        CHECK(s1.ready + s2.ready <= 4);
        CHECK(children_of(getpid()).size() <= 4);
    };
    check_bounds();
    CHECK(one->pool_stats().ready + two->pool_stats().ready == 4);
    for (int i = 0; i < 6; ++i) require_ran(launch(*one, {tjtest::kProbe, "exit", "0"})->wait());
    std::this_thread::sleep_for(300ms);
    check_bounds();
}

TEST_CASE_METHOD(SandboxFixture, "pool: a failed fill makes launches cold, not failed",
                 "[pool][integration]") {
    sandbox::PoolOptions pool;
    pool.per_sandbox = 2;
    pool.before_fill = [] {
        return std::optional<std::string>("cgroup creation refused (injected)");
    };
    auto sb = prepare_on(config, pool_host(pool));
    CHECK_FALSE(sb->wait_warm(1, 2s));
    auto run = launch(*sb, {tjtest::kProbe, "exit", "0"});
    CHECK_FALSE(run->warm());
    require_ran(run->wait());
    auto stats = sb->pool_stats();
    CHECK(stats.fill_failures >= 1);
    CHECK(stats.cold_launches == 1);
    CHECK(stats.warm_launches == 0);
    CHECK(stats.last_fill_error.find("injected") != std::string::npos);
}

TEST_CASE_METHOD(SandboxFixture,
                 "pool: a warm sandbox that died while waiting is skipped, not used",
                 "[pool][integration]") {
    auto sb = prepare_on(config, pool_host(1));
    REQUIRE(sb->wait_warm(1, 10s));
    auto warm = children_of(getpid());
    REQUIRE(warm.size() == 1);
    REQUIRE(kill(warm[0], SIGKILL) == 0);
    REQUIRE(gone_within(warm[0], 3000ms));
    // The launch runs elsewhere: cold, or in a warm sandbox the fill thread made meanwhile
    // (discarding the dead one includes removing its leaf, which can wait for the kernel).
    auto run = launch(*sb, {tjtest::kProbe, "exit", "0"});
    CHECK(run->pid() != warm[0]);
    require_ran(run->wait());
    auto stats = sb->pool_stats();
    CHECK(stats.dead_discarded == 1);
    CHECK(stats.warm_launches + stats.cold_launches == 1);
}

TEST_CASE_METHOD(SandboxFixture, "pool: an argv beyond the warm request limit runs cold",
                 "[pool][integration]") {
    auto sb = prepare_on(config, pool_host(1));
    REQUIRE(sb->wait_warm(1, 10s));
    auto run = launch(*sb, {tjtest::kProbe, "exit", "0", std::string(70 * 1024, 'x')});
    CHECK_FALSE(run->warm());
    require_ran(run->wait());
    CHECK(sb->pool_stats().ready == 1);  // the warm one was not spent
}

TEST_CASE_METHOD(SandboxFixture,
                 "pool: dropping the Sandbox kills its warm sandboxes and removes their leaves",
                 "[pool][integration]") {
    auto host = pool_host(2);
    auto sb = prepare_on(config, host);
    REQUIRE(sb->wait_warm(2, 10s));
    auto warm = children_of(getpid());
    CHECK(warm.size() == 2);
    CHECK(leaves_of(*host, getpid()).size() >= 2);
    sb.reset();
    for (pid_t pid : warm) CHECK(gone_within(pid, 1000ms));
    CHECK(leaves_of(*host, getpid()).empty());
}
