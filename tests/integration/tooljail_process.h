// The real tooljail binary as a child of the test: one-shot commands (`run`, `runs`) and a
// long-lived `serve` over stdio, plus what the fault and bounds tests observe of a supervisor from
// the outside (/proc/<pid>/status and /proc/<pid>/fd).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace tjtest {

struct CliResult {
    int status = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

// Runs `tooljail args...` to completion with input on its stdin. env, when not empty, replaces
// the environment (entries "NAME=value"); cwd, when not empty, is its working directory.
CliResult run_tooljail(const std::vector<std::string>& args, const std::string& input = "",
                       const std::vector<std::string>& env = {}, const std::string& cwd = "");

// The supervisor's own use of the machine, read from /proc/<pid>.
struct ProcUsage {
    uint64_t rss = 0;  // VmRSS, bytes
    uint64_t hwm = 0;  // VmHWM (peak RSS), bytes
    size_t fds = 0;    // entries in /proc/<pid>/fd
};
ProcUsage proc_usage(pid_t pid);
// "rss=.. MiB hwm=.. MiB fds=..", for test messages.
std::string describe(const ProcUsage& u);
// Raises each of peak's fields to now's where now's is higher.
void take_peak(ProcUsage& peak, const ProcUsage& now);

// `tooljail serve args...` with pipes to its stdin and stdout; stderr goes to a file (stderr()).
// The destructor SIGKILLs and reaps it if it is still running.
class ServeProcess {
public:
    explicit ServeProcess(const std::vector<std::string>& args);
    ~ServeProcess();
    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;

    pid_t pid() const { return pid_; }
    void send_raw(const std::string& bytes);
    void send(const nlohmann::json& message) { send_raw(message.dump() + "\n"); }
    // Writes bytes from another thread, so the caller can read replies meanwhile (a client that
    // pipelines more than the pipes hold would otherwise deadlock with the server). Join it.
    std::thread send_in_background(std::string bytes);
    // initialize + notifications/initialized (protocol 2025-11-25).
    void initialize();
    // Sends tools/call id name arguments.
    void call(int id, const std::string& tool, const nlohmann::json& arguments);
    // The response to id (notifications and other responses read meanwhile are kept); fails the
    // test when none arrives within timeout.
    nlohmann::json response(const nlohmann::json& id,
                            std::chrono::seconds timeout = std::chrono::seconds(60));
    // Every response read so far, by id (serialised).
    const std::map<std::string, nlohmann::json>& responses() const { return responses_; }
    // Reads whatever stdout holds now without blocking; false at EOF.
    bool pump(int timeout_ms);
    void close_stdin();
    // Waits for the exit (after close_stdin or a signal): exit status, or 128 + signal.
    int wait_exit();
    std::string stderr_text() const;
    // For `serve --http 127.0.0.1:0`: the port it bound, read from the line it prints on stderr
    // once listening; fails the test when none appears within timeout.
    int http_port(std::chrono::seconds timeout = std::chrono::seconds(30)) const;

private:
    pid_t pid_ = -1;
    int in_ = -1;
    int out_ = -1;
    std::string err_path_;
    std::string buf_;
    std::map<std::string, nlohmann::json> responses_;
};

}  // namespace tjtest
