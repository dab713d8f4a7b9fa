#include "sandbox/child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "sandbox/mounts.h"
#include "sandbox/warm_request.h"

namespace sandbox::child {
namespace {

// Clone fds of the bind sources live here between the two mount steps: a fixed array on the
// child's stack, no allocation.
struct State {
    const Plan* plan;
    int tree_fds[mount_plan::kMaxBindSources];
    int detail;
    char* const* argv;              // plan->argv, or the warm request's
    const char* stdin_file;         // plan->stdin_file, or the warm request's
    char* request_buf;              // warm: kBufferBytes mapped before seccomp
    warm_request::Decoded request;  // warm: what arrived on go_fd
};

int step_cgroup(State& s) {
    // A thread moving itself into a v1 cgroup ("0" in `tasks`) is the one migration the kernel
    // does without cgroup_threadgroup_rwsem (cgroup_procs_write_start: the thread is current and
    // cannot exit or exec meanwhile). The parent's cgroup.procs write of our pid takes it for
    // writing, which after an idle spell waits for an RCU grace period (6-12 ms here,
    // docs/CGROUPS.md). We are this process's only thread, so the process is in the leaf.
    // Permission is checked against the opener (the parent), not against our new namespace.
    int index = 0;
    for (int fd : s.plan->cgroup_tasks_fds) {
        if (fd < 0) continue;
        ssize_t n;
        do {
            n = write(fd, "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            s.detail = index;
            return n < 0 ? errno : EIO;
        }
        close(fd);
        ++index;
    }
    return 0;
}

int step_signals(State&) {
    // The supervisor may block or ignore signals (SIGPIPE, SIGCHLD for its loop); execve keeps
    // both the mask and ignored dispositions, so the program must not inherit them.
    sigset_t all;
    sigemptyset(&all);
    if (sigprocmask(SIG_SETMASK, &all, nullptr) != 0) return errno;
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, nullptr);  // EINVAL for the few reserved numbers is expected
    }
    return 0;
}

int step_close_parent_fds(State& s) {
    for (int fd : s.plan->parent_fds)
        if (fd >= 0 && close(fd) != 0) return errno;
    return 0;
}

int parent_gone(int go_fd) {
    // The parent holds the go pipe's write end until it has seen us exec; POLLHUP means it died.
    struct pollfd p = {go_fd, POLLIN, 0};
    if (poll(&p, 1, 0) < 0) return errno;
    return (p.revents & POLLHUP) ? ESRCH : 0;
}

int step_pdeathsig(State&) {
    // Supervisor dies -> we (pid 1 of the namespace) die -> the kernel kills the whole namespace.
    return prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 ? 0 : errno;
}

int step_sync(State& s) {
    char go;
    ssize_t n;
    do {
        n = read(s.plan->go_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == 1 ? 0 : ESRCH;  // EOF: the parent gave up on us
}

int step_cgroupns(State&) {
    // Now that we are in the run's leaf (born there on v2; on v1 the cgroup step or the
    // parent's attach before the go byte put us there), a new cgroup namespace makes that leaf
    // our "/": the program learns nothing about the host's cgroup layout.
    return unshare(CLONE_NEWCGROUP) == 0 ? 0 : errno;
}

int step_prepare_mounts(State& s) {
    return mounts::prepare_in_child(*s.plan->mounts, s.tree_fds, &s.detail);
}

int step_identity(State& s) {
    const Plan& p = *s.plan;
    // Keep the user namespace's capabilities across the switch to the unprivileged inside uid:
    // the mount tree is built as that uid so the files it creates are owned by a mapped id.
    if (prctl(PR_SET_KEEPCAPS, 1) != 0) return errno;
    // Raw syscalls, not glibc's wrappers: in a multithreaded supervisor glibc's set*id functions
    // signal every thread it knows of and wait for each to follow (POSIX per-process ids). This
    // child is a clone3 copy of one thread; the others do not exist here, and the wrapper can
    // wait for them forever. The kernel calls change just this one thread, which is all there is.
    //
    // Drop the supervisor's supplementary groups (root's group 0 among them). Only possible
    // when the parent was privileged; otherwise setgroups is denied and there are none to drop
    // that the kernel would let us drop anyway.
    if (p.allow_setgroups && syscall(SYS_setgroups, 0, nullptr) != 0) return errno;
    if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) return errno;
    if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) return errno;
    if (int err = caps::raise_effective(*p.caps)) return err;
    // The uid change cleared the parent-death signal (prctl(2)); arm it again and make sure the
    // parent did not die in between.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return errno;
    return parent_gone(p.go_fd);
}

int step_mounts(State& s) { return mounts::apply_in_child(*s.plan->mounts, s.tree_fds, &s.detail); }

int step_hostname(State& s) {
    const char* name = s.plan->hostname;
    return sethostname(name, strlen(name)) == 0 ? 0 : errno;
}

int step_loopback(State& s) {
    if (!s.plan->loopback) return 0;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return errno;
    struct ifreq ifr = {};
    memcpy(ifr.ifr_name, "lo", 3);
    ifr.ifr_flags = IFF_UP | IFF_RUNNING;
    int err = ioctl(sock, SIOCSIFFLAGS, &ifr) == 0 ? 0 : errno;
    close(sock);
    return err;
}

int step_stdio(State& s) {
    const Plan& p = *s.plan;
    int in = p.stdin_fd;
    if (in < 0) {
        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0) return errno;
    }
    if (dup2(in, STDIN_FILENO) < 0 || dup2(p.stdout_fd, STDOUT_FILENO) < 0 ||
        dup2(p.stderr_fd, STDERR_FILENO) < 0)
        return errno;
    return 0;
}

