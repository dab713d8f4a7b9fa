// Run::wait: one poll loop over the output pipes, the stdin pipe, the child's pidfd, the
// deadline timer, the CPU watchdog and the caller's cancel fd. Single-threaded, no busy waiting.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"
#include "sandbox/run_impl.h"

namespace sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// How often the CPU watchdog reads the cgroup's usage; the CPU-time limit's tolerance.
constexpr Millis kCpuTick{50};
// After pid 1 exits the kernel kills the rest of the namespace; output still in flight is
// drained for at most this long.
constexpr Millis kDrainGrace{2000};
// Period of the caller's TickObserver (progress notifications).
constexpr Millis kTick{1000};

Result<UniqueFd> make_timer(Millis first, Millis interval) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0) return fail(sys_error("timerfd_create"));
    UniqueFd timer(fd);
    itimerspec spec = {};
    auto to_ts = [](Millis m) {
        timespec ts;
        ts.tv_sec = m.count() / 1000;
        ts.tv_nsec = (m.count() % 1000) * 1000000;
        return ts;
    };
    spec.it_value = to_ts(first.count() > 0 ? first : Millis{1});
    spec.it_interval = to_ts(interval);
    if (timerfd_settime(timer.get(), 0, &spec, nullptr) != 0)
        return fail(sys_error("timerfd_settime"));
    return timer;
}

class RunImpl final : public Run {
public:
    explicit RunImpl(RunParts parts) : p_(std::move(parts)) {}

    ~RunImpl() override {
        if (!reaped_) {
            kill_tree();
            reap(true);
        }
        // cgroup::Leaf's destructor kills what is left and removes the directories.
    }

    pid_t pid() const override { return p_.pid; }
    const std::string& id() const override { return p_.id; }
    bool warm() const override { return p_.warm; }

    Outcome wait(int cancel_fd, const OutputObserver& observer, const TickObserver& tick) override {
        Outcome out;
        auto setup = [&](Result<UniqueFd> r, UniqueFd& dst) -> bool {
            if (!r) {
                out.error_message = r.error().message();
                return false;
            }
            dst = std::move(*r);
            return true;
        };
        UniqueFd deadline, cpu_tick, drain_timer, tick_timer;
        Millis remaining =
            p_.wall_timeout - std::chrono::duration_cast<Millis>(Clock::now() - p_.started);
        if (!setup(make_timer(remaining, Millis{0}), deadline) ||
            (p_.limits.cpu_time.count() > 0 && !setup(make_timer(kCpuTick, kCpuTick), cpu_tick)) ||
            (tick && !setup(make_timer(kTick, kTick), tick_timer))) {
            kill_tree();
            reap(true);
            out.reason = Termination::SandboxError;
            out.failed_step = Step::Wait;
            return out;
        }
        size_t stdin_off = 0;
        char buf[65536];

        while (!reaped_ || p_.stdout_read.valid() || p_.stderr_read.valid()) {
            std::vector<pollfd> fds;
            enum Slot {
                kOut,
                kErr,
                kIn,
                kPid,
                kDeadline,
                kCpu,
                kCancel,
                kDrain,
                kTickSlot,
                kSlots
            };
            int slot_of[kSlots];
            auto add = [&](Slot s, int fd, short events) {
                slot_of[s] = -1;
                if (fd < 0) return;
                slot_of[s] = static_cast<int>(fds.size());
                fds.push_back(pollfd{fd, events, 0});
            };
            add(kOut, p_.stdout_read.get(), POLLIN);
            add(kErr, p_.stderr_read.get(), POLLIN);
            add(kIn, p_.stdin_write.get(), POLLOUT);
            add(kPid, reaped_ ? -1 : p_.pidfd.get(), POLLIN);
            add(kDeadline, killed_ ? -1 : deadline.get(), POLLIN);
            add(kCpu, killed_ ? -1 : cpu_tick.get(), POLLIN);
            add(kCancel, killed_ ? -1 : cancel_fd, POLLIN);
            add(kDrain, drain_timer.get(), POLLIN);
            add(kTickSlot, reaped_ ? -1 : tick_timer.get(), POLLIN);
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                out.error_message = sys_error("poll").message();
                kill_tree();
                break;
            }
            auto ready = [&](Slot s) { return slot_of[s] >= 0 && fds[slot_of[s]].revents != 0; };

            if (ready(kOut))
                pump(p_.stdout_read, out.out, out_hash_, p_.limits.stdout_bytes, Stream::Stdout,
                     observer, buf, sizeof buf);
            if (ready(kErr))
                pump(p_.stderr_read, out.err, err_hash_, p_.limits.stderr_bytes, Stream::Stderr,
                     observer, buf, sizeof buf);
            if (ready(kIn)) {
                ssize_t n = ::write(p_.stdin_write.get(), p_.stdin_data.data() + stdin_off,
                                    p_.stdin_data.size() - stdin_off);
                if (n > 0) stdin_off += static_cast<size_t>(n);
                // EPIPE: the program closed stdin early, which is its right.
                if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
                    stdin_off == p_.stdin_data.size())
                    p_.stdin_write.reset();
            }
            if (ready(kDeadline)) stop(Termination::Timeout);
            if (ready(kCancel)) stop(Termination::Cancelled);
            if (ready(kCpu)) {
                uint64_t expirations;
                ssize_t ignored = ::read(cpu_tick.get(), &expirations, sizeof expirations);
                (void)ignored;
                auto usage = p_.leaf.cpu_usage_usec();
                if (usage && *usage / 1000 >= static_cast<uint64_t>(p_.limits.cpu_time.count()))
                    stop(Termination::CpuLimit);
            }
            if (ready(kPid)) {
                reap(false);
                if (reaped_) {
                    // The namespace is dying with its pid 1; anything still holding a pipe is
                    // being killed. Bound the drain in case something lingers.
                    p_.stdin_write.reset();
                    if (!setup(make_timer(kDrainGrace, Millis{0}), drain_timer)) break;
                }
            }
            if (ready(kTickSlot)) {
                uint64_t expirations;
                ssize_t ignored = ::read(tick_timer.get(), &expirations, sizeof expirations);
                (void)ignored;
                tick(std::chrono::duration_cast<Millis>(Clock::now() - p_.started));
            }
            if (ready(kDrain)) {
                p_.leaf.kill_all();
                p_.stdout_read.reset();
                p_.stderr_read.reset();
            }
            if (kill_for_output_ && !killed_) stop(Termination::OutputCap);
        }
        if (!reaped_) {
            kill_tree();
            reap(true);
        }
        return finish(std::move(out));
    }

