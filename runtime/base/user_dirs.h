// Where a non-root tooljail keeps its state when the operator named no place: the XDG base
// directory for state ($XDG_STATE_HOME, else ~/.local/state). A desktop MCP host starts
// `tooljail serve` as the logged-in user, and system accounts (nobody, daemons) often have no
// home at all, so a missing home is a clear error naming the fix, never a path under "/" or a
// nonexistent directory.
#pragma once

#include <string>
#include <string_view>

#include "sandbox/base/result.h"

namespace runtime {

// $XDG_STATE_HOME when it is an absolute path, else <home>/.local/state, where home is $HOME
// (absolute) or the passwd entry's. The directory itself may not exist yet; the home must.
// Errors: NotFound "no home directory for state: ... (set XDG_STATE_HOME, or <fix>)", where
// fix names the caller's own option ("pass --records DIR").
sandbox::Result<std::string> user_state_home(std::string_view fix);

}  // namespace runtime
