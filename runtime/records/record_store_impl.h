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

namespace runtime {

// What the syslog summary and the destructor need about a run between start and finish.
struct OpenRun {
    sandbox::UniqueFd marker;  // holds flock(LOCK_EX) on open/<run_id> while the run lives
    std::string tool;          // tool name, or argv[0] for tooljail run
    std::string client;        // transport and user, for the summary line
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
    // Runs whose end entry could not be written: (run_id, detail). Their "interrupted" entries
    // go out in front of the next append; their markers stay locked until then.
    std::vector<std::pair<std::string, std::string>> pending_interrupted;

    struct Appended {
        uint64_t first_seq = 0;
        std::vector<std::string> hashes;  // one per body, in order
    };
    // Takes mu and the flock, then append_locked(); after a rotation also prunes.
    // landed (optional) is set when the bytes were written even though the call failed
    // (fdatasync error): the entries may exist.
    sandbox::Result<Appended> append(std::vector<nlohmann::json> bodies, bool* landed = nullptr);
    // With mu and the flock held. allow_rotate is false for the prune entry itself.
    sandbox::Result<Appended> append_locked(std::vector<nlohmann::json> bodies, bool allow_rotate,
                                            bool* landed, bool* rotated);
    sandbox::Result<PruneReport> prune_locked();
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

}  // namespace runtime
