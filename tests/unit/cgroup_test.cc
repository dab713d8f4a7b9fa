// Cgroup detection and leaf handling against fake trees: a temp directory stands in for the
// cgroup mounts, a fake mountinfo points into it and a fake /proc/self/cgroup names our groups.
// This is how the v2 code path is covered on v1-only CI hosts; tests/integration covers the
// kernel.
#include "sandbox/cgroup.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "sandbox/launcher.h"

namespace sandbox::cgroup {
// Private seam declared in cgroup.h: lets detect() accept plain directories as cgroupfs.
struct TestAccess {
    static void allow_fake_tree(bool on) { Hierarchy::allow_fake_tree_ = on; }
};
}  // namespace sandbox::cgroup

namespace {

namespace fs = std::filesystem;
using sandbox::Errc;
using namespace sandbox::cgroup;

struct FakeTree {
    std::string root;
    FakeTree() {
        char tmpl[] = "/tmp/tooljail-cgroup-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
        TestAccess::allow_fake_tree(true);
    }
    ~FakeTree() {
        TestAccess::allow_fake_tree(false);
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    std::string path(const std::string& rel) const { return root + "/" + rel; }
    void put(const std::string& rel, const std::string& content) const {
        fs::create_directories(fs::path(path(rel)).parent_path());
        std::ofstream(path(rel)) << content;
    }
    std::string get(const std::string& rel) const {
        std::ifstream in(path(rel));
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    bool has(const std::string& rel) const { return fs::exists(path(rel)); }
    // A v2 group as the kernel would show it right after mkdir. Only the real root lacks
    // cgroup.events; a mount point is given one when it stands for a cgroup namespace root.
    void v2_group(const std::string& rel, const std::string& controllers,
                  const std::string& procs = "", bool real_root = false) const {
        put(rel + "/cgroup.controllers", controllers + "\n");
        put(rel + "/cgroup.subtree_control", "");
        put(rel + "/cgroup.procs", procs);
        if (!real_root) put(rel + "/cgroup.events", "populated 0\nfrozen 0\n");
    }
};

std::string v2_mountinfo(const std::string& mount_point_escaped) {
    return "22 1 8:1 / / rw,relatime - ext4 /dev/root rw\n"
           "30 22 0:26 / " +
           mount_point_escaped +
           " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
           "rw,nsdelegate,memory_recursiveprot\n";
}

// This machine's layout: a v1 hierarchy per controller plus an empty cgroup2 at unified/.
std::string mixed_mountinfo(const FakeTree& t) {
    std::string s = "31 23 0:28 / " + t.path("") + " rw,relatime - tmpfs tmpfs rw,mode=755\n";
    int id = 32;
    for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "pids"}) {
        s += std::to_string(id) + " 31 0:" + std::to_string(id - 3) + " / " + t.path(c) +
             " rw,relatime - cgroup cgroup rw," + c + "\n";
        ++id;
    }
    s += "40 31 0:37 / " + t.path("systemd") + " rw,relatime - cgroup cgroup rw,name=systemd\n";
    s += "41 31 0:38 / " + t.path("unified") + " rw,relatime - cgroup2 cgroup2 rw\n";
    return s;
}

const char* kMixedProcCgroup =
    "9:name=systemd:/\n8:pids:/\n5:devices:/\n4:memory:/process_api/e319\n3:cpuset:/\n"
    "2:cpuacct:/\n1:cpu:/\n0::/\n";

bool host_has_swap() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    while (in >> key) {
        if (key == "SwapTotal:") return (in >> kb) && kb != 0;
        in.ignore(1 << 20, '\n');
    }
    return true;
}

}  // namespace

