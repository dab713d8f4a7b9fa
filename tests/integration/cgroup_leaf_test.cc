// Real cgroups on this host: limits are written and enforced, stats read back, leaves killed and
// removed. Each TEST_CASE runs as its own process and uses its own parent group,
// /tooljail-cgtest-<pid> under each cgroup mount, which it removes at the end. Tests that need
// cgroup v2 features skip on v1 hosts.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "sandbox/base/sys.h"
#include "sandbox/cgroup.h"
#include "tests/integration/skip.h"

namespace {

using namespace sandbox::cgroup;
constexpr uint64_t kMiB = 1ull << 20;

std::string slurp(const std::string& path) {
    auto text = sandbox::sys::read_file(path);
    if (!text) return "<" + text.error().message() + ">";
    while (!text->empty() && text->back() == '\n') text->pop_back();
    return *text;
}

bool dir_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> unique(const std::vector<std::string>& dirs) {
    std::vector<std::string> out;
    for (const auto& d : dirs)
        if (!d.empty() && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
}

// The test's private parent group; removed (with anything left under it) on destruction.
// Declare leaves after it so they are destroyed first.
struct TestParent {
    Hierarchy h;

    TestParent() {
        if (::geteuid() != 0) skip_test("cgroup integration tests need root to create cgroups");
        auto detected = Hierarchy::detect("/tooljail-cgtest-" + std::to_string(::getpid()));
        if (!detected && detected.error().code == sandbox::Errc::Unsupported)
            skip_test("no usable cgroup hierarchy: " + detected.error().message());
        REQUIRE(detected);
        h = std::move(*detected);
        // Become the reaper of our children's children (the fork-bomb's orphans).
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }
    ~TestParent() {
        for (const auto& d : unique(h.parent_dirs())) ::rmdir(d.c_str());
    }
    std::vector<std::string> leaf_dirs(const std::string& name) const {
        std::vector<std::string> out;
        for (const auto& d : unique(h.parent_dirs())) out.push_back(d + "/" + name);
        return out;
    }
    // The leaf directory holding a controller's files ("memory", "pids", "cpu", "cpuacct").
    std::string ctl_dir(const std::string& name, int index) const {
        const auto& p = h.parent_dirs();
        return (h.version() == Version::V2 ? p[0] : p[static_cast<size_t>(index)]) + "/" + name;
    }
};

// Forks a child that waits until it has been attached to leaf, then runs body and exits 0.
template <typename Body>
pid_t spawn_in(const Leaf& leaf, Body body) {
    int go[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(go[1]);
        char c;
        if (::read(go[0], &c, 1) != 1) ::_exit(120);
        body();
        ::_exit(0);
    }
    ::close(go[0]);
    auto attached = leaf.attach(pid);
    if (!attached) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        ::close(go[1]);
        FAIL("attach: " << attached.error().message());
    }
    REQUIRE(::write(go[1], "g", 1) == 1);
    ::close(go[1]);
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

void reap_all_children() {
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
}

}  // namespace

TEST_CASE("cgroup leaf: limits are written to the real tree", "[cgroup][integration]") {
    TestParent t;
    INFO(t.h.describe());
    auto leaf = Leaf::create(t.h, "run-limits", {64 * kMiB, 16, 50, true});
    REQUIRE(leaf);
    const std::string mem = t.ctl_dir("run-limits", 0), pids = t.ctl_dir("run-limits", 1),
                      cpu = t.ctl_dir("run-limits", 2);
    CHECK(slurp(pids + "/pids.max") == "16");
    if (t.h.version() == Version::V1) {
        CHECK(t.h.describe() == "v1 memory,pids,cpu,cpuacct");
        CHECK(leaf->v2_dir_fd() == -1);
        CHECK(slurp(mem + "/memory.limit_in_bytes") == "67108864");
        if (::access((mem + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
            CHECK(slurp(mem + "/memory.memsw.limit_in_bytes") == "67108864");
        CHECK(slurp(mem + "/memory.swappiness") == "0");
        CHECK(slurp(cpu + "/cpu.cfs_period_us") == "100000");
        CHECK(slurp(cpu + "/cpu.cfs_quota_us") == "50000");
    } else {
        CHECK(leaf->v2_dir_fd() >= 0);
        CHECK(slurp(mem + "/memory.max") == "67108864");
        CHECK(slurp(mem + "/memory.oom.group") == "1");
        CHECK(slurp(cpu + "/cpu.max") == "50000 100000");
    }
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->oom_kills == 0);
    CHECK(s->pids_limit_hits == 0);

    REQUIRE(leaf->remove());
    CHECK(leaf->empty());
    for (const auto& d : t.leaf_dirs("run-limits")) CHECK_FALSE(dir_exists(d));
}

TEST_CASE("cgroup leaf: a child that touches 200 MiB is OOM-killed at 64 MiB",
          "[cgroup][integration]") {
    TestParent t;
    auto leaf = Leaf::create(t.h, "run-oom", {64 * kMiB, 16, 0, true});
    REQUIRE(leaf);
    pid_t child = spawn_in(*leaf, [] {
        const size_t size = 200 * kMiB;
        auto* p = static_cast<volatile char*>(std::malloc(size));
        if (!p) ::_exit(3);
        for (size_t i = 0; i < size; i += 4096) p[i] = 1;
        ::_exit(0);
    });
    int status = wait_status(child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->oom_kills >= 1);
    CHECK(s->peak_memory_bytes >= 60 * kMiB);
    CHECK(s->peak_memory_bytes <= 65 * kMiB);
    REQUIRE(leaf->remove());
}

TEST_CASE("cgroup leaf: a fork loop stops at pids.max", "[cgroup][integration]") {
    TestParent t;
    auto leaf = Leaf::create(t.h, "run-pids", {64 * kMiB, 16, 0, true});
    REQUIRE(leaf);
    int report[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    pid_t child = spawn_in(*leaf, [&] {
        int forked = 0;
        for (int i = 0; i < 100; ++i) {
            pid_t g = ::fork();
            if (g == 0) {
                ::pause();
                ::_exit(0);
            }
            if (g < 0) break;
            ++forked;
        }
        if (::write(report[1], &forked, sizeof forked) != sizeof forked) ::_exit(4);
        ::pause();
    });
    ::close(report[1]);
    int forked = -1;
    REQUIRE(::read(report[0], &forked, sizeof forked) == sizeof forked);
    ::close(report[0]);
    CHECK(forked + 1 == 16);  // the child itself counts against pids.max
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->pids_limit_hits >= 1);

    leaf->kill_all();
    int status = wait_status(child);
    CHECK(WIFSIGNALED(status));
    reap_all_children();
    REQUIRE(leaf->remove());
    for (const auto& d : t.leaf_dirs("run-pids")) CHECK_FALSE(dir_exists(d));
}

TEST_CASE("cgroup leaf: CPU usage grows for a spinning child and is capped at 50%",
          "[cgroup][integration]") {
    TestParent t;
    auto leaf = Leaf::create(t.h, "run-cpu", {64 * kMiB, 16, 50, true});
    REQUIRE(leaf);
    pid_t child = spawn_in(*leaf, [] {
        volatile uint64_t spins = 0;
        for (;;) spins = spins + 1;
    });
    auto before = leaf->cpu_usage_usec();
    REQUIRE(before);
    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    auto after = leaf->cpu_usage_usec();
    auto wall_usec = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    REQUIRE(after);
    uint64_t used = *after - *before;
    INFO("used " << used << " us of CPU in " << wall_usec << " us");
    CHECK(used >= 200000);
    CHECK(used <= static_cast<uint64_t>(wall_usec) * 7 / 10);  // quota 50% plus slack
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->cpu_usec >= *after);

    leaf->kill_all();
    int status = wait_status(child);
    CHECK(WIFSIGNALED(status));
    REQUIRE(leaf->remove());
}

TEST_CASE("cgroup leaf: kill_all kills a sleeping child and remove leaves nothing",
          "[cgroup][integration]") {
    TestParent t;
    auto leaf = Leaf::create(t.h, "run-kill", {64 * kMiB, 16, 0, true});
    REQUIRE(leaf);
    pid_t child = spawn_in(*leaf, [] { ::pause(); });
    leaf->kill_all();
    int status = wait_status(child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    REQUIRE(leaf->remove());
    CHECK(leaf->empty());
    for (const auto& d : t.leaf_dirs("run-kill")) CHECK_FALSE(dir_exists(d));
}

TEST_CASE("cgroup leaf: the destructor kills and removes", "[cgroup][integration]") {
    TestParent t;
    pid_t child = -1;
    {
        auto leaf = Leaf::create(t.h, "run-dtor", {64 * kMiB, 16, 0, true});
        REQUIRE(leaf);
        child = spawn_in(*leaf, [] { ::pause(); });
        // Without reaping, the killed child would keep the group populated on some kernels;
        // the destructor's rmdir retry must cope either way.
    }
    int status = wait_status(child);
    CHECK(WIFSIGNALED(status));
    for (const auto& d : t.leaf_dirs("run-dtor")) CHECK_FALSE(dir_exists(d));
}

TEST_CASE("cgroup leaf: stale leaves of dead supervisors are removed and live ones kept",
          "[cgroup][integration]") {
    TestParent t;
    // A pid that is certainly dead: a reaped child's.
    pid_t dead = ::fork();
    REQUIRE(dead >= 0);
    if (dead == 0) ::_exit(0);
    wait_status(dead);

    const std::string stale = "run-" + std::to_string(dead) + "-0";
    const std::string live = "run-" + std::to_string(::getpid()) + "-0";
    auto live_leaf = Leaf::create(t.h, live, {64 * kMiB, 16, 0, true});
    REQUIRE(live_leaf);
    // The stale leaf as a crashed supervisor would leave it: still holding a process.
    for (const auto& d : t.leaf_dirs(stale)) REQUIRE(::mkdir(d.c_str(), 0755) == 0);
    pid_t orphan = ::fork();
    REQUIRE(orphan >= 0);
    if (orphan == 0) {
        ::pause();
        ::_exit(0);
    }
    for (const auto& d : t.leaf_dirs(stale))
        REQUIRE(sandbox::sys::write_file(d + "/cgroup.procs", std::to_string(orphan)));

    auto removed = remove_stale_leaves(t.h);
    REQUIRE(removed);
    CHECK(*removed == std::vector<std::string>{stale});
    int status = wait_status(orphan);
    CHECK(WIFSIGNALED(status));
    for (const auto& d : t.leaf_dirs(stale)) CHECK_FALSE(dir_exists(d));
    for (const auto& d : t.leaf_dirs(live)) CHECK(dir_exists(d));
    REQUIRE(live_leaf->remove());
}

TEST_CASE("cgroup leaf: default parent is <own cgroup>/tooljail", "[cgroup][integration]") {
    if (::geteuid() != 0) skip_test("needs root to create cgroups");
    auto h = Hierarchy::detect("");
    if (!h && h.error().code == sandbox::Errc::Unsupported)
        skip_test("no usable cgroup hierarchy: " + h.error().message());
    REQUIRE(h);
    INFO(h->describe());
    for (const auto& d : h->parent_dirs()) {
        if (d.empty()) continue;
        CHECK(dir_exists(d));
        CHECK(d.size() > 9);
        CHECK(d.substr(d.size() - 9) == "/tooljail");
    }
    // The parent is shared with real supervisors and other tests, so it is left in place.
}

TEST_CASE("cgroup leaf: v2 CLONE_INTO_CGROUP and cgroup.kill", "[cgroup][integration][v2]") {
    if (::geteuid() != 0) skip_test("needs root to create cgroups");
    {
        auto probe = Hierarchy::detect("/tooljail-cgtest-" + std::to_string(::getpid()));
        if (probe && probe->version() != Version::V2) {
            for (const auto& d : unique(probe->parent_dirs())) ::rmdir(d.c_str());
            skip_test("host cgroups are " + probe->describe() +
                      "; CLONE_INTO_CGROUP and cgroup.kill need cgroup v2");
        }
    }
    TestParent t;
    auto leaf = Leaf::create(t.h, "run-v2", {64 * kMiB, 16, 50, true});
    REQUIRE(leaf);
    REQUIRE(leaf->v2_dir_fd() >= 0);
    CHECK(slurp(t.ctl_dir("run-v2", 0) + "/memory.swap.max") == "0");

    struct clone_args args {};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(leaf->v2_dir_fd());
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && errno == ENOSYS) skip_test("clone3 unavailable (Linux < 5.7)");
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    CHECK(slurp(t.ctl_dir("run-v2", 0) + "/cgroup.procs") == std::to_string(pid));
    leaf->kill_all();
    int status = wait_status(static_cast<pid_t>(pid));
    CHECK(WIFSIGNALED(status));
    REQUIRE(leaf->remove());
}
