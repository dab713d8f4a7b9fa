#include "sandbox/warm_request.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sandbox::warm_request {

std::optional<std::string> encode(const std::vector<std::string>& argv, bool has_stdin,
                                  const std::optional<std::string>& stdin_file) {
    if (argv.empty() || argv.size() > kMaxArgs) return std::nullopt;
    if (has_stdin && stdin_file) return std::nullopt;
    size_t size = sizeof(Header);
    auto add = [&size](const std::string& s) {
        size += s.size() + 1;
        return s.find('\0') == std::string::npos && size <= kMaxBytes;
    };
    for (const auto& a : argv)
        if (!add(a)) return std::nullopt;
    if (stdin_file && (stdin_file->empty() || !add(*stdin_file))) return std::nullopt;
    uint32_t flags = (has_stdin ? kHasStdin : 0u) | (stdin_file ? kHasStdinFile : 0u);
    Header h{kMagic, static_cast<uint32_t>(size), static_cast<uint32_t>(argv.size()), flags};
    std::string out(reinterpret_cast<const char*>(&h), sizeof h);
    out.reserve(size);
    for (const auto& a : argv) out.append(a.c_str(), a.size() + 1);
    if (stdin_file) out.append(stdin_file->c_str(), stdin_file->size() + 1);
    return out;
}

int decode(char* buf, size_t len, Decoded* out) {
    if (len < sizeof(Header) || len > kMaxBytes) return EINVAL;
    Header h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != kMagic || h.size != len || h.argc == 0 || h.argc > kMaxArgs ||
        (h.flags & ~(kHasStdin | kHasStdinFile)) != 0 ||
        (h.flags & (kHasStdin | kHasStdinFile)) == (kHasStdin | kHasStdinFile))
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
    const char* stdin_file = nullptr;
    if ((h.flags & kHasStdinFile) != 0) {
        if (pos >= len) return EINVAL;
        const void* nul = memchr(buf + pos, '\0', len - pos);
        if (nul == nullptr || nul == buf + pos) return EINVAL;  // missing or empty
        stdin_file = buf + pos;
        pos = static_cast<size_t>(static_cast<const char*>(nul) - buf) + 1;
    }
    // Exactly the strings announced, nothing trailing: a framing error must not go unnoticed.
    if (pos != len || argv[0][0] == '\0') return EINVAL;
    argv[h.argc] = nullptr;
    out->argv = argv;
    out->has_stdin = (h.flags & kHasStdin) != 0;
    out->stdin_file = stdin_file;
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
