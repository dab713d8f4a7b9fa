// tooljail-probe: filesystem subcommands (write, read, cat, ls, statfs, fill-tmp).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "probe.h"

namespace probe {

// ---- filesystem ---------------------------------------------------------------------------------

int cmd_write(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report("write", -1);
        return 0;
    }
    const char payload[] = "tooljail-probe was here\n";
    if (!write_all(fd, payload, sizeof payload - 1)) {
        report("write", -1);
    } else {
        say("write ok bytes=%zu\n", sizeof payload - 1);
    }
    close(fd);
    return 0;
}

int cmd_read(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report("read", -1);
        return 0;
    }
    char buf[65536];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            report("read", -1);
            close(fd);
            return 0;
        }
        if (n == 0) break;
        total += static_cast<uint64_t>(n);
    }
    close(fd);
    say("read ok bytes=%llu\n", static_cast<unsigned long long>(total));
    return 0;
}

// Dumps a file to stdout (for /proc files the tests parse), or "cat err errno=...".
int cmd_cat(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report("cat", -1);
        return 0;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        write_all(1, buf, static_cast<size_t>(n));
    }
    close(fd);
    return 0;
}

int cmd_ls(const char* path) {
    DIR* dir = opendir(path);
    if (!dir) {
        report("ls", -1);
        return 0;
    }
    while (dirent* entry = readdir(dir)) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        say("%s\n", entry->d_name);
    }
    closedir(dir);
    return 0;
}

int cmd_statfs(const char* path) {
    struct statvfs st {};
    if (statvfs(path, &st) != 0) {
        report("statfs", -1);
        return 0;
    }
    struct statfs raw {};
    statfs(path, &raw);
    say("statfs ok type=0x%lx size=%llu free=%llu rdonly=%d nosuid=%d nodev=%d noexec=%d\n",
        static_cast<unsigned long>(raw.f_type),
        static_cast<unsigned long long>(st.f_blocks) * st.f_frsize,
        static_cast<unsigned long long>(st.f_bfree) * st.f_frsize, (st.f_flag & ST_RDONLY) ? 1 : 0,
        (st.f_flag & ST_NOSUID) ? 1 : 0, (st.f_flag & ST_NODEV) ? 1 : 0,
        (st.f_flag & ST_NOEXEC) ? 1 : 0);
    return 0;
}

// Writes /tmp/fill.<pid> in 1 MiB chunks until mb MiB are written or a write fails.
// SIGXFSZ is ignored so that RLIMIT_FSIZE shows up as EFBIG instead of a kill.
int cmd_fill_tmp(uint64_t mb) {
    signal(SIGXFSZ, SIG_IGN);
    char path[64];
    snprintf(path, sizeof path, "/tmp/fill.%d", static_cast<int>(getpid()));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        report("fill-tmp", -1);
        return 0;
    }
    static char chunk[1 << 20];
    memset(chunk, 'f', sizeof chunk);
    uint64_t written = 0;
    int err = 0;
    const uint64_t target = mb << 20;
    while (written < target) {
        ssize_t w = write(fd, chunk, sizeof chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            err = errno;
            break;
        }
        written += static_cast<uint64_t>(w);
    }
    close(fd);
    say("fill-tmp written=%llu errno=%s\n", static_cast<unsigned long long>(written), ename(err));
    return 0;
}

}  // namespace probe