TEST_CASE("cgroup: pure v2 with a nested own cgroup moves the supervisor aside and delegates",
          "[cgroup][unit]") {
    FakeTree t;
    // A mount point with a space exercises mountinfo's \040 escaping.
    const std::string mp = t.path("cg root");
    const std::string svc = "cg root/system.slice/tooljail.service";
    t.v2_group("cg root", "cpuset cpu io memory hugetlb pids rdma misc", "1\n", true);
    t.v2_group("cg root/system.slice", "cpu memory pids");
    t.v2_group(svc, "cpu memory pids", std::to_string(::getpid()) + "\n");
    t.v2_group(svc + "/tooljail", "cpu memory pids");
    t.v2_group(svc + "/supervisor", "cpu memory pids");
    t.put("mountinfo", v2_mountinfo(t.path("cg\\040root")));
    t.put("self_cgroup", "0::/system.slice/tooljail.service\n");

    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    CHECK(h->version() == Version::V2);
    CHECK(h->describe() == "v2 memory,pids,cpu");
    REQUIRE(h->parent_dirs().size() == 1);
    CHECK(h->parent_dirs()[0] == mp + "/system.slice/tooljail.service/tooljail");
    // Every level down to the parent delegates the three controllers.
    for (const auto& level :
         {std::string("cg root"), std::string("cg root/system.slice"), svc, svc + "/tooljail"})
        CHECK(t.get(level + "/cgroup.subtree_control") == "+memory +pids +cpu");
    // The service group held the supervisor, so it was moved to a leaf first.
    CHECK(t.get(svc + "/supervisor/cgroup.procs") == std::to_string(::getpid()));

    // Detecting again from inside that leaf finds the same parent, not one nested under it.
    t.put("self_cgroup", "0::/system.slice/tooljail.service/supervisor\n");
    auto again = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(again);
    CHECK(again->parent_dirs() == h->parent_dirs());
}

TEST_CASE("cgroup: v2 cgroup namespace root holding the supervisor", "[cgroup][unit]") {
    FakeTree t;
    // Inside a container with its own cgroup namespace the mount root is an ordinary group
    // (it has cgroup.events) and the supervisor lives in it.
    t.v2_group("cg", "cpu memory pids", std::to_string(::getpid()) + "\n");
    t.v2_group("cg/supervisor", "");
    t.v2_group("cg/tooljail", "cpu memory pids");
    t.put("mountinfo", v2_mountinfo(t.path("cg")));
    t.put("self_cgroup", "0::/\n");
    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    CHECK(h->parent_dirs()[0] == t.path("cg/tooljail"));
    CHECK(t.get("cg/supervisor/cgroup.procs") == std::to_string(::getpid()));
    CHECK(t.get("cg/cgroup.subtree_control") == "+memory +pids +cpu");
}

TEST_CASE("cgroup: v2 parent override and already-enabled controllers", "[cgroup][unit]") {
    FakeTree t;
    t.v2_group("cg", "cpu memory pids io", "", true);
    t.put("cg/cgroup.subtree_control", "cpu memory pids\n");  // kernel's read-back format
    t.v2_group("cg/tooljail-test", "cpu memory pids");
    t.put("mountinfo", v2_mountinfo(t.path("cg")));
    t.put("self_cgroup", "0::/user.slice/somewhere\n");

    auto h = Hierarchy::detect("/tooljail-test/", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    CHECK(h->parent_dirs()[0] == t.path("cg/tooljail-test"));
    CHECK(t.get("cg/cgroup.subtree_control") == "cpu memory pids\n");  // untouched
    CHECK(t.get("cg/tooljail-test/cgroup.subtree_control") == "+memory +pids +cpu");
}

TEST_CASE("cgroup: v2 level that is not offered a controller fails closed", "[cgroup][unit]") {
    FakeTree t;
    // The root delegates everything, but the group below it is offered only cpu, as when an
    // ancestor we may not write has not delegated memory and pids to us.
    t.v2_group("cg", "cpu memory pids", "", true);
    t.put("cg/cgroup.subtree_control", "cpu memory pids\n");
    t.v2_group("cg/tooljail", "cpu");
    t.put("mountinfo", v2_mountinfo(t.path("cg")));
    t.put("self_cgroup", "0::/\n");
    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE_FALSE(h);
    CHECK(h.error().code == Errc::Unsupported);
    CHECK_THAT(h.error().context, Catch::Contains("not offered the memory controller"));
}

TEST_CASE("cgroup: mixed v1 + empty unified picks v1 per controller", "[cgroup][unit]") {
    FakeTree t;
    t.v2_group("unified", "hugetlb", "", true);
    for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "pids", "systemd"})
        fs::create_directories(t.path(c));
    fs::create_directories(t.path("memory/process_api/e319"));
    t.put("mountinfo", mixed_mountinfo(t));
    t.put("self_cgroup", kMixedProcCgroup);

    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    CHECK(h->version() == Version::V1);
    CHECK(h->describe() == "v1 memory,pids,cpu,cpuacct");
    REQUIRE(h->parent_dirs().size() == 4);
    CHECK(h->parent_dirs()[0] == t.path("memory/process_api/e319/tooljail"));
    CHECK(h->parent_dirs()[1] == t.path("pids/tooljail"));
    CHECK(h->parent_dirs()[2] == t.path("cpu/tooljail"));
    CHECK(h->parent_dirs()[3] == t.path("cpuacct/tooljail"));
    for (const auto& d : h->parent_dirs()) CHECK(fs::is_directory(d));

    SECTION("override is relative to each controller's mount root") {
        auto o = Hierarchy::detect("/tooljail-x", t.path("mountinfo"), t.path("self_cgroup"));
        REQUIRE(o);
        CHECK(o->parent_dirs()[0] == t.path("memory/tooljail-x"));
        CHECK(o->parent_dirs()[3] == t.path("cpuacct/tooljail-x"));
    }
}

