#include "tests/integration/sandbox_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/integration/skip.h"

#ifndef TOOLJAIL_PROBE_DIR
#error "TOOLJAIL_PROBE_DIR must name the directory holding tooljail-probe"
#endif

namespace tjtest {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix, const std::string& base, mode_t mode) {
    std::string tmpl = base + "/" + prefix + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) FAIL("mkdtemp(" << tmpl << "): " << strerror(errno));
    path_ = buf.data();
    if (chmod(path_.c_str(), mode) != 0) FAIL("chmod(" << path_ << "): " << strerror(errno));
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    ::chmod(path_.c_str(), 0700);  // a mode-0 directory (unenterable_mode) could not be listed
    std::error_code ec;
    fs::remove_all(path_, ec);  // best effort: a leftover temp dir must not fail a test
}

mode_t unenterable_mode() { return ::geteuid() == 0 ? 0700 : 0; }

void write_small_policy(const std::string& dir, const std::string& name, int memory_mb) {
    nlohmann::json policy;
    std::ifstream(std::string(TOOLJAIL_SOURCE_DIR) + "/policies/default.json") >> policy;
    REQUIRE(policy.is_object());
    policy["name"] = name;
    policy["limits"]["memory_mb"] = memory_mb;
    std::ofstream out(dir + "/" + name + ".json");
    out << policy.dump();
    REQUIRE(out.good());
}

size_t pool_size() {
    const char* env = std::getenv("TOOLJAIL_TEST_POOL");
    return env ? std::strtoul(env, nullptr, 10) : 0;
}

std::shared_ptr<sandbox::Host> shared_host() {
    static std::shared_ptr<sandbox::Host> host = [] {
        sandbox::HostOptions options;
        options.pool.per_sandbox = pool_size();
        auto opened = sandbox::Host::open(options);
        if (!opened) {
            const sandbox::Error& e = opened.error();
            if (e.code == sandbox::Errc::Unsupported) skip_test("Host::open: " + e.message());
            FAIL("Host::open failed: " << e.message());
        }
        return *opened;
    }();
    return host;
}

bool host_has_controller(const std::string& controller) {
    std::string described = shared_host()->cgroups().describe();
    // "v1 memory,pids,cpu,cpuacct": match whole comma/space separated words.
    std::string padded = " " + described + ",";
    for (char& c : padded)
        if (c == ',') c = ' ';
    return padded.find(" " + controller + " ") != std::string::npos;
}

std::vector<std::string> default_env() {
    return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/workspace", "LANG=C.UTF-8",
            "TOOLJAIL_TEST=integration"};
}

sandbox::SandboxConfig default_config(const std::string& workspace) {
    sandbox::SandboxConfig c;
    c.name = "integration-test";
    c.binds = {
        {"/usr", "", false, false},  {"/bin", "", true, false},  {"/lib", "", true, false},
        {"/lib64", "", true, false}, {"/sbin", "", true, false},
    };
    c.etc_entries = {"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime"};
    c.workspace = workspace;
    c.hostname = "tooljail";
    c.env = default_env();
    c.limits.memory_bytes = 128 * kMiB;
    c.limits.pids = 32;
    c.limits.cpu_percent = 100;
    c.limits.wall_timeout = sandbox::Millis{10'000};
    c.limits.cpu_time = sandbox::Millis{0};
    c.limits.stdout_bytes = 64 * 1024;
    c.limits.stderr_bytes = 64 * 1024;
    c.limits.tmpfs_bytes = 32 * kMiB;
    c.seccomp.profile = "default";
    c.seccomp.on_violation = sandbox::SeccompAction::Errno;
    // Landlock is required wherever the kernel has it; on a kernel without it the other layers
    // are still worth testing (the refusal test covers "required but missing").
    c.landlock.mode = shared_host()->landlock_abi() > 0 ? sandbox::LandlockMode::Required
                                                        : sandbox::LandlockMode::Off;
    c.landlock.min_abi = 1;
    return c;
}

void write_host_file(const std::string& path, const std::string& data, mode_t mode) {
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        REQUIRE(f.good());
        f << data;
        REQUIRE(f.good());
    }
    REQUIRE(chmod(path.c_str(), mode) == 0);
}

SandboxFixture::SandboxFixture() : workspace_("tooljail-ws-", "/tmp", 0777) {
    const std::string probe_src = std::string(TOOLJAIL_PROBE_DIR) + "/tooljail-probe";
    const std::string probe_dst = workspace() + "/tooljail-probe";
    std::error_code ec;
    fs::copy_file(probe_src, probe_dst, ec);
    if (ec) FAIL("copy " << probe_src << " -> " << probe_dst << ": " << ec.message());
    REQUIRE(chmod(probe_dst.c_str(), 0755) == 0);
    write_host_file(workspace() + "/data.txt", kDataText, 0666);
    REQUIRE(mkdir((workspace() + "/sub").c_str(), 0777) == 0);
    REQUIRE(chmod((workspace() + "/sub").c_str(), 0777) == 0);
    config = default_config(workspace());
}

std::shared_ptr<const sandbox::Sandbox> SandboxFixture::prepare() const {
    auto prepared = sandbox::Sandbox::prepare(config, shared_host());
    if (!prepared) FAIL("Sandbox::prepare failed: " << prepared.error().message());
    // A fill that fails returns early; the launch then shows the same failure on the cold path.
    if (pool_size() > 0) (void)(*prepared)->wait_warm(pool_size(), std::chrono::seconds(10));
    return *prepared;
}

