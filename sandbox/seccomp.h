// Seccomp: compile a named profile to a BPF program once per policy (parent), install it as the
// very last step before execve (child).
//
// Profiles (all pin the native x86_64 ABI; any other arch, including x32 and i386 syscalls via
// int 0x80, kills the process):
//   "default" — allow everything except the dangerous-syscall denylist (see seccomp.cc).
//   "strict"  — allow only the syscalls ordinary CLI programs, interpreters and git need.
// Denied syscalls fail with EPERM (SeccompAction::Errno) or kill the process with SIGSYS
// (SeccompAction::Kill). clone3 always fails with ENOSYS so libc falls back to clone(2), whose
// flags the filter can inspect (namespace-creating flags are denied).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace sandbox::seccomp {

struct Program {
    std::string profile;
    std::vector<sock_filter> filter;  // exported by libseccomp; installed as-is in the child
};

// Parent. Builds the filter with libseccomp and exports it. Unknown profile -> InvalidArgument.
Result<Program> compile(const SeccompConfig& config);

// Child, post-fork: no allocation, no logging. Requires PR_SET_NO_NEW_PRIVS already set.
// Returns 0 or an errno value.
int install(const Program& program);

// The profile names compile() accepts, for policy validation and docs.
std::vector<std::string> profile_names();

}  // namespace sandbox::seccomp
