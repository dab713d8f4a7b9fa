#include "sandbox/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

namespace sandbox::mount_plan {
namespace {

// Device nodes a program may legitimately open. Bound from the host (a user namespace cannot
// mknod); tty, ptmx, kmsg, mem and the rest stay absent.
constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom"};

// Parts of /proc that could reconfigure the host if some kernel path ever let a write through;
// sealed read-only on top of the no-caps, no-root-uid rule (defence in depth, as bubblewrap does).
constexpr const char* kProcReadOnly[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus",
                                         "proc/fs"};

// Paths the plan itself owns; a configured bind may not land on or under them.
constexpr const char* kReserved[] = {"/proc", "/dev", "/tmp", "/etc"};

constexpr uint64_t kReadOnlyAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

bool under(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}

class Builder {
public:
    explicit Builder(Plan& plan) : plan_(plan) {}

    // mkdir -p of target's parent directories, then of target itself when dir is set.
    void ensure_dirs(const std::string& rel, bool include_self) {
        size_t pos = 0;
        while ((pos = rel.find('/', pos)) != std::string::npos) {
            add_dir(rel.substr(0, pos));
            ++pos;
        }
        if (include_self) add_dir(rel);
    }

    Result<void> bind(const std::string& source, const std::string& target, bool optional,
                      uint64_t attrs) {
        struct stat st;
        if (::lstat(source.c_str(), &st) != 0) {
            if (errno == ENOENT && optional) return {};
            return fail(sys_error("mount " + source));
        }
        std::string rel = target.substr(1);
        if (!claim(rel))
            return fail(Errc::InvalidArgument, "mount " + target + ": target used twice");
        if (S_ISLNK(st.st_mode)) {
            // Merged-/usr hosts have /bin -> usr/bin; recreating the link keeps argv paths such
            // as /bin/sh working without binding anything twice.
            char link[4096];
            ssize_t n = ::readlink(source.c_str(), link, sizeof link - 1);
            if (n < 0) return fail(sys_error("readlink " + source));
            ensure_dirs(rel, false);
            plan_.ops.push_back(
                Op{OpKind::Symlink, rel, std::string(link, static_cast<size_t>(n))});
            return {};
        }
        if (plan_.bind_sources.size() >= kMaxBindSources)
            return fail(Errc::InvalidArgument, "mount " + target + ": more than 64 binds");
        ensure_dirs(rel, S_ISDIR(st.st_mode));
        if (!S_ISDIR(st.st_mode)) plan_.ops.push_back(Op{OpKind::CreateFile, rel, {}, {}, 0, 0644});
        Op op{OpKind::BindTree, rel, source};
        op.attr = attrs;
        op.source_index = static_cast<int>(plan_.bind_sources.size());
        plan_.bind_sources.push_back(source);
        plan_.ops.push_back(std::move(op));
        return {};
    }

    void add(Op op) { plan_.ops.push_back(std::move(op)); }

    bool claim(const std::string& rel) { return claimed_.insert(rel).second; }

private:
    void add_dir(const std::string& rel) {
        if (created_.insert(rel).second)
            plan_.ops.push_back(Op{OpKind::Mkdir, rel, {}, {}, 0, 0755});
    }

