// The mount plan: a pure function from a SandboxConfig to the ordered list of operations the
// child performs to build its root. Built once per policy in the parent; validated before any
// syscall is made, so the child only executes.
//
// The new root is a small tmpfs mounted on `staging` (a host directory of the supervisor's; the
// child's mount namespace is private, so one directory serves every concurrent run). All op
// targets are relative to that root and carry no leading '/'.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace sandbox::mount_plan {

enum class OpKind : uint8_t {
    Mkdir,       // mkdir(target, mode)
    CreateFile,  // an empty file to bind a single file onto
    Symlink,     // symlink(source, target): recreates a host symlink such as bin -> usr/bin
    WriteFile,   // a small generated file (passwd, group, hosts) with `data`
    Tmpfs,       // tmpfs on target; `source` holds the option string ("size=...,mode=...")
    BindTree,    // move the pre-opened clone of bind_sources[source_index] onto target
    Proc,        // a fresh procfs for the new pid namespace
    BindSelf,    // bind target onto itself (to make part of /proc read-only)
    SetAttr,     // mount_setattr(target) with `attr` (non-recursive): seal a tmpfs read-only
};

struct Op {
    OpKind kind;
    std::string target;
    std::string source;
    std::string data;
    uint64_t attr = 0;  // MOUNT_ATTR_* set on BindTree/BindSelf (recursively) and SetAttr
    mode_t mode = 0755;
    int source_index = -1;
};

struct Plan {
    std::string staging;       // absolute host path of the new root's mount point
    std::string root_options;  // tmpfs options of the new root
    std::vector<std::string>
        bind_sources;  // host paths cloned with open_tree before the uid switch
    std::vector<Op> ops;
    std::string cwd;  // inside the sandbox: the workspace target, or "/"
};

inline constexpr size_t kMaxBindSources = 64;

// Parent. Fails with InvalidArgument/NotFound naming the mount ("mount /usr: ...") for relative
// or unnormalised paths, a missing non-optional source, or targets that collide.
// passwd/group: contents of the generated /etc/passwd and /etc/group.
Result<Plan> build(const SandboxConfig& config, const std::string& staging,
                   const std::string& passwd, const std::string& group);

// A path is acceptable in a plan when it is absolute, has no "." or ".." components, no empty
// component and no trailing slash ("/" itself is not acceptable as a bind target).
bool is_normal_absolute(const std::string& path);

}  // namespace sandbox::mount_plan