TEST_CASE("cgroup: the tightest CPU quota above the parent is what the supervisor may use",
          "[cgroup][unit]") {
    SECTION("v2: cpu.max of every level up to the root") {
        FakeTree t;
        const std::string svc = "cg/system.slice/tooljail.service";
        t.v2_group("cg", "cpu memory pids", "1\n", true);
        t.v2_group("cg/system.slice", "cpu memory pids");
        t.v2_group(svc, "cpu memory pids");
        t.v2_group(svc + "/tooljail", "cpu memory pids");
        t.put("mountinfo", v2_mountinfo(t.path("cg")));
        t.put("self_cgroup", "0::/system.slice/tooljail.service\n");
        auto h = Hierarchy::detect("/system.slice/tooljail.service/tooljail", t.path("mountinfo"),
                                   t.path("self_cgroup"));
        REQUIRE(h);
        CHECK(h->inherited_cpu_percent() == 0);  // no cpu.max anywhere: no quota
        t.put(svc + "/tooljail/cpu.max", "max 100000\n");
        t.put(svc + "/cpu.max", "250000 100000\n");  // 2.5 CPUs
        t.put("cg/system.slice/cpu.max", "max 100000\n");
        CHECK(h->inherited_cpu_percent() == 250);
        t.put("cg/system.slice/cpu.max", "150000 100000\n");  // tighter higher up
        CHECK(h->inherited_cpu_percent() == 150);
        t.put(svc + "/cpu.max", "500 100000\n");  // below 1 %: still a quota
        CHECK(h->inherited_cpu_percent() == 1);
    }
    SECTION("v1: cpu.cfs_quota_us over cpu.cfs_period_us, -1 for none") {
        FakeTree t;
        t.v2_group("unified", "hugetlb", "", true);
        for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "pids", "systemd"})
            fs::create_directories(t.path(c));
        fs::create_directories(t.path("memory/process_api/e319"));
        t.put("mountinfo", mixed_mountinfo(t));
        t.put("self_cgroup", kMixedProcCgroup);
        auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
        REQUIRE(h);
        CHECK(h->inherited_cpu_percent() == 0);
        t.put("cpu/tooljail/cpu.cfs_quota_us", "-1\n");
        t.put("cpu/tooljail/cpu.cfs_period_us", "100000\n");
        t.put("cpu/cpu.cfs_quota_us", "200000\n");
        t.put("cpu/cpu.cfs_period_us", "100000\n");
        CHECK(h->inherited_cpu_percent() == 200);
    }
}

