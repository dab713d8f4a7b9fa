#include "sandbox/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace sandbox::mounts {
namespace {

using mount_plan::Op;
using mount_plan::OpKind;

const char* path_or_dot(const Op& op) { return op.target.empty() ? "." : op.target.c_str(); }

int set_attr(int dfd, const char* path, unsigned flags, uint64_t attr) {
    struct mount_attr ma = {};
    ma.attr_set = attr;
    return ::mount_setattr(dfd, path, flags, &ma, sizeof ma) == 0 ? 0 : errno;
}

int write_whole(const Op& op) {
    int fd =
        ::open(op.target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, op.mode);
    if (fd < 0) return errno;
    const char* p = op.data.data();
    size_t left = op.data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return err;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    return ::close(fd) == 0 ? 0 : errno;
}

int apply_op(const Op& op, const int* tree_fds) {
    switch (op.kind) {
        case OpKind::Mkdir:
            if (::mkdir(op.target.c_str(), op.mode) != 0 && errno != EEXIST) return errno;
            return 0;
        case OpKind::CreateFile: {
            int fd =
                ::open(op.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, op.mode);
            if (fd < 0) return errno;
            ::close(fd);
            return 0;
        }
        case OpKind::Symlink:
            return ::symlink(op.source.c_str(), op.target.c_str()) == 0 ? 0 : errno;
        case OpKind::WriteFile: return write_whole(op);
        case OpKind::Tmpfs:
            return ::mount("tmpfs", op.target.c_str(), "tmpfs", op.attr, op.source.c_str()) == 0
                       ? 0
                       : errno;
        case OpKind::BindTree: {
            // Attributes go on the detached clone first, recursively, so no submount of e.g.
            // /usr is ever visible writable inside the sandbox, not even briefly.
            int fd = tree_fds[op.source_index];
            int err = set_attr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, op.attr);
            if (err != 0) return err;
            if (::move_mount(fd, "", AT_FDCWD, op.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
                return errno;
            return 0;
        }
        case OpKind::Proc:
            return ::mount("proc", op.target.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           nullptr) == 0
                       ? 0
                       : errno;
        case OpKind::BindSelf: {
            struct stat st;
            if (::lstat(op.target.c_str(), &st) != 0) return errno == ENOENT ? 0 : errno;
            if (::mount(op.target.c_str(), op.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) !=
                0)
                return errno;
            return set_attr(AT_FDCWD, op.target.c_str(), AT_RECURSIVE | AT_SYMLINK_NOFOLLOW,
                            op.attr);
        }
        case OpKind::SetAttr:
            return set_attr(AT_FDCWD, path_or_dot(op), AT_SYMLINK_NOFOLLOW, op.attr);
    }
    return EINVAL;
}

}  // namespace

int prepare_in_child(const mount_plan::Plan& plan, int* tree_fds, int* failed_op) {
    *failed_op = -1;
    // Private, so nothing the child mounts propagates back to the host's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
    if (::mount("tooljail", plan.staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                plan.root_options.c_str()) != 0)
        return errno;
    for (size_t i = 0; i < plan.bind_sources.size(); ++i) {
        int fd = ::open_tree(AT_FDCWD, plan.bind_sources[i].c_str(),
                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (fd < 0) {
            *failed_op = static_cast<int>(i);
            return errno;
        }
        tree_fds[i] = fd;
    }
    return 0;
}

int apply_in_child(const mount_plan::Plan& plan, const int* tree_fds, int* failed_op) {
    *failed_op = kFailedStaging;
    if (::chdir(plan.staging.c_str()) != 0) return errno;
    for (size_t i = 0; i < plan.ops.size(); ++i) {
        int err = apply_op(plan.ops[i], tree_fds);
        if (err != 0) {
            *failed_op = static_cast<int>(i);
            return err;
        }
    }
    for (size_t i = 0; i < plan.bind_sources.size(); ++i) ::close(tree_fds[i]);
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves no
    // path back to the host tree (no oldroot directory needed).
    *failed_op = kFailedPivot;
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno;
    if (::umount2(".", MNT_DETACH) != 0) return errno;
    *failed_op = kFailedCwd;
    if (::chdir(plan.cwd.c_str()) != 0) return errno;
    *failed_op = -1;
    return 0;
}

}  // namespace sandbox::mounts
