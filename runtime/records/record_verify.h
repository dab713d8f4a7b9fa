// `tooljail runs verify`: recomputes the record journal's hash chain across all segments and
// checks the stored output files (docs/RECORDS.md, "Tamper evidence").
//
// Detected, each reported with the entry's seq, run id, segment and line:
//   - an entry whose bytes were changed:              content edited (hash mismatch)
//   - an entry edited and re-hashed:                  the next entry's prev no longer matches
//   - entries removed from the middle or the start:   seq N missing: entry deleted
//   - entries moved:                                  seq order broken ...: reordered
//   - a line that is not an entry at all:             not a valid entry (edited or corrupted)
//   - an output file changed or removed:              output ... tampered / missing
// Not problems (reported as notes): segments removed by retention (a "prune" entry in the chain
// names the last seq and hash removed), bytes torn by a crash mid-write (acknowledged by a
// "torn" entry), an unterminated last line (a crash, or a write in progress), output the store
// recorded it did not keep (its size budget, a write error), runs still without an end.
//
// Not tampering, but not a complete history either: runs that ended "interrupted", without an
// outcome, each reported with why (its supervisor died, the host rebooted, or the store could
// not write the end: "ENOSPC", a full disk). `runs verify` then says INCOMPLETE, not intact.
//
// A hash chain cannot by itself show that entries were cut from the END of the journal or that
// everything after an edit was rewritten: keep the head (Report::head_seq/head_hash, and the
// hash in every syslog summary line) somewhere else and compare.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/base/result.h"

namespace runtime::verify {

struct Report {
    std::vector<std::string> problems;  // signs of tampering, in journal order
    std::vector<std::string> notes;     // benign findings
    // Runs without an outcome (an "interrupted" entry), in journal order: the first
    // kMaxListed, each with its entry and why; `interrupted` counts them all, `store_errors`
    // those the store itself could not record (a write error such as ENOSPC).
    std::vector<std::string> incomplete;
    uint64_t interrupted = 0;
    uint64_t store_errors = 0;
    uint64_t running = 0;  // started, no end yet: in progress, or not yet marked interrupted
    uint64_t segments = 0;
    uint64_t entries = 0;
    uint64_t outputs = 0;  // output files checked
    uint64_t first_seq = 0;
    uint64_t head_seq = 0;
    std::string head_hash;
    bool intact() const { return problems.empty(); }
    bool complete() const { return interrupted == 0; }
    static constexpr size_t kMaxListed = 100;
};

// Reads every segment of the store at dir. Errors only when the store cannot be read at all
// (missing directory, unreadable segment): `runs verify` exits 125 then, 1 for problems.
sandbox::Result<Report> verify_store(const std::string& dir, bool check_outputs = true);

}  // namespace runtime::verify
