// What a warm child's exec costs as a function of the process it was cloned from.
//
// A warm sandbox is a clone of the supervisor that waits, then execs the tool. Its "request
// written -> exec seen" step is most of what is left of a warm launch (docs/BENCHMARKS.md). This
// program isolates that step without namespaces: a forked child signals that it is about to
// block in read(2), the parent waits (spinning, or asleep for 50 ms), writes one byte and times
// until the child's close-on-exec report pipe reads EOF, i.e. until execve("/bin/true") has
// replaced the child's copy of the parent's address space. The parent is grown between
// configurations (heap touched, idle threads), so the exec has more page tables to tear down.
// Each row prints the parent's anonymous RSS, the part a fork copies page tables for.
//
// Usage: tooljail_exec_cost [SAMPLES]   (default 150 per row; prints p50/p95 in µs)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// Idle threads, as the supervisor has (workers, pool fill, reaper): their stacks are mapped in
// every clone.
class IdleThreads {
public:
    void grow_to(int n) {
        while (static_cast<int>(threads_.size()) < n)
            threads_.emplace_back([this] {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [this] { return stop_; });
            });
    }
    ~IdleThreads() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

// One sample: fork a child that waits for a byte and execs /bin/true; return the µs from the
// write of that byte until the exec is seen.
double exec_after_wait(bool idle) {
    int go[2], ready[2], report[2];
    if (pipe(go) != 0 || pipe(ready) != 0 || pipe2(report, O_CLOEXEC) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        char c = 'r';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
        char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(go[0]);
    close(ready[1]);
    close(report[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) die("read ready");
    if (idle) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else {  // keep this CPU busy for 1 ms while the child goes to sleep in read(2)
        auto until = Clock::now() + std::chrono::milliseconds(1);
        while (Clock::now() < until) {
        }
    }
    auto t0 = Clock::now();
    if (write(go[1], "g", 1) != 1) die("write go");
    while (read(report[0], &c, 1) > 0) {
    }
    auto t1 = Clock::now();
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "child failed: status %d\n", status);
        std::exit(1);
    }
    close(go[1]);
    close(ready[0]);
    close(report[0]);
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

// Anonymous resident memory: what a fork copies page tables for and the exec has to unmap
// (file-backed pages a process only reads are not copied; the child faults them in again).
long rss_anon_kib() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) die("/proc/self/status");
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::sscanf(line, "RssAnon: %ld kB", &kib) == 1) break;
    std::fclose(f);
    return kib;
}

void row(const char* label, int threads, bool idle, int samples) {
    std::vector<double> us;
    for (int i = 0; i < samples; ++i) us.push_back(exec_after_wait(idle));
    std::sort(us.begin(), us.end());
    std::printf("| %-26s | %6.1f | %2d | %-16s | %6.0f | %6.0f |\n", label, rss_anon_kib() / 1024.0,
                threads, idle ? "after 50 ms idle" : "busy", us[us.size() / 2],
                us[us.size() * 95 / 100]);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    int samples = argc > 1 ? std::atoi(argv[1]) : 150;
    if (samples < 20) samples = 20;
    struct Config {
        const char* label;
        int heap_mib, threads;
    };
    // Sizes only grow (freed heap would stay mapped anyway), so the rows run in this order.
    const Config configs[] = {
        {"small helper", 0, 0},
        {"serve-sized", 2, 10},  // tooljail serve idle: RssAnon 1.8 MiB, 10 threads
        {"12 MiB heap", 12, 10},
        {"64 MiB heap", 64, 10},
    };
    std::printf("| parent | RssAnon MiB | threads | before the write | p50 µs | p95 µs |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: |\n");
    std::vector<char*> heap;
    IdleThreads idle_threads;
    for (const Config& c : configs) {
        while (static_cast<int>(heap.size()) < c.heap_mib) {
            char* block = static_cast<char*>(std::malloc(1 << 20));
            if (block == nullptr) die("malloc");
            std::memset(block, 1, 1 << 20);  // touched: mapped in every clone
            heap.push_back(block);
        }
        idle_threads.grow_to(c.threads);
        row(c.label, c.threads, false, samples);
        row(c.label, c.threads, true, samples);
    }
    for (char* block : heap) std::free(block);
}
