// Landlock: defence in depth on top of the mount tree. Inside the sandbox, after pivot_root, the
// child restricts itself so that the filesystem is read/execute-only except the scratch paths,
// TCP bind/connect is denied (ABI >= 4), and abstract unix sockets and signals cannot reach
// outside the sandbox's own domain (ABI >= 6).
#pragma once

#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace sandbox::landlock {

// Parent. The running kernel's Landlock ABI version, 0 when Landlock is unavailable or disabled.
int abi_version();

struct Plan {
    bool enabled = false;
    int abi = 0;
    // Paths as seen inside the sandbox (after pivot_root).
    std::vector<std::string> read_exec_paths;  // e.g. "/"
    std::vector<std::string> writable_paths;   // e.g. "/tmp", "/dev/null"
};

// Parent. Mode Off -> a disabled plan. Mode Required and the kernel ABI below min_abi (or no
// Landlock) -> Unsupported naming the layer "landlock".
Result<Plan> plan(const LandlockConfig& config, std::vector<std::string> read_exec_paths,
                  std::vector<std::string> writable_paths);

// Child, post-fork, after pivot_root and before seccomp. No allocation. Returns 0 or errno.
// Requires no_new_privs (or CAP_SYS_ADMIN) to be set first.
int apply(const Plan& plan);

}  // namespace sandbox::landlock
