// tooljail-probe: ways to execute a file the program wrote itself (copy-exec, memfd-exec). Each
// prints what it did, then execs; a successful exec shows only as the new program's own output.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "probe.h"

namespace probe {
namespace {

// Copies every byte of src to dst_fd; reports under label. False (reported) on failure.
bool copy_into(const char* label, const char* src, int dst_fd) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        report(label, -1);
        return false;
    }
    char buf[65536];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (n > 0 && !write_all(dst_fd, buf, static_cast<size_t>(n)))) {
            report(label, -1);
            close(in);
            return false;
        }
        if (n == 0) break;
        total += static_cast<uint64_t>(n);
    }
    close(in);
    say("%s ok bytes=%llu\n", label, static_cast<unsigned long long>(total));
    return true;
}

}  // namespace

// copy-exec <src> <dst> <path> [args...]: copies src to dst (mode 0755), then
// execve(path, [path, args...]). path is dst itself, or a loader given dst as an argument.
int cmd_copy_exec(int argc, char** argv) {
    if (argc < 3) misuse("copy-exec <src> <dst> <path> [args...]");
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        report("copy", -1);
        return 0;
    }
    bool copied = copy_into("copy", argv[0], out);
    close(out);
    if (!copied) return 0;
    execve(argv[2], argv + 2, environ);
    report("exec", -1);
    return 0;
}

// memfd-exec <src> <proc|at> <argv0> [args...]: copies src into a memfd_create(2) file, then
// execs it through /proc/self/fd/N (execve) or the descriptor itself (execveat AT_EMPTY_PATH).
int cmd_memfd_exec(int argc, char** argv) {
    if (argc < 3) misuse("memfd-exec <src> <proc|at> <argv0> [args...]");
    bool via_proc = strcmp(argv[1], "proc") == 0;
    if (!via_proc && strcmp(argv[1], "at") != 0) misuse("memfd-exec: proc or at");
    // No MFD_CLOEXEC: exec through /proc/self/fd/N must still find the descriptor.
    int fd = static_cast<int>(syscall(SYS_memfd_create, "tooljail-probe", 0));
    if (fd < 0) {
        report("memfd", -1);
        return 0;
    }
    say("memfd ok fd=%d\n", fd);
    if (!copy_into("copy", argv[0], fd)) return 0;
    if (via_proc) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        execve(path, argv + 2, environ);
    } else {
        syscall(SYS_execveat, fd, "", argv + 2, environ, AT_EMPTY_PATH);
    }
    report("exec", -1);
    return 0;
}

}  // namespace probe
