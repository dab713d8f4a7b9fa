// `tooljail run`: one program under a policy, for CI and people. Exit status contract (README,
// docs/CLI.md): the program's own status; 128+N when it died of signal N; 124 wall-clock timeout;
// 123 a resource limit (memory, pids, CPU time, output cap); 125 tooljail itself failed (usage,
// policy, a sandbox layer the host cannot provide); 126 program not executable; 127 not found.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/base/exit_codes.h"
#include "sandbox/spec.h"

namespace runtime {

struct RunOptions {
    std::string policy = "default";
    std::string policy_dir;                // empty = default_policy_dir()
    std::optional<std::string> workspace;  // nullopt = current directory; "" = none
    std::optional<double> timeout_seconds;
    bool json = false;
    bool forward_stdin = false;  // pass our stdin to the program (else /dev/null)
    std::vector<std::string> argv;
    // Per-run records (runtime/records/record_store.h). Every run, refusal and launch failure is
    // recorded; a record that cannot be started refuses the run (125) unless records_fail_open.
    std::string records_dir;  // "" = default_records_dir()
    bool records_fail_open = false;
    bool syslog = false;      // forward a one-line summary per record to syslog
    std::string traceparent;  // W3C traceparent; "" = $TRACEPARENT, else a new trace id
};

// The exit status `tooljail run` reports for an outcome.
int exit_status_for(const sandbox::Outcome& outcome);

// The --json document for an outcome.
nlohmann::json outcome_to_json(const sandbox::Outcome& outcome, const std::string& policy,
                               const std::string& run_id);

// Runs the command; returns the process exit status. Writes the program's output (or the JSON
// document) to stdout/stderr and diagnostics to stderr.
int run_command(const RunOptions& options);

}  // namespace runtime
