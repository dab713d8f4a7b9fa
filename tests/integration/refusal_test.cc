// Fail-closed claims (REQUIREMENTS.md section 1: "If any layer cannot be applied the run fails
// closed with a clear error naming the layer"): configurations the host cannot honour, or that
// would weaken the sandbox, are refused before anything runs; programs that cannot be executed
// end in SandboxError with the step ("execve") and errno.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"

using sandbox::Errc;
using sandbox::Outcome;
using sandbox::Termination;
using tjtest::SandboxFixture;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool mentions(const std::string& text, const std::string& word) {
    return lower(text).find(lower(word)) != std::string::npos;
}

// Runs argv in a sandbox prepared from config and expects the execve step to fail with err.
void expect_exec_failure(const sandbox::SandboxConfig& config, std::vector<std::string> argv,
                         int err) {
    auto sb = sandbox::Sandbox::prepare(config, tjtest::shared_host());
    if (!sb) FAIL("prepare: " << sb.error().message());
    sandbox::RunRequest request;
    request.argv = std::move(argv);
    Outcome o = sandbox::run_once(**sb, request);
    TJ_SHOW(o);
    CHECK(o.reason == Termination::SandboxError);
    CHECK(o.failed_step == sandbox::Step::Execve);
    CHECK(o.failed_errno == err);
    CHECK(o.out.data.empty());
}

// Where a refused configuration stopped: at Host::open, prepare(), or the run itself. Returns
// the error text, or an empty string if the probe ran (which the caller treats as a failure).
struct Refusal {
    std::string stage;  // "host", "prepare", "run", or "" when nothing refused
    Errc code = Errc::Internal;
    std::string text;
};

Refusal attempt_with(const sandbox::HostOptions& options, const sandbox::SandboxConfig& config) {
    auto host = sandbox::Host::open(options);
    if (!host) return {"host", host.error().code, host.error().message()};
    auto sb = sandbox::Sandbox::prepare(config, *host);
    if (!sb) return {"prepare", sb.error().code, sb.error().message()};
    sandbox::RunRequest request;
    request.argv = {tjtest::kProbe, "getuid"};
    Outcome o = sandbox::run_once(**sb, request);
    if (o.reason == Termination::SandboxError)
        return {"run", Errc::Internal,
                std::string(sandbox::step_name(o.failed_step)) + ": " + o.error_message};
    return {"", Errc::Internal, tjtest::describe(o)};
}

}  // namespace

// ---- programs that cannot run -------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "refusal: a missing program fails at execve with ENOENT",
                 "[refusal][integration]") {
    expect_exec_failure(config, {"/workspace/does-not-exist"}, ENOENT);
    expect_exec_failure(config, {"no-such-program-tooljail"}, ENOENT);  // PATH lookup
}

TEST_CASE_METHOD(SandboxFixture, "refusal: a non-executable file fails at execve",
                 "[refusal][integration]") {
    tjtest::write_host_file(workspace() + "/script.sh", "#!/bin/sh\necho hi\n", 0644);
    tjtest::write_host_file(workspace() + "/garbage", std::string("\x01\x02\x03junk", 7), 0755);
    expect_exec_failure(config, {"/workspace/script.sh"}, EACCES);  // no x bit
    expect_exec_failure(config, {"/workspace/sub"}, EACCES);        // a directory
    expect_exec_failure(config, {"/workspace/garbage"}, ENOEXEC);   // not a format we run
}

TEST_CASE_METHOD(SandboxFixture, "refusal: a noexec workspace cannot run its own binaries",
                 "[refusal][integration]") {
    config.workspace_noexec = true;
    expect_exec_failure(config, {tjtest::kProbe, "getuid"}, EACCES);
}

TEST_CASE_METHOD(SandboxFixture, "refusal: an empty argv is refused", "[refusal][integration]") {
    auto sb = prepare();
    sandbox::RunRequest request;
    auto run = sb->launch(request);
    REQUIRE(!run);
    CHECK(run.error().code == Errc::InvalidArgument);
}

