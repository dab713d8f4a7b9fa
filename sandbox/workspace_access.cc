#include "sandbox/workspace_access.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

namespace sandbox {

std::string workspace_denied(const std::string& workspace, uid_t host_uid) {
    // Name the permission class the sandbox user falls in, so the fix is the right chmod.
    struct stat st {};
    const char* need = "search permission for others, or a host_uid that owns it";
    if (::stat(workspace.c_str(), &st) == 0 && st.st_uid == host_uid)
        need = "search permission for its owner, chmod u+x";
    return "the sandbox user (host uid " + std::to_string(host_uid) +
           ") cannot enter the workspace " + workspace + " (it needs " + need + ")";
}

Result<void> check_workspace_access(const std::string& workspace, const namespaces::IdMap& ids) {
    if (workspace.empty()) return {};
    struct stat st {};
    if (::stat(workspace.c_str(), &st) != 0) return fail(sys_error("workspace " + workspace));
    if (!S_ISDIR(st.st_mode))
        return fail(Errc::InvalidArgument, "workspace " + workspace + " is not a directory");
    bool ok;
    if (ids.allow_setgroups) {
        if (::getxattr(workspace.c_str(), "system.posix_acl_access", nullptr, 0) >= 0) return {};
        mode_t bit = st.st_uid == ids.host_uid   ? S_IXUSR
                     : st.st_gid == ids.host_gid ? S_IXGRP
                                                 : S_IXOTH;
        ok = (st.st_mode & bit) != 0;
    } else {
        ok = ::access(workspace.c_str(), X_OK) == 0 || errno != EACCES;
    }
    if (!ok) return fail(Errc::PermissionDenied, workspace_denied(workspace, ids.host_uid));
    return {};
}

}  // namespace sandbox