    Plan& plan_;
    std::set<std::string> created_;
    std::set<std::string> claimed_;
};

}  // namespace

bool is_normal_absolute(const std::string& path) {
    if (path.size() < 2 || path[0] != '/' || path.back() == '/') return false;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string_view part(path.data() + start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return path.find('\0') == std::string::npos;
}

Result<Plan> build(const SandboxConfig& config, const std::string& staging,
                   const std::string& passwd, const std::string& group) {
    Plan plan;
    plan.staging = staging;
    // The root itself only holds mount points and a few generated /etc files. uid/gid make the
    // sandbox's inside identity its owner, so the child can populate it after dropping host root;
    // it is sealed read-only before exec.
    plan.root_options = "size=1m,nr_inodes=4096,mode=0755,uid=" + std::to_string(config.uid) +
                        ",gid=" + std::to_string(config.gid);
    Builder b(plan);

    for (const BindMount& m : config.binds) {
        std::string target = m.target.empty() ? m.source : m.target;
        if (!is_normal_absolute(m.source) || !is_normal_absolute(target))
            return fail(
                Errc::InvalidArgument,
                "mount " + m.source + ": source and target must be normalised absolute paths");
        for (const char* reserved : kReserved)
            if (under(target, reserved) || under(reserved, target))
                return fail(Errc::InvalidArgument,
                            "mount " + target + ": collides with the sandbox's own " + reserved);
        if (!config.workspace.empty() &&
            (under(target, config.workspace_target) || under(config.workspace_target, target)))
            return fail(Errc::InvalidArgument, "mount " + target + ": collides with the workspace");
        uint64_t attrs = kReadOnlyAttrs | (m.noexec ? MOUNT_ATTR_NOEXEC : 0);
        SBX_TRY(b.bind(m.source, target, m.optional, attrs));
    }

    // /etc: only the named host entries plus generated identity files, never the whole host /etc
    // (it holds shadow, ssh keys and service credentials).
    b.ensure_dirs("etc", true);
    for (const std::string& name : config.etc_entries) {
        std::string path = "/etc/" + name;
        if (name.empty() || !is_normal_absolute(path))
            return fail(Errc::InvalidArgument,
                        "mount /etc/" + name + ": not a plain name under /etc");
        if (name == "passwd" || name == "group")
            return fail(Errc::InvalidArgument, "mount /etc/" + name + ": generated by the sandbox");
        SBX_TRY(b.bind(path, path, true, kReadOnlyAttrs | MOUNT_ATTR_NOEXEC));
    }
    b.add(Op{OpKind::WriteFile, "etc/passwd", {}, passwd, 0, 0644});
    b.add(Op{OpKind::WriteFile, "etc/group", {}, group, 0, 0644});
    if (b.claim("etc/hosts"))
        b.add(Op{OpKind::WriteFile,
                 "etc/hosts",
                 {},
                 "127.0.0.1 localhost " + config.hostname + "\n::1 localhost\n",
                 0,
                 0644});
    if (b.claim("etc/hostname"))
        b.add(Op{OpKind::WriteFile, "etc/hostname", {}, config.hostname + "\n", 0, 0644});

    // /dev: a private tmpfs holding only the harmless nodes, sealed read-only afterwards.
    b.ensure_dirs("dev", true);
    b.add(Op{OpKind::Tmpfs,
             "dev",
             "size=64k,nr_inodes=64,mode=0755,uid=" + std::to_string(config.uid) +
                 ",gid=" + std::to_string(config.gid),
             {},
             MS_NOSUID | MS_NOEXEC});
    for (const char* node : kDevNodes) {
        std::string path = std::string("/dev/") + node;
        SBX_TRY(b.bind(path, path, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
    }
    b.add(Op{OpKind::Symlink, "dev/fd", "/proc/self/fd"});
    b.add(Op{OpKind::Symlink, "dev/stdin", "/proc/self/fd/0"});
    b.add(Op{OpKind::Symlink, "dev/stdout", "/proc/self/fd/1"});
    b.add(Op{OpKind::Symlink, "dev/stderr", "/proc/self/fd/2"});
    b.add(Op{
        OpKind::SetAttr, "dev", {}, {}, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC});

    // /proc: private to the new pid namespace, so it lists only the sandbox's processes.
    b.ensure_dirs("proc", true);
    b.add(Op{OpKind::Proc, "proc"});
    for (const char* sealed : kProcReadOnly)
        b.add(Op{OpKind::BindSelf, sealed, {}, {}, kReadOnlyAttrs | MOUNT_ATTR_NOEXEC});

    // /tmp: the only writable place, fresh per run (the tmpfs dies with the mount namespace).
    // noexec by policy: with a noexec workspace, the only other place a program could put a
    // file to execute (or to map as code, e.g. through the dynamic loader).
    b.ensure_dirs("tmp", true);
    uint64_t tmp_flags = MS_NOSUID | MS_NODEV;
    if (config.tmp_noexec) tmp_flags |= MS_NOEXEC;
    b.add(Op{OpKind::Tmpfs,
             "tmp",
             "size=" + std::to_string(config.limits.tmpfs_bytes) + ",nr_inodes=65536,mode=1777",
             {},
             tmp_flags});

    plan.cwd = "/";
    if (!config.workspace.empty()) {
        if (!is_normal_absolute(config.workspace) || !is_normal_absolute(config.workspace_target))
            return fail(Errc::InvalidArgument, "mount workspace " + config.workspace +
                                                   ": must be a normalised absolute path");
        struct stat st;
        if (::stat(config.workspace.c_str(), &st) != 0)
            return fail(sys_error("mount workspace " + config.workspace));
        if (!S_ISDIR(st.st_mode))
            return fail(Errc::InvalidArgument,
                        "mount workspace " + config.workspace + ": not a directory");
        for (const char* reserved : kReserved)
            if (under(config.workspace_target, reserved) ||
                under(reserved, config.workspace_target))
                return fail(Errc::InvalidArgument,
                            "mount workspace: target collides with " + std::string(reserved));
        // Read-only: tools must not alter the workspace. nosuid/nodev always; noexec by policy.
        uint64_t attrs = kReadOnlyAttrs | (config.workspace_noexec ? MOUNT_ATTR_NOEXEC : 0);
        SBX_TRY(b.bind(config.workspace, config.workspace_target, false, attrs));
        plan.cwd = config.workspace_target;
    }
    // The root tmpfs last: after this nothing in the tree is writable except /tmp.
    b.add(
        Op{OpKind::SetAttr, "", {}, {}, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV});
    return plan;
}

}  // namespace sandbox::mount_plan
