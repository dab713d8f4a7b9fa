// Shared setup for the integration tests: a default-like SandboxConfig built directly (no
// runtime/policy), a fresh workspace holding a copy of tooljail-probe, one Host per process,
// and small parsers for the probe's output.
//
// Every Catch2 TEST_CASE runs as its own ctest process, in parallel with others, so nothing
// here shares a path between processes: temp dirs come from mkdtemp and are removed by their
// owner's destructor.
//
// Probe output grammar (tests/probe/probe.cc): one line per attempt,
//     "<label> ok [key=value ...]"  or  "<label> err errno=<ENAME>".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "sandbox/launcher.h"
#include "sandbox/spec.h"

namespace Catch {
template <>
struct StringMaker<sandbox::Termination> {
    static std::string convert(sandbox::Termination t) { return sandbox::termination_name(t); }
};
template <>
struct StringMaker<sandbox::Errc> {
    static std::string convert(sandbox::Errc c) { return sandbox::errc_name(c); }
};
}  // namespace Catch

namespace tjtest {

// Where the probe lives inside the sandbox (the workspace is the working directory).
inline constexpr const char* kProbe = "/workspace/tooljail-probe";
inline constexpr uint64_t kMiB = 1ull << 20;

// A directory created with mkdtemp(<base>/<prefix>XXXXXX) and removed recursively on
// destruction. mode is applied with chmod after creation (mkdtemp makes 0700).
class TempDir {
public:
    explicit TempDir(const std::string& prefix, const std::string& base = "/tmp",
                     mode_t mode = 0755);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A TempDir mode the sandbox user cannot search: 0700 as root (the sandbox runs as another
// uid), 0 as a user (the sandbox runs as that user, the owner).
mode_t unenterable_mode();

// Writes dir/NAME.json: the shipped policies/default.json named NAME with limits.memory_mb
// set, for CLI tests that must reach the memory limit cheaply (filling the default 512 MiB
// costs a slow host more than the policy's CPU-time limit).
void write_small_policy(const std::string& dir, const std::string& name, int memory_mb);

// The warm-pool size this test process runs with: TOOLJAIL_TEST_POOL (set by the "pool: "
// registration of the containment tests in tests/CMakeLists.txt), 0 = pool off.
size_t pool_size();

// The process-wide Host (Host::open with default options, plus a warm pool of pool_size() per
// Sandbox when that is not 0), opened on first use. A host that lacks a required mechanism
// (Errc::Unsupported) skips the test; any other error fails it.
std::shared_ptr<sandbox::Host> shared_host();

// True when the host's cgroup hierarchy offers the controller ("memory", "pids", "cpu", ...).
bool host_has_controller(const std::string& controller);

// A default-like policy: read-only /usr (+ /bin, /lib, /lib64, /sbin when present), a minimal
// /etc, the given workspace, default seccomp profile (EPERM), Landlock when the kernel has it,
// and moderate limits (128 MiB, 32 pids, one core, 10 s, 64 KiB per stream, 32 MiB /tmp).
sandbox::SandboxConfig default_config(const std::string& workspace);

// The environment default_config() sets, in order.
std::vector<std::string> default_env();

// A workspace (0777 so that only the read-only mount can refuse writes) holding:
//   tooljail-probe (0755), data.txt (0666, kDataText), sub/ (0777).
class SandboxFixture {
public:
    static constexpr const char* kDataText = "workspace data, must not change\n";

    SandboxFixture();
    const std::string& workspace() const { return workspace_.path(); }

    sandbox::SandboxConfig config;  // tests tweak it before prepare()/probe()

    // Sandbox::prepare(config); REQUIREs success and prints the error otherwise. With a pool,
    // waits (up to 10 s) until its warm sandboxes are ready, so the launches that follow are warm.
    std::shared_ptr<const sandbox::Sandbox> prepare() const;
    // prepare() + run the probe with args once.
    sandbox::Outcome probe(std::vector<std::string> args,
                           std::optional<std::string> stdin_data = std::nullopt) const;

private:
    TempDir workspace_;
};

// Runs the probe with args (kProbe is prepended) in a prepared sandbox. With a pool it first
// waits for a warm sandbox and CHECKs that a successful launch used one.
sandbox::Outcome run_probe(const sandbox::Sandbox& sb, std::vector<std::string> args,
                           std::optional<std::string> stdin_data = std::nullopt);
// Prepares config (REQUIREs success) and runs the probe once.
sandbox::Outcome probe(const sandbox::SandboxConfig& config, std::vector<std::string> args,
                       std::optional<std::string> stdin_data = std::nullopt);

// One-paragraph description of an Outcome for INFO(): reason, numbers, error, output heads.
std::string describe(const sandbox::Outcome& o);

// ---- probe output parsing -----------------------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text);
// The rest of the first line that starts with "<label> ", e.g. "err errno=EROFS"; nullopt if
// the probe printed no such line (it died before, or never tried).
std::optional<std::string> result_of(const std::string& out, std::string_view label);
// The value of "key=" in a line ("errno=EROFS" -> "EROFS"); empty when absent.
std::string field(const std::string& line, std::string_view key);
// "ok" for a successful attempt, the errno name for a failed one, "missing" when absent.
std::string attempt(const sandbox::Outcome& o, std::string_view label);
// The probe ran to the end: the attempt was made and reported.
void require_ran(const sandbox::Outcome& o);

// ---- host-side observations ---------------------------------------------------------------------

// Host pids (other than ours) whose /proc/<pid>/cmdline contains token.
std::vector<pid_t> host_pids_with(const std::string& token);
// A token unlikely to appear anywhere else: prefix + pid + random hex.
std::string unique_token(const std::string& prefix);
// This process's VmHWM (peak RSS) and VmRSS in bytes; reset_peak_rss() restarts VmHWM.
uint64_t self_peak_rss();
uint64_t self_rss();
void reset_peak_rss();
// Writes a file on the host.
void write_host_file(const std::string& path, const std::string& data, mode_t mode);

}  // namespace tjtest

// INFO with the whole outcome, so every failing CHECK shows what the sandbox reported.
#define TJ_SHOW(outcome) INFO(::tjtest::describe(outcome))
