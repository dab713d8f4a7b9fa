// Replacing a small state file so that a reader sees the old content or the new, never a mix:
// write a temporary file next to it, fsync, rename over, fsync the directory. Used for the
// token file, the tools lock file and the kill switch's disabled list (runtime/http/auth_tokens.h,
// tools_lock.h, tool_kill_switch.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"

namespace runtime {

// Atomically replaces path with data, mode `mode` and, unless `group` is (gid_t)-1, that group
// (fchown: the caller must own the file and be in the group, or be root). The temporary is
// created O_EXCL|O_NOFOLLOW (never written through a file someone else put there) and removed
// on any failure. Errors name `label` and the path.
sandbox::Result<void> replace_file(const std::string& path, std::string_view data, mode_t mode,
                                   std::string_view label, gid_t group = static_cast<gid_t>(-1));

// A read-modify-write of such a file must not interleave with another command's: both would
// read the same old content and the second rename would drop the first one's change. Holds an
// exclusive flock on the file's directory (which, unlike the file, survives the rename) while
// the returned fd lives. The directory must exist.
sandbox::Result<sandbox::UniqueFd> lock_parent_dir(const std::string& path);

}  // namespace runtime
