// Cgroup hierarchy detection: which version and controllers the host offers, from
// /proc/self/mountinfo and /proc/self/cgroup, and the parent group every leaf goes under. See
// cgroup.h for the contract and docs/CGROUPS.md for the layouts and the fail-closed rules.
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include "sandbox/base/sys.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"

namespace sandbox::cgroup {
using namespace internal;

// ---- text (shared with cgroup.cc) ----------------------------------------------------------

std::vector<std::string> internal::split(std::string_view text, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(sep, start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

namespace {

constexpr const char* kDefaultParentName = "tooljail";
constexpr const char* kSupervisorLeaf = "supervisor";

struct MountEntry {
    std::string root;         // the mount's root within the filesystem (field 4)
    std::string mount_point;  // field 5, unescaped
    std::string fstype;
    std::vector<std::string> super_options;
};

struct ProcCgroupLine {
    std::vector<std::string> controllers;  // empty for the v2 "0::" line
    std::string path;
    bool v2 = false;
};

std::string join(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (proc_pid_mountinfo(5)).
std::string unescape_octal(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
// The optional fields vary in number, so the filesystem part is found via the "-" separator.
std::vector<MountEntry> parse_mountinfo(const std::string& text) {
    std::vector<MountEntry> mounts;
    for (const auto& line : split(text, '\n')) {
        auto fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 6 || dash == fields.end() || dash - fields.begin() < 6 ||
            fields.end() - dash < 4)
            continue;  // malformed; the kernel never writes these
        MountEntry m;
        m.root = unescape_octal(fields[3]);
        m.mount_point = unescape_octal(fields[4]);
        m.fstype = *(dash + 1);
        m.super_options = split(*(dash + 3), ',');
        mounts.push_back(std::move(m));
    }
    return mounts;
}

// "4:memory:/process_api/x", "1:cpu,cpuacct:/", "0::/user.slice/x.scope". The path may itself
// contain ':', so only the first two separate fields.
std::vector<ProcCgroupLine> parse_proc_cgroup(const std::string& text) {
    std::vector<ProcCgroupLine> lines;
    for (const auto& line : split(text, '\n')) {
        size_t c1 = line.find(':');
        size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        ProcCgroupLine l;
        l.controllers = split(std::string_view(line).substr(c1 + 1, c2 - c1 - 1), ',');
        l.path = line.substr(c2 + 1);
        l.v2 = line.compare(0, c1, "0") == 0 && l.controllers.empty();
        lines.push_back(std::move(l));
    }
    return lines;
}

// The directory of a cgroup path under a mount. The mount may expose only a subtree (its root
// field is not "/"), in which case the path must lie inside it.
std::optional<std::string> dir_under_mount(const MountEntry& m, const std::string& cgroup_path) {
    if (m.root == "/") return cgroup_path == "/" ? m.mount_point : m.mount_point + cgroup_path;
    if (cgroup_path == m.root) return m.mount_point;
    if (cgroup_path.size() > m.root.size() && cgroup_path.compare(0, m.root.size(), m.root) == 0 &&
        cgroup_path[m.root.size()] == '/')
        return m.mount_point + cgroup_path.substr(m.root.size());
    return std::nullopt;
}

// "" for "/", else "/a/b". Rejects relative paths and "." / ".." so an override cannot climb
// out of the cgroup mount.
Result<std::string> normalize_override(const std::string& path) {
    if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos)
        return fail(Errc::InvalidArgument,
                    "cgroup: parent override '" + path + "' must be an absolute cgroup path");
    std::string out;
    for (const auto& comp : split(path, '/')) {
        if (comp == "." || comp == "..")
            return fail(Errc::InvalidArgument,
                        "cgroup: parent override '" + path + "' must not contain . or ..");
        out += "/" + comp;
    }
    return out;
}

Result<void> make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return {};
    return fail(sys_error("mkdir(" + path + ")"));
}

// mkdir -p for the components of rel ("/a/b") below base, which must exist.
Result<void> make_dirs(const std::string& base, const std::string& rel) {
    std::string dir = base;
    for (const auto& comp : split(rel, '/')) {
        dir += "/" + comp;
        SBX_TRY(make_dir(dir));
    }
    return {};
}

std::vector<std::string> tokens_of(const std::string& path) {
    auto text = sys::read_file(path);
    std::vector<std::string> out;
    if (!text) return out;
    std::replace(text->begin(), text->end(), '\n', ' ');
    for (auto& t : split(*text, ' ')) out.push_back(t[0] == '+' ? t.substr(1) : t);
    return out;
}

// The mount points we write limits into must really be cgroupfs. mountinfo comes from the
// kernel, but another filesystem mounted over /sys/fs/cgroup would take every write silently
// and enforce nothing, so a mismatch fails closed. Unit tests opt in to plain directories.
Result<bool> check_cgroupfs(const std::string& dir, bool v2, bool allow_fake) {
    struct statfs st {};
    if (::statfs(dir.c_str(), &st) != 0) return fail(sys_error("statfs(" + dir + ")"));
    auto magic = static_cast<unsigned long>(st.f_type);
    if (magic == (v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC)) return false;
    if (allow_fake) return true;
    return fail(Errc::Unsupported, "cgroup: " + dir + " is not a " + (v2 ? "cgroup2" : "cgroup") +
                                       " filesystem (something is mounted over it)");
}

// ---- v2 ------------------------------------------------------------------------------------

// Moves this process into <dir>/supervisor so that <dir> holds no processes and may delegate
// controllers ("no internal processes" rule, cgroups(7); the practice systemd documents for
// Delegate=yes services).
Result<void> move_self_to_leaf(const std::string& dir) {
    std::string leaf = dir + "/" + kSupervisorLeaf;
    SBX_TRY(make_dir(leaf));
    auto moved = write_control(leaf + "/cgroup.procs", std::to_string(::getpid()));
    if (!moved)
        return fail(std::move(moved).error().with_prefix("cgroup: moving the supervisor out of " +
                                                         dir + ": "));
    return {};
}

// Makes sure dir/cgroup.subtree_control contains every controller in wanted.
Result<void> enable_in(const std::string& dir, const std::vector<std::string>& wanted) {
    auto enabled = tokens_of(dir + "/cgroup.subtree_control");
    std::vector<std::string> missing;
    for (const auto& c : wanted)
        if (!contains(enabled, c)) missing.push_back(c);
    if (missing.empty()) return {};

    auto offered = tokens_of(dir + "/cgroup.controllers");
    for (const auto& c : missing) {
        if (!contains(offered, c))
            return fail(Errc::Unsupported, "cgroup: " + dir + " is not offered the " + c +
                                               " controller (cgroup.controllers: \"" +
                                               join(offered, " ") +
                                               "\"); the subtree must be delegated to us");
    }
    // The real root is exempt from the no-internal-processes rule; everywhere else, if the
    // supervisor itself sits in this group, step aside first. cgroup.events exists in every
    // group but the real root, so this also catches the root of a cgroup namespace (a
    // container), which looks like "/" from inside but is an ordinary group.
    if (exists(dir + "/cgroup.events")) {
        auto procs = read_pids(dir + "/cgroup.procs");
        if (std::find(procs.begin(), procs.end(), ::getpid()) != procs.end())
            SBX_TRY(move_self_to_leaf(dir));
    }
    std::string cmd;
    for (const auto& c : missing) cmd += (cmd.empty() ? "+" : " +") + c;
    auto written = write_control(dir + "/cgroup.subtree_control", cmd);
    if (!written) {
        Error e = std::move(written).error();
        if (e.sys_errno == EBUSY)
            e.context += " (" + dir +
                         " still holds other processes; move them into a leaf or point the "
                         "parent at a delegated, empty subtree)";
        return fail(std::move(e).with_prefix("cgroup: enabling controllers: "));
    }
    return {};
}

// Why <dir>, this process's own v2 cgroup, cannot be the base of its leaves: it must be
// delegated to this user (directory and control files writable: mkdir, moving ourselves into a
// leaf, enabling controllers) and hold no process but this one, because a cgroup with members
// cannot give controllers to a child ("no internal processes", cgroups(7)). Reads only.
std::optional<std::string> own_dir_problem(const std::string& dir) {
    for (const char* file : {"", "/cgroup.procs", "/cgroup.subtree_control"}) {
        std::string path = dir + file;
        if (::access(path.c_str(), W_OK) == 0) continue;
        int err = errno;
        struct stat st {};
        std::string owner = ::stat(dir.c_str(), &st) == 0
                                ? " (owned by uid " + std::to_string(st.st_uid) + ")"
                                : "";
        return "cgroup: this process's cgroup " + dir + owner + " is not delegated to uid " +
               std::to_string(::geteuid()) + ": " + path + " is not writable (" +
               sys::errno_name(err) + ")";
    }
    std::vector<pid_t> others;
    for (pid_t pid : read_pids(dir + "/cgroup.procs"))
        if (pid != ::getpid()) others.push_back(pid);
    if (!others.empty()) {
        std::string list;
        for (size_t i = 0; i < others.size() && i < 5; ++i)
            list += (i ? ", " : "") + std::to_string(others[i]);
        if (others.size() > 5) list += ", ...";
        return "cgroup: this process's cgroup " + dir + " holds other processes too (" + list +
               "), and a cgroup v2 group with members cannot hand controllers to a child; "
               "tooljail needs a cgroup of its own";
    }
    return std::nullopt;
}

// This process's own v2 cgroup directory under m, less a "/supervisor" leaf an earlier
// detect() moved it into (the base stays the leaf's parent).
std::optional<std::string> own_v2_base(const MountEntry& m,
                                       const std::optional<std::string>& own_path) {
    std::optional<std::string> own = own_path ? dir_under_mount(m, *own_path) : std::nullopt;
    if (!own) return std::nullopt;
    const std::string leaf_suffix = std::string("/") + kSupervisorLeaf;
    if (own->size() > m.mount_point.size() + leaf_suffix.size() &&
        own->compare(own->size() - leaf_suffix.size(), leaf_suffix.size(), leaf_suffix) == 0)
        own->resize(own->size() - leaf_suffix.size());
    return own;
}

struct V2Candidate {
    const MountEntry* mount = nullptr;
    std::optional<std::string> own_path;  // from the "0::" line
    std::vector<std::string> offered;     // memory/pids/cpu in the mount root's controllers
    std::vector<std::string> all_offered;
};

struct V1Candidate {
    const MountEntry* mount[kNumCtl] = {};
    std::optional<std::string> own_path[kNumCtl];
};

struct Survey {
    std::vector<MountEntry> mounts;  // V2Candidate/V1Candidate point into it
    V2Candidate v2;
    V1Candidate v1;
    std::vector<std::string> v1_found;
    bool use_v2 = false;  // the order of preference in cgroup.h
    bool use_v1 = false;
};

// What the host offers, without touching anything.
Result<std::unique_ptr<Survey>> survey(const std::string& mountinfo_path,
                                       const std::string& proc_self_cgroup) {
    auto mountinfo = sys::read_file(mountinfo_path, 4 << 20);
    if (!mountinfo) return fail(std::move(mountinfo).error().with_prefix("cgroup: "));
    auto self = sys::read_file(proc_self_cgroup);
    if (!self) return fail(std::move(self).error().with_prefix("cgroup: "));
    auto out = std::make_unique<Survey>();
    out->mounts = parse_mountinfo(*mountinfo);
    const auto lines = parse_proc_cgroup(*self);
    V2Candidate& v2 = out->v2;
    for (const auto& m : out->mounts) {
        if (m.fstype != "cgroup2") continue;
        if (!v2.mount || (v2.mount->root != "/" && m.root == "/")) v2.mount = &m;
    }
    for (const auto& l : lines)
        if (l.v2) v2.own_path = l.path;
    if (v2.mount) {
        v2.all_offered = tokens_of(v2.mount->mount_point + "/cgroup.controllers");
        for (size_t c = kMemory; c <= kCpu; ++c)
            if (contains(v2.all_offered, kCtlName[c])) v2.offered.push_back(kCtlName[c]);
    }
    V1Candidate& v1 = out->v1;
    for (size_t c = 0; c < kNumCtl; ++c) {
        for (const auto& m : out->mounts) {
            if (m.fstype != "cgroup" || !contains(m.super_options, kCtlName[c])) continue;
            if (!v1.mount[c] || (v1.mount[c]->root != "/" && m.root == "/")) v1.mount[c] = &m;
        }
        for (const auto& l : lines)
            if (!l.v2 && contains(l.controllers, kCtlName[c])) v1.own_path[c] = l.path;
        if (v1.mount[c]) out->v1_found.push_back(kCtlName[c]);
    }
    auto v2_has = [&](const char* c) { return contains(v2.offered, c); };
    bool v2_full = v2_has("memory") && v2_has("pids") && v2_has("cpu");
    bool v2_min = v2_has("memory") && v2_has("pids");
    bool v1_min = v1.mount[kMemory] && v1.mount[kPids];
    out->use_v2 = v2_full || (v2_min && !v1_min);
    out->use_v1 = !out->use_v2 && v1_min;
    return out;
}

}  // namespace

std::optional<std::string> own_cgroup_unusable(const std::string& mountinfo_path,
                                               const std::string& proc_self_cgroup) {
    auto found = survey(mountinfo_path, proc_self_cgroup);
    if (!found || !(*found)->use_v2) return std::nullopt;  // detect() says what is wrong
    const MountEntry& m = *(*found)->v2.mount;
    std::optional<std::string> own = own_v2_base(m, (*found)->v2.own_path);
    if (!own || *own == m.mount_point) return std::nullopt;
    return own_dir_problem(*own);
}

// ---- Hierarchy ------------------------------------------------------------------------------

Result<Hierarchy> Hierarchy::detect(const std::string& parent_override,
                                    const std::string& mountinfo_path,
                                    const std::string& proc_self_cgroup) {
    std::optional<std::string> override_rel;
    if (!parent_override.empty()) {
        auto norm = normalize_override(parent_override);
        if (!norm) return fail(std::move(norm).error());
        override_rel = *norm;
    }
    auto found = survey(mountinfo_path, proc_self_cgroup);
    if (!found) return fail(std::move(found).error());
    const V2Candidate& v2 = (*found)->v2;
    const V1Candidate& v1 = (*found)->v1;
    const std::vector<std::string>& v1_found = (*found)->v1_found;

    Hierarchy h;
    if ((*found)->use_v2) {
        // ---- v2: one parent; controllers enabled top-down from the mount root.
        const MountEntry& m = *v2.mount;
        auto fake = check_cgroupfs(m.mount_point, true, allow_fake_tree_);
        if (!fake) return fail(std::move(fake).error());
        std::string rel;
        if (override_rel) {
            rel = *override_rel;
        } else {
            std::optional<std::string> own = own_v2_base(m, v2.own_path);
            if (!own)
                return fail(Errc::Unsupported, "cgroup: own v2 cgroup '" +
                                                   v2.own_path.value_or("?") +
                                                   "' is not visible under " + m.mount_point);
            // Checked before anything is created or moved, so a refusal leaves no trace.
            if (*own != m.mount_point && !*fake) {
                if (auto problem = own_dir_problem(*own))
                    return fail(Errc::PermissionDenied, *problem);
            }
            rel = own->substr(m.mount_point.size());
            rel += std::string("/") + kDefaultParentName;
        }
        // Every level from the root down to the parent itself needs the controllers in its
        // subtree_control: a group's cgroup.controllers is its parent's subtree_control.
        std::string dir = m.mount_point;
        SBX_TRY(enable_in(dir, v2.offered));
        for (const auto& comp : split(rel, '/')) {
            dir += "/" + comp;
            SBX_TRY(make_dir(dir));
            SBX_TRY(enable_in(dir, v2.offered));
        }
        h.version_ = Version::V2;
        h.fake_tree_ = *fake;
        h.parent_dirs_ = {dir};
        auto enabled = tokens_of(dir + "/cgroup.subtree_control");
        for (size_t c = kMemory; c <= kCpu; ++c) h.present_[c] = contains(enabled, kCtlName[c]);
        return h;
    }

    if ((*found)->use_v1) {
        // ---- v1: one parent per controller hierarchy (co-mounted ones share a directory).
        h.version_ = Version::V1;
        h.parent_dirs_.assign(kNumCtl, "");
        for (size_t c = 0; c < kNumCtl; ++c) {
            const MountEntry* m = v1.mount[c];
            if (!m) continue;
            auto fake = check_cgroupfs(m->mount_point, false, allow_fake_tree_);
            if (!fake) return fail(std::move(fake).error());
            h.fake_tree_ = h.fake_tree_ || *fake;
            std::string rel;
            if (override_rel) {
                rel = *override_rel;
            } else {
                std::optional<std::string> own =
                    v1.own_path[c] ? dir_under_mount(*m, *v1.own_path[c]) : std::nullopt;
                if (!own) {
                    if (c == kMemory || c == kPids)
                        return fail(Errc::Unsupported,
                                    std::string("cgroup: own v1 ") + kCtlName[c] +
                                        " cgroup is not visible under " + m->mount_point);
                    continue;  // optional controller we cannot place: treat as missing
                }
                rel = own->substr(m->mount_point.size()) + "/" + kDefaultParentName;
            }
            if (auto made = make_dirs(m->mount_point, rel); !made) {
                Error e = std::move(made).error();
                if (::geteuid() != 0 && (e.sys_errno == EACCES || e.sys_errno == EPERM))
                    e.context +=
                        ": cgroup v1 hierarchies are not delegated to users; run "
                        "tooljail as root, or on a cgroup v2 host";
                return fail(std::move(e).with_prefix("cgroup: "));
            }
            h.parent_dirs_[c] = m->mount_point + rel;
            h.present_[c] = true;
        }
        return h;
    }

    std::string seen = "v2: ";
    if (v2.mount)
        seen += "at " + v2.mount->mount_point + " offering \"" + join(v2.all_offered, " ") + "\"";
    else
        seen += "none";
    seen += "; v1: " + (v1_found.empty() ? std::string("none") : join(v1_found, ","));
    return fail(Errc::Unsupported,
                "cgroup: no usable hierarchy (" + seen + "; need memory and pids)");
}

namespace {

// A group's CPU bandwidth limit in percent of one CPU: 0 for none ("max", -1), nullopt when
// the group has no such file (above the hierarchy's root, or no cpu controller).
//   v2 cpu.max: "max 100000" or "<quota> <period>"; v1: cpu.cfs_quota_us, cpu.cfs_period_us.
std::optional<uint64_t> cpu_limit_percent(const std::string& dir, bool v1) {
    std::string text;
    if (v1) {
        auto quota = sys::read_file(dir + "/cpu.cfs_quota_us", 64);
        auto period = sys::read_file(dir + "/cpu.cfs_period_us", 64);
        if (!quota || !period) return std::nullopt;
        text = *quota + " " + *period;
    } else {
        auto max = sys::read_file(dir + "/cpu.max", 64);
        if (!max) return std::nullopt;
        text = *max;
    }
    std::vector<std::string> words;
    for (const auto& line : split(text, '\n'))
        for (const auto& word : split(line, ' ')) words.push_back(word);
    auto number = [](const std::string& w) -> uint64_t {
        if (w.empty() || w.size() > 18 || w.find_first_not_of("0123456789") != std::string::npos)
            return 0;  // "max", "-1" or unreadable: no limit
        return std::strtoull(w.c_str(), nullptr, 10);
    };
    if (words.size() != 2) return uint64_t{0};
    uint64_t quota = number(words[0]), period = number(words[1]);
    if (quota == 0 || period == 0) return uint64_t{0};
    return std::max<uint64_t>(1, quota * 100 / period);
}

}  // namespace

uint32_t Hierarchy::inherited_cpu_percent() const {
    const bool v1 = version_ == Version::V1;
    if (parent_dirs_.empty() || (v1 && (parent_dirs_.size() <= kCpu || !present_[kCpu]))) return 0;
    std::string dir = parent_dirs_[v1 ? kCpu : 0];
    uint64_t tightest = 0;
    while (dir.size() > 1) {
        auto limit = cpu_limit_percent(dir, v1);
        if (!limit) break;  // left the hierarchy
        if (*limit != 0 && (tightest == 0 || *limit < tightest)) tightest = *limit;
        dir.resize(dir.rfind('/'));
    }
    return static_cast<uint32_t>(std::min<uint64_t>(tightest, UINT32_MAX));
}

std::string Hierarchy::describe() const {
    std::vector<std::string> names;
    for (size_t c = 0; c < kNumCtl; ++c)
        if (present_[c]) names.push_back(kCtlName[c]);
    return std::string(version_ == Version::V2 ? "v2 " : "v1 ") + join(names, ",");
}

}  // namespace sandbox::cgroup
