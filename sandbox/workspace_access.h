// Whether the sandbox's identity can enter its workspace. After pivot_root the child changes
// into the workspace mount as the mapped host id (mounts.cc, its last step); there only the
// workspace directory's own mode counts, because the bind mount hides its host parents. The
// parent checks the same thing when a Sandbox is prepared, so that `tooljail serve` refuses to
// start instead of failing every call.
#pragma once

#include <string>

#include "sandbox/base/result.h"
#include "sandbox/namespaces.h"

namespace sandbox {

// Parent: PermissionDenied with workspace_denied()'s message when ids.host_uid/host_gid
// cannot search workspace. A privileged parent (allow_setgroups: the child drops supplementary
// groups) is judged by the owner/group/other bits; an unprivileged one by access(2), since the
// child keeps this process's ids and groups. A directory carrying a POSIX ACL is left to the
// launch (the ACL may grant what the bits do not). Errors from stat(2) name the workspace.
Result<void> check_workspace_access(const std::string& workspace, const namespaces::IdMap& ids);

// "the sandbox user (host uid N) cannot enter the workspace W (...)": shared with the child's
// failure report, so both say the same.
std::string workspace_denied(const std::string& workspace, uid_t host_uid);

}  // namespace sandbox