int step_rlimits(State& s) { return rlimits::apply(*s.plan->rlimits); }

int step_fds(State&) {
    // Every inherited descriptor beyond 0-2 closes at execve. CLOEXEC rather than close so the
    // report pipe survives until the exec itself (its EOF is the success signal).
    return close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0 ? 0 : errno;
}

int step_stdin_file(State& s) {
    if (s.stdin_file == nullptr) return 0;
    if (s.plan->workspace == nullptr) return ENOENT;
    // The check and the use are one operation: openat2 resolves the path beneath the workspace
    // and refuses (EXDEV) any ".." or absolute symlink that would leave it, and any /proc magic
    // link, whatever was swapped in since the supervisor looked at the path (openat2(2), Linux
    // 5.6). It runs as the sandbox user, under Landlock, in the sandbox's own mount tree.
    // O_NONBLOCK only for the open itself: a FIFO must not block it; the program reads normally.
    int dir = open(s.plan->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return errno;
    struct open_how how = {};
    how.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dir, s.stdin_file, &how, sizeof how);
    int err = fd < 0 ? errno : 0;
    close(dir);
    if (fd < 0) return err;
    int file = static_cast<int>(fd);
    if (fcntl(file, F_SETFL, 0) != 0 || dup2(file, STDIN_FILENO) < 0) err = errno;
    close(file);
    return err;
}

int step_caps(State& s) { return caps::drop_all(*s.plan->caps); }

int step_no_new_privs(State&) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno; }

int step_landlock(State& s) { return landlock::apply(*s.plan->landlock); }

int step_seccomp(State& s) { return seccomp::install(*s.plan->seccomp); }

int step_execve(State& s) {
    const Plan& p = *s.plan;
    const char* prog = s.argv[0];
    if (strchr(prog, '/') != nullptr) {
        execve(prog, s.argv, p.envp);
        return errno;
    }
    // PATH search without allocation, like execvpe: EACCES wins over ENOENT if any candidate
    // existed but could not be executed.
    int result = ENOENT;
    char path[4096];
    size_t prog_len = strlen(prog);
    for (const char* const* dir = p.path_dirs; dir && *dir; ++dir) {
        size_t dir_len = strlen(*dir);
        if (dir_len + 1 + prog_len + 1 > sizeof path) continue;
        memcpy(path, *dir, dir_len);
        path[dir_len] = '/';
        memcpy(path + dir_len + 1, prog, prog_len + 1);
        execve(path, s.argv, p.envp);
        if (errno == EACCES)
            result = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR)
            return errno;
    }
    return result;
}

// ---- warm-only steps (run_warm) ----------------------------------------------------------

int step_inherited_fds(State& s) {
    // A warm child lives on after its clone, so CLOEXEC is not enough: every supervisor fd it
    // inherited (other warm sandboxes' stdin pipes among them, whose EOF must reach their own
    // programs) is closed now. Kept: 0-2 (replaced below) and this child's five pipe ends.
    const Plan& p = *s.plan;
    int keep[5] = {p.go_fd, p.report_fd, p.stdin_fd, p.stdout_fd, p.stderr_fd};
    for (int i = 1; i < 5; ++i)  // insertion sort: no allocation, five elements
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned next = 3;
    for (int fd : keep) {
        if (fd < 3) return EBADF;  // the parent's pipes never sit on 0-2 (its stdio is open)
        if (static_cast<unsigned>(fd) > next &&
            close_range(next, static_cast<unsigned>(fd) - 1, 0) != 0)
            return errno;
        next = static_cast<unsigned>(fd) + 1;
    }
    return close_range(next, ~0U, 0) == 0 ? 0 : errno;
}

int step_warm_stdio(State& s) {
    // stdout/stderr are this sandbox's pipes from now on; stdin is /dev/null until the request
    // says otherwise, so the waiting child never holds the supervisor's own stdin.
    const Plan& p = *s.plan;
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) return errno;
    int err = 0;
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(p.stdout_fd, STDOUT_FILENO) < 0 ||
        dup2(p.stderr_fd, STDERR_FILENO) < 0)
        err = errno;
    close(null_fd);
    return err;
}