TEST_CASE("cgroup: a policy's share of the host caps its CPU quota", "[cgroup][unit]") {
    auto limits = [](uint32_t cpu_percent, uint32_t host_percent) {
        sandbox::Limits l;
        l.cpu_percent = cpu_percent;
        l.cpu_host_percent = host_percent;
        return l;
    };
    // ci on a two-CPU host: two cores, at most half of the host.
    CHECK(sandbox::effective_cpu_percent(limits(200, 50), 200) == 100);
    CHECK(sandbox::effective_cpu_percent(limits(200, 50), 800) == 200);  // the absolute cap
    CHECK(sandbox::effective_cpu_percent(limits(200, 50), 250) == 125);  // a 2.5-CPU container
    CHECK(sandbox::effective_cpu_percent(limits(50, 25), 100) == 25);    // strict, one CPU
    CHECK(sandbox::effective_cpu_percent(limits(200, 0), 200) == 200);   // no share: as written
    CHECK(sandbox::effective_cpu_percent(limits(200, 50), 0) == 200);    // capacity unknown
    CHECK(sandbox::effective_cpu_percent(limits(200, 1), 10) == 1);      // never below 1
    CHECK(sandbox::effective_cpu_percent(limits(0, 50), 400) == 200);    // no absolute limit
}

TEST_CASE("cgroup: combined cpu+cpuacct v1 mount and a v1 leaf", "[cgroup][unit]") {
    FakeTree t;
    const std::string cc = "cpu,cpuacct";
    t.put("mountinfo",
          "32 31 0:29 / " + t.path(cc) + " rw,relatime - cgroup cgroup rw,cpu,cpuacct\n" +
              "35 31 0:32 / " + t.path("memory") + " rw,relatime - cgroup cgroup rw,memory\n" +
              "39 31 0:36 / " + t.path("pids") + " rw,relatime - cgroup cgroup rw,pids\n");
    t.put("self_cgroup", "6:pids:/a\n4:memory:/a\n3:cpu,cpuacct:/a\n");
    for (const char* c : {"cpu,cpuacct/a", "memory/a", "pids/a"}) fs::create_directories(t.path(c));

    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    CHECK(h->describe() == "v1 memory,pids,cpu,cpuacct");
    CHECK(h->parent_dirs()[2] == t.path(cc + "/a/tooljail"));
    CHECK(h->parent_dirs()[2] == h->parent_dirs()[3]);

    // What the kernel would create in each controller's leaf directory.
    const std::string mem = "memory/a/tooljail/run-1-0/", pid = "pids/a/tooljail/run-1-0/",
                      cpu = cc + "/a/tooljail/run-1-0/";
    for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                          "memory.swappiness", "cgroup.procs", "tasks"})
        t.put(mem + f, "");
    t.put(mem + "memory.max_usage_in_bytes", "66998272\n");
    t.put(mem + "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n");
    t.put(pid + "pids.max", "");
    t.put(pid + "cgroup.procs", "");
    t.put(pid + "tasks", "");
    t.put(pid + "pids.events", "max 3\n");
    t.put(cpu + "cpu.cfs_period_us", "");
    t.put(cpu + "cpu.cfs_quota_us", "");
    t.put(cpu + "cgroup.procs", "");
    t.put(cpu + "tasks", "");
    t.put(cpu + "cpuacct.usage", "2500000\n");

    auto leaf = Leaf::create(*h, "run-1-0", {64ull << 20, 16, 50, true});
    REQUIRE(leaf);
    CHECK(leaf->v2_dir_fd() == -1);
    CHECK(t.get(mem + "memory.limit_in_bytes") == "67108864");
    CHECK(t.get(mem + "memory.memsw.limit_in_bytes") == "67108864");
    CHECK(t.get(mem + "memory.swappiness") == "0");
    CHECK(t.get(pid + "pids.max") == "16");
    CHECK(t.get(cpu + "cpu.cfs_period_us") == "100000");
    CHECK(t.get(cpu + "cpu.cfs_quota_us") == "50000");

    // The files a child moves itself in through: one per directory, the shared cpu,cpuacct
    // directory once, in the order tasks_path() names them.
    auto tasks = leaf->open_tasks();
    REQUIRE(tasks);
    REQUIRE(tasks->size() == 3);
    CHECK(leaf->tasks_path(0) == t.path(mem + "tasks"));
    CHECK(leaf->tasks_path(1) == t.path(pid + "tasks"));
    CHECK(leaf->tasks_path(2) == t.path(cpu + "tasks"));
    CHECK(leaf->tasks_path(3).empty());
    CHECK(::write((*tasks)[2].get(), "0", 1) == 1);
    CHECK(t.get(cpu + "tasks") == "0");

    REQUIRE(leaf->attach(4242));
    CHECK(t.get(mem + "cgroup.procs") == "4242");
    CHECK(t.get(cpu + "cgroup.procs") == "4242");
    t.put(mem + "cgroup.procs", "");  // the fake kill loop would otherwise SIGKILL pid 4242
    t.put(pid + "cgroup.procs", "");
    t.put(cpu + "cgroup.procs", "");

    auto usage = leaf->cpu_usage_usec();
    REQUIRE(usage);
    CHECK(*usage == 2500);
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->cpu_usec == 2500);
    CHECK(s->peak_memory_bytes == 66998272);
    CHECK(s->oom_kills == 7);
    CHECK(s->pids_limit_hits == 3);

    REQUIRE(leaf->remove());
    CHECK(leaf->empty());
    CHECK_FALSE(t.has(mem));
    CHECK_FALSE(t.has(pid));
    CHECK_FALSE(t.has(cpu));
}

