// Per-run cgroup leaves: create with limits, attach, read stats, kill, remove, and clean up the
// leaves of a supervisor that died. See cgroup.h for the contract and docs/CGROUPS.md for the
// files written and the fail-closed rules; detection of the hierarchy is in cgroup_detect.cc.
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "sandbox/base/sys.h"
#include "sandbox/cgroup_internal.h"

namespace sandbox::cgroup {
using namespace internal;

namespace {

constexpr uint64_t kCpuPeriodUsec = 100000;
constexpr const char* kMeminfo = "/proc/meminfo";
// remove(): how long to wait for killed processes to leave before giving up on rmdir.
constexpr auto kRemoveTimeout = std::chrono::seconds(2);
constexpr auto kRetrySleep = std::chrono::milliseconds(5);
// kill_all() on v1: rounds of read-cgroup.procs-and-SIGKILL before giving up.
constexpr int kKillRounds = 200;
// A pid counts as reused when its process started this long after the leaf was made.
constexpr double kPidReuseSlackSec = 2.0;

std::optional<uint64_t> parse_u64(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// The value of "key N" in a flat-keyed file (memory.events, pids.events, cpu.stat,
// memory.oom_control, /proc/meminfo with its "kB" suffix stripped by the caller).
std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key) {
    for (const auto& line : split(text, '\n')) {
        auto fields = split(line, ' ');
        if (fields.size() >= 2 && fields[0] == key) return parse_u64(fields[1]);
    }
    return std::nullopt;
}

Result<uint64_t> read_keyed(const std::string& path, std::string_view key) {
    auto text = sys::read_file(path);
    if (!text) return fail(std::move(text).error());
    auto v = keyed_value(*text, key);
    if (!v) return fail(Errc::Internal, "cgroup: no '" + std::string(key) + "' in " + path);
    return *v;
}

Result<uint64_t> read_number(const std::string& path) {
    auto text = sys::read_file(path);
    if (!text) return fail(std::move(text).error());
    auto v = parse_u64(*text);
    if (!v) return fail(Errc::Internal, "cgroup: " + path + " is not a number");
    return *v;
}

// Without a swap limit a memory-limited tool could page out past its limit. That is only
// harmless when there is no swap at all; unreadable meminfo counts as "has swap".
bool host_has_swap() {
    auto text = sys::read_file(kMeminfo);
    if (!text) return true;
    for (const auto& line : split(*text, '\n')) {
        auto fields = split(line, ' ');
        if (fields.size() >= 2 && fields[0] == "SwapTotal:") {
            auto kb = parse_u64(fields[1]);
            return !kb || *kb != 0;
        }
    }
    return true;
}

Result<void> require_no_swap(const std::string& missing_file) {
    if (!host_has_swap()) return {};
    return fail(Errc::Unsupported,
                "cgroup: " + missing_file +
                    " is missing (swap accounting off) but the host has swap; refusing to run "
                    "with an unlimited swap allowance");
}

// On a fake tree the leaf's "control files" are ordinary files that rmdir would trip over;
// cgroupfs removes them itself.
void unlink_fake_files(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (auto* e = ::readdir(d)) {
        if (e->d_type == DT_REG) ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

// The distinct, non-empty directories of a leaf (co-mounted v1 controllers share one).
std::vector<std::string> unique_dirs(const std::vector<std::string>& dirs) {
    std::vector<std::string> out;
    for (const auto& d : dirs)
        if (!d.empty() && !contains(out, d)) out.push_back(d);
    return out;
}

bool valid_leaf_name(std::string_view name) {
    return !name.empty() && name.size() <= 200 && name != "." && name != ".." &&
           name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace

// ---- control files (shared with cgroup_detect.cc) -----------------------------------------

// One write(2) per control file: cgroupfs parses each write on its own, so a split write would
// be two commands. O_TRUNC is accepted (and ignored) by cgroupfs and keeps fake files exact.
Result<void> internal::write_control(const std::string& path, std::string_view value) {
    auto fd = sys::open_file(path, O_WRONLY | O_TRUNC);
    if (!fd) return fail(std::move(fd).error());
    ssize_t n;
    do {
        n = ::write(fd->get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(sys_error("write(" + path + ", \"" + std::string(value) + "\")"));
    if (static_cast<size_t>(n) != value.size())
        return fail(Errc::Syscall, "write(" + path + "): short write");
    return {};
}

std::vector<pid_t> internal::read_pids(const std::string& procs_path) {
    std::vector<pid_t> pids;
    auto text = sys::read_file(procs_path);
    if (!text) return pids;
    for (const auto& line : split(*text, '\n')) {
        auto v = parse_u64(line);
        if (v && *v > 0 && *v < (1u << 31)) pids.push_back(static_cast<pid_t>(*v));
    }
    return pids;
}

// ---- Leaf -----------------------------------------------------------------------------------

Leaf::Leaf(Leaf&& other) noexcept
    : version_(other.version_),
      dirs_(std::move(other.dirs_)),
      v2_dir_fd_(std::move(other.v2_dir_fd_)),
      fake_tree_(other.fake_tree_),
      cpu_base_usec_(other.cpu_base_usec_) {
    other.dirs_.clear();
}

Leaf& Leaf::operator=(Leaf&& other) noexcept {
    if (this != &other) {
        if (!dirs_.empty()) {
            kill_all();
            (void)remove();
        }
        version_ = other.version_;
        dirs_ = std::move(other.dirs_);
        other.dirs_.clear();
        v2_dir_fd_ = std::move(other.v2_dir_fd_);
        fake_tree_ = other.fake_tree_;
        cpu_base_usec_ = other.cpu_base_usec_;
    }
    return *this;
}

Leaf::~Leaf() {
    if (dirs_.empty()) return;
    kill_all();
    (void)remove();
}

Result<Leaf> Leaf::create(const Hierarchy& hierarchy, std::string_view name,
                          const LeafLimits& limits) {
    if (!valid_leaf_name(name))
        return fail(Errc::InvalidArgument, "cgroup: invalid leaf name '" + std::string(name) + "'");
    if (hierarchy.parent_dirs_.empty())
        return fail(Errc::InvalidArgument, "cgroup: hierarchy was not detected");
    const bool v1 = hierarchy.version_ == Version::V1;
    auto need = [&](bool wanted, size_t c) -> Result<void> {
        if (wanted && !hierarchy.present_[c])
            return fail(Errc::Unsupported,
                        std::string("cgroup: ") + kCtlName[c] + " controller unavailable");
        return {};
    };
    SBX_TRY(need(limits.memory_bytes != 0, kMemory));
    SBX_TRY(need(limits.pids != 0, kPids));
    SBX_TRY(need(limits.cpu_percent != 0, kCpu));
    SBX_TRY(need(v1 && limits.need_cpu_usage, kCpuacct));

    // From here on, leaving early destroys `leaf`, which kills and removes whatever was made.
    Leaf leaf;
    leaf.version_ = hierarchy.version_;
    leaf.fake_tree_ = hierarchy.fake_tree_;
    leaf.dirs_.assign(v1 ? kNumCtl : 1, "");
    for (size_t i = 0; i < leaf.dirs_.size(); ++i) {
        const std::string& parent = hierarchy.parent_dirs_[i];
        if (parent.empty() || (v1 && !hierarchy.present_[i])) continue;
        std::string dir = parent + "/" + std::string(name);
        bool made_already = contains(leaf.dirs_, dir);  // co-mounted cpu,cpuacct
        if (!made_already && ::mkdir(dir.c_str(), 0755) != 0) {
            // An existing leaf of this name is not ours: its limits and members are unknown.
            if (!(errno == EEXIST && leaf.fake_tree_))
                return fail(sys_error("cgroup: mkdir(" + dir + ")"));
        }
        leaf.dirs_[i] = dir;
    }
    auto at = [&](size_t c, const char* file) { return leaf.dirs_[v1 ? c : 0] + "/" + file; };

    if (!v1) {
        if (exists(at(kMemory, "memory.max"))) {
            // Kill the whole leaf on OOM rather than one process of it (Linux 4.19+).
            if (exists(at(kMemory, "memory.oom.group")))
                SBX_TRY(write_control(at(kMemory, "memory.oom.group"), "1"));
            if (exists(at(kMemory, "memory.swap.max")))
                SBX_TRY(write_control(at(kMemory, "memory.swap.max"), "0"));
            else if (limits.memory_bytes)
                SBX_TRY(require_no_swap("memory.swap.max"));
        }
        if (limits.memory_bytes)
            SBX_TRY(write_control(at(kMemory, "memory.max"), std::to_string(limits.memory_bytes)));
        if (limits.pids) SBX_TRY(write_control(at(kPids, "pids.max"), std::to_string(limits.pids)));
        if (limits.cpu_percent) {
            uint64_t quota = uint64_t{limits.cpu_percent} * kCpuPeriodUsec / 100;
            SBX_TRY(write_control(at(kCpu, "cpu.max"),
                                  std::to_string(quota) + " " + std::to_string(kCpuPeriodUsec)));
        }
        auto fd = sys::open_file(leaf.dirs_[0], O_RDONLY | O_DIRECTORY);
        if (!fd) return fail(std::move(fd).error().with_prefix("cgroup: "));
        leaf.v2_dir_fd_ = std::move(*fd);
    } else {
        if (limits.memory_bytes) {
            // memsw.limit may never be below limit_in_bytes, so the plain limit goes first.
            std::string bytes = std::to_string(limits.memory_bytes);
            SBX_TRY(write_control(at(kMemory, "memory.limit_in_bytes"), bytes));
            if (exists(at(kMemory, "memory.memsw.limit_in_bytes")))
                SBX_TRY(write_control(at(kMemory, "memory.memsw.limit_in_bytes"), bytes));
            else
                SBX_TRY(require_no_swap("memory.memsw.limit_in_bytes"));
        }
        if (!leaf.dirs_[kMemory].empty() && exists(at(kMemory, "memory.swappiness")))
            SBX_TRY(write_control(at(kMemory, "memory.swappiness"), "0"));
        if (limits.pids) SBX_TRY(write_control(at(kPids, "pids.max"), std::to_string(limits.pids)));
        if (limits.cpu_percent) {
            uint64_t quota = uint64_t{limits.cpu_percent} * kCpuPeriodUsec / 100;
            SBX_TRY(write_control(at(kCpu, "cpu.cfs_period_us"), std::to_string(kCpuPeriodUsec)));
            SBX_TRY(write_control(at(kCpu, "cpu.cfs_quota_us"), std::to_string(quota)));
        }
    }
    return leaf;
}

Result<void> Leaf::attach(pid_t pid) const {
    if (dirs_.empty()) return fail(Errc::InvalidArgument, "cgroup: attach to a removed leaf");
    for (const auto& dir : unique_dirs(dirs_)) {
        auto r = write_control(dir + "/cgroup.procs", std::to_string(pid));
        if (!r) return fail(std::move(r).error().with_prefix("cgroup: attach: "));
    }
    return {};
}

Result<std::vector<UniqueFd>> Leaf::open_tasks() const {
    std::vector<UniqueFd> fds;
    if (version_ == Version::V2) return fds;
    for (const auto& dir : unique_dirs(dirs_)) {
        auto fd = sys::open_file(dir + "/tasks", O_WRONLY);
        if (!fd) return fail(std::move(fd).error().with_prefix("cgroup: attach: "));
        fds.push_back(std::move(*fd));
    }
    return fds;
}

std::string Leaf::tasks_path(size_t index) const {
    auto dirs = unique_dirs(dirs_);
    return index < dirs.size() ? dirs[index] + "/tasks" : std::string();
}

Result<uint64_t> Leaf::cpu_usage_usec() const {
    if (version_ == Version::V2) {
        if (dirs_.empty()) return fail(Errc::InvalidArgument, "cgroup: leaf was removed");
        auto usec = read_keyed(dirs_[0] + "/cpu.stat", "usage_usec");
        if (!usec) return fail(std::move(usec).error());
        return *usec >= cpu_base_usec_ ? *usec - cpu_base_usec_ : 0;
    }
    if (dirs_.size() <= kCpuacct || dirs_[kCpuacct].empty())
        return fail(Errc::Unsupported, "cgroup: cpuacct controller unavailable");
    auto ns = read_number(dirs_[kCpuacct] + "/cpuacct.usage");
    if (!ns) return fail(std::move(ns).error());
    return *ns / 1000;
}

Result<void> Leaf::rename(std::string_view new_name) {
    if (!valid_leaf_name(new_name))
        return fail(Errc::InvalidArgument,
                    "cgroup: invalid leaf name '" + std::string(new_name) + "'");
    if (version_ == Version::V2) return fail(Errc::Unsupported, "cgroup: v2 cannot rename a group");
    for (auto& dir : dirs_) {
        if (dir.empty()) continue;
        const std::string from = dir;
        const std::string to = from.substr(0, from.rfind('/') + 1) + std::string(new_name);
        // rename(2) within the parent: cgroup v1 supports it (cgroup1_rename); members stay.
        if (::rename(from.c_str(), to.c_str()) != 0)
            return fail(sys_error("cgroup: rename(" + from + ")"));
        for (auto& d : dirs_)  // co-mounted controllers name the same directory
            if (d == from) d = to;
    }
    return {};
}

Result<void> Leaf::reset_accounting() {
    if (dirs_.empty()) return fail(Errc::InvalidArgument, "cgroup: leaf was removed");
    if (version_ == Version::V2) {
        // cpu.stat cannot be reset; remember where the run starts. memory.peak cannot be reset
        // globally either (a write resets it only for the writer's fd, Linux 6.12+).
        cpu_base_usec_ = 0;
        auto usec = cpu_usage_usec();
        if (!usec) return fail(std::move(usec).error());
        cpu_base_usec_ = *usec;
        return {};
    }
    // v1: "0" resets the high-water mark to the current usage and the CPU counter to 0.
    if (!dirs_[kMemory].empty())
        SBX_TRY(write_control(dirs_[kMemory] + "/memory.max_usage_in_bytes", "0"));
    if (!dirs_[kCpuacct].empty()) SBX_TRY(write_control(dirs_[kCpuacct] + "/cpuacct.usage", "0"));
    return {};
}

Result<Stats> Leaf::stats() const {
    if (dirs_.empty()) return fail(Errc::InvalidArgument, "cgroup: leaf was removed");
    Stats s;
    if (version_ == Version::V2) {
        const std::string& dir = dirs_[0];
        auto cpu = cpu_usage_usec();
        if (!cpu) return fail(std::move(cpu).error());
        s.cpu_usec = *cpu;
        if (exists(dir + "/memory.events")) {
            auto oom = read_keyed(dir + "/memory.events", "oom_kill");
            if (!oom) return fail(std::move(oom).error());
            s.oom_kills = *oom;
            // memory.peak: Linux 5.19+. Older kernels report no peak rather than failing.
            if (exists(dir + "/memory.peak")) {
                auto peak = read_number(dir + "/memory.peak");
                if (!peak) return fail(std::move(peak).error());
                s.peak_memory_bytes = *peak;
            }
        }
        if (exists(dir + "/pids.events")) {
            auto hits = read_keyed(dir + "/pids.events", "max");
            if (!hits) return fail(std::move(hits).error());
            s.pids_limit_hits = *hits;
        }
        return s;
    }
    if (!dirs_[kCpuacct].empty()) {
        auto cpu = cpu_usage_usec();
        if (!cpu) return fail(std::move(cpu).error());
        s.cpu_usec = *cpu;
    }
    if (!dirs_[kMemory].empty()) {
        auto peak = read_number(dirs_[kMemory] + "/memory.max_usage_in_bytes");
        if (!peak) return fail(std::move(peak).error());
        s.peak_memory_bytes = *peak;
        // oom_kill in memory.oom_control: Linux 4.13+.
        auto text = sys::read_file(dirs_[kMemory] + "/memory.oom_control");
        if (!text) return fail(std::move(text).error());
        s.oom_kills = keyed_value(*text, "oom_kill").value_or(0);
    }
    if (!dirs_[kPids].empty()) {
        auto hits = read_keyed(dirs_[kPids] + "/pids.events", "max");
        if (!hits) return fail(std::move(hits).error());
        s.pids_limit_hits = *hits;
    }
    return s;
}

void Leaf::kill_all() const {
    auto dirs = unique_dirs(dirs_);
    if (dirs.empty()) return;
    // cgroup.kill (Linux 5.14+) kills atomically, including tasks forking at that moment.
    if (version_ == Version::V2 && exists(dirs[0] + "/cgroup.kill") &&
        write_control(dirs[0] + "/cgroup.kill", "1"))
        return;
    // Otherwise chase the members. A fork between the read and the kill shows up in the next
    // round; the launcher also kills the pid namespace's init, which takes the rest with it.
    for (int round = 0; round < kKillRounds; ++round) {
        bool any = false;
        for (const auto& dir : dirs) {
            for (pid_t pid : read_pids(dir + "/cgroup.procs")) {
                any = true;
                ::kill(pid, SIGKILL);
            }
        }
        if (!any) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

Result<void> Leaf::remove() {
    const auto deadline = std::chrono::steady_clock::now() + kRemoveTimeout;
    v2_dir_fd_.reset();
    for (auto& dir : dirs_) {
        if (dir.empty()) continue;
        const std::string victim = dir;
        for (;;) {
            if (fake_tree_) unlink_fake_files(victim);
            if (::rmdir(victim.c_str()) == 0 || errno == ENOENT) break;
            Error err = sys_error("cgroup: rmdir(" + victim + ")");
            // EBUSY: killed members have not finished exiting yet.
            if (err.sys_errno != EBUSY || std::chrono::steady_clock::now() >= deadline)
                return fail(std::move(err));
            std::this_thread::sleep_for(kRetrySleep);
        }
        // Co-mounted controllers name the same directory: clear every alias.
        for (auto& d : dirs_)
            if (d == victim) d.clear();
    }
    dirs_.clear();
    return {};
}

// ---- stale leaves ---------------------------------------------------------------------------

namespace {

// "run-<pid>-<anything>" -> pid; nullopt for names we did not make.
std::optional<pid_t> run_leaf_pid(std::string_view name) {
    if (name.substr(0, 4) != "run-") return std::nullopt;
    name.remove_prefix(4);
    size_t dash = name.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 >= name.size()) return std::nullopt;
    auto v = parse_u64(name.substr(0, dash));
    if (!v || *v == 0 || *v >= (1u << 31)) return std::nullopt;
    return static_cast<pid_t>(*v);
}

double clock_sec(clockid_t clock) {
    struct timespec ts {};
    ::clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// How long ago pid started (seconds), from /proc/<pid>/stat field 22 (clock ticks since boot).
std::optional<double> process_age_sec(pid_t pid) {
    auto text = sys::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    size_t paren = text->rfind(')');  // comm may contain spaces and parentheses
    if (paren == std::string::npos) return std::nullopt;
    auto fields = split(std::string_view(*text).substr(paren + 1), ' ');
    if (fields.size() < 20) return std::nullopt;
    auto ticks = parse_u64(fields[19]);  // fields[0] is field 3 (state)
    long hz = ::sysconf(_SC_CLK_TCK);
    if (!ticks || hz <= 0) return std::nullopt;
    return clock_sec(CLOCK_BOOTTIME) - static_cast<double>(*ticks) / static_cast<double>(hz);
}

// True when the supervisor that made leaf_dir is gone: its pid is free, or the pid now belongs
// to a process that started after the leaf was made (pid reuse, e.g. a restarted container
// whose supervisor is always pid 1). Anything uncertain counts as alive.
bool supervisor_gone(pid_t pid, const std::string& leaf_dir) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie (killed, e.g. SIGKILL, and not yet reaped by its parent) runs nothing any more.
    if (auto text = sys::read_file("/proc/" + std::to_string(pid) + "/stat")) {
        size_t paren = text->rfind(')');
        if (paren != std::string::npos && paren + 2 < text->size() &&
            ((*text)[paren + 2] == 'Z' || (*text)[paren + 2] == 'X'))
            return true;
    }
    struct stat st {};
    if (::stat(leaf_dir.c_str(), &st) != 0) return false;
    auto proc_age = process_age_sec(pid);
    if (!proc_age) return false;
    double leaf_age = clock_sec(CLOCK_REALTIME) - (static_cast<double>(st.st_mtim.tv_sec) +
                                                   static_cast<double>(st.st_mtim.tv_nsec) / 1e9);
    return *proc_age + kPidReuseSlackSec < leaf_age;
}

}  // namespace

Result<std::vector<std::string>> remove_stale_leaves(const Hierarchy& hierarchy) {
    std::set<std::string> names;
    for (const auto& parent : hierarchy.parent_dirs_) {
        if (parent.empty()) continue;
        DIR* d = ::opendir(parent.c_str());
        if (!d) {
            if (errno == ENOENT) continue;
            return fail(sys_error("cgroup: opendir(" + parent + ")"));
        }
        while (auto* e = ::readdir(d))
            if (e->d_type == DT_DIR && run_leaf_pid(e->d_name)) names.insert(e->d_name);
        ::closedir(d);
    }

    std::vector<std::string> removed;
    std::optional<Error> first_error;
    for (const auto& name : names) {
        Leaf leaf;
        leaf.version_ = hierarchy.version_;
        leaf.fake_tree_ = hierarchy.fake_tree_;
        for (const auto& parent : hierarchy.parent_dirs_) {
            std::string dir = parent.empty() ? "" : parent + "/" + name;
            leaf.dirs_.push_back(!dir.empty() && exists(dir) ? dir : "");
        }
        auto any_dir = unique_dirs(leaf.dirs_);
        if (any_dir.empty() || !supervisor_gone(*run_leaf_pid(name), any_dir[0])) {
            leaf.dirs_.clear();
            continue;
        }
        leaf.kill_all();
        auto r = leaf.remove();
        if (r) {
            removed.push_back(name);
        } else {
            if (!first_error) first_error = std::move(r).error();
            leaf.dirs_.clear();  // reported; the destructor need not wait again
        }
    }
    if (first_error)
        return fail(std::move(*first_error).with_prefix("cgroup: removing stale leaves: "));
    return removed;
}

}  // namespace sandbox::cgroup
