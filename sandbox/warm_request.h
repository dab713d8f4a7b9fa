// The run request a warm sandbox waits for (sandbox/pool.h): argv, and whether stdin is a pipe
// or a file the child opens beneath the workspace (RunRequest::stdin_file).
// The parent encodes it once per call; the warm child, a clone of one supervisor thread with
// seccomp already installed, reads and decodes it without allocating, into a buffer it mapped
// while it was being prepared.
//
// Wire format (native endianness; both ends are the same binary):
//   Header {magic, size (of the whole request, header included), argc, flags}
//   argc NUL-terminated strings, back to back, then (kHasStdinFile) the stdin file's path as
//   one more, ending exactly at `size`.
// Bounds: kMaxBytes for the whole request, kMaxArgs strings. A request beyond either is not an
// error: encode() returns nullopt and the launcher takes the cold path, which has no such bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sandbox::warm_request {

inline constexpr uint32_t kMagic = 0x746a7771;  // "qwjt"
inline constexpr size_t kMaxBytes = 64 * 1024;  // one pipe buffer: the parent's write never blocks
inline constexpr size_t kMaxArgs = 1024;
inline constexpr uint32_t kHasStdin = 1;      // stdin is the request's pipe, not /dev/null
inline constexpr uint32_t kHasStdinFile = 2;  // stdin is the file named after argv

struct Header {
    uint32_t magic;
    uint32_t size;
    uint32_t argc;
    uint32_t flags;
};

// What the child's buffer must hold: the request itself, then argv's pointer array.
inline constexpr size_t kBufferBytes = kMaxBytes + (kMaxArgs + 1) * sizeof(char*);

struct Decoded {
    char** argv = nullptr;  // NULL-terminated, pointing into the buffer
    bool has_stdin = false;
    const char* stdin_file = nullptr;  // into the buffer; null without kHasStdinFile
};

// Parent. nullopt when argv is empty, a string holds a NUL, or the request exceeds kMaxBytes /
// kMaxArgs. has_stdin and stdin_file exclude each other (nullopt when both are given).
std::optional<std::string> encode(const std::vector<std::string>& argv, bool has_stdin,
                                  const std::optional<std::string>& stdin_file = std::nullopt);

// Child (post-fork: no allocation). buf holds `len` bytes read from the pipe and has room for
// kBufferBytes. Checks the header against len, counts the strings, builds argv after the data.
// Returns 0, or EINVAL for a malformed request.
int decode(char* buf, size_t len, Decoded* out);

// Child (post-fork). Reads one request from fd into buf (kBufferBytes) and decodes it. Returns
// 0, ESRCH when the pipe reached EOF before a whole request (the pool dismissed this sandbox or
// the supervisor died), EINVAL for a malformed request, or read(2)'s errno.
int read_in_child(int fd, char* buf, Decoded* out);

}  // namespace sandbox::warm_request