TEST_CASE("cgroup: nothing usable is Unsupported and says what was found", "[cgroup][unit]") {
    FakeTree t;
    SECTION("v1 without memory or pids, unified without controllers") {
        t.v2_group("unified", "", "", true);
        fs::create_directories(t.path("cpu"));
        t.put("mountinfo", "32 31 0:29 / " + t.path("cpu") + " rw - cgroup cgroup rw,cpu\n" +
                               "41 31 0:38 / " + t.path("unified") + " rw - cgroup2 cgroup2 rw\n");
        t.put("self_cgroup", "1:cpu:/\n0::/\n");
        auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
        REQUIRE_FALSE(h);
        CHECK(h.error().code == Errc::Unsupported);
        CHECK_THAT(h.error().context, Catch::StartsWith("cgroup: no usable hierarchy ("));
        CHECK_THAT(h.error().context, Catch::Contains("v1: cpu"));
        CHECK_THAT(h.error().context, Catch::Contains(t.path("unified")));
    }
    SECTION("no cgroup mounts at all") {
        t.put("mountinfo", "22 1 8:1 / / rw - ext4 /dev/root rw\n");
        t.put("self_cgroup", "");
        auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
        REQUIRE_FALSE(h);
        CHECK(h.error().code == Errc::Unsupported);
        CHECK_THAT(h.error().context, Catch::Contains("v2: none; v1: none"));
    }
}

