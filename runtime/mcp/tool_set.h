// The served tool set as an immutable snapshot, and its atomic replacement on reload.
//
// A ToolSet (manifests + policies + one prepared sandbox per enabled tool + drift hashes + the
// lock it was checked against) never changes once built. LiveTools holds the current one behind
// an atomically swapped shared_ptr: every request takes the snapshot at its start and a call
// keeps it until its result is out, so a call running across a reload finishes with the tool it
// started with. The old set (and the warm sandboxes of its prepared tools, sandbox/pool.h) is
// released when the last call holding it ends.
//
// reload() (SIGHUP) builds a complete new set first: policies, manifests, lock file, every
// sandbox prepared. Any error keeps the old set entirely, and is logged naming the file.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/mcp/tool_runner.h"
#include "runtime/tools/tool_kill_switch.h"
#include "runtime/tools/tool_registry.h"
#include "runtime/tools/tools_lock.h"
#include "sandbox/base/result.h"
#include "sandbox/launcher.h"

namespace runtime {

struct ToolSet {
    ToolRegistry tools;
    std::unique_ptr<ToolRunner> runner;
    std::map<std::string, std::string, std::less<>> hashes;  // every enabled tool's drift hash
    std::optional<ToolsLock> lock;  // with --tools-lock: as read for this set

    // Without a lock every tool is approved; with one, only a tool whose hash it names.
    bool approved(std::string_view tool) const;
    // The approved hash ("" when the lock does not name the tool or there is no lock).
    std::string approved_hash(std::string_view tool) const;
    // What a client may be shown: enabled and approved tools, with their hashes.
    std::map<std::string, std::string, std::less<>> visible() const;
};

// Where a tool set comes from; the same for every reload.
struct ToolSetSource {
    std::string tools_dir;
    std::string policy_dir;
    std::string workspace;
    std::string lock_file;  // "" = no lock
    std::shared_ptr<sandbox::Host> host;
    RunnerOptions runner;  // records and the archive, shared by every set
};

// Loads and prepares a complete set, or fails naming the file (no partial result).
sandbox::Result<std::shared_ptr<const ToolSet>> load_tool_set(const ToolSetSource& source);

class LiveTools {
public:
    // disabled_file: the kill switch's file ("" = no kill switch).
    LiveTools(ToolSetSource source, std::shared_ptr<const ToolSet> first,
              std::string disabled_file);

    std::shared_ptr<const ToolSet> current() const { return current_.load(); }
    const KillSwitch& kill_switch() const { return kill_switch_; }

    // Loads a new set and swaps it in; on failure logs why and keeps serving the current one.
    // Logs drift (a changed hash) per tool and a one-line summary; announces a change of the
    // visible list to the listeners. Returns whether the new set was taken. Serialised.
    bool reload();

    // Listeners run (on the reload or kill-switch watcher thread) when the list a client sees
    // may have changed: send notifications/tools/list_changed. The first one starts the watcher.
    // A listener must stay callable until this object is destroyed.
    void on_list_changed(std::function<void()> listener);

private:
    void announce();

    ToolSetSource source_;
    std::atomic<std::shared_ptr<const ToolSet>> current_;
    std::mutex reload_mu_;
    std::mutex listeners_mu_;
    std::vector<std::function<void()>> listeners_;
    KillSwitch kill_switch_;  // last: its watcher calls announce(), so it stops first
};

}  // namespace runtime
