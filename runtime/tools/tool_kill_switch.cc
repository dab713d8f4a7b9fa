#include "runtime/tools/tool_kill_switch.h"

#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/base/atomic_file.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/log.h"
#include "runtime/base/user_dirs.h"
#include "runtime/tools/tool_def.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

constexpr size_t kMaxDisabledFileBytes = 1 << 20;

std::string parent_dir(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

sandbox::Result<void> make_dirs(const std::string& dir) {
    if (dir.empty() || dir == "/" || dir == ".") return {};
    if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return {};
    if (errno != ENOENT) return sandbox::fail(sandbox::sys_error("mkdir " + dir));
    SBX_TRY(make_dirs(parent_dir(dir)));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        return sandbox::fail(sandbox::sys_error("mkdir " + dir));
    return {};
}

}  // namespace

sandbox::Result<std::string> default_state_dir() {
    if (const char* env = std::getenv("TOOLJAIL_STATE"); env && *env) return std::string(env);
    if (::geteuid() == 0) return std::string("/var/lib/tooljail");
    auto state = user_state_home("pass --state DIR (or set TOOLJAIL_STATE)");
    if (!state) return sandbox::fail(std::move(state).error().with_prefix("kill switch: "));
    return *state + "/tooljail";
}

sandbox::Result<void> make_parent_dirs(const std::string& file) {
    return make_dirs(parent_dir(file));
}

std::string disabled_tools_file(const std::string& state_dir) {
    return state_dir + "/disabled.json";
}

sandbox::Result<DisabledTools> parse_disabled_tools(std::string_view text, std::string_view label) {
    json_reader::Context ctx(label);
    auto doc = json_reader::parse(ctx, text);
    if (!doc) return sandbox::fail(std::move(doc).error());
    auto top = json_reader::as_object(ctx, *doc, "", {"disabled"});
    if (!top) return sandbox::fail(std::move(top).error());
    const nlohmann::json* list = top->get("disabled");
    if (!list) return ctx.bad("/disabled", "missing required key");
    if (!list->is_array())
        return ctx.bad("/disabled",
                       "expected array (got " + json_reader::describe_type(*list) + ")");
    DisabledTools tools;
    for (size_t i = 0; i < list->size(); ++i) {
        const auto& name = (*list)[i];
        if (!name.is_string() || !valid_tool_name(name.get_ref<const std::string&>()))
            return ctx.bad("/disabled/" + std::to_string(i),
                           "not a tool name ([a-z][a-z0-9_]{0,63})");
        tools.insert(name.get<std::string>());
    }
    return tools;
}

sandbox::Result<DisabledTools> read_disabled_tools(const std::string& path) {
    auto text = sandbox::sys::read_file(path, kMaxDisabledFileBytes);
    if (!text) {
        if (text.error().sys_errno == ENOENT) return DisabledTools{};
        return sandbox::fail(std::move(text).error().with_prefix("disabled tools " + path + ": "));
    }
    return parse_disabled_tools(*text, path);
}

sandbox::Result<void> write_disabled_tools(const std::string& path, const DisabledTools& tools) {
    if (auto made = make_parent_dirs(path); !made)
        return sandbox::fail(std::move(made).error().with_prefix("disabled tools: "));
    nlohmann::json doc = {{"disabled", nlohmann::json::array()}};
    for (const auto& t : tools) doc["disabled"].push_back(t);
    return replace_file(path, doc.dump(2) + "\n", 0644, "disabled tools " + path);
}

bool KillSwitch::Seen::operator==(const Seen& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
}

KillSwitch::KillSwitch(std::string file) : file_(std::move(file)) {}

KillSwitch::~KillSwitch() {
    if (!watcher_.joinable()) return;
    uint64_t one = 1;
    // If the wake-up cannot be written the thread would never end: abort rather than hang.
    if (::write(stop_.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one)) std::abort();
    watcher_.join();
}

void KillSwitch::refresh_locked() const {
    Seen now;
    struct stat st {};
    if (::stat(file_.c_str(), &st) == 0) {
        now = {true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    } else if (errno != ENOENT) {
        if (!broken_)
            LOG_ERROR("kill switch: stat {}: {}; every tool is disabled until it is readable",
                      file_, std::strerror(errno));
        broken_ = true;
        checked_ = false;  // retry the stat next time
        return;
    }
    if (checked_ && now == seen_) return;
    auto tools = read_disabled_tools(file_);
    seen_ = now;
    checked_ = true;
    if (!tools) {
        // Fail closed: an operator who meant to disable something must not find it still served.
        LOG_ERROR("kill switch: {}; every tool is disabled until the file is fixed",
                  tools.error().message());
        broken_ = true;
        return;
    }
    if (broken_ || *tools != disabled_) {
        std::string names;
        for (const auto& t : *tools) names += (names.empty() ? "" : ",") + t;
        LOG_WARN("kill switch: disabled tools now: {}", names.empty() ? "none" : names);
    }
    broken_ = false;
    disabled_ = std::move(*tools);
}

bool KillSwitch::disabled(std::string_view tool) const {
    if (file_.empty()) return false;
    std::lock_guard lock(mu_);
    refresh_locked();
    return broken_ || disabled_.count(tool) > 0;
}

bool KillSwitch::changed_since_report() {
    std::lock_guard lock(mu_);
    refresh_locked();
    if (broken_ == reported_broken_ && disabled_ == reported_) return false;
    reported_broken_ = broken_;
    reported_ = disabled_;
    return true;
}

sandbox::Result<void> KillSwitch::watch(std::function<void()> on_change) {
    if (file_.empty() || watcher_.joinable()) return {};
    std::string dir = parent_dir(file_);
    SBX_TRY(make_dirs(dir));
    sandbox::UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify) return sandbox::fail(sandbox::sys_error("kill switch: inotify_init1"));
    if (::inotify_add_watch(
            inotify.get(), dir.c_str(),
            IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB) < 0)
        return sandbox::fail(sandbox::sys_error("kill switch: watch " + dir));
    sandbox::UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
    if (!stop) return sandbox::fail(sandbox::sys_error("kill switch: eventfd"));
    stop_ = std::move(stop);
    {
        // What the server has seen so far is the baseline: only later changes are announced.
        std::lock_guard lock(mu_);
        refresh_locked();
        reported_ = disabled_;
        reported_broken_ = broken_;
    }
    watcher_ = std::thread([this, fd = std::move(inotify), on_change = std::move(on_change)] {
        pollfd fds[2] = {{fd.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        char buf[4096];
        for (;;) {
            int n = ::poll(fds, 2, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                LOG_ERROR(
                    "kill switch: poll: {}; changes are no longer announced (calls still check)",
                    std::strerror(errno));
                return;
            }
            if (fds[1].revents) return;
            // Drain the events; which file changed does not matter, the stat decides.
            while (::read(fd.get(), buf, sizeof buf) > 0) {
            }
            if (changed_since_report()) on_change();
        }
    });
    return {};
}

}  // namespace runtime
