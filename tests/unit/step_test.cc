#include "sandbox/step.h"

#include <string>
#include <utility>

#include <catch2/catch.hpp>

using sandbox::Step;

// The names are part of the record format (error.step, docs/RECORDS.md) and of `tooljail run
// --json` (failed_step): these are the strings both carried before the steps became an enum.
TEST_CASE("steps: each step keeps its name, and the name parses back to it", "[step][unit]") {
    const std::pair<Step, const char*> names[] = {
        {Step::None, ""},
        {Step::Launch, "launch"},
        {Step::Cgroup, "cgroup"},
        {Step::Pipes, "pipe2"},
        {Step::Clone, "namespaces"},
        {Step::IdMaps, "user namespace"},
        {Step::Signals, "signals"},
        {Step::ParentFds, "parent fds"},
        {Step::InheritedFds, "inherited fds"},
        {Step::Pdeathsig, "pdeathsig"},
        {Step::Sync, "sync"},
        {Step::CgroupNamespace, "cgroup namespace"},
        {Step::MountSources, "mount sources"},
        {Step::Identity, "identity"},
        {Step::Mounts, "mounts"},
        {Step::Hostname, "hostname"},
        {Step::Loopback, "loopback"},
        {Step::Stdio, "stdio"},
        {Step::RequestBuffer, "request buffer"},
        {Step::Fds, "fds"},
        {Step::Capabilities, "capabilities"},
        {Step::NoNewPrivs, "no_new_privs"},
        {Step::Landlock, "landlock"},
        {Step::Rlimits, "rlimits"},
        {Step::Seccomp, "seccomp"},
        {Step::Ready, "ready"},
        {Step::Request, "request"},
        {Step::Stdin, "stdin"},
        {Step::StdinFile, "stdin file"},
        {Step::Execve, "execve"},
        {Step::Wait, "wait"},
        {Step::Unknown, "unknown"},
    };
    CHECK(std::size(names) == static_cast<size_t>(Step::Unknown) + 1);
    for (const auto& [step, name] : names) {
        INFO(name);
        CHECK(std::string(sandbox::step_name(step)) == name);
        CHECK(sandbox::parse_step(name) == step);
    }
    // A value outside the enum is named "unknown"; a name no step has parses to Unknown.
    CHECK(std::string(sandbox::step_name(static_cast<Step>(200))) == "unknown");
    CHECK(sandbox::parse_step("no such step") == Step::Unknown);
    CHECK(sandbox::parse_step("execve: /bin/nope") == Step::Unknown);
}
