// The locked append path of the record store, segment rotation and retention.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/log.h"
#include "runtime/records/record_journal.h"
#include "runtime/records/record_store_impl.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

using sandbox::fail;
using sandbox::sys_error;

std::optional<records::Time> entry_time(const std::string& line) {
    auto e = journal::parse_entry(line);
    if (!e || !e->contains("at") || !(*e)["at"].is_string()) return std::nullopt;
    return units::parse_time((*e)["at"].get<std::string>(), records::Time{});
}

// The last seq and hash of a segment (its last terminated line).
struct SegmentEnd {
    uint64_t seq = 0;
    std::string hash;
    std::optional<records::Time> at;
    uint64_t size = 0;
};
// Parses a segment's last line.
sandbox::Result<SegmentEnd> end_of(const std::string& line, const std::string& label) {
    auto e = journal::parse_entry(line);
    auto seal = journal::check_seal(line);
    if (!e || !seal || !(*e)["seq"].is_number_unsigned())
        return fail(sandbox::Errc::InvalidArgument,
                    "records: the last entry of " + label +
                        " is not a valid entry; run `tooljail runs verify`");
    return SegmentEnd{(*e)["seq"].get<uint64_t>(), seal->claimed, entry_time(line), 0};
}

// The end of a whole segment file; nullopt when it holds no complete entry.
sandbox::Result<std::optional<SegmentEnd>> segment_end(const std::string& path) {
    auto fd = sandbox::sys::open_file(path, O_RDONLY);
    if (!fd) return fail(std::move(fd).error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return fail(sys_error("fstat(" + path + ")"));
    auto tail = journal::read_tail(fd->get(), static_cast<uint64_t>(st.st_size), path);
    if (!tail) return fail(std::move(tail).error());
    if (tail->last_line.empty()) return std::optional<SegmentEnd>();
    auto end = end_of(tail->last_line, path);
    if (!end) return fail(std::move(end).error());
    end->size = static_cast<uint64_t>(st.st_size);
    return std::optional<SegmentEnd>(std::move(*end));
}

// The lowest segment holding the start entry of a run still open in another process sharing the
// store: the segment its marker names, the current one as that process last saw it before the
// start entry, so at or before it; none: UINT64_MAX. `own` are this process's runs, whose
// segments are known exactly (OpenRun::segment).
uint64_t oldest_open_segment(const std::string& open_dir,
                             const std::map<std::string, OpenRun>& own) {
    uint64_t oldest = UINT64_MAX;
    for (const auto& [run_id, run] : own) oldest = std::min(oldest, run.segment);
    DIR* d = ::opendir(open_dir.c_str());
    if (!d) return oldest;
    while (auto* e = ::readdir(d)) {
        // ".", "..", markers still being made, and this process's own
        if (e->d_name[0] == '.' || own.count(e->d_name)) continue;
        auto text = sandbox::sys::read_file(open_dir + "/" + e->d_name, 1 << 16);
        auto marker = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        if (marker.is_object() && marker["segment"].is_number_unsigned())
            oldest = std::min(oldest, marker["segment"].get<uint64_t>());
    }
    ::closedir(d);
    return oldest;
}

}  // namespace

uint64_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

