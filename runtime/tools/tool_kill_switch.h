// The kill switch: tools disabled at once, without a restart or reload. `tooljail tools
// disable NAME` writes STATE_DIR/disabled.json (atomically); the server stats that file on every
// tools/call and tools/list and re-reads it when it changed, so the next call of a disabled tool
// is refused (TOOL_DISABLED, recorded) while calls already running finish. A watcher thread
// (inotify on STATE_DIR) notices the change without any request and has the server announce
// notifications/tools/list_changed.
//
// Format: {"disabled": ["tool_name", ...]}. A missing file disables nothing. A file that
// cannot be read or parsed disables every tool (fail closed) and is logged.
#pragma once

#include <sys/types.h>

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"

namespace runtime {

using DisabledTools = std::set<std::string, std::less<>>;

// $TOOLJAIL_STATE, /var/lib/tooljail as root, else $XDG_STATE_HOME/tooljail or
// ~/.local/state/tooljail; NotFound naming --state when a non-root user has no home.
sandbox::Result<std::string> default_state_dir();
std::string disabled_tools_file(const std::string& state_dir);  // STATE_DIR/disabled.json

// Strict parse (InvalidArgument naming label and the JSON pointer).
sandbox::Result<DisabledTools> parse_disabled_tools(std::string_view text, std::string_view label);
// A missing file is an empty list.
sandbox::Result<DisabledTools> read_disabled_tools(const std::string& path);
// Creates the file's directory (and its parents, mode 0755) when missing.
sandbox::Result<void> make_parent_dirs(const std::string& file);
// Creates the directory if needed, then replaces the file atomically (mode 0644).
sandbox::Result<void> write_disabled_tools(const std::string& path, const DisabledTools& tools);

class KillSwitch {
public:
    // file "" = no kill switch: nothing is ever disabled.
    explicit KillSwitch(std::string file);
    ~KillSwitch();  // stops the watcher
    KillSwitch(const KillSwitch&) = delete;
    KillSwitch& operator=(const KillSwitch&) = delete;

    // Whether the tool is disabled now (thread-safe; one stat, a read when the file changed).
    bool disabled(std::string_view tool) const;

    // Starts the watcher: on_change runs on its thread whenever the set of disabled tools (as
    // the server sees it) differs from the one last reported. Creates the directory if needed.
    sandbox::Result<void> watch(std::function<void()> on_change);

private:
    struct Seen {
        bool exists = false;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = 0;
        struct timespec mtime = {};
        bool operator==(const Seen& o) const;
    };
    // Re-reads the file when its stat changed; mu_ held.
    void refresh_locked() const;
    // Whether the effective set differs from the one last reported to the watcher.
    bool changed_since_report();

    std::string file_;
    mutable std::mutex mu_;
    mutable Seen seen_;
    mutable bool checked_ = false;
    mutable bool broken_ = false;  // unreadable or invalid: everything is disabled
    mutable DisabledTools disabled_;
    bool reported_broken_ = false;
    DisabledTools reported_;
    sandbox::UniqueFd stop_;  // eventfd: wakes the watcher to end
    std::thread watcher_;
};

}  // namespace runtime
