#include "runtime/base/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/base/sys.h"
#include "sandbox/base/unique_fd.h"

namespace runtime {

namespace {

std::string parent_dir(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

sandbox::Result<sandbox::UniqueFd> lock_parent_dir(const std::string& path) {
    std::string dir = parent_dir(path);
    auto fd = sandbox::sys::open_file(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd) return sandbox::fail(std::move(fd).error());
    while (::flock(fd->get(), LOCK_EX) != 0)
        if (errno != EINTR) return sandbox::fail(sandbox::sys_error("flock " + dir));
    return fd;
}

sandbox::Result<void> replace_file(const std::string& path, std::string_view data, mode_t mode,
                                   std::string_view label, gid_t group) {
    std::string prefix = std::string(label) + ": ";
    std::string dir = parent_dir(path);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        auto out = sandbox::sys::open_file(
            tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (!out) return sandbox::fail(std::move(out).error().with_prefix(prefix));
        // The umask may have narrowed the mode; the file's readers (the server) need it exact.
        auto failed = [&](sandbox::Error e) {
            ::unlink(tmp.c_str());
            return sandbox::fail(std::move(e).with_prefix(prefix));
        };
        if (group != static_cast<gid_t>(-1) &&
            ::fchown(out->get(), static_cast<uid_t>(-1), group) != 0)
            return failed(sandbox::sys_error("fchown " + tmp));
        // After fchown, which clears the set-id bits (none of ours have them anyway).
        if (::fchmod(out->get(), mode) != 0) return failed(sandbox::sys_error("fchmod " + tmp));
        if (auto w = sandbox::sys::write_all(out->get(), data); !w)
            return failed(std::move(w).error().with_prefix("write " + tmp + ": "));
        if (::fsync(out->get()) != 0) return failed(sandbox::sys_error("fsync " + tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto err = sandbox::sys_error("rename " + tmp + " -> " + path);
        ::unlink(tmp.c_str());
        return sandbox::fail(std::move(err).with_prefix(prefix));
    }
    // The rename is durable only once the directory is.
    auto d = sandbox::sys::open_file(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!d) return sandbox::fail(std::move(d).error().with_prefix(prefix));
    if (::fsync(d->get()) != 0)
        return sandbox::fail(sandbox::sys_error("fsync " + dir).with_prefix(prefix));
    return {};
}

}  // namespace runtime
