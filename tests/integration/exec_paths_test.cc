// Issue 16 item 4: the shipped strict policy mounts the workspace noexec, so a program there
// must not be able to execute a file it wrote itself by any other route either: a copy in /tmp
// (run directly or through the dynamic loader), or a memfd run through /proc/self/fd/N or
// execveat(2). Each escape is attempted with tooljail-probe, which runs from an executable bind
// of its build directory; the file it tries to run is its own copy in the workspace (or a host
// program for the loader case). The program the policy runs must still exec normally.
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/policy/policy.h"
#include "tests/integration/sandbox_fixture.h"

using sandbox::Outcome;
using sandbox::Termination;
using tjtest::attempt;
using tjtest::SandboxFixture;

namespace {

constexpr const char* kProbeBind = "/opt/tooljail-probe";
constexpr const char* kBoundProbe = "/opt/tooljail-probe/tooljail-probe";
constexpr const char* kLoader = "/lib64/ld-linux-x86-64.so.2";

// policies/strict.json as shipped, with the fixture's workspace and the probe's build directory
// bound (read-only, executable) at kProbeBind.
sandbox::SandboxConfig shipped_strict(const std::string& workspace) {
    auto policy =
        runtime::load_policy_file(std::string(TOOLJAIL_SOURCE_DIR) + "/policies/strict.json",
                                  [](const std::string&) { return std::nullopt; });
    if (!policy) FAIL("policies/strict.json: " << policy.error().message());
    sandbox::SandboxConfig c = policy->sandbox;
    c.workspace = workspace;
    c.binds.push_back({TOOLJAIL_PROBE_DIR, kProbeBind, false, false});
    return c;
}

// Runs the bound probe with args in sb (warm when the test runs with a pool).
Outcome run_bound_probe(const sandbox::Sandbox& sb, std::vector<std::string> args) {
    sandbox::RunRequest request;
    request.argv.push_back(kBoundProbe);
    for (auto& a : args) request.argv.push_back(std::move(a));
    if (tjtest::pool_size() > 0) (void)sb.wait_warm(1, std::chrono::seconds(10));
    return sandbox::run_once(sb, request);
}

// The attempt ran to its end without a seccomp kill, and nothing the payload would have
// printed ("sleep ok", the marker) appears.
void check_not_executed(const Outcome& o, const std::string& payload_output) {
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.out.data.find(payload_output) == std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(SandboxFixture, "exec paths: strict still runs its own program",
                 "[containment][exec_paths][integration]") {
    auto sb = sandbox::Sandbox::prepare(shipped_strict(workspace()), tjtest::shared_host());
    if (!sb) FAIL("prepare: " << sb.error().message());
    Outcome o = run_bound_probe(**sb, {"getuid"});
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.out.data.find("uid=1000") != std::string::npos);
    // A dynamically linked host program, loader and all.
    sandbox::RunRequest echo;
    echo.argv = {"/usr/bin/echo", "still runs"};
    Outcome e = sandbox::run_once(**sb, echo);
    TJ_SHOW(e);
    CHECK(e.out.data == "still runs\n");
}

TEST_CASE_METHOD(SandboxFixture, "exec paths: strict cannot execute a binary copied to /tmp",
                 "[containment][exec_paths][integration]") {
    auto sb = sandbox::Sandbox::prepare(shipped_strict(workspace()), tjtest::shared_host());
    if (!sb) FAIL("prepare: " << sb.error().message());
    Outcome o = run_bound_probe(**sb, {"copy-exec", "/workspace/tooljail-probe", "/tmp/payload",
                                       "/tmp/payload", "sleep", "0"});
    check_not_executed(o, "sleep ok");
    CHECK(attempt(o, "copy") == "ok");  // /tmp stays writable
    CHECK(attempt(o, "exec") == "EACCES");
}

TEST_CASE_METHOD(SandboxFixture,
                 "exec paths: strict cannot run a copy in /tmp through the dynamic loader",
                 "[containment][exec_paths][integration]") {
    auto sb = sandbox::Sandbox::prepare(shipped_strict(workspace()), tjtest::shared_host());
    if (!sb) FAIL("prepare: " << sb.error().message());
    // The loader is allowed to run (every dynamic program needs it); it must not be able to map
    // a file from /tmp as code.
    const std::string marker = tjtest::unique_token("loader-marker");
    Outcome o = run_bound_probe(
        **sb, {"copy-exec", "/usr/bin/echo", "/tmp/echo", kLoader, "/tmp/echo", marker});
    check_not_executed(o, marker);
    CHECK(attempt(o, "copy") == "ok");
}

TEST_CASE_METHOD(SandboxFixture,
                 "exec paths: strict cannot execute a memfd through /proc/self/fd or execveat",
                 "[containment][exec_paths][integration]") {
    auto sb = sandbox::Sandbox::prepare(shipped_strict(workspace()), tjtest::shared_host());
    if (!sb) FAIL("prepare: " << sb.error().message());
    const std::string how = GENERATE(as<std::string>{}, "proc", "at");
    INFO("memfd exec via " << how);
    Outcome o = run_bound_probe(
        **sb, {"memfd-exec", "/workspace/tooljail-probe", how, "tooljail-probe", "sleep", "0"});
    check_not_executed(o, "sleep ok");
    // Refused at memfd_create, or at the exec; never a seccomp kill (checked above).
    CHECK((attempt(o, "memfd") != "ok" || attempt(o, "exec") != "missing"));
}
