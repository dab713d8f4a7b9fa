// Child side of the mount plan (see mount_plan.h). Post-fork code: no allocation, no logging.
// Both functions return 0 or an errno value and set *failed_op to the index of the bind source
// (prepare) or op (apply) that failed, so the parent can name it.
#pragma once

#include "sandbox/mount_plan.h"

namespace sandbox::mounts {

// *failed_op values for apply_in_child failures that are not an op of the plan.
inline constexpr int kFailedStaging = -2;  // chdir into the staging root
inline constexpr int kFailedPivot = -3;    // pivot_root or detaching the old root
inline constexpr int kFailedCwd = -4;      // chdir to plan.cwd (the workspace) as the inside uid

// Child, still host root inside its new user namespace (before the uid switch): stop mount
// propagation to the host, mount the root tmpfs on the staging directory and clone every bind
// source with open_tree(2) into tree_fds[i]. Host paths are resolved here, while the child can
// still traverse directories only root may enter (e.g. a 0700 parent of the workspace).
int prepare_in_child(const mount_plan::Plan& plan, int* tree_fds, int* failed_op);

// Child, after the switch to the inside uid (caps kept): build the tree inside the staging root,
// seal it read-only, pivot_root into it, detach the old root and chdir to plan.cwd.
int apply_in_child(const mount_plan::Plan& plan, const int* tree_fds, int* failed_op);

}  // namespace sandbox::mounts
