// EINTR-safe helpers for the parent side. None of these may be called between fork and exec:
// they allocate (std::string) on error paths.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"

namespace sandbox::sys {

// open(2) with O_CLOEXEC always added.
Result<UniqueFd> open_file(const std::string& path, int flags, mode_t mode = 0);
// Reads a whole (small) file such as a cgroup or /proc entry. Fails past max_bytes.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 1 << 20);
// Writes all of data to path (O_WRONLY, no O_CREAT unless create is set, O_TRUNC when creating).
Result<void> write_file(const std::string& path, std::string_view data, bool create = false);
// Writes all bytes to fd, retrying on EINTR and short writes.
Result<void> write_all(int fd, std::string_view data);
// pipe2(O_CLOEXEC | extra_flags): [0] read end, [1] write end.
// Fills buf from the kernel CSPRNG (getrandom(2), retried on EINTR and short reads).
Result<void> random_bytes(void* buf, size_t size);
// size random bytes as 2*size lowercase hex digits.
Result<std::string> random_hex(size_t size);

Result<void> make_pipe(UniqueFd& read_end, UniqueFd& write_end, int extra_flags = 0);
// pidfd_send_signal(2) via syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C" guards, so its
// declaration does not link from C++. Async-signal-safe; usable in any context. 0 or -1/errno.
int pidfd_signal(int pidfd, int sig);
// SIGKILL through the pidfd, then waitid(P_PIDFD) until the child is reaped. For a child that
// must not run on; does nothing for pidfd < 0. Blocks until the child exits (SIGKILL: promptly).
void kill_and_reap(int pidfd);
// Symbolic errno name ("EPERM"); "E?" for unknown values.
const char* errno_name(int err);

}  // namespace sandbox::sys
