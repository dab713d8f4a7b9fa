#include "sandbox/warm_child.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/base/sys.h"
#include "sandbox/child.h"
#include "sandbox/run_id.h"
#include "sandbox/warm_request.h"

namespace sandbox::warm {

namespace {

// (0, 0) for a source that cannot be stat'ed: it never matches one that can.
std::vector<std::pair<dev_t, ino_t>> bind_ids(const Prepared& prepared) {
    std::vector<std::pair<dev_t, ino_t>> ids;
    for (const auto& source : prepared.mounts.bind_sources) {
        struct stat st {};
        if (::stat(source.c_str(), &st) != 0) st = {};
        ids.emplace_back(st.st_dev, st.st_ino);
    }
    return ids;
}

}  // namespace

Child::Child(Spawned spawned, std::string leaf_name, std::vector<std::pair<dev_t, ino_t>> binds)
    : spawned_(std::move(spawned)), leaf_name_(std::move(leaf_name)), binds_(std::move(binds)) {}

bool Child::binds_current(const Prepared& prepared) const { return bind_ids(prepared) == binds_; }

bool Child::alive() const {
    if (!spawned_.pidfd.valid()) return false;
    // A pidfd polls readable once the process has exited.
    pollfd p{spawned_.pidfd.get(), POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc == 0;
}

void Child::retire(Reaper& reaper) {
    reaper.add(std::move(spawned_.pidfd), std::move(spawned_.leaf));
    spawned_.pid = -1;
}

Result<Child> fill(const Prepared& prepared) {
    std::string leaf_name = new_run_id();
    // Before the clone: a source replaced after this point, even while the child opens it,
    // reads as changed at start(), never as current.
    auto binds = bind_ids(prepared);
    // The same sequence as a cold launch, into the warm entry: it closes every inherited fd,
    // stops after seccomp and waits for the request. The attach (v1) happens here, at fill
    // time, not during a call.
    SpawnOptions options;
    options.leaf_name = leaf_name;
    options.entry = child::run_warm;
    options.stdin_pipe = true;  // whether the call brings data is only known at the request
    auto spawned = spawn(prepared, options);
    if (!spawned) return fail(std::move(spawned).error());
    // From here on, leaving early destroys c: the child is killed and reaped, the leaf removed.
    Child c(std::move(*spawned), std::move(leaf_name), std::move(binds));

    auto report = read_report(c.spawned_.report_read.get(), kSetupTimeoutMs);
    if (!report) return fail(std::move(report).error());
    if (!*report)
        return fail(
            make_error(Errc::Internal, "warm sandbox: the child ended before it was ready"));
    if (!child::is_ready(**report))
        return fail(child_failure_error(prepared, **report,
                                        LaunchNames{"(warm sandbox)", {}, &c.spawned_.leaf}));
    // The preparation's CPU and memory high-water mark are not the program's.
    SBX_TRY(c.spawned_.leaf.reset_accounting());
    return c;
}

Result<RunParts> start(Child& child, const Prepared& prepared, const std::string& request,
                       bool has_stdin, std::string_view stdin_file, const std::string& run_id,
                       bool* fall_back) {
    *fall_back = true;
    if (!child.alive()) return fail(make_error(Errc::Internal, "warm sandbox: died while waiting"));
    // v1: the leaf takes the run's name, as on the cold path, so operators (and the records)
    // find a run's cgroup by its id. v2 cannot rename; the leaf keeps its fill-time name there.
    if (prepared.cgroups.version() == cgroup::Version::V1 && run_id != child.leaf_name_) {
        *fall_back = false;
        if (auto renamed = child.spawned_.leaf.rename(run_id); !renamed)
            return fail(std::move(renamed).error().at_step(Step::Cgroup));
        child.leaf_name_ = run_id;
        *fall_back = true;
    }
    // One write of at most warm_request::kMaxBytes (one pipe buffer) into the empty pipe: it
    // does not block. EPIPE (SIGPIPE is ignored, Host::open) means the child is gone.
    if (auto sent = sys::write_all(child.spawned_.go_write.get(), request); !sent)
        return fail(std::move(sent).error().with_prefix("warm sandbox: request: "));
    *fall_back = false;
    if (!has_stdin) child.spawned_.stdin_write.reset();  // the child uses /dev/null

    // The request is NUL-free and non-empty (encode checked), so argv0 is its first string.
    const char* argv0 = request.c_str() + sizeof(warm_request::Header);
    auto parts = await_exec(child.spawned_, prepared, LaunchNames{argv0, stdin_file});
    if (!parts) return fail(std::move(parts).error());
    parts->warm = true;
    return parts;
}

}  // namespace sandbox::warm
