// A cgroup of tooljail's own on a systemd host. On cgroup v2 tooljail keeps its runs' leaves
// under its own cgroup, which must be delegated to it and hold no other process
// (sandbox::cgroup::own_cgroup_unusable). A systemd service with Delegate=yes gives it that; a
// program started from a desktop app or a login shell shares its cgroup. Then tooljail asks the
// systemd manager that owns the user's processes (the user's manager, or the system's for root)
// for a transient scope with Delegate=yes holding just this process, as podman and crun do, and
// continues there: no re-exec, stdio and pid unchanged.
#pragma once

#include "sandbox/base/result.h"

namespace runtime::systemd_scope {

// When this process's own cgroup is unusable, moves it into a new transient scope
// "tooljail-<pid>-<hex>.scope" (Delegate=yes, collected when it ends) through the manager's
// private D-Bus socket (/run/systemd/private, or $XDG_RUNTIME_DIR/systemd/private for a user)
// and waits until /proc/self/cgroup shows it there (at most 10 s). Call it before any thread
// starts. Ok when nothing was needed or the move is done. Errors (Unsupported) say why the own
// cgroup is unusable, why systemd could not help (no manager socket, the call's D-Bus error,
// the move not seen) and how to fix it.
sandbox::Result<void> enter_if_needed();

// The fix for a cgroup that is not tooljail's own, for messages: run it in a delegated scope,
// under a unit with Delegate=yes, or as root.
const char* fix();

}  // namespace runtime::systemd_scope
