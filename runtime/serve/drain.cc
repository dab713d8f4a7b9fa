#include "runtime/serve/drain.h"

#include <pthread.h>

#include <utility>

#include "runtime/base/log.h"
#include "runtime/ops/metrics.h"

namespace runtime {
namespace {

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

// Waits up to `tick` for SIGTERM/SIGINT; 0 when none came.
int wait_signal(std::chrono::milliseconds tick) {
    sigset_t set = stop_signals();
    timespec ts{static_cast<time_t>(tick.count() / 1000),
                static_cast<long>(tick.count() % 1000) * 1'000'000};
    int sig = ::sigtimedwait(&set, nullptr, &ts);
    return sig == SIGTERM || sig == SIGINT ? sig : 0;  // -1: EAGAIN (timeout) or EINTR
}

const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : "SIGINT"; }

}  // namespace

void block_stop_signals() {
    sigset_t set = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);  // fails only for an invalid `how`
}

Drainer::Drainer(std::chrono::seconds timeout, DrainHooks hooks)
    : timeout_(timeout), hooks_(std::move(hooks)), thread_([this] { run(); }) {}

Drainer::~Drainer() {
    done_ = true;
    thread_.join();
}

void Drainer::run() {
    // The tick only lets the thread notice done_; signals wake it at once.
    constexpr std::chrono::milliseconds kTick{100};
    int sig = 0;
    while (!done_.load() && !(sig = wait_signal(kTick))) {
    }
    if (!sig) return;
    LOG_INFO(
        "{}: draining: no new calls, running ones have {} s to finish (signal again to cancel them "
        "now)",
        signal_name(sig), timeout_.count());
    draining_ = true;
    metrics::global().set_draining(true);
    hooks_.begin();
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    // Polled: calls end on worker threads and streams on server threads, with nothing common to
    // wait on; a 100 ms tick costs nothing next to a drain measured in seconds.
    while (!hooks_.idle()) {
        if (int again = wait_signal(kTick)) {
            LOG_WARN("{} during the drain: cancelling the calls still running", signal_name(again));
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            LOG_WARN("drain timeout ({} s) reached: cancelling the calls still running",
                     timeout_.count());
            break;
        }
        if (done_.load()) return;
    }
    hooks_.stop();
    stopped_ = true;
    LOG_INFO("drained");
}

}  // namespace runtime
