#include "sandbox/base/sys.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sandbox {

const char* errc_name(Errc code) {
    switch (code) {
        case Errc::InvalidArgument: return "invalid_argument";
        case Errc::NotFound: return "not_found";
        case Errc::PermissionDenied: return "permission_denied";
        case Errc::Unsupported: return "unsupported";
        case Errc::Timeout: return "timeout";
        case Errc::Syscall: return "syscall";
        case Errc::Internal: return "internal";
    }
    return "internal";
}

std::string Error::message() const {
    if (sys_errno == 0) return context;
    return context + ": " + std::strerror(sys_errno) + " (" + sys::errno_name(sys_errno) + ")";
}

namespace sys {

Result<UniqueFd> open_file(const std::string& path, int flags, mode_t mode) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return fail(sys_error("open(" + path + ")"));
    return UniqueFd(fd);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
    auto fd = open_file(path, O_RDONLY);
    if (!fd) return fail(std::move(fd).error());
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("read(" + path + ")"));
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_bytes)
            return fail(Errc::InvalidArgument,
                        "read(" + path + "): larger than " + std::to_string(max_bytes) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("write"));
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Result<void> write_file(const std::string& path, std::string_view data, bool create) {
    int flags = O_WRONLY | (create ? O_CREAT | O_TRUNC : 0);
    auto fd = open_file(path, flags, 0644);
    if (!fd) return fail(std::move(fd).error());
    auto written = write_all(fd->get(), data);
    if (!written) {
        Error e = std::move(written).error();
        e.context = "write(" + path + ")";
        return fail(std::move(e));
    }
    return {};
}

Result<void> make_pipe(UniqueFd& read_end, UniqueFd& write_end, int extra_flags) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | extra_flags) != 0) return fail(sys_error("pipe2"));
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    return {};
}

int pidfd_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

void kill_and_reap(int pidfd) {
    if (pidfd < 0) return;
    pidfd_signal(pidfd, SIGKILL);
    siginfo_t info;
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
    }
}

const char* errno_name(int err) {
#define SBX_ERRNO(e) \
    { e, #e }
    static constexpr struct {
        int value;
        const char* name;
    } kNames[] = {
        SBX_ERRNO(EPERM),       SBX_ERRNO(ENOENT),     SBX_ERRNO(ESRCH),
        SBX_ERRNO(EINTR),       SBX_ERRNO(EIO),        SBX_ERRNO(ENXIO),
        SBX_ERRNO(E2BIG),       SBX_ERRNO(ENOEXEC),    SBX_ERRNO(EBADF),
        SBX_ERRNO(ECHILD),      SBX_ERRNO(EAGAIN),     SBX_ERRNO(ENOMEM),
        SBX_ERRNO(EACCES),      SBX_ERRNO(EFAULT),     SBX_ERRNO(EBUSY),
        SBX_ERRNO(EEXIST),      SBX_ERRNO(EXDEV),      SBX_ERRNO(ENODEV),
        SBX_ERRNO(ENOTDIR),     SBX_ERRNO(EISDIR),     SBX_ERRNO(EINVAL),
        SBX_ERRNO(ENFILE),      SBX_ERRNO(EMFILE),     SBX_ERRNO(ETXTBSY),
        SBX_ERRNO(EFBIG),       SBX_ERRNO(ENOSPC),     SBX_ERRNO(EROFS),
        SBX_ERRNO(EPIPE),       SBX_ERRNO(ERANGE),     SBX_ERRNO(ENAMETOOLONG),
        SBX_ERRNO(ENOSYS),      SBX_ERRNO(ENOTEMPTY),  SBX_ERRNO(ELOOP),
        SBX_ERRNO(EOVERFLOW),   SBX_ERRNO(EOPNOTSUPP), SBX_ERRNO(ECONNREFUSED),
        SBX_ERRNO(ENETUNREACH), SBX_ERRNO(EUSERS),
    };
#undef SBX_ERRNO
    for (const auto& n : kNames)
        if (n.value == err) return n.name;
    return "E?";
}

Result<void> random_bytes(void* buf, size_t size) {
    auto* p = static_cast<unsigned char*>(buf);
    size_t got = 0;
    while (got < size) {
        ssize_t n = ::getrandom(p + got, size - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(sys_error("getrandom"));
        got += static_cast<size_t>(n);
    }
    return {};
}

Result<std::string> random_hex(size_t size) {
    std::string bytes(size, '\0');
    if (auto r = random_bytes(bytes.data(), size); !r) return fail(std::move(r).error());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * size);
    for (unsigned char b : bytes) {
        hex += kHex[b >> 4];
        hex += kHex[b & 0xf];
    }
    return hex;
}

}  // namespace sys
}  // namespace sandbox
