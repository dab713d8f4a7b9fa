// The on-disk format of the record journal (docs/RECORDS.md, "Journal"), shared by the writer
// (record_store), the verifier (record_verify) and the ops CLI (runs_command).
//
// A store directory holds segments journal-1.jsonl, journal-2.jsonl, ... Each line is one entry:
// a JSON object whose last member is "hash":
//
//   {"at":"...","prev":"<64 hex>","run_id":"...","seq":42,"type":"start","v":1,...,"hash":"<64
//   hex>"}
//
// body = the entry serialised (nlohmann dump, sorted keys) without "hash"; the line is the body
// with ,"hash":"<sha256 hex of body>" spliced in before its closing brace. So the hash covers the
// exact bytes on disk, no canonicalisation needed, and the line stays plain JSON. "prev" is the
// hash of the entry with seq - 1 (kGenesis for seq 1), across segment boundaries.
//
// Nothing here takes locks; writers serialise through record_store. Nothing throws.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/base/result.h"

namespace runtime::journal {

inline constexpr int kEntryVersion = 1;
inline constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// "journal-<n>.jsonl" and back (nullopt for any other name).
std::string segment_name(uint64_t n);
std::optional<uint64_t> segment_number(std::string_view file_name);

struct Segment {
    uint64_t number = 0;
    std::string path;
};
// The segments in dir, ascending by number. A missing dir is NotFound.
sandbox::Result<std::vector<Segment>> list_segments(const std::string& dir);

// Adds v/seq/prev to body and seals it. line has no trailing newline.
struct Sealed {
    std::string line;
    std::string hash;
};
Sealed seal(nlohmann::json body, uint64_t seq, const std::string& prev);

// The hash a line claims, and the one its body actually has. nullopt when the line does not
// end in ,"hash":"<64 hex>"}.
struct Seal {
    std::string claimed;
    std::string computed;
};
std::optional<Seal> check_seal(std::string_view line);

// j[key] for reading untrusted entries: a null value when j is not an object or has no such key
// (nlohmann's const operator[] asserts instead). Chains: member(member(e, "stdout"), "file").
const nlohmann::json& member(const nlohmann::json& j, std::string_view key);

// Parses a line; nullopt when it is not a JSON object.
std::optional<nlohmann::json> parse_entry(std::string_view line);

// One line of a segment. terminated is false only for trailing bytes without a newline (a write
// cut short by a crash, or one still in progress when a reader looks).
struct Line {
    std::string_view text;  // without the newline; valid during the callback only
    uint64_t offset = 0;    // byte offset in the segment
    uint64_t number = 0;    // 1-based line number
    bool terminated = true;
};
// Calls fn for each line from byte offset start (which must be a line start); fn returns false to
// stop. Returns the offset just past the last terminated line visited, for resuming later.
sandbox::Result<uint64_t> for_each_line(const std::string& path, uint64_t start,
                                        const std::function<bool(const Line&)>& fn,
                                        uint64_t first_line_number = 1);

// The end of a segment, for an appender. last_line is the last newline-terminated line ("" for
// an empty segment); torn_bytes are the bytes after it when the file does not end in '\n'.
struct Tail {
    std::string last_line;
    uint64_t torn_offset = 0;
    std::string torn_bytes;
};
sandbox::Result<Tail> read_tail(int fd, uint64_t size, const std::string& label);

// Every entry of every segment in order (unparseable lines skipped), for folding into records.
sandbox::Result<void> for_each_entry(const std::string& dir,
                                     const std::function<void(const nlohmann::json&)>& fn);

}  // namespace runtime::journal
