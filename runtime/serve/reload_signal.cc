#include "runtime/serve/reload_signal.h"

#include <signal.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/log.h"

namespace runtime {
namespace {

sigset_t hangup() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    return set;
}

}  // namespace

void block_reload_signal() {
    sigset_t set = hangup();
    // pthread_sigmask fails only for an invalid `how`; a failure here would leave SIGHUP
    // killing the server, so say so.
    if (int e = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0)
        LOG_ERROR("cannot block SIGHUP: {}; SIGHUP will end the server instead of reloading",
                  std::strerror(e));
}

HangupReloader::HangupReloader(LiveTools& tools)
    : thread_([this, &tools] {
          sigset_t set = hangup();
          // The timeout only lets the thread notice that it should end.
          const timespec tick{0, 200'000'000};
          while (!done_.load()) {
              if (::sigtimedwait(&set, nullptr, &tick) != SIGHUP) continue;
              LOG_INFO("SIGHUP: reloading");
              tools.reload();
              std::lock_guard lock(steps_mu_);
              for (const auto& step : steps_) step();
          }
      }) {}

void HangupReloader::also(std::function<void()> step) {
    std::lock_guard lock(steps_mu_);
    steps_.push_back(std::move(step));
}

HangupReloader::~HangupReloader() {
    done_ = true;
    thread_.join();
}

}  // namespace runtime
