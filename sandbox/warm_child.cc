#include "sandbox/warm_child.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/base/sys.h"
#include "sandbox/child.h"
#include "sandbox/namespaces.h"
#include "sandbox/run_id.h"
#include "sandbox/warm_request.h"

namespace sandbox::warm {

namespace {

// (0, 0) for a source that cannot be stat'ed: it never matches one that can.
std::vector<std::pair<dev_t, ino_t>> bind_ids(const Prepared& prepared) {
    std::vector<std::pair<dev_t, ino_t>> ids;
    for (const auto& source : prepared.mounts.bind_sources) {
        struct stat st{};
        if (::stat(source.c_str(), &st) != 0) st = {};
        ids.emplace_back(st.st_dev, st.st_ino);
    }
    return ids;
}

}  // namespace

Child::~Child() { kill_and_reap(pidfd_.get()); }

bool Child::binds_current(const Prepared& prepared) const { return bind_ids(prepared) == binds_; }

bool Child::alive() const {
    if (!pidfd_.valid()) return false;
    // A pidfd polls readable once the process has exited.
    pollfd p{pidfd_.get(), POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc == 0;
}

void Child::retire(Reaper& reaper) {
    reaper.add(std::move(pidfd_), std::move(leaf_));
    pid_ = -1;
}

Result<Child> fill(const Prepared& prepared) {
    Child c;
    c.leaf_name_ = new_run_id();
    auto leaf = cgroup::Leaf::create(prepared.cgroups, c.leaf_name_, prepared.cgroup_limits);
    if (!leaf) return fail(std::move(leaf).error());
    c.leaf_ = std::move(*leaf);

    // A stdin pipe always: whether the call brings data is only known at the request.
    UniqueFd go_read, report_write, in_read, out_write, err_write;
    SBX_TRY(sys::make_pipe(go_read, c.request_write_));
    SBX_TRY(sys::make_pipe(c.report_read_, report_write));
    SBX_TRY(sys::make_pipe(in_read, c.stdin_write_));
    SBX_TRY(sys::make_pipe(c.stdout_read_, out_write));
    SBX_TRY(sys::make_pipe(c.stderr_read_, err_write));

    // Before the clone: a source replaced after this point, even while the child opens it,
    // reads as changed at start(), never as current.
    c.binds_ = bind_ids(prepared);
    child::Plan plan;
    fill_child_plan(prepared, plan);
    plan.go_fd = go_read.get();
    plan.report_fd = report_write.get();
    plan.stdin_fd = in_read.get();
    plan.stdout_fd = out_write.get();
    plan.stderr_fd = err_write.get();

    // The attach (v1) happens here, on the fill thread, not during a call.
    auto spawned = spawn_child(prepared, c.leaf_, plan, child::run_warm, c.request_write_.get(),
                               {&go_read, &report_write, &in_read, &out_write, &err_write});
    if (!spawned) return fail(std::move(spawned).error());
    // From here on, leaving early destroys c: the child is killed and reaped, the leaf removed.
    c.pid_ = spawned->pid;
    c.pidfd_ = std::move(spawned->pidfd);

    auto report = read_report(c.report_read_.get(), kSetupTimeoutMs);
    if (!report) return fail(std::move(report).error());
    if (!*report)
        return fail(make_error(Errc::Internal, "warm sandbox: the child ended before it was ready"));
    if ((*report)->step != child::kReadyStep)
        return fail(child_failure_error(prepared, **report, "(warm sandbox)"));
    // The preparation's CPU and memory high-water mark are not the program's.
    SBX_TRY(c.leaf_.reset_accounting());
    return c;
}

Result<RunParts> start(Child& child, const Prepared& prepared, const std::string& request,
                       bool has_stdin, const std::string& run_id, bool* fall_back) {
    *fall_back = true;
    if (!child.alive()) return fail(make_error(Errc::Internal, "warm sandbox: died while waiting"));
    // v1: the leaf takes the run's name, as on the cold path, so operators (and the records)
    // find a run's cgroup by its id. v2 cannot rename; the leaf keeps its fill-time name there.
    if (prepared.cgroups.version() == cgroup::Version::V1 && run_id != child.leaf_name_) {
        *fall_back = false;
        SBX_TRY(child.leaf_.rename(run_id));
        child.leaf_name_ = run_id;
        *fall_back = true;
    }
    // One write of at most warm_request::kMaxBytes (one pipe buffer) into the empty pipe: it
    // does not block. EPIPE (SIGPIPE is ignored, Host::open) means the child is gone.
    if (auto sent = sys::write_all(child.request_write_.get(), request); !sent)
        return fail(std::move(sent).error().with_prefix("warm sandbox: request: "));
    *fall_back = false;
    if (!has_stdin) child.stdin_write_.reset();  // the child uses /dev/null

    auto report = read_report(child.report_read_.get(), kSetupTimeoutMs);
    if (!report) return fail(std::move(report).error());
    if (*report) {
        // The request is NUL-free and non-empty (encode checked), so argv0 is its first string.
        const char* argv0 = request.c_str() + sizeof(warm_request::Header);
        return fail(child_failure_error(prepared, **report, argv0));
    }

    RunParts parts;
    for (UniqueFd* fd : {&child.stdin_write_, &child.stdout_read_, &child.stderr_read_}) {
        if (fd->valid() && ::fcntl(fd->get(), F_SETFL, O_NONBLOCK) != 0)
            return fail(sys_error("launch: fcntl(O_NONBLOCK)"));
    }
    parts.started = std::chrono::steady_clock::now();
    parts.pid = child.pid_;
    parts.pidfd = std::move(child.pidfd_);
    parts.stdin_write = std::move(child.stdin_write_);
    parts.stdout_read = std::move(child.stdout_read_);
    parts.stderr_read = std::move(child.stderr_read_);
    parts.leaf = std::move(child.leaf_);
    parts.warm = true;
    return parts;
}

}  // namespace sandbox::warm
