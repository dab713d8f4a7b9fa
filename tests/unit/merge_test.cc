// policy::merge: the one place policy, tool limits and caller meet (runtime/policy/merge.h).
#include "runtime/policy/merge.h"

#include <catch2/catch.hpp>

#include "policy_test_util.h"

using namespace policytest;
using runtime::merge;
using runtime::RunSite;
using runtime::ToolLimits;
using sandbox::Millis;

TEST_CASE("merge: without tool limits or a caller timeout it is the policy plus the workspace",
          "[merge][policy][unit]") {
    auto p = parse(base_policy());
    REQUIRE(p.has_value());
    sandbox::SandboxConfig c = merge(*p, ToolLimits{}, RunSite{"/srv/ws", std::nullopt});
    CHECK(c.workspace == "/srv/ws");
    CHECK(c.limits.wall_timeout == p->sandbox.limits.wall_timeout);
    CHECK(c.limits.memory_bytes == p->sandbox.limits.memory_bytes);
    CHECK(c.limits.stdout_bytes == p->sandbox.limits.stdout_bytes);
    CHECK(c.binds.size() == p->sandbox.binds.size());
    CHECK(c.env == p->sandbox.env);
    CHECK(p->sandbox.workspace.empty());  // the policy itself is untouched
}

TEST_CASE("merge: a tool's limits only tighten", "[merge][policy][unit]") {
    auto p = parse(base_policy());  // 30 s wall, 256 MiB, 1 MiB per stream
    REQUIRE(p.has_value());
    SECTION("tighter values win") {
        ToolLimits tool{Millis{5000}, 64ull << 20, 4096};
        sandbox::SandboxConfig c = merge(*p, tool, RunSite{});
        CHECK(c.limits.wall_timeout == Millis{5000});
        CHECK(c.limits.memory_bytes == 64ull << 20);
        CHECK(c.limits.stdout_bytes == 4096);
        CHECK(c.limits.stderr_bytes == 4096);
    }
    SECTION("looser values (refused at load) cannot loosen the policy") {
        ToolLimits tool{Millis{3'600'000}, 1ull << 40, 1ull << 40};
        sandbox::SandboxConfig c = merge(*p, tool, RunSite{});
        CHECK(c.limits.wall_timeout == p->sandbox.limits.wall_timeout);
        CHECK(c.limits.memory_bytes == p->sandbox.limits.memory_bytes);
        CHECK(c.limits.stdout_bytes == p->sandbox.limits.stdout_bytes);
    }
}

TEST_CASE("merge: the caller's explicit timeout replaces the wall clock", "[merge][policy][unit]") {
    auto p = parse(base_policy());
    REQUIRE(p.has_value());
    CHECK(merge(*p, {}, RunSite{"", Millis{120'000}}).limits.wall_timeout == Millis{120'000});
    CHECK(merge(*p, {}, RunSite{"", Millis{100}}).limits.wall_timeout == Millis{100});
    CHECK(merge(*p, {}, RunSite{"", std::nullopt}).workspace.empty());
}