int step_request_buffer(State& s) {
    // Mapped now, before seccomp (which may not allow mmap) and without malloc (this is a clone
    // of one thread of a multithreaded process).
    void* buf = mmap(nullptr, warm_request::kBufferBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return errno;
    s.request_buf = static_cast<char*>(buf);
    return 0;
}

int step_ready(State& s) {
    ssize_t n;
    do {
        n = write(s.plan->report_fd, &kReady, sizeof kReady);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == static_cast<ssize_t>(sizeof kReady) ? 0 : EIO;
}

int step_request(State& s) {
    int err = warm_request::read_in_child(s.plan->go_fd, s.request_buf, &s.request);
    if (err == ESRCH) _exit(0);  // dismissed (pool shutdown) or the supervisor is gone: no report
    if (err != 0) return err;
    s.argv = s.request.argv;
    s.stdin_file = s.request.stdin_file;
    return 0;
}

int step_stdin(State& s) {
    if (!s.request.has_stdin) return 0;
    return dup2(s.plan->stdin_fd, STDIN_FILENO) < 0 ? errno : 0;
}

struct StepEntry {
    Step step;  // what a failure record names (step.h)
    int (*run)(State&);
};

// Order matters (STYLE.md §3): die-with-parent, wait for the maps, resolve host paths while
// still host root, switch identity, build and enter the new root, then tighten: rlimits, fds,
// capabilities, no_new_privs, Landlock, and seccomp last so the filter never has to allow the
// setup syscalls themselves.
constexpr StepEntry kSteps[] = {
    // First: everything after this is charged to the run's cgroup, as on v2 (born there).
    {Step::Cgroup, step_cgroup},
    {Step::Signals, step_signals},
    {Step::ParentFds, step_close_parent_fds},
    {Step::Pdeathsig, step_pdeathsig},
    {Step::Sync, step_sync},
    {Step::CgroupNamespace, step_cgroupns},
    {Step::MountSources, step_prepare_mounts},
    {Step::Identity, step_identity},
    {Step::Mounts, step_mounts},
    {Step::Hostname, step_hostname},
    {Step::Loopback, step_loopback},
    {Step::Stdio, step_stdio},
    {Step::Fds, step_fds},
    {Step::Capabilities, step_caps},
    {Step::NoNewPrivs, step_no_new_privs},
    {Step::Landlock, step_landlock},
    // After Landlock: a cold child still holds the supervisor's descriptors (close-on-exec, not
    // closed), so with a policy's low open_files limit the ruleset and path fds Landlock opens
    // would fail with EMFILE whenever the supervisor has more fds than that limit.
    {Step::Rlimits, step_rlimits},
    // As the sandbox user, in its own tree, under Landlock, before seccomp (a strict profile
    // allows openat2 anyway: the warm child does this step after it).
    {Step::StdinFile, step_stdin_file},
    {Step::Seccomp, step_seccomp},
    {Step::Execve, step_execve},
};

// A warm sandbox does every step that does not depend on the call before it waits: the same
// list and order as kSteps, with the tightening (rlimits .. seccomp) done at fill time. Only
// reading the request, stdin and execve remain for the call. Doing the tightening earlier is
// at least as safe: the child runs restricted for longer, and what it still does afterwards
// (read, dup2, open/openat2/fcntl/close for a stdin file, execve, write, exit) is allowed by
// every profile (seccomp.cc).
constexpr StepEntry kWarmSteps[] = {
    {Step::Cgroup, step_cgroup},  // before inherited fds closes the tasks files
    {Step::Signals, step_signals},
    {Step::InheritedFds, step_inherited_fds},
    {Step::Pdeathsig, step_pdeathsig},
    {Step::Sync, step_sync},
    {Step::CgroupNamespace, step_cgroupns},
    {Step::MountSources, step_prepare_mounts},
    {Step::Identity, step_identity},
    {Step::Mounts, step_mounts},
    {Step::Hostname, step_hostname},
    {Step::Loopback, step_loopback},
    {Step::Stdio, step_warm_stdio},
    {Step::RequestBuffer, step_request_buffer},
    {Step::Fds, step_fds},
    {Step::Capabilities, step_caps},
    {Step::NoNewPrivs, step_no_new_privs},
    {Step::Landlock, step_landlock},
    // After Landlock, as in kSteps.
    {Step::Rlimits, step_rlimits},
    {Step::Seccomp, step_seccomp},
    {Step::Ready, step_ready},
    {Step::Request, step_request},
    {Step::Stdin, step_stdin},
    {Step::StdinFile, step_stdin_file},
    {Step::Execve, step_execve},
};

[[noreturn]] void run_steps(const Plan& plan, const StepEntry* steps, size_t count) {
    State state{&plan, {}, -1, plan.argv, plan.stdin_file, nullptr, {}};
    for (size_t i = 0; i < count; ++i) {
        state.detail = -1;
        int err = steps[i].run(state);
        if (err == 0) continue;
        Failure f{steps[i].step, err, state.detail};
        ssize_t ignored = write(plan.report_fd, &f, sizeof f);  // parent may be gone: nothing to do
        (void)ignored;
        _exit(127);
    }
    _exit(127);  // unreachable: execve either replaced us or failed above
}

}  // namespace

void run(const Plan& plan) { run_steps(plan, kSteps, std::size(kSteps)); }

void run_warm(const Plan& plan) { run_steps(plan, kWarmSteps, std::size(kWarmSteps)); }

}  // namespace sandbox::child
