#include "sandbox/warm_request.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sandbox::warm_request {

std::optional<std::string> encode(const std::vector<std::string>& argv, bool has_stdin) {
    if (argv.empty() || argv.size() > kMaxArgs) return std::nullopt;
    size_t size = sizeof(Header);
    for (const auto& a : argv) {
        if (a.find('\0') != std::string::npos) return std::nullopt;
        size += a.size() + 1;
        if (size > kMaxBytes) return std::nullopt;
    }
    Header h{kMagic, static_cast<uint32_t>(size), static_cast<uint32_t>(argv.size()),
             has_stdin ? kHasStdin : 0u};
    std::string out(reinterpret_cast<const char*>(&h), sizeof h);
    out.reserve(size);
    for (const auto& a : argv) out.append(a.c_str(), a.size() + 1);
    return out;
}

int decode(char* buf, size_t len, Decoded* out) {
    if (len < sizeof(Header) || len > kMaxBytes) return EINVAL;
    Header h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != kMagic || h.size != len || h.argc == 0 || h.argc > kMaxArgs ||
        (h.flags & ~kHasStdin) != 0)
        return EINVAL;
    // The pointer array lives after the largest possible request, aligned for char*.
    char** argv = reinterpret_cast<char**>(buf + kMaxBytes);
    size_t pos = sizeof(Header);
    for (uint32_t i = 0; i < h.argc; ++i) {
        if (pos >= len) return EINVAL;
        const void* nul = memchr(buf + pos, '\0', len - pos);
        if (nul == nullptr) return EINVAL;
        argv[i] = buf + pos;
        pos = static_cast<size_t>(static_cast<const char*>(nul) - buf) + 1;
    }
    // Exactly argc strings, nothing trailing: a framing error must not go unnoticed.
    if (pos != len || argv[0][0] == '\0') return EINVAL;
    argv[h.argc] = nullptr;
    out->argv = argv;
    out->has_stdin = (h.flags & kHasStdin) != 0;
    return 0;
}

int read_in_child(int fd, char* buf, Decoded* out) {
    size_t got = 0;
    size_t want = sizeof(Header);
    bool have_header = false;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return ESRCH;
        got += static_cast<size_t>(n);
        if (!have_header && got >= sizeof(Header)) {
            have_header = true;
            Header h;
            memcpy(&h, buf, sizeof h);
            if (h.magic != kMagic || h.size < sizeof(Header) || h.size > kMaxBytes) return EINVAL;
            want = h.size;
        }
    }
    return decode(buf, got, out);
}

}  // namespace sandbox::warm_request
