// One recorded run: the sequence both entry points share (`tooljail run`, runtime/cli/, and the
// MCP tool runner, runtime/mcp/), so that every launch attempt gets exactly one record and the
// record is durable before the child exists (docs/RECORDS.md):
//
//   fill the record's launch facts -> start the record (fail closed) -> launch -> wait
//   -> finish the record -> one log line
//
// What a caller shows its user (a CLI message, an MCP result, metrics) stays with the caller:
// the sequence reports what happened in RecordedRun and through RunHooks. Parent side only.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "runtime/records/record_schema.h"
#include "runtime/records/record_store.h"
#include "sandbox/base/result.h"
#include "sandbox/launcher.h"
#include "sandbox/spec.h"

namespace runtime {

// Where the run's record goes.
struct RunRecording {
    RecordStore* store = nullptr;  // null: the run has no record (records switched off)
    // The operator's --records-fail-open: a record that cannot be started does not stop the run.
    bool fail_open = false;
};

// How the caller takes part while the run goes. Every member is optional.
struct RunHooks {
    int cancel_fd = -1;                 // readable = cancel the run (Run::wait)
    sandbox::OutputObserver on_output;  // output as it arrives
    sandbox::TickObserver on_tick;      // about once a second
    // The record could not be started and fail_open lets the run go on: called before launch.
    std::function<void(const sandbox::Error&)> on_unrecorded;
    // The program was launched (its run id known); called before the wait.
    std::function<void(const sandbox::Run&)> on_launched;
    // Amends the outcome after the wait, before it is recorded (tooljail run: which signal
    // cancelled it).
    std::function<void(sandbox::Outcome&)> amend;
};

struct RecordedRun {
    // The record could not be started and fail_open was off: nothing was launched, and the
    // error is the store's (paths and errno: for the operator, not for an MCP client).
    std::optional<sandbox::Error> refused;
    bool launched = false;  // false: outcome is the launch failure (or nothing, when refused)
    bool warm = false;      // launched from the warm pool
    sandbox::Outcome outcome;
    std::string run_id;    // the record's and the launch's run id
    std::string trace_id;  // the record's trace id; "" when the run has no record
    // The end entry could not be written: the record will read "interrupted" (RecordStore).
    std::optional<sandbox::Error> unfinished;
};

// Runs request on sandbox under a record. record carries what the caller knows (client, tool,
// policy, arguments, trace); the sequence adds the launch facts: argv, environment, layers,
// limits and stdin's size and sha256. label starts the log line ("call tool=read_file", "run").
RecordedRun run_recorded(const sandbox::Sandbox& sandbox, sandbox::RunRequest request,
                         records::RunStart record, const RunRecording& recording,
                         const RunHooks& hooks, const std::string& label);

}  // namespace runtime