TEST_CASE("cgroup: plain directories are refused unless a test opts in", "[cgroup][unit]") {
    FakeTree t;
    t.v2_group("cg", "cpu memory pids");
    t.put("mountinfo", v2_mountinfo(t.path("cg")));
    t.put("self_cgroup", "0::/\n");
    TestAccess::allow_fake_tree(false);
    auto h = Hierarchy::detect("", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE_FALSE(h);
    CHECK(h.error().code == Errc::Unsupported);
    CHECK_THAT(h.error().context, Catch::Contains("is not a cgroup2 filesystem"));
}

TEST_CASE("cgroup: bad parent overrides", "[cgroup][unit]") {
    auto bad = GENERATE(as<std::string>{}, "relative", "/a/../b", "/./x", "..");
    auto h = Hierarchy::detect(bad, "/nonexistent", "/nonexistent");
    REQUIRE_FALSE(h);
    CHECK(h.error().code == Errc::InvalidArgument);
}

namespace {

// A v2 tree with memory+pids(+cpu) delegated to <cg>/tooljail-test.
Hierarchy v2_hierarchy(const FakeTree& t, bool with_cpu) {
    const char* ctl = with_cpu ? "cpu memory pids" : "memory pids";
    t.v2_group("cg", ctl, "", true);
    t.v2_group("cg/tooljail-test", ctl);
    t.put("mountinfo", v2_mountinfo(t.path("cg")));
    t.put("self_cgroup", "0::/\n");
    auto h = Hierarchy::detect("/tooljail-test", t.path("mountinfo"), t.path("self_cgroup"));
    REQUIRE(h);
    return std::move(*h);
}

void v2_leaf_files(const FakeTree& t, const std::string& leaf, bool with_swap) {
    for (const char* f :
         {"memory.max", "memory.oom.group", "pids.max", "cpu.max", "cgroup.procs", "cgroup.kill"})
        t.put(leaf + f, "");
    if (with_swap) t.put(leaf + "memory.swap.max", "");
    t.put(leaf + "cpu.stat", "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n");
    t.put(leaf + "memory.events", "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 1\n");
    t.put(leaf + "memory.peak", "67108864\n");
    t.put(leaf + "pids.events", "max 5\n");
}

}  // namespace

TEST_CASE("cgroup: v2 leaf writes limits and reads stats then kills and removes",
          "[cgroup][unit]") {
    FakeTree t;
    Hierarchy h = v2_hierarchy(t, true);
    const std::string leaf_rel = "cg/tooljail-test/run-7-1/";
    v2_leaf_files(t, leaf_rel, true);

    auto leaf = Leaf::create(h, "run-7-1", {64ull << 20, 16, 50, true});
    REQUIRE(leaf);
    CHECK(leaf->v2_dir_fd() >= 0);
    auto tasks = leaf->open_tasks();  // v2: born in the leaf (CLONE_INTO_CGROUP), no files
    REQUIRE(tasks);
    CHECK(tasks->empty());
    CHECK(t.get(leaf_rel + "memory.max") == "67108864");
    CHECK(t.get(leaf_rel + "memory.swap.max") == "0");
    CHECK(t.get(leaf_rel + "memory.oom.group") == "1");
    CHECK(t.get(leaf_rel + "pids.max") == "16");
    CHECK(t.get(leaf_rel + "cpu.max") == "50000 100000");

    REQUIRE(leaf->attach(4242));
    CHECK(t.get(leaf_rel + "cgroup.procs") == "4242");
    t.put(leaf_rel + "cgroup.procs", "");

    auto usage = leaf->cpu_usage_usec();
    REQUIRE(usage);
    CHECK(*usage == 123456);
    auto s = leaf->stats();
    REQUIRE(s);
    CHECK(s->cpu_usec == 123456);
    CHECK(s->peak_memory_bytes == 67108864);
    CHECK(s->oom_kills == 2);
    CHECK(s->pids_limit_hits == 5);

    SECTION("memory.peak is optional (Linux < 5.19)") {
        fs::remove(t.path(leaf_rel + "memory.peak"));
        auto s2 = leaf->stats();
        REQUIRE(s2);
        CHECK(s2->peak_memory_bytes == 0);
        CHECK(s2->oom_kills == 2);
    }
    SECTION("kill_all uses cgroup.kill; remove deletes the leaf") {
        leaf->kill_all();
        CHECK(t.get(leaf_rel + "cgroup.kill") == "1");
        REQUIRE(leaf->remove());
        CHECK(leaf->empty());
        CHECK_FALSE(t.has(leaf_rel));
        REQUIRE(leaf->remove());  // idempotent
    }
    SECTION("the destructor removes the leaf") {
        { Leaf moved = std::move(*leaf); }
        CHECK_FALSE(t.has(leaf_rel));
    }
}

TEST_CASE("cgroup: v2 leaf failures are closed and clean up", "[cgroup][unit]") {
    FakeTree t;
    SECTION("cpu limit without the cpu controller") {
        Hierarchy h = v2_hierarchy(t, false);
        CHECK(h.describe() == "v2 memory,pids");
        auto leaf = Leaf::create(h, "run-7-2", {64ull << 20, 16, 50, true});
        REQUIRE_FALSE(leaf);
        CHECK(leaf.error().code == Errc::Unsupported);
        CHECK(leaf.error().context == "cgroup: cpu controller unavailable");
        CHECK_FALSE(t.has("cg/tooljail-test/run-7-2"));
        // Without a CPU limit the same hierarchy is fine: usage comes from cpu.stat.
        v2_leaf_files(t, "cg/tooljail-test/run-7-3/", true);
        CHECK(Leaf::create(h, "run-7-3", {64ull << 20, 16, 0, true}));
    }
    SECTION("a write that fails removes the leaf") {
        Hierarchy h = v2_hierarchy(t, true);
        v2_leaf_files(t, "cg/tooljail-test/run-7-4/", true);
        fs::remove(t.path("cg/tooljail-test/run-7-4/pids.max"));
        auto leaf = Leaf::create(h, "run-7-4", {64ull << 20, 16, 50, true});
        REQUIRE_FALSE(leaf);
        CHECK_THAT(leaf.error().context, Catch::Contains("pids.max"));
        CHECK_FALSE(t.has("cg/tooljail-test/run-7-4"));
    }
    SECTION("no memory.swap.max is only acceptable on a host without swap") {
        Hierarchy h = v2_hierarchy(t, true);
        v2_leaf_files(t, "cg/tooljail-test/run-7-5/", false);
        auto leaf = Leaf::create(h, "run-7-5", {64ull << 20, 16, 50, true});
        if (host_has_swap()) {
            REQUIRE_FALSE(leaf);
            CHECK(leaf.error().code == Errc::Unsupported);
            CHECK_THAT(leaf.error().context, Catch::Contains("memory.swap.max"));
        } else {
            REQUIRE(leaf);
            CHECK(t.get("cg/tooljail-test/run-7-5/memory.max") == "67108864");
        }
    }
    SECTION("leaf names cannot escape the parent") {
        Hierarchy h = v2_hierarchy(t, true);
        auto name = GENERATE(as<std::string>{}, "", ".", "..", "a/b", "../x");
        auto leaf = Leaf::create(h, name, {});
        REQUIRE_FALSE(leaf);
        CHECK(leaf.error().code == Errc::InvalidArgument);
    }
}

TEST_CASE("cgroup: stale leaves are those of dead (or reused) supervisor pids", "[cgroup][unit]") {
    FakeTree t;
    Hierarchy h = v2_hierarchy(t, true);
    const std::string me = std::to_string(::getpid());
    for (const std::string& name :
         {std::string("run-999999999-0"), "run-" + me + "-0", "run-" + me + "-old",
          std::string("run-abc-0"), std::string("other"), std::string("run-0-1")})
        t.v2_group("cg/tooljail-test/" + name, "cpu memory pids");
    // A leaf made long before this process started: its pid has been reused by us.
    struct timeval old_times[2] = {{::time(nullptr) - 10 * 86400, 0},
                                   {::time(nullptr) - 10 * 86400, 0}};
    REQUIRE(::utimes(t.path("cg/tooljail-test/run-" + me + "-old").c_str(), old_times) == 0);

    auto removed = remove_stale_leaves(h);
    REQUIRE(removed);
    std::sort(removed->begin(), removed->end());
    std::vector<std::string> expected = {"run-" + me + "-old", "run-999999999-0"};
    std::sort(expected.begin(), expected.end());
    CHECK(*removed == expected);
    CHECK_FALSE(t.has("cg/tooljail-test/run-999999999-0"));
    CHECK(t.has("cg/tooljail-test/run-" + me + "-0"));
    CHECK(t.has("cg/tooljail-test/run-abc-0"));
    CHECK(t.has("cg/tooljail-test/other"));
    CHECK(t.has("cg/tooljail-test/run-0-1"));
}
