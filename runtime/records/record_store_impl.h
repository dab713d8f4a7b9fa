// Internal to record_store.cc (API, markers, recovery) and record_append.cc (the locked append
// path, rotation, retention). Not for other callers: use record_store.h.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/records/record_schema.h"
#include "runtime/records/record_store.h"
#include "sandbox/base/result.h"
#include "sandbox/base/unique_fd.h"
#include "sandbox/spec.h"

namespace runtime {

// The reserve: disk space set aside in <dir>/reserve and given up only to record the end of a
// run that already started, when the disk is full (docs/RECORDS.md, "The size budget").
inline constexpr uint64_t kReserveBytes = 64 * 1024;
// What the end entry of a run takes besides its output files, counted before they are written.
inline constexpr uint64_t kEndEntryBytes = 4096;

// A run whose end could not be written: its "interrupted" entry goes out in front of the next
// append; its marker stays locked until then.
struct PendingInterrupt {
    std::string run_id;
    std::string detail;
    std::string store_errno;  // the store's own write error ("ENOSPC") when that is why
};

// What the syslog summary and the destructor need about a run between start and finish.
struct OpenRun {
    sandbox::UniqueFd marker;  // holds flock(LOCK_EX) on open/<run_id> while the run lives
    std::string tool;          // tool name, or argv[0] for tooljail run
    std::string client;        // transport and user, for the summary line
    uint64_t segment = 0;      // the segment holding its start entry (retention keeps it)
};

struct RecordStore::Impl {
    std::string dir;
    Retention retention;
    bool syslog = false;
    records::Supervisor supervisor;
    sandbox::UniqueFd lock_fd;  // <dir>/journal.lock, flock'd around every append

    // flock(2) belongs to the open file description, which all threads share: the mutex
    // serialises appends inside this process, the flock between processes. Everything below is
    // guarded by mu.
    std::mutex mu;
    uint64_t seg_number = 0;   // current segment, as last seen
    sandbox::UniqueFd seg_fd;  // O_RDWR|O_APPEND
    ino_t seg_ino = 0;
    uint64_t seg_size = 0;  // size after our last look; another writer changes it
    bool tail_valid = false;
    uint64_t last_seq = 0;
    std::string last_hash;
    std::optional<records::Time> seg_first_at;
    std::string torn_bytes;  // unterminated bytes at the segment's end (a crash mid-write)
    uint64_t torn_offset = 0;
    std::map<std::string, OpenRun> open_runs;
    // Runs whose end entry could not be written. Their "interrupted" entries go out in front of
    // the next append; their markers stay locked until then.
    std::vector<PendingInterrupt> pending_interrupted;

    // The store's size, for the budget (retention.max_bytes). Kept in <dir>/usage.json under the
    // flock, so that every process sharing the store finds it without scanning output/; valid
    // for the journal as it was at (segment, size, ino), recomputed when it is not.
    struct Usage {
        uint64_t bytes = 0;          // every segment and output file
        uint64_t segment_bytes = 0;  // the current segment and the output files its entries name
        uint64_t segment = 0, size = 0, ino = 0;
        bool operator==(const Usage&) const = default;
    };
    std::optional<Usage> usage;
    std::optional<Usage> usage_saved;  // what usage.json holds, as far as this process knows
    sandbox::UniqueFd reserve_fd;      // <dir>/reserve

    struct Appended {
        uint64_t first_seq = 0;
        std::vector<std::string> hashes;  // one per body, in order
        uint64_t segment = 0;             // where they went
    };
    // Takes mu and the flock, then append_locked(); after a rotation, or when the store is over
    // its budget, also prunes. landed (optional) is set when the bytes were written even though
    // the call failed (fdatasync error): the entries may exist. keep_reserve (start entries):
    // the reserve is restored first, and the append refused when it cannot be.
    sandbox::Result<Appended> append(std::vector<nlohmann::json> bodies, bool* landed = nullptr,
                                     bool keep_reserve = false);
    // With mu and the flock held. allow_rotate is false for the prune entry itself.
    sandbox::Result<Appended> append_locked(std::vector<nlohmann::json> bodies, bool allow_rotate,
                                            bool* landed, bool* rotated);
    // Removes old segments (never the current one, nor one holding the start of a run still
    // open) while they are older than max_age or the store holds more than `limit` bytes
    // (default retention.max_bytes).
    sandbox::Result<PruneReport> prune_locked(std::optional<uint64_t> limit = std::nullopt);

    // record_budget.cc. The end of a run: under mu and the flock, its output files as far as
    // the budget allows (pruning old segments first), then its end entry, using the reserve
    // when the disk is full. On error nothing it wrote is left behind.
    sandbox::Result<Appended> append_end(const std::string& run_id,
                                         const sandbox::Outcome& outcome);
    bool budgeted() const { return retention.max_bytes > 0; }
    // After sync_tail_locked: makes `usage` describe the store now (usage.json, or a scan).
    sandbox::Result<void> sync_usage_locked();
    // Writes usage.json (best effort: a stale or broken file is recomputed by the next reader).
    void save_usage_locked();
    // Makes sure the reserve is set aside; the disk's error (ENOSPC) when it cannot be.
    sandbox::Result<void> keep_reserve_locked();
    // Gives the reserve up; false when there was none to give.
    bool release_reserve_locked();
    sandbox::Result<void> lock_journal();  // flock LOCK_EX, EINTR-safe
    void unlock_journal();

    // Appends the "interrupted" entry of a run whose marker is free (recovery).
    std::string path(const std::string& rel) const { return dir + "/" + rel; }

private:
    sandbox::Result<void> sync_tail_locked();
    sandbox::Result<void> open_segment_locked(uint64_t number, bool create);
    sandbox::Result<void> rotate_locked();
};

// record_recover.cc: this process as a supervisor (pid, start time, boot id, host, version),
// and the once-per-boot recovery RecordStore::open runs before RecordStore::recover().
records::Supervisor own_identity();
sandbox::Result<void> recover_previous_boot(RecordStore::Impl& impl);

// record_syslog.cc: openlog(LOG_AUTHPRIV) once, then one syslog(LOG_NOTICE) line per record.
void open_record_syslog();
void send_record_syslog(const std::string& line);

// fsync(2) of a directory, after creating, renaming or removing entries in it.
sandbox::Result<void> fsync_dir(const std::string& dir);

// record_append.cc: sizes for retention and the budget. 0 for what cannot be stat'ed.
uint64_t file_size(const std::string& path);
uint64_t dir_bytes(const std::string& dir);
// The output files the end entries of a segment name (relative to the store).
std::vector<std::string> segment_outputs(const std::string& path);

}  // namespace runtime
