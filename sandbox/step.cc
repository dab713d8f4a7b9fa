#include "sandbox/step.h"

namespace sandbox {
namespace {

// Indexed by the enum's value; the names are the ones records have always carried, so they are
// part of the record format (docs/RECORDS.md) and must not change.
constexpr const char* kNames[] = {
    "",
    "launch",
    "cgroup",
    "pipe2",
    "namespaces",
    "user namespace",
    "signals",
    "parent fds",
    "inherited fds",
    "pdeathsig",
    "sync",
    "cgroup namespace",
    "mount sources",
    "identity",
    "mounts",
    "hostname",
    "loopback",
    "stdio",
    "request buffer",
    "fds",
    "capabilities",
    "no_new_privs",
    "landlock",
    "rlimits",
    "seccomp",
    "ready",
    "request",
    "stdin",
    "stdin file",
    "execve",
    "wait",
    "unknown",
};
constexpr auto kCount = sizeof kNames / sizeof kNames[0];
static_assert(kCount == static_cast<size_t>(Step::Unknown) + 1, "one name per Step");

}  // namespace

const char* step_name(Step step) {
    const auto index = static_cast<size_t>(step);
    return index < kCount ? kNames[index] : "unknown";
}

Step parse_step(std::string_view name) {
    for (size_t i = 0; i < kCount; ++i)
        if (name == kNames[i]) return static_cast<Step>(i);
    return Step::Unknown;
}

}  // namespace sandbox
