// Run ids: the names of runs (records, resources) and of their cgroup leaves. Parent only. Used
// by the launcher (a cold launch's id) and the warm pool (a warm sandbox's leaf), so they live
// apart from both.
#pragma once

#include <string>
#include <string_view>

namespace sandbox {

// A fresh run id, "run-<this process's pid>-<16 random hex digits>": unique across supervisors
// and restarts (the random part), and recognisable by cgroup::remove_stale_leaves (the pid).
std::string new_run_id();
// True for the ids RunRequest::run_id accepts: 1..64 characters of [a-z0-9-].
bool valid_run_id(std::string_view id);

// The name of Sandbox::prepare's probe leaf, "probe-<this process's pid>-<n>", n counting up
// within the process. Not a run id: remove_stale_leaves never touches it (the probe removes
// itself at once).
std::string new_probe_leaf_name();

}  // namespace sandbox
