#include "tests/integration/tooljail_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"

namespace tjtest {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

int exit_status(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t status_kib(const std::string& status, const std::string& key) {
    size_t at = status.find("\n" + key + ":");
    if (at == std::string::npos) return 0;
    return std::stoull(status.substr(at + key.size() + 2)) * 1024;
}

}  // namespace

CliResult run_tooljail(const std::vector<std::string>& args, const std::string& input,
                       const std::vector<std::string>& env, const std::string& cwd) {
    // Files, not pipes: nothing to pump, and a child writing megabytes cannot block on us.
    TempDir io("tooljail-cli-io-");
    const std::string in_path = io.path() + "/in", out_path = io.path() + "/out",
                      err_path = io.path() + "/err";
    write_host_file(in_path, input, 0600);
    std::vector<std::string> argv{TOOLJAIL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> envp = env;
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int in = open(in_path.c_str(), O_RDONLY);
        int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) _exit(98);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(97);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (env.empty())
            execv(argv[0].c_str(), c_strings(argv).data());
        else
            execve(argv[0].c_str(), c_strings(argv).data(), c_strings(envp).data());
        _exit(99);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return CliResult{exit_status(status), slurp(out_path), slurp(err_path)};
}

ProcUsage proc_usage(pid_t pid) {
    ProcUsage usage;
    std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
    usage.rss = status_kib(status, "VmRSS");
    usage.hwm = status_kib(status, "VmHWM");
    DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    REQUIRE(dir);
    while (dirent* entry = readdir(dir))
        if (entry->d_name[0] != '.') ++usage.fds;
    closedir(dir);
    return usage;
}

std::string describe(const ProcUsage& u) {
    return "rss=" + std::to_string(u.rss >> 20) + " MiB hwm=" + std::to_string(u.hwm >> 20) +
           " MiB fds=" + std::to_string(u.fds);
}

void take_peak(ProcUsage& peak, const ProcUsage& now) {
    peak.rss = std::max(peak.rss, now.rss);
    peak.hwm = std::max(peak.hwm, now.hwm);
    peak.fds = std::max(peak.fds, now.fds);
}

ServeProcess::ServeProcess(const std::vector<std::string>& args) {
    char err_template[] = "/tmp/tooljail-serve-stderr-XXXXXX";
    int err = mkstemp(err_template);
    REQUIRE(err >= 0);
    err_path_ = err_template;
    int in[2], out[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    std::vector<std::string> argv{TOOLJAIL_BINARY, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err, 2);
        execv(argv[0].c_str(), c_strings(argv).data());
        _exit(99);
    }
    close(err);
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = out[0];
}

ServeProcess::~ServeProcess() {
    if (in_ >= 0) close(in_);
    close(out_);
    int status;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
    }
    unlink(err_path_.c_str());
}

void ServeProcess::send_raw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = write(in_, bytes.data() + off, bytes.size() - off);
        REQUIRE(n > 0);
        off += static_cast<size_t>(n);
    }
}

std::thread ServeProcess::send_in_background(std::string bytes) {
    // No Catch2 macros off the main thread: a failed write just stops (the replies will be
    // missing and the main thread's wait fails).
    return std::thread([fd = in_, bytes = std::move(bytes)] {
        size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            off += static_cast<size_t>(n);
        }
    });
}

void ServeProcess::initialize() {
    send({{"jsonrpc", "2.0"},
          {"id", "init"},
          {"method", "initialize"},
          {"params",
           {{"protocolVersion", "2025-11-25"},
            {"capabilities", nlohmann::json::object()},
            {"clientInfo", {{"name", "faults"}, {"version", "1"}}}}}});
    REQUIRE(response("init")["result"]["protocolVersion"] == "2025-11-25");
    send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
}

void ServeProcess::call(int id, const std::string& tool, const nlohmann::json& arguments) {
    send({{"jsonrpc", "2.0"},
          {"id", id},
          {"method", "tools/call"},
          {"params", {{"name", tool}, {"arguments", arguments}}}});
}

bool ServeProcess::pump(int timeout_ms) {
    pollfd p{out_, POLLIN, 0};
    REQUIRE(poll(&p, 1, timeout_ms) >= 0);
    if (p.revents == 0) return true;
    char chunk[65536];
    ssize_t n = read(out_, chunk, sizeof chunk);
    REQUIRE(n >= 0);
    if (n == 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buf_.find('\n')) != std::string::npos;) {
        auto doc = nlohmann::json::parse(buf_.substr(0, nl), nullptr, false);
        INFO(buf_.substr(0, std::min<size_t>(nl, 500)));
        REQUIRE_FALSE(doc.is_discarded());  // stdout carries only JSON-RPC messages
        buf_.erase(0, nl + 1);
        if (doc.contains("id") && !doc.contains("method")) responses_[doc["id"].dump()] = doc;
    }
    return true;
}

nlohmann::json ServeProcess::response(const nlohmann::json& id, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto it = responses_.find(id.dump());
        if (it != responses_.end()) return it->second;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        INFO("waiting for the response to " << id.dump() << "; stderr:\n" << stderr_text());
        REQUIRE(left.count() > 0);
        REQUIRE(pump(static_cast<int>(left.count())));
    }
}

void ServeProcess::close_stdin() {
    close(in_);
    in_ = -1;
}

int ServeProcess::wait_exit() {
    int status = 0;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return exit_status(status);
}

std::string ServeProcess::stderr_text() const { return slurp(err_path_); }

int ServeProcess::http_port(std::chrono::seconds timeout) const {
    static const std::string kListening = "serving MCP over Streamable HTTP at http://127.0.0.1:";
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::string err = stderr_text();
        size_t at = err.find(kListening);
        if (at != std::string::npos && err.find("/mcp", at) != std::string::npos)
            return std::stoi(err.substr(at + kListening.size()));
        INFO("stderr:\n" << err);
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        int status = 0;
        REQUIRE(waitpid(pid_, &status, WNOHANG) == 0);  // still running
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace tjtest