private:
    void pump(UniqueFd& fd, Capture& cap, Sha256& hash, uint64_t limit, Stream stream,
              const OutputObserver& observer, char* buf, size_t size) {
        // One read per wakeup keeps the streams fair; the pipe is drained over iterations.
        ssize_t n = ::read(fd.get(), buf, size);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            fd.reset();
            return;
        }
        cap.total += static_cast<uint64_t>(n);
        // The digest covers every byte, kept or dropped: the record proves what the program
        // wrote, not only what fit under the cap.
        hash.update(std::string_view(buf, static_cast<size_t>(n)));
        size_t keep = 0;
        if (cap.data.size() < limit)
            keep = static_cast<size_t>(
                std::min<uint64_t>(limit - cap.data.size(), static_cast<uint64_t>(n)));
        if (keep > 0) {
            cap.data.append(buf, keep);
            if (observer) observer(stream, std::string_view(buf, keep));
        }
        if (keep < static_cast<size_t>(n)) {
            // Past the cap the bytes are counted and dropped: memory stays bounded by the cap.
            cap.truncated = true;
            if (p_.limits.kill_on_output_cap) kill_for_output_ = true;
        }
    }

    void stop(Termination why) {
        if (killed_ || reaped_) return;
        killed_ = true;
        kill_reason_ = why;
        kill_tree();
    }

    void kill_tree() {
        // SIGKILL to the namespace's pid 1 takes every process of the namespace with it; the
        // cgroup kill covers anything racing through fork at that instant.
        if (!reaped_) sys::pidfd_signal(p_.pidfd.get(), SIGKILL);
        p_.leaf.kill_all();
    }

    void reap(bool block) {
        siginfo_t info = {};
        int flags = WEXITED | (block ? 0 : WNOHANG);
        for (;;) {
            int rc = ::waitid(P_PIDFD, static_cast<id_t>(p_.pidfd.get()), &info, flags);
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0 || info.si_pid == 0) return;  // not yet exited (WNOHANG)
            break;
        }
        reaped_ = true;
        ended_ = Clock::now();
        status_code_ = info.si_code;
        status_ = info.si_status;
    }

    Outcome finish(Outcome out) {
        out.wall = std::chrono::duration_cast<Millis>(ended_ - p_.started);
        out.out.sha256 = out_hash_.hex_digest();
        out.err.sha256 = err_hash_.hex_digest();
        if (auto st = p_.leaf.stats()) {
            out.cpu = Millis{static_cast<int64_t>(st->cpu_usec / 1000)};
            out.peak_memory_bytes = st->peak_memory_bytes;
            out.oom_kills = st->oom_kills;
            out.pids_limit_hits = st->pids_limit_hits;
        }
        // The Outcome needs only the stats; removing the leaf (rmdir per v1 controller) can
        // happen after the caller has it, when a reaper is there to do it.
        if (p_.reaper) {
            p_.reaper->add(std::move(p_.leaf));
        } else {
            p_.leaf.kill_all();
            if (auto removed = p_.leaf.remove(); !removed && out.error_message.empty())
                out.error_message = removed.error().message();
        }

        bool exited = status_code_ == CLD_EXITED;
        if (exited)
            out.exit_code = status_;
        else
            out.signal = status_;

        if (killed_)
            out.reason = kill_reason_;
        else if (out.oom_kills > 0 && !(exited && status_ == 0))
            out.reason = Termination::MemoryLimit;
        else if (!exited && status_ == SIGSYS)
            out.reason = Termination::SeccompViolation;
        else if (!exited && (status_ == SIGXCPU ||
                             (p_.limits.cpu_time.count() > 0 && out.cpu >= p_.limits.cpu_time)))
            out.reason = Termination::CpuLimit;
        else if (out.pids_limit_hits > 0 && !(exited && status_ == 0))
            out.reason = Termination::PidsLimit;
        else if (!exited)
            out.reason = Termination::Signaled;
        else
            out.reason = Termination::Exit;
        return out;
    }

    RunParts p_;
    Sha256 out_hash_;
    Sha256 err_hash_;
    bool reaped_ = false;
    bool killed_ = false;
    bool kill_for_output_ = false;
    Termination kill_reason_ = Termination::Exit;
    Clock::time_point ended_{};
    int status_code_ = 0;
    int status_ = 0;
};

}  // namespace

std::unique_ptr<Run> make_run(RunParts parts) {
    return std::make_unique<RunImpl>(std::move(parts));
}

}  // namespace sandbox
