#include "sandbox/mount_plan.h"

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>

using sandbox::BindMount;
using sandbox::Errc;
using sandbox::SandboxConfig;
using namespace sandbox::mount_plan;

namespace {

SandboxConfig base_config() {
    SandboxConfig c;
    c.name = "test";
    c.binds = {BindMount{"/usr"}, BindMount{"/bin", "", true},
               BindMount{"/nonexistent-xyz", "", true}};
    c.etc_entries = {"hostname-does-not-exist-xyz"};
    return c;
}

const Op* find(const Plan& p, OpKind kind, const std::string& target) {
    for (const Op& op : p.ops)
        if (op.kind == kind && op.target == target) return &op;
    return nullptr;
}

}  // namespace

TEST_CASE("mount plan: system binds are read-only, nosuid, nodev, recursive clones",
          "[mount_plan][unit]") {
    auto plan = build(base_config(), "/run/x/root", "p", "g");
    REQUIRE(plan);
    const Op* usr = find(*plan, OpKind::BindTree, "usr");
    REQUIRE(usr != nullptr);
    CHECK((usr->attr & MOUNT_ATTR_RDONLY) != 0);
    CHECK((usr->attr & MOUNT_ATTR_NOSUID) != 0);
    CHECK((usr->attr & MOUNT_ATTR_NODEV) != 0);
    REQUIRE(usr->source_index >= 0);
    CHECK(plan->bind_sources[static_cast<size_t>(usr->source_index)] == "/usr");
    CHECK(find(*plan, OpKind::Mkdir, "usr") != nullptr);
}

TEST_CASE("mount plan: a host symlink is recreated, not bound", "[mount_plan][unit]") {
    char link[256];
    ssize_t n = ::readlink("/bin", link, sizeof link);
    if (n < 0) return;  // /bin is a real directory on this host: covered by the bind test
    auto plan = build(base_config(), "/run/x/root", "p", "g");
    REQUIRE(plan);
    const Op* bin = find(*plan, OpKind::Symlink, "bin");
    REQUIRE(bin != nullptr);
    CHECK(bin->source == std::string(link, static_cast<size_t>(n)));
    CHECK(std::count(plan->bind_sources.begin(), plan->bind_sources.end(), "/bin") == 0);
}

TEST_CASE("mount plan: optional missing sources are skipped, required ones refused",
          "[mount_plan][unit]") {
    SandboxConfig c = base_config();
    auto ok = build(c, "/run/x/root", "p", "g");
    REQUIRE(ok);
    CHECK(find(*ok, OpKind::BindTree, "nonexistent-xyz") == nullptr);
    c.binds.push_back(BindMount{"/also-missing-xyz"});
    auto bad = build(c, "/run/x/root", "p", "g");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::NotFound);
    CHECK(bad.error().context.find("/also-missing-xyz") != std::string::npos);
}

TEST_CASE("mount plan: workspace is read-only, the working directory, noexec by policy",
          "[mount_plan][unit]") {
    SandboxConfig c = base_config();
    c.workspace = "/usr/share";
    c.workspace_noexec = true;
    auto plan = build(c, "/run/x/root", "p", "g");
    REQUIRE(plan);
    CHECK(plan->cwd == "/workspace");
    const Op* ws = find(*plan, OpKind::BindTree, "workspace");
    REQUIRE(ws != nullptr);
    CHECK((ws->attr & MOUNT_ATTR_RDONLY) != 0);
    CHECK((ws->attr & MOUNT_ATTR_NOEXEC) != 0);
    c.workspace_noexec = false;
    auto exec_plan = build(c, "/run/x/root", "p", "g");
    REQUIRE(exec_plan);
    CHECK((find(*exec_plan, OpKind::BindTree, "workspace")->attr & MOUNT_ATTR_NOEXEC) == 0);
}

