// The exit statuses tooljail itself uses, in the spirit of timeout(1) (README, docs/CLI.md).
// `tooljail run` passes the program's own status through otherwise, and 128+N for signal N;
// every other subcommand exits 0 on success and kExitSandboxError when it fails.
#pragma once

namespace runtime {

inline constexpr int kExitResourceLimit = 123;  // memory, pids, CPU time or the output cap ended it
inline constexpr int kExitTimeout = 124;        // the wall-clock timeout ended it
inline constexpr int kExitSandboxError = 125;   // tooljail failed: usage, policy, host, record
inline constexpr int kExitNotExecutable = 126;  // the program exists but cannot be executed
inline constexpr int kExitNotFound = 127;       // the program is not there inside the sandbox

}  // namespace runtime