sandbox::Outcome SandboxFixture::probe(std::vector<std::string> args,
                                       std::optional<std::string> stdin_data) const {
    return run_probe(*prepare(), std::move(args), std::move(stdin_data));
}

sandbox::Outcome run_probe(const sandbox::Sandbox& sb, std::vector<std::string> args,
                           std::optional<std::string> stdin_data) {
    sandbox::RunRequest request;
    request.argv.reserve(args.size() + 1);
    request.argv.push_back(kProbe);
    for (auto& a : args) request.argv.push_back(std::move(a));
    request.stdin_data = std::move(stdin_data);
    if (pool_size() == 0) return sandbox::run_once(sb, request);
    (void)sb.wait_warm(1, std::chrono::seconds(10));
    auto run = sb.launch(request);
    if (!run) return sandbox::launch_failure(run.error());
    INFO("pool: " << sb.pool_stats().last_fill_error);
    CHECK((*run)->warm());
    return (*run)->wait();
}

sandbox::Outcome probe(const sandbox::SandboxConfig& config, std::vector<std::string> args,
                       std::optional<std::string> stdin_data) {
    auto prepared = sandbox::Sandbox::prepare(config, shared_host());
    if (!prepared) FAIL("Sandbox::prepare failed: " << prepared.error().message());
    return run_probe(**prepared, std::move(args), std::move(stdin_data));
}

namespace {

std::string head(const std::string& s, size_t max) {
    if (s.size() <= max) return s;
    return s.substr(0, max) + "...[" + std::to_string(s.size() - max) + " more bytes]";
}

}  // namespace

std::string describe(const sandbox::Outcome& o) {
    std::ostringstream s;
    s << "outcome: reason=" << sandbox::termination_name(o.reason) << " exit_code=" << o.exit_code
      << " signal=" << o.signal << " wall=" << o.wall.count() << "ms cpu=" << o.cpu.count()
      << "ms peak_memory=" << o.peak_memory_bytes << " oom_kills=" << o.oom_kills
      << " pids_limit_hits=" << o.pids_limit_hits;
    if (o.failed_step != sandbox::Step::None || o.failed_errno != 0 || !o.error_message.empty())
        s << "\n  failed_step='" << sandbox::step_name(o.failed_step)
          << "' failed_errno=" << o.failed_errno << " (" << strerror(o.failed_errno)
          << ") error_message='" << o.error_message << "'";
    s << "\n  stdout total=" << o.out.total << " truncated=" << o.out.truncated << ": "
      << head(o.out.data, 1500);
    s << "\n  stderr total=" << o.err.total << " truncated=" << o.err.truncated << ": "
      << head(o.err.data, 1500);
    return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

std::optional<std::string> result_of(const std::string& out, std::string_view label) {
    std::string prefix = std::string(label) + " ";
    for (const std::string& line : split_lines(out)) {
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return std::nullopt;
}

std::string field(const std::string& line, std::string_view key) {
    std::string needle = std::string(key) + "=";
    size_t pos = 0;
    while ((pos = line.find(needle, pos)) != std::string::npos) {
        if (pos == 0 || line[pos - 1] == ' ') {
            size_t start = pos + needle.size();
            size_t end = line.find(' ', start);
            return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
        }
        pos += needle.size();
    }
    return {};
}

std::string attempt(const sandbox::Outcome& o, std::string_view label) {
    auto r = result_of(o.out.data, label);
    if (!r) return "missing";
    if (r->rfind("ok", 0) == 0) return "ok";
    std::string e = field(*r, "errno");
    return e.empty() ? *r : e;
}

void require_ran(const sandbox::Outcome& o) {
    TJ_SHOW(o);
    REQUIRE(o.reason == sandbox::Termination::Exit);
    REQUIRE(o.exit_code == 0);
}

std::vector<pid_t> host_pids_with(const std::string& token) {
    std::vector<pid_t> found;
    DIR* proc = opendir("/proc");
    if (!proc) return found;
    const pid_t self = getpid();
    while (dirent* entry = readdir(proc)) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        pid_t pid = static_cast<pid_t>(atoi(entry->d_name));
        if (pid == self) continue;
        std::ifstream f(std::string("/proc/") + entry->d_name + "/cmdline", std::ios::binary);
        std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (cmdline.find(token) != std::string::npos) found.push_back(pid);
    }
    closedir(proc);
    return found;
}

std::string unique_token(const std::string& prefix) {
    std::random_device rd;
    char buf[32];
    snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
    return prefix + "-" + std::to_string(getpid()) + "-" + buf;
}

namespace {

uint64_t status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    size_t key_len = strlen(key);
    while (std::getline(f, line)) {
        if (line.compare(0, key_len, key) == 0 && line.size() > key_len && line[key_len] == ':')
            return std::strtoull(line.c_str() + key_len + 1, nullptr, 10);
    }
    return 0;
}

}  // namespace

uint64_t self_peak_rss() { return status_kib("VmHWM") * 1024; }
uint64_t self_rss() { return status_kib("VmRSS") * 1024; }

void reset_peak_rss() {
    // clear_refs(5) resets VmHWM to the current RSS (Linux 4.0+).
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
}

}  // namespace tjtest
