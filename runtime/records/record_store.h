// RecordStore: the durable, tamper-evident per-run records of REQUIREMENTS.md section 4
// (docs/RECORDS.md). Written through run_recorded (recorded_run.h) by `tooljail run` and the MCP
// tool runner, which record refusals here directly; read by `tooljail runs` (runs_command.cc).
//
// Life of a run, for a caller:
//
//   auto store = RecordStore::open(options);            // once per process; fail closed on error
//   records::RunStart rs = ...;                          // client, tool, policy, layers, argv...
//   auto started = store->start(rs);                     // start entry written and fsync'd
//   if (!started) refuse the run (unless the operator chose --records-fail-open)
//   request.run_id = started->run_id;                    // the launcher uses the same id
//   outcome = launch + wait (or sandbox::launch_failure(error));
//   store->finish(started->run_id, outcome);             // output files + end entry, fsync'd
//
//   A call refused before any launch: store->refuse({rs, records::kValidationError, message}).
//
// Guarantees:
//  - Every entry is appended under an exclusive flock(2) on <dir>/journal.lock (and a mutex
//    inside the process), with one write(2) on an O_APPEND fd, then fdatasync(2) before the call
//    returns. Processes and threads sharing a store never interleave or lose entries. The tail
//    (last seq and hash) is re-read under the lock, so any number of writers can share a store.
//  - A segment is never rewritten. The only truncation is of this call's own partial write
//    (ENOSPC mid-write), under the lock, before anyone could read it; a torn tail left by a
//    crash is acknowledged by a "torn" entry instead.
//  - start() holds a lock on <dir>/open/<run_id> until finish(). open() and recover() mark the
//    runs whose marker lock is free — their supervisor died — with an "interrupted" entry (and,
//    once per boot, the unfinished runs of the previous boot); runs of a live supervisor are
//    never marked, whatever pid namespace it is in. A run whose finish() failed is marked by
//    this store's next successful append, or by the next open after this process exits.
//  - Captured output is written to output/<run_id>.stdout|.stderr and fsync'd before the end
//    entry that names it and carries its sha256, under the flock and within the size budget
//    (Retention::max_bytes, counted before anything is written): output without room is not
//    stored, and the end entry says how much was and why (records::StoredOutput::cut).
//  - start() refuses a run unless the store's reserve (64 KiB) is set aside; finish() gives it
//    up when the disk is full, so the end of a run that started can still be recorded.
//  - Retention removes whole old segments (never the current one, nor one holding the start of
//    a run still open) and their output files after appending a "prune" entry naming the last
//    seq and hash removed, so `tooljail runs verify` can tell retention from deletion.
//
// Thread-safe: serve calls start/finish/refuse from its worker threads. Parent side only; never
// call between fork and exec. Nothing throws.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/records/record_schema.h"
#include "sandbox/base/result.h"
#include "sandbox/spec.h"

namespace runtime {

// How much history to keep. Also read from <dir>/retention.json ({"max_age": "90d",
// "max_bytes": "1G", "segment_bytes": "8M"}, all optional), which `tooljail runs retention`
// writes, so every process sharing a store applies the same rules.
struct Retention {
    int64_t max_age_seconds = 90 * 86400;  // remove segments whose newest entry is older; 0 = keep
    // journal + output files; 0 = no cap. A budget: output beyond it is not stored.
    uint64_t max_bytes = 1ull << 30;
    // start a new segment at this size (or, with max_bytes, when the segment and the output its
    // entries name reach max_bytes / 8)...
    uint64_t segment_bytes = 8ull << 20;
    int64_t segment_age_seconds = 86400;  // ...or when the current one's first entry is this old
};

struct RecordOptions {
    std::string dir;                     // "" = default_records_dir()
    std::optional<Retention> retention;  // nullopt = <dir>/retention.json, else the defaults
    bool syslog = false;                 // one-line summary per finished record, LOG_AUTHPRIV
};

// $TOOLJAIL_RECORDS, else /var/lib/tooljail/records for root, else
// $XDG_STATE_HOME/tooljail/records (default ~/.local/state/tooljail/records). NotFound, naming
// --records as the fix, when a non-root user has no home (runtime/base/user_dirs.h).
sandbox::Result<std::string> default_records_dir();

// Reads <dir>/retention.json; the defaults when it does not exist. InvalidArgument names the key.
sandbox::Result<Retention> load_retention(const std::string& dir);
// Writes <dir>/retention.json atomically (temp file, fsync, rename).
sandbox::Result<void> save_retention(const std::string& dir, const Retention& retention);

// What prune() removed.
struct PruneReport {
    std::vector<uint64_t> segments;  // segment numbers removed
    uint64_t through_seq = 0;        // last seq removed (0 = nothing)
    uint64_t bytes = 0;              // journal + output bytes freed
};

class RecordStore {
public:
    // Creates the directory (0700, parents too) and its layout if needed, takes the supervisor's
    // identity, then recovers: runs whose supervisor died get their "interrupted" entry.
    // Errors carry the path and errno ("records: mkdir(/var/lib/tooljail/records): Permission
    // denied (EACCES)"). A failed recovery is only logged; the next open() or recover() retries.
    static sandbox::Result<std::unique_ptr<RecordStore>> open(const RecordOptions& options);
    // Runs started and never finished get an "interrupted" entry (best effort).
    ~RecordStore();
    RecordStore(const RecordStore&) = delete;
    RecordStore& operator=(const RecordStore&) = delete;

    struct Started {
        std::string run_id;
        std::string trace_id;
        uint64_t seq = 0;
    };
    // Assigns run_id (sandbox::new_run_id()) and trace_id when empty, redacts arguments, argv and
    // env (runtime/records/redact.h), writes and fsyncs the start entry. Returns once it is
    // durable. Errors: InvalidArgument (bad or duplicate run_id), or the write's errno with the
    // path
    // ("records: write(/.../journal-3.jsonl): No space left on device (ENOSPC)"): refuse the run.
    sandbox::Result<Started> start(const records::RunStart& run);

    // Stores the captured output as far as the size budget allows (retention first), then writes
    // and fsyncs the end entry and releases the run. A full disk costs the output, not the end
    // entry (the reserve).
    // On error the run stays open, its "interrupted" entry is written by the next append that
    // succeeds (or the next open): report the error, but still return the run's result. Call it
    // once per run: a second call, or one after a failed finish, is InvalidArgument.
    sandbox::Result<void> finish(const std::string& run_id, const sandbox::Outcome& outcome);

    // A refused call (no launch). Assigns ids like start(); returns the run id.
    sandbox::Result<std::string> refuse(const records::Refusal& refusal);

    // Applies retention now (also done after every segment rotation, and whenever the store is
    // over its budget).
    sandbox::Result<PruneReport> prune();
    // Marks the runs of dead supervisors interrupted (done by open(); a long-lived server may
    // also call it now and then, it is cheap: one readdir of open/); returns their ids.
    sandbox::Result<std::vector<std::string>> recover();

    const std::string& dir() const { return dir_; }
    const Retention& retention() const { return retention_; }

    struct Impl;

private:
    RecordStore() = default;
    std::unique_ptr<Impl> impl_;
    std::string dir_;
    Retention retention_;
};

}  // namespace runtime
