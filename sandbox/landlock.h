// Landlock: defence in depth on top of the mount tree. Inside the sandbox, after pivot_root, the
// child restricts itself so that the filesystem is read/execute-only except the scratch paths,
// TCP bind/connect is denied (ABI >= 4), and abstract unix sockets and signals cannot reach
// outside the sandbox's own domain (ABI >= 6). With an exec allowlist, execution is allowed only
// of the listed files (and beneath the listed directories): the one layer that can say "this
// run may execute git and nothing else", whatever the program is talked into (issue 16 item 3).
#pragma once

#include <cstdint>
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
    std::vector<std::string> exec_paths;  // not empty: the only executables, e.g. "/usr/bin/git"
    // Access masks for the running ABI, computed by plan() so that apply() only issues syscalls.
    // A rule on a non-directory may carry file rights only, hence the *_file variants. With
    // exec_paths, EXECUTE is left out of every mask but the exec_* ones.
    uint64_t handled_fs = 0;      // every filesystem right the ABI knows: all denied by default
    uint64_t read_exec_dir = 0;   // READ_FILE | READ_DIR | EXECUTE
    uint64_t read_exec_file = 0;  // READ_FILE | EXECUTE
    uint64_t writable_dir = 0;    // == handled_fs
    uint64_t writable_file = 0;   // READ_FILE | WRITE_FILE | TRUNCATE (ABI 3) | IOCTL_DEV (ABI 5)
    uint64_t exec_dir = 0;        // READ_FILE | READ_DIR | EXECUTE
    uint64_t exec_file = 0;       // READ_FILE | EXECUTE
    uint64_t handled_net = 0;     // ABI 4: BIND_TCP | CONNECT_TCP, with no rule: all TCP denied
    uint64_t scoped = 0;          // ABI 6: abstract unix sockets and signals stay in the domain
};

// Parent. Mode Off -> a disabled plan. Mode Required and the kernel ABI below min_abi (or no
// Landlock) -> Unsupported naming the layer "landlock". A relative or empty path ->
// InvalidArgument. ABIs newer than this code knows (7) are used at their ABI-7 subset.
// allow_tcp: leave TCP bind/connect unhandled. The launcher passes the policy's loopback
// setting: with only `lo` in the namespace, TCP can reach nothing but the sandbox itself.
// exec_paths: when not empty, the only files (or directories, with everything beneath) whose
// execution is allowed; a program's ELF interpreter must be among them (the kernel checks the
// right on it too). Needs Landlock: with mode Off it is InvalidArgument, not ignored.
Result<Plan> plan(const LandlockConfig& config, std::vector<std::string> read_exec_paths,
                  std::vector<std::string> writable_paths, bool allow_tcp = false,
                  std::vector<std::string> exec_paths = {});

// Child, post-fork, after pivot_root and before seccomp. No allocation. Returns 0 or errno.
// Requires no_new_privs (or CAP_SYS_ADMIN) to be set first. Paths that do not exist (ENOENT)
// are skipped; any other failure to open a path fails the step. A disabled plan is a no-op.
int apply(const Plan& plan);

}  // namespace sandbox::landlock