// ---- layers the host cannot give ----------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "refusal: a Landlock ABI the kernel lacks is refused at prepare",
                 "[refusal][integration]") {
    config.landlock.mode = sandbox::LandlockMode::Required;
    config.landlock.min_abi = 99;
    auto sb = sandbox::Sandbox::prepare(config, tjtest::shared_host());
    REQUIRE(!sb);
    INFO(sb.error().message());
    CHECK(sb.error().code == Errc::Unsupported);
    CHECK(mentions(sb.error().context, "landlock"));
}

TEST_CASE_METHOD(SandboxFixture, "refusal: an unusable cgroup parent fails closed",
                 "[refusal][integration]") {
    // cgroup.procs is a file in every cgroup directory: nothing can be created below it.
    sandbox::HostOptions options;
    options.cgroup_parent = "/cgroup.procs/tooljail-test";
    Refusal r = attempt_with(options, config);
    INFO("stage=" << r.stage << " error=" << r.text);
    CHECK(!r.stage.empty());  // something refused
    CHECK(mentions(r.text, "cgroup"));
}

TEST_CASE_METHOD(SandboxFixture, "refusal: a cgroup parent escaping the hierarchy is refused",
                 "[refusal][integration]") {
    const std::string escape_name = tjtest::unique_token("tooljail-cgroup-escape");
    sandbox::HostOptions options;
    options.cgroup_parent = "/../../../../../tmp/" + escape_name;
    Refusal r = attempt_with(options, config);
    INFO("stage=" << r.stage << " error=" << r.text);
    CHECK(!r.stage.empty());
    CHECK(!std::filesystem::exists("/tmp/" + escape_name));
    std::error_code ec;
    std::filesystem::remove_all("/tmp/" + escape_name, ec);
}

TEST_CASE_METHOD(SandboxFixture, "refusal: a missing required bind fails closed",
                 "[refusal][integration]") {
    const std::string missing = "/nonexistent-" + tjtest::unique_token("tooljail-bind");
    config.binds.push_back({missing, "/opt/tool", false, false});
    Refusal r = attempt_with(sandbox::HostOptions{}, config);
    INFO("stage=" << r.stage << " error=" << r.text);
    CHECK(!r.stage.empty());
    CHECK(mentions(r.text, missing));

    // The same bind marked optional is skipped and the run goes ahead.
    config.binds.back().optional = true;
    Outcome o = probe({"getuid"});
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
}

TEST_CASE_METHOD(SandboxFixture, "refusal: a relative or missing workspace fails closed",
                 "[refusal][integration]") {
    SECTION("relative") {
        config.workspace = "relative/workspace";
        Refusal r = attempt_with(sandbox::HostOptions{}, config);
        INFO("stage=" << r.stage << " error=" << r.text);
        CHECK(!r.stage.empty());
    }
    SECTION("missing") {
        config.workspace = workspace() + "/does-not-exist";
        Refusal r = attempt_with(sandbox::HostOptions{}, config);
        INFO("stage=" << r.stage << " error=" << r.text);
        CHECK(!r.stage.empty());
        CHECK(mentions(r.text, "does-not-exist"));
    }
}

// ---- configurations that would weaken the sandbox -----------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "refusal: uid 0 inside is refused", "[refusal][integration]") {
    config.uid = 0;
    auto sb = sandbox::Sandbox::prepare(config, tjtest::shared_host());
    REQUIRE(!sb);
    INFO(sb.error().message());
    CHECK(sb.error().code == Errc::InvalidArgument);
}

TEST_CASE_METHOD(SandboxFixture, "refusal: mapping to host root is refused",
                 "[refusal][integration]") {
    config.host_uid = 0;
    config.host_gid = 0;
    Refusal r = attempt_with(sandbox::HostOptions{}, config);
    INFO("stage=" << r.stage << " error=" << r.text);
    CHECK(r.stage == "prepare");
    CHECK(r.code == Errc::InvalidArgument);
}

TEST_CASE_METHOD(SandboxFixture, "refusal: an unknown seccomp profile is refused",
                 "[refusal][integration]") {
    config.seccomp.profile = "no-such-profile";
    auto sb = sandbox::Sandbox::prepare(config, tjtest::shared_host());
    REQUIRE(!sb);
    INFO(sb.error().message());
    CHECK(sb.error().code == Errc::InvalidArgument);
    CHECK((mentions(sb.error().context, "seccomp") ||
           mentions(sb.error().context, "no-such-profile")));
}
