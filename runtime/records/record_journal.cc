#include "runtime/records/record_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime::journal {
namespace {

constexpr std::string_view kHashPrefix = ",\"hash\":\"";
constexpr size_t kSealSuffix = 9 + 64 + 2;  // ,"hash":" + 64 hex + "}

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace

std::string segment_name(uint64_t n) { return "journal-" + std::to_string(n) + ".jsonl"; }

std::optional<uint64_t> segment_number(std::string_view name) {
    constexpr std::string_view kPrefix = "journal-", kSuffix = ".jsonl";
    if (name.size() <= kPrefix.size() + kSuffix.size() ||
        name.substr(0, kPrefix.size()) != kPrefix ||
        name.substr(name.size() - kSuffix.size()) != kSuffix)
        return std::nullopt;
    std::string_view digits =
        name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.size() > 18 || digits[0] == '0') return std::nullopt;
    uint64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n;
}

sandbox::Result<std::vector<Segment>> list_segments(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return sandbox::fail(sandbox::sys_error("opendir(" + dir + ")"));
    std::vector<Segment> out;
    while (auto* e = ::readdir(d))
        if (auto n = segment_number(e->d_name)) out.push_back({*n, dir + "/" + e->d_name});
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const Segment& a, const Segment& b) { return a.number < b.number; });
    return out;
}

Sealed seal(nlohmann::json body, uint64_t seq, const std::string& prev) {
    body["v"] = kEntryVersion;
    body["seq"] = seq;
    body["prev"] = prev;
    body.erase("hash");
    // Invalid UTF-8 (a program's argv may hold anything) becomes U+FFFD rather than an exception.
    std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    Sealed s;
    s.hash = sandbox::sha256_hex(text);
    text.pop_back();  // the closing brace
    s.line = std::move(text);
    s.line += kHashPrefix;
    s.line += s.hash;
    s.line += "\"}";
    return s;
}

std::optional<Seal> check_seal(std::string_view line) {
    if (line.size() < kSealSuffix + 2 || line.front() != '{' || line.back() != '}')
        return std::nullopt;
    std::string_view suffix = line.substr(line.size() - kSealSuffix);
    if (suffix.substr(0, kHashPrefix.size()) != kHashPrefix ||
        suffix.substr(kSealSuffix - 2) != "\"}")
        return std::nullopt;
    std::string_view claimed = suffix.substr(kHashPrefix.size(), 64);
    if (!is_hex64(claimed)) return std::nullopt;
    std::string body(line.substr(0, line.size() - kSealSuffix));
    body += '}';
    return Seal{std::string(claimed), sandbox::sha256_hex(body)};
}

const nlohmann::json& member(const nlohmann::json& j, std::string_view key) {
    static const nlohmann::json kNull;
    if (!j.is_object()) return kNull;
    auto it = j.find(key);
    return it == j.end() ? kNull : *it;
}

std::optional<nlohmann::json> parse_entry(std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

sandbox::Result<uint64_t> for_each_line(const std::string& path, uint64_t start,
                                        const std::function<bool(const Line&)>& fn,
                                        uint64_t first_line_number) {
    auto fd = sandbox::sys::open_file(path, O_RDONLY);
    if (!fd) return sandbox::fail(std::move(fd).error());
    std::string buf;
    uint64_t buf_offset = start;  // file offset of buf[0]
    uint64_t resume = start;
    uint64_t number = first_line_number;
    char chunk[1 << 16];
    for (;;) {
        ssize_t n =
            ::pread(fd->get(), chunk, sizeof chunk, static_cast<off_t>(buf_offset + buf.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sandbox::fail(sandbox::sys_error("read(" + path + ")"));
        if (n == 0) break;
        buf.append(chunk, static_cast<size_t>(n));
        size_t pos = 0;
        for (size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
            Line line{std::string_view(buf).substr(pos, nl - pos), buf_offset + pos, number++,
                      true};
            resume = buf_offset + nl + 1;
            if (!fn(line)) return resume;
        }
        buf.erase(0, pos);
        buf_offset += pos;
    }
    if (!buf.empty()) fn(Line{buf, buf_offset, number, false});
    return resume;
}

sandbox::Result<Tail> read_tail(int fd, uint64_t size, const std::string& label) {
    Tail tail;
    // Read backwards in growing chunks until the start of the last terminated line is in view.
    uint64_t want = std::min<uint64_t>(size, 8192);
    for (;;) {
        std::string buf(static_cast<size_t>(want), '\0');
        uint64_t from = size - want;
        size_t got = 0;
        while (got < buf.size()) {
            ssize_t n =
                ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(from + got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return sandbox::fail(sandbox::sys_error("read(" + label + ")"));
            if (n == 0)
                return sandbox::fail(sandbox::Errc::Internal,
                                     label + ": shrank while reading its tail");
            got += static_cast<size_t>(n);
        }
        size_t last_nl = buf.rfind('\n');
        if (last_nl == std::string::npos && from > 0) {
            want = std::min<uint64_t>(size, want * 4);
            continue;
        }
        size_t end = last_nl == std::string::npos ? 0 : last_nl + 1;  // end of terminated data
        tail.torn_offset = from + end;
        tail.torn_bytes = buf.substr(end);
        if (end == 0) return tail;  // nothing terminated: empty segment, or only torn bytes
        size_t prev_nl = end >= 2 ? buf.rfind('\n', end - 2) : std::string::npos;
        if (prev_nl == std::string::npos && from > 0) {
            want = std::min<uint64_t>(size, want * 4);
            continue;
        }
        size_t begin = prev_nl == std::string::npos ? 0 : prev_nl + 1;
        tail.last_line = buf.substr(begin, end - 1 - begin);
        return tail;
    }
}

sandbox::Result<void> for_each_entry(const std::string& dir,
                                     const std::function<void(const nlohmann::json&)>& fn) {
    auto segments = list_segments(dir);
    if (!segments) return sandbox::fail(std::move(segments).error());
    for (const auto& seg : *segments) {
        auto r = for_each_line(seg.path, 0, [&](const Line& line) {
            if (!line.terminated) return true;
            if (auto e = parse_entry(line.text)) fn(*e);
            return true;
        });
        // A segment pruned between listing and reading is simply gone.
        if (!r && r.error().sys_errno != ENOENT) return sandbox::fail(std::move(r).error());
    }
    return {};
}

}  // namespace runtime::journal