TEST_CASE("mount plan: /tmp is a size-capped tmpfs, the root is sealed last",
          "[mount_plan][unit]") {
    SandboxConfig c = base_config();
    c.limits.tmpfs_bytes = 12345678;
    auto plan = build(c, "/run/x/root", "p", "g");
    REQUIRE(plan);
    const Op* tmp = find(*plan, OpKind::Tmpfs, "tmp");
    REQUIRE(tmp != nullptr);
    CHECK(tmp->source.find("size=12345678") != std::string::npos);
    CHECK(plan->ops.back().kind == OpKind::SetAttr);
    CHECK(plan->ops.back().target.empty());
    CHECK((plan->ops.back().attr & MOUNT_ATTR_RDONLY) != 0);
}

TEST_CASE("mount plan: /dev holds only the harmless nodes and is sealed", "[mount_plan][unit]") {
    auto plan = build(base_config(), "/run/x/root", "p", "g");
    REQUIRE(plan);
    std::vector<std::string> nodes;
    for (const Op& op : plan->ops)
        if (op.kind == OpKind::BindTree && op.target.rfind("dev/", 0) == 0)
            nodes.push_back(op.target);
    std::sort(nodes.begin(), nodes.end());
    CHECK(nodes == std::vector<std::string>{"dev/full", "dev/null", "dev/random", "dev/urandom",
                                            "dev/zero"});
    const Op* seal = find(*plan, OpKind::SetAttr, "dev");
    REQUIRE(seal != nullptr);
    CHECK((seal->attr & MOUNT_ATTR_RDONLY) != 0);
}

TEST_CASE("mount plan: generated identity files, never the host's", "[mount_plan][unit]") {
    auto plan = build(base_config(), "/run/x/root", "PASSWD", "GROUP");
    REQUIRE(plan);
    REQUIRE(find(*plan, OpKind::WriteFile, "etc/passwd") != nullptr);
    CHECK(find(*plan, OpKind::WriteFile, "etc/passwd")->data == "PASSWD");
    CHECK(find(*plan, OpKind::WriteFile, "etc/group")->data == "GROUP");
    SandboxConfig c = base_config();
    c.etc_entries = {"passwd"};
    CHECK_FALSE(build(c, "/run/x/root", "p", "g"));
}

TEST_CASE("mount plan: hostile and colliding paths are refused", "[mount_plan][unit]") {
    auto [source, target] = GENERATE(table<std::string, std::string>({
        {"usr", ""},          // relative
        {"/usr/../etc", ""},  // dot-dot
        {"/usr/", ""},        // trailing slash
        {"/usr//lib", ""},    // empty component
        {"/usr", "/proc/x"},  // under /proc
        {"/usr", "/dev"},     // onto /dev
        {"/usr", "/tmp"},     // onto /tmp
        {"/usr", "/etc"},     // onto /etc
        {"/usr", "/"},        // the root itself
    }));
    SandboxConfig c = base_config();
    c.binds = {BindMount{source, target}};
    auto plan = build(c, "/run/x/root", "p", "g");
    CHECK_FALSE(plan);
    if (!plan) CHECK(plan.error().code == Errc::InvalidArgument);
}

TEST_CASE("mount plan: etc entries must be plain relative names", "[mount_plan][unit]") {
    auto name = GENERATE(std::string(""), std::string("../shadow"), std::string("/shadow"),
                         std::string("a/../b"));
    SandboxConfig c = base_config();
    c.etc_entries = {name};
    CHECK_FALSE(build(c, "/run/x/root", "p", "g"));
}

TEST_CASE("mount plan: a bind may not shadow the workspace", "[mount_plan][unit]") {
    SandboxConfig c = base_config();
    c.workspace = "/usr/share";
    c.binds.push_back(BindMount{"/usr/lib", "/workspace"});
    CHECK_FALSE(build(c, "/run/x/root", "p", "g"));
}

TEST_CASE("mount plan: normal absolute path predicate", "[mount_plan][unit]") {
    CHECK(is_normal_absolute("/usr"));
    CHECK(is_normal_absolute("/usr/lib/x86_64-linux-gnu"));
    CHECK_FALSE(is_normal_absolute("/"));
    CHECK_FALSE(is_normal_absolute(""));
    CHECK_FALSE(is_normal_absolute("/a/./b"));
    CHECK_FALSE(is_normal_absolute(std::string("/a\0b", 4)));
}
