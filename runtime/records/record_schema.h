// Run records, schema version 1 (docs/RECORDS.md): the typed structs callers fill in, the JSON
// bodies of journal entries built from them, and the fold of a run's entries into one record.
//
// A journal entry is one JSON object per line. The store (record_store.h) adds the chain fields
// "v", "seq", "prev" and "hash"; everything else comes from here:
//
//   start        RunStart + supervisor + "at"       written and fsync'd before the child exists
//   end          the sandbox::Outcome + output files written after the run, output fsync'd first
//   refused      Refusal (RunStart + reason/message) a call stopped before any launch
//   interrupted  run_id + detail                     the supervisor died between start and end
//   prune, torn  store housekeeping (no run_id)      see record_store.h
//
// JSON keys are snake_case like the rest of the records (they are not MCP wire messages).
// Nothing here does I/O or throws: nlohmann exceptions are caught and become errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/base/units.h"
#include "runtime/records/reasons.h"
#include "sandbox/base/result.h"
#include "sandbox/launcher.h"
#include "sandbox/spec.h"

namespace runtime::records {

inline constexpr int kSchemaVersion = 1;
using Time = units::Time;

struct OsUser {
    uint32_t uid = 0;
    std::string name;  // from the passwd database; "" when the uid has no entry
};

// The account this process runs as (getuid and the passwd database).
OsUser current_os_user();

// Who asked for the run.
struct ClientIdentity {
    std::string transport = "cli";         // "cli" (tooljail run), "stdio", "http"
    std::optional<OsUser> os_user;         // the OS account running tooljail (cli and stdio)
    std::string token_client;              // http: the authenticated token's client; "" = none
    nlohmann::json client_info = nullptr;  // MCP initialize clientInfo, as sent; null = none
};

// The supervisor process that wrote the start entry. The store fills it in.
struct Supervisor {
    int pid = 0;
    uint64_t start_ticks = 0;  // /proc/self/stat field 22: tells a reused pid apart
    std::string boot_id;       // /proc/sys/kernel/random/boot_id
    std::string hostname;
    std::string version;  // tooljail version
};

// Everything known about a run before it starts. Callers fill what applies; the store assigns
// run_id / trace_id when empty and redacts arguments, argv and env itself (callers pass raw
// values and must not pre-redact).
struct RunStart {
    std::string run_id;          // empty = the store assigns sandbox::new_run_id()
    std::string trace_id;        // 32 hex; empty = generated (or from parse_traceparent)
    std::string parent_span_id;  // 16 hex from the caller's traceparent; "" = none
    ClientIdentity client;
    std::string session;          // MCP session id; "" = none (tooljail run)
    std::string tool;             // tool name; "" for tooljail run
    std::string manifest_sha256;  // sha256 of the tool manifest text; "" for tooljail run
    std::string policy;
    std::string policy_sha256;               // sha256 of the policy file text
    std::optional<sandbox::Layers> layers;   // nullopt before a sandbox was prepared
    std::optional<sandbox::Limits> limits;   // the limits in force (policy + tool + caller)
    nlohmann::json arguments = nullptr;      // MCP tool arguments; null for tooljail run
    std::vector<std::string> argv;           // the exact argv launched
    std::vector<std::string> env;            // the sandbox's environment, "NAME=value"
    std::string workspace;                   // host path bound at /workspace; "" = none
    std::vector<int> success_exit_codes{0};  // exit codes that count as "success"
    std::optional<uint64_t> stdin_bytes;     // size of the data fed to stdin; nullopt = /dev/null
    std::string stdin_sha256;
    // Set by the store after redaction: whether anything was redacted, and where (RFC 6901
    // pointers into the record: "/arguments/token", "/argv/3", "/env/0"), never what.
    bool redacted = false;
    std::vector<std::string> redacted_pointers;
};

// A call stopped before any launch; it still gets a record.
struct Refusal {
    RunStart run;         // whatever was known (tool, client, arguments...)
    std::string reason;   // one of the refusal reasons above
    std::string message;  // the error the caller was given
};

// Where a run's captured output was stored (relative to the store directory).
struct StoredOutput {
    std::string file;    // "output/<run_id>.stdout"; "" when nothing was stored
    std::string sha256;  // of the file's bytes (the captured part, or the part stored)
    // Set when less than the captured output was stored: why ("max_bytes": the store's size
    // budget had no room for more, docs/RECORDS.md; "write_error": the file could not be
    // written, nothing of it was kept) and, for a write error, its errno name ("ENOSPC").
    // `bytes` is then the file's size (0 without a file).
    std::string cut;
    std::string cut_errno;
    uint64_t bytes = 0;
};

// W3C trace context. parse_traceparent accepts "00-<32 hex>-<16 hex>-<2 hex>" (lowercase, not
// all zero) and returns nullopt otherwise; new_trace_id() is 16 random bytes as hex.
struct TraceParent {
    std::string trace_id;
    std::string parent_span_id;
};
std::optional<TraceParent> parse_traceparent(std::string_view header);
// The run's trace context from a traceparent header: trace_id and parent_span_id, when the
// header parses. false (run untouched) when it does not; the store then starts a new trace.
bool apply_traceparent(RunStart& run, std::string_view header);
std::string new_trace_id();

// ---- entries (bodies without the chain fields) ----------------------------------------------

nlohmann::json start_entry(const RunStart& run, const Supervisor& supervisor, Time at);
nlohmann::json end_entry(const std::string& run_id, const sandbox::Outcome& outcome,
                         const StoredOutput& out, const StoredOutput& err, Time at);
nlohmann::json refused_entry(const Refusal& refusal, const Supervisor& supervisor, Time at);
// store_errno: the store's own write error that kept the run's end from being written ("ENOSPC":
// the disk was full), when that is why; "" otherwise (the supervisor died, the host rebooted).
nlohmann::json interrupted_entry(const std::string& run_id, const std::string& detail, Time at,
                                 const std::string& store_errno = "");

// Back from JSON (schema round trip; tools reading records). Errors: InvalidArgument naming the
// key ("start entry: /limits/pids: ...").
sandbox::Result<RunStart> run_start_from_json(const nlohmann::json& entry);
sandbox::Result<sandbox::Outcome> outcome_from_json(const nlohmann::json& end);

nlohmann::json layers_to_json(const sandbox::Layers& layers);
nlohmann::json limits_to_json(const sandbox::Limits& limits);

// ---- records ----------------------------------------------------------------------------------

// Folds entries (in journal order) into one record per run_id, in order of first appearance.
// A record is the start (or refused) entry's fields, then the end/interrupted entry's, without
// the chain fields, plus: "schema", "status" (success | failure | error | refused |
// interrupted | running), "started_at"/"ended_at", "entries" (their seqs) and "partial": true
// when the start entry is missing (pruned by retention).
class Folder {
public:
    void add(const nlohmann::json& entry);  // entries without a run_id are ignored
    std::vector<nlohmann::json> take();

private:
    std::vector<nlohmann::json> records_;
    std::unordered_map<std::string, size_t> index_;
};

// The record's status from its fields (used by Folder; exposed for tests).
std::string record_status(const nlohmann::json& record);

}  // namespace runtime::records