uint64_t dir_bytes(const std::string& dir) {
    uint64_t total = 0;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return 0;
    while (auto* e = ::readdir(d)) {
        struct stat st {};
        if (e->d_name[0] != '.' && ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            total += static_cast<uint64_t>(st.st_size);
    }
    ::closedir(d);
    return total;
}

std::vector<std::string> segment_outputs(const std::string& path) {
    std::vector<std::string> files;
    auto r = journal::for_each_line(path, 0, [&](const journal::Line& line) {
        if (!line.terminated || line.text.find("\"type\":\"end\"") == std::string_view::npos)
            return true;
        if (auto e = journal::parse_entry(line.text)) {
            for (const char* stream : {"stdout", "stderr"}) {
                const auto& file = journal::member(journal::member(*e, stream), "file");
                if (file.is_string()) files.push_back(file.get<std::string>());
            }
        }
        return true;
    });
    (void)r;  // an unreadable segment frees only its own bytes
    return files;
}

sandbox::Result<void> fsync_dir(const std::string& dir) {
    auto fd = sandbox::sys::open_file(dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return fail(std::move(fd).error());
    if (::fsync(fd->get()) != 0) return fail(sys_error("fsync(" + dir + ")"));
    return {};
}

sandbox::Result<void> RecordStore::Impl::lock_journal() {
    while (::flock(lock_fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) return fail(sys_error("records: flock(" + path("journal.lock") + ")"));
    }
    return {};
}

void RecordStore::Impl::unlock_journal() { ::flock(lock_fd.get(), LOCK_UN); }

sandbox::Result<void> RecordStore::Impl::open_segment_locked(uint64_t number, bool create) {
    std::string p = path(journal::segment_name(number));
    int flags = O_RDWR | O_APPEND | (create ? O_CREAT | O_EXCL : 0);
    auto fd = sandbox::sys::open_file(p, flags, 0600);
    if (!fd && create && fd.error().sys_errno == EEXIST)
        fd = sandbox::sys::open_file(p, O_RDWR | O_APPEND);
    if (!fd) return fail(std::move(fd).error().with_prefix("records: "));
    if (create) SBX_TRY(fsync_dir(dir));  // the new name must survive a crash with its entries
    seg_fd = std::move(*fd);
    seg_number = number;
    tail_valid = false;
    seg_first_at.reset();
    return {};
}

sandbox::Result<void> RecordStore::Impl::sync_tail_locked() {
    // Follow rotations made by other processes since we last looked.
    if (!seg_fd.valid()) {
        auto segments = journal::list_segments(dir);
        if (!segments) return fail(std::move(segments).error().with_prefix("records: "));
        SBX_TRY(open_segment_locked(segments->empty() ? 1 : segments->back().number,
                                    segments->empty()));
    }
    for (struct stat st{}; ::stat(path(journal::segment_name(seg_number + 1)).c_str(), &st) == 0;)
        SBX_TRY(open_segment_locked(seg_number + 1, false));

    struct stat st {};
    if (::fstat(seg_fd.get(), &st) != 0)
        return fail(sys_error("records: fstat(" + path(journal::segment_name(seg_number)) + ")"));
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (tail_valid && st.st_ino == seg_ino && size == seg_size) return {};

    std::string label = path(journal::segment_name(seg_number));
    auto tail = journal::read_tail(seg_fd.get(), size, label);
    if (!tail) return fail(std::move(tail).error().with_prefix("records: "));
    torn_bytes = std::move(tail->torn_bytes);
    torn_offset = tail->torn_offset;
    if (!tail->last_line.empty()) {
        auto end = end_of(tail->last_line, label);
        if (!end) return fail(std::move(end).error());
        last_seq = end->seq;
        last_hash = end->hash;
    } else if (seg_number == 1) {
        last_seq = 0;
        last_hash = std::string(journal::kGenesis);
    } else {
        // A segment without a complete entry yet (its first write failed): chain from the last one.
        auto prev = segment_end(path(journal::segment_name(seg_number - 1)));
        if (!prev || !*prev)
            return fail(sandbox::Errc::Internal,
                        "records: " + label + " has no entry and the segment before it " +
                            "cannot continue the chain; run `tooljail runs verify`");
        last_seq = (*prev)->seq;
        last_hash = (*prev)->hash;
    }
    if (retention.segment_age_seconds > 0 && !seg_first_at) {
        auto first = journal::for_each_line(label, 0, [&](const journal::Line& line) {
            if (line.terminated) seg_first_at = entry_time(std::string(line.text));
            return false;
        });
        (void)first;
    }
    seg_ino = st.st_ino;
    seg_size = size;
    tail_valid = true;
    return {};
}

sandbox::Result<void> RecordStore::Impl::rotate_locked() {
    SBX_TRY(open_segment_locked(seg_number + 1, true));
    struct stat st {};
    if (::fstat(seg_fd.get(), &st) != 0) return fail(sys_error("records: fstat"));
    seg_ino = st.st_ino;
    seg_size = static_cast<uint64_t>(st.st_size);
    tail_valid = seg_size == 0;  // last_seq/last_hash carry over into the new segment
    return {};
}

sandbox::Result<RecordStore::Impl::Appended> RecordStore::Impl::append(
    std::vector<nlohmann::json> bodies, bool* landed, bool keep_reserve) {
    std::lock_guard<std::mutex> guard(mu);
    SBX_TRY(lock_journal());
    if (landed) *landed = false;
    bool rotated = false;
    auto r = [&]() -> sandbox::Result<Appended> {
        if (keep_reserve) SBX_TRY(keep_reserve_locked());
        return append_locked(std::move(bodies), true, landed, &rotated);
    }();
    // Retention after a rotation, and at once when the store went over its budget.
    if (r && (rotated || (budgeted() && usage && usage->bytes > retention.max_bytes))) {
        if (auto pruned = prune_locked(); !pruned)
            LOG_WARN("records: retention: {}", pruned.error().message());
    }
    save_usage_locked();
    unlock_journal();
    return r;
}

sandbox::Result<RecordStore::Impl::Appended> RecordStore::Impl::append_locked(
    std::vector<nlohmann::json> bodies, bool allow_rotate, bool* landed, bool* rotated) {
    if (landed) *landed = false;
    SBX_TRY(sync_tail_locked());
    if (auto synced = sync_usage_locked(); !synced) {
        // Without a size the budget cannot be applied now; the entry matters more.
        LOG_WARN("records: the store's size is unknown: {}", synced.error().message());
        usage.reset();
    }
    auto now = std::chrono::system_clock::now();
    std::string buf;
    std::vector<nlohmann::json> all;
    if (!torn_bytes.empty()) {
        // A crash cut a write short. Never rewrite the segment: end the torn bytes with a newline
        // and acknowledge them, so verify can tell a crash from an edit.
        buf = "\n";
        all.push_back({{"type", "torn"},
                       {"at", units::format_time(now)},
                       {"segment", seg_number},
                       {"offset", torn_offset},
                       {"bytes", torn_bytes.size()},
                       {"sha256", sandbox::sha256_hex(torn_bytes)}});
    } else if (allow_rotate && seg_size > 0 &&
               (seg_size >= retention.segment_bytes ||
                // A segment with its output files past an eighth of the budget rotates, so that
                // retention can free the budget in steps of about that size (it never removes
                // the current segment).
                (budgeted() && usage && usage->segment_bytes >= retention.max_bytes / 8) ||
                (retention.segment_age_seconds > 0 && seg_first_at &&
                 now - *seg_first_at > std::chrono::seconds(retention.segment_age_seconds)))) {
        SBX_TRY(rotate_locked());
        if (rotated) *rotated = true;
        if (usage) *usage = {usage->bytes, 0, seg_number, seg_size, seg_ino};
    }
    for (const auto& p : pending_interrupted)
        all.push_back(records::interrupted_entry(p.run_id, p.detail, now, p.store_errno));
    size_t pending = pending_interrupted.size();
    size_t own = bodies.size();
    for (auto& b : bodies) all.push_back(std::move(b));
    Appended out;
    if (all.empty()) return out;  // open()'s probe: the tail is readable
    uint64_t seq = last_seq;
    std::string prev = last_hash;
    std::vector<std::string> hashes;
    for (auto& body : all) {
        auto sealed = journal::seal(std::move(body), ++seq, prev);
        buf += sealed.line;
        buf += '\n';
        prev = sealed.hash;
        hashes.push_back(std::move(sealed.hash));
    }
    std::string label = path(journal::segment_name(seg_number));
    // One write(2) on an O_APPEND fd under the lock: the lines land whole and in order.
    ssize_t n;
    do {
        n = ::write(seg_fd.get(), buf.data(), buf.size());
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(buf.size())) {
        auto err = n < 0 ? sys_error("records: write(" + label + ")")
                         : sandbox::Error{sandbox::Errc::Syscall, ENOSPC,
                                          "records: short write(" + label + ")"};
        // Only our own bytes, written a moment ago under the lock and never acknowledged.
        if (n > 0 && ::ftruncate(seg_fd.get(), static_cast<off_t>(seg_size)) != 0)
            LOG_ERROR("records: could not remove a partial entry from {}: {}", label,
                      sys_error("ftruncate").message());
        tail_valid = false;
        return fail(std::move(err));
    }
    if (::fdatasync(seg_fd.get()) != 0) {
        auto err = sys_error("records: fdatasync(" + label + ")");
        if (landed) *landed = true;
        tail_valid = false;
        usage.reset();
        return fail(std::move(err));
    }
    if (landed) *landed = true;
    if (seg_size == 0 && !seg_first_at) seg_first_at = now;
    seg_size += buf.size();
    if (usage) {
        usage->bytes += buf.size();
        usage->segment_bytes += buf.size();
        usage->segment = seg_number;
        usage->size = seg_size;
        usage->ino = seg_ino;
    }
    last_seq = seq;
    last_hash = prev;
    torn_bytes.clear();

    for (size_t i = 0; i < pending; ++i) {
        const std::string& run_id = pending_interrupted[i].run_id;
        ::unlink(path("open/" + run_id).c_str());
        open_runs.erase(run_id);  // closes the marker fd, releasing its lock
    }
    pending_interrupted.clear();
    out.first_seq = seq - own + 1;
    out.segment = seg_number;
    out.hashes.assign(hashes.end() - static_cast<ptrdiff_t>(own), hashes.end());
    return out;
}

sandbox::Result<PruneReport> RecordStore::Impl::prune_locked(std::optional<uint64_t> limit) {
    PruneReport report;
    if (retention.max_age_seconds <= 0 && retention.max_bytes == 0) return report;
    SBX_TRY(sync_tail_locked());
    if (auto synced = sync_usage_locked(); !synced) usage.reset();  // then counted below
    auto segments = journal::list_segments(dir);
    if (!segments) return fail(std::move(segments).error());
    if (segments->size() <= 1) return report;
    auto now = std::chrono::system_clock::now();
    uint64_t max_bytes = limit.value_or(retention.max_bytes);
    uint64_t total = 0;
    if (retention.max_bytes > 0) {
        if (usage) {
            total = usage->bytes;
        } else {
            for (const auto& s : *segments) total += file_size(s.path);
            total += dir_bytes(path("output"));
        }
    }
    // Retention stops at the start of a run still open, so that a long run keeps its start.
    uint64_t pinned = oldest_open_segment(path("open"), open_runs);
    struct Victim {
        journal::Segment segment;
        std::vector<std::string> outputs;
    };
    std::vector<Victim> victims;
    SegmentEnd through;
    std::string why;
    // Oldest first, never the current (last) segment, and stop at the first one kept: retention
    // removes a prefix of the journal, never a hole.
    for (size_t i = 0; i + 1 < segments->size(); ++i) {
        const auto& seg = (*segments)[i];
        if (seg.number >= pinned) break;
        auto end = segment_end(seg.path);
        if (!end || !*end) break;  // unreadable or empty: leave it for a human and `runs verify`
        bool old = retention.max_age_seconds > 0 && (*end)->at &&
                   now - *(*end)->at > std::chrono::seconds(retention.max_age_seconds);
        bool big = retention.max_bytes > 0 && total > max_bytes;
        if (!old && !big) break;
        const char* reason = old ? "max_age" : "max_bytes";
        if (why.find(reason) == std::string::npos)
            why += (why.empty() ? "" : ",") + std::string(reason);
        Victim v{seg, segment_outputs(seg.path)};
        uint64_t bytes = (*end)->size;
        for (const auto& f : v.outputs) bytes += file_size(path(f));
        total -= std::min(total, bytes);
        report.bytes += bytes;
        through = **end;
        victims.push_back(std::move(v));
    }
    if (victims.empty()) return report;
    nlohmann::json entry = {
        {"type", "prune"},
        {"at", units::format_time(now)},
        {"through_seq", through.seq},
        {"through_hash", through.hash},
        {"segments", nlohmann::json::array()},
        {"bytes", report.bytes},
        {"reason", why},
        {"retention",
         {{"max_age_seconds", retention.max_age_seconds}, {"max_bytes", retention.max_bytes}}}};
    for (const auto& v : victims) entry["segments"].push_back(v.segment.number);
    // The prune entry goes first: a crash after it and before the unlinks leaves extra history,
    // never unexplained gaps.
    SBX_TRY(append_locked({entry}, false, nullptr, nullptr));
    for (const auto& v : victims) {
        for (const auto& f : v.outputs) ::unlink(path(f).c_str());
        if (::unlink(v.segment.path.c_str()) != 0 && errno != ENOENT) {
            usage.reset();  // some of it is gone: count again
            return fail(sys_error("records: unlink(" + v.segment.path + ")"));
        }
        report.segments.push_back(v.segment.number);
    }
    if (usage) usage->bytes -= std::min(usage->bytes, report.bytes);
    report.through_seq = through.seq;
    auto synced = fsync_dir(dir);
    (void)synced;
    LOG_INFO("records: retention removed segments through seq {} ({} bytes, {})", through.seq,
             report.bytes, why);
    return report;
}

}  // namespace runtime
