// `tooljail runs`: the ops view of the record store (docs/RECORDS.md, "Ops CLI").
//
//   tooljail runs list   [--since T] [--until T] [--tool N] [--client C] [--status S]
//                        [--reason R] [--limit N] [--json]
//   tooljail runs show   RUN_ID [--json]           record + captured stdout/stderr
//   tooljail runs tail   [-f] [-n N] [--json]      entries as they are appended
//   tooljail runs verify [--json]                  hash chain + output files
//   tooljail runs export [--since T] [--until T]   one record per line (JSON lines, for a SIEM)
//   tooljail runs prune  [--max-age D] [--max-bytes N]     apply retention now
//   tooljail runs retention [--max-age D] [--max-bytes N] [--segment-bytes N]   show / set
//
// Every subcommand takes --records DIR (default: default_records_dir()). T is RFC 3339 or a
// duration before now ("1h", "7d"). Output goes to stdout, diagnostics to stderr.
// Exit status: 0 ok; 1 verify found tampering, or show found no such run; 2 verify found the
// chain intact but runs without an outcome (interrupted); 125 the store cannot be read (or
// written, for prune/retention) or bad usage.
#pragma once

#include <cstddef>
#include <string>

namespace runtime {

struct RunsOptions {
    std::string action;   // list, show, tail, verify, export, prune, retention
    std::string records;  // "" = default_records_dir()
    bool json = false;
    // list / export
    std::string since;
    std::string until;
    std::string tool;
    std::string client;  // matches transport, OS user name or uid, token client, clientInfo name
    std::string status;  // success, failure, error, refused, interrupted, running
    std::string reason;  // exit, timeout, memory_limit, ..., validation_error, interrupted
    size_t limit = 50;   // list: the most recent N (0 = all)
    // show
    std::string run_id;  // a full id, or a prefix matching exactly one run
    // tail
    bool follow = false;
    size_t lines = 10;
    // prune / retention
    std::string max_age;
    std::string max_bytes;
    std::string segment_bytes;
};

int runs_command(const RunsOptions& options);

}  // namespace runtime
