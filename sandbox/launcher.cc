#include "sandbox/launcher.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "sandbox/caps.h"
#include "sandbox/child.h"
#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/namespaces.h"
#include "sandbox/pool.h"
#include "sandbox/prepared.h"
#include "sandbox/reaper.h"
#include "sandbox/rlimits.h"
#include "sandbox/run_impl.h"
#include "sandbox/seccomp.h"
#include "sandbox/spawn.h"
#include "sandbox/step.h"
#include "sandbox/warm_child.h"
#include "sandbox/warm_request.h"
#include "sandbox/workspace_access.h"

namespace sandbox {
namespace {

Result<void> make_dirs(const std::string& path, mode_t mode) {
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        partial = path.substr(0, pos);
        if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
            return fail(sys_error("mkdir(" + partial + ")"));
    }
    return {};
}

std::string default_runtime_dir() {
    if (::geteuid() == 0) return "/run/tooljail";
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg == '/') return std::string(xdg) + "/tooljail";
    return "/tmp/tooljail-" + std::to_string(::geteuid());
}

std::vector<std::string> split_path(const std::vector<std::string>& env) {
    std::vector<std::string> dirs;
    for (const std::string& kv : env) {
        if (kv.rfind("PATH=", 0) != 0) continue;
        std::string value = kv.substr(5);
        size_t start = 0;
        while (start <= value.size()) {
            size_t end = value.find(':', start);
            if (end == std::string::npos) end = value.size();
            std::string dir = value.substr(start, end - start);
            if (!dir.empty() && dir[0] == '/') dirs.push_back(dir);  // relative PATH entries: never
            start = end + 1;
        }
    }
    return dirs;
}

// sched_getaffinity(2): the CPUs this process may run on; 0 if it cannot be read.
uint32_t affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return static_cast<uint32_t>(CPU_COUNT(&set));
}

}  // namespace

uint32_t effective_cpu_percent(const Limits& limits, uint32_t capacity_percent) {
    if (limits.cpu_host_percent == 0 || capacity_percent == 0) return limits.cpu_percent;
    uint64_t share = uint64_t{capacity_percent} * limits.cpu_host_percent / 100;
    share = std::max<uint64_t>(share, 1);
    if (limits.cpu_percent != 0) share = std::min<uint64_t>(share, limits.cpu_percent);
    return static_cast<uint32_t>(share);
}

const char* termination_name(Termination t) {
    switch (t) {
        case Termination::Exit: return "exit";
        case Termination::Signaled: return "signaled";
        case Termination::Timeout: return "timeout";
        case Termination::CpuLimit: return "cpu_limit";
        case Termination::MemoryLimit: return "memory_limit";
        case Termination::PidsLimit: return "pids_limit";
        case Termination::OutputCap: return "output_cap";
        case Termination::Cancelled: return "cancelled";
        case Termination::SeccompViolation: return "seccomp_violation";
        case Termination::SandboxError: return "sandbox_error";
    }
    return "sandbox_error";
}

Result<std::shared_ptr<Host>> Host::open(const HostOptions& options) {
    auto host = std::make_shared<Host>();
    host->is_root_ = ::geteuid() == 0;
    host->probe_cgroups_ = options.probe_cgroups;
    host->runtime_dir_ = options.runtime_dir.empty() ? default_runtime_dir() : options.runtime_dir;
    // The staging directory is only a mount point inside each child's private mount namespace.
    // It must be traversable by the child while it is still host root in its user namespace.
    SBX_TRY(make_dirs(host->runtime_dir_ + "/root", 0755));
    auto cg = cgroup::Hierarchy::detect(options.cgroup_parent);
    if (!cg) return fail(std::move(cg).error());
    host->cgroups_ = std::move(*cg);
    // Leaves of a supervisor that died mid-run (its processes are killed with them). Best
    // effort: a leaf that cannot be removed now is retried at the next start.
    auto stale = cgroup::remove_stale_leaves(host->cgroups_);
    (void)stale;
    host->landlock_abi_ = landlock::abi_version();
    // What "the host" means for a policy's cpu_host_percent: a supervisor in a container with a
    // CPU quota but every CPU in its affinity mask gets that quota, not the machine's CPUs.
    uint32_t capacity = affinity_cpus() * 100;
    uint32_t inherited = host->cgroups_.inherited_cpu_percent();
    if (inherited != 0 && (capacity == 0 || inherited < capacity)) capacity = inherited;
    host->cpu_capacity_percent_ = capacity;
    // Writing stdin to a program that exited must surface as EPIPE, not kill the supervisor.
    ::signal(SIGPIPE, SIG_IGN);
    if (options.pool.per_sandbox > 0) {
        host->pool_ = std::make_unique<pool::Pool>(options.pool);
        host->reaper_ = std::make_shared<Reaper>();
    }
    return host;
}

Host::Host() = default;
Host::~Host() = default;

struct Sandbox::Impl {
    std::shared_ptr<Host> host;
    std::shared_ptr<Prepared> prepared;  // shared with the pool's WarmSet
    Layers layers;
    // Declared after host: destroyed first, so the warm sandboxes go before the Pool does.
    std::shared_ptr<pool::WarmSet> warm;  // null when the Host has no pool
};

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sandbox::~Sandbox() = default;
const SandboxConfig& Sandbox::config() const { return impl_->prepared->config; }
const Layers& Sandbox::layers() const { return impl_->layers; }

Result<std::shared_ptr<const Sandbox>> Sandbox::prepare(const SandboxConfig& config,
                                                        std::shared_ptr<Host> host) {
    auto impl = std::make_unique<Impl>();
    impl->host = host;
    impl->prepared = std::make_shared<Prepared>();
    Prepared& prep = *impl->prepared;
    prep.config = config;
    prep.cgroups = host->cgroups();
    const std::string label = "policy '" + config.name + "': ";
    // A share of the host becomes a plain quota here, so the leaf, the records and config()
    // all see the CPU the run really gets.
    prep.config.limits.cpu_percent =
        effective_cpu_percent(config.limits, host->cpu_capacity_percent());
    const SandboxConfig& c = prep.config;

    if (c.uid == 0 || c.gid == 0)
        return fail(Errc::InvalidArgument, label + "identity: the sandbox never runs as uid/gid 0");
    if (c.limits.wall_timeout.count() <= 0)
        return fail(Errc::InvalidArgument, label + "limits: wall timeout must be positive");

    // Identity: one inside id mapped to one host id. Only root may pick the host id; an
    // unprivileged supervisor can only map its own.
    auto& ids = prep.ids;
    ids.inside_uid = c.uid;
    ids.inside_gid = c.gid;
    // Invalid whoever asks (an unprivileged supervisor could not map it anyway).
    if (c.host_uid == 0u || c.host_gid == 0u)
        return fail(Errc::InvalidArgument, label + "identity: host uid/gid 0 would be real root");
    if (host->is_root()) {
        ids.host_uid = c.host_uid.value_or(65534);
        ids.host_gid = c.host_gid.value_or(65534);
        ids.allow_setgroups = true;
    } else {
        ids.host_uid = ::geteuid();
        ids.host_gid = ::getegid();
        if ((c.host_uid && *c.host_uid != ids.host_uid) ||
            (c.host_gid && *c.host_gid != ids.host_gid))
            return fail(Errc::Unsupported,
                        label + "user namespace: mapping to another host uid/gid requires root");
        ids.allow_setgroups = false;
    }
    if (auto access = check_workspace_access(c.workspace, ids); !access)
        return fail(std::move(access).error().with_prefix(label + "mounts: "));

    std::string uid = std::to_string(c.uid), gid = std::to_string(c.gid);
    std::string passwd =
        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        "sandbox:x:" +
        uid + ":" + gid +
        ":tooljail sandbox:/tmp:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    std::string group = "root:x:0:\nsandbox:x:" + gid + ":\nnogroup:x:65534:\n";
    auto mounts = mount_plan::build(c, host->runtime_dir() + "/root", passwd, group);
    if (!mounts) return fail(std::move(mounts).error().with_prefix(label));
    prep.mounts = std::move(*mounts);

    auto filter = seccomp::compile(c.seccomp);
    if (!filter) return fail(std::move(filter).error().with_prefix(label));
    prep.seccomp = std::move(*filter);

    auto caps = caps::prepare();
    if (!caps) return fail(std::move(caps).error().with_prefix(label + "capabilities: "));
    prep.caps = std::move(*caps);

    prep.rlimits = rlimits::plan(c.limits);

    auto ll = landlock::plan(
        c.landlock, {"/"},
        {"/tmp", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}, c.loopback,
        c.executables);
    if (!ll) return fail(std::move(ll).error().with_prefix(label));
    prep.landlock = std::move(*ll);

    // Fail closed on cgroups now rather than at the first call: the leaf creation at launch
    // repeats the same checks, but a policy asking for a controller the host lacks must not load.
    // A one-shot caller (HostOptions::probe_cgroups off) launches next and fails there instead.
    const auto& cg = host->cgroups();
    prep.cgroup_limits.memory_bytes = c.limits.memory_bytes;
    prep.cgroup_limits.pids = c.limits.pids;
    prep.cgroup_limits.cpu_percent = c.limits.cpu_percent;
    prep.cgroup_limits.need_cpu_usage = true;
    if (host->probe_cgroups()) {
        auto probe = cgroup::Leaf::create(cg, new_probe_leaf_name(), prep.cgroup_limits);
        if (!probe) return fail(std::move(probe).error().with_prefix(label));
    }

    prep.path_dirs = split_path(c.env);
    for (const auto& d : prep.path_dirs) prep.path_ptrs.push_back(d.c_str());
    prep.path_ptrs.push_back(nullptr);
    for (const auto& kv : prep.config.env) prep.envp.push_back(const_cast<char*>(kv.c_str()));
    prep.envp.push_back(nullptr);

    Layers& l = impl->layers;
    l.namespaces = namespaces::names();
    l.seccomp_profile = prep.seccomp.profile;
    l.cgroup = cg.describe();
    l.landlock_abi = prep.landlock.enabled ? prep.landlock.abi : 0;
    l.uid = c.uid;
    l.host_uid = ids.host_uid;
    if (host->pool()) impl->warm = host->pool()->add(impl->prepared);
    return std::shared_ptr<const Sandbox>(new Sandbox(std::move(impl)));
}

Result<std::unique_ptr<Run>> Sandbox::launch(const RunRequest& request) const {
    const Prepared& s = *impl_->prepared;
    auto refuse = [](std::string context) {
        return fail(make_error(Errc::InvalidArgument, std::move(context)).at_step(Step::Launch));
    };
    if (request.argv.empty() || request.argv[0].empty()) return refuse("launch: empty argv");
    for (const auto& arg : request.argv)
        if (arg.find('\0') != std::string::npos) return refuse("launch: argv element contains NUL");
    if (request.stdin_data && request.stdin_data->size() > s.config.limits.stdin_bytes)
        return refuse("launch: stdin larger than the policy's stdin_bytes (" +
                      std::to_string(s.config.limits.stdin_bytes) + ")");
    if (request.stdin_file) {
        const std::string& f = *request.stdin_file;
        if (request.stdin_data) return refuse("launch: stdin data and a stdin file at once");
        if (s.config.workspace.empty()) return refuse("launch: a stdin file needs a workspace");
        if (f.empty() || f[0] == '/' || f.find('\0') != std::string::npos || f.size() > 4095)
            return refuse("launch: the stdin file must be a relative path within PATH_MAX");
    }

    // The id names the run (records, resources) and, on the cold path, its cgroup leaf: one
    // path component, no "." or "..", nothing a shell or a log line could misread.
    if (!request.run_id.empty() && !valid_run_id(request.run_id))
        return refuse("launch: run id must be 1..64 of [a-z0-9-]");
    std::string id = request.run_id.empty() ? new_run_id() : request.run_id;
    auto finish_parts = [&](RunParts& parts) {
        parts.id = id;
        parts.limits = s.config.limits;
        parts.wall_timeout = s.config.limits.wall_timeout;
        if (request.wall_timeout && *request.wall_timeout < parts.wall_timeout)
            parts.wall_timeout = *request.wall_timeout;
        if (request.stdin_data) parts.stdin_data = *request.stdin_data;
        parts.reaper = impl_->host->reaper();
    };

    if (pool::WarmSet* warm = impl_->warm.get(); warm && warm->usable_here()) {
        // Warm path: only the request crosses; a request too big for the warm child's buffer,
        // an empty pool or a warm sandbox that died all mean the cold path below.
        bool dead = false;
        if (auto encoded = warm_request::encode(request.argv, request.stdin_data.has_value(),
                                                request.stdin_file)) {
            while (auto child = warm->take()) {
                if (!child->binds_current(s)) {  // the workspace was replaced or deleted
                    child->retire(*impl_->host->reaper());
                    dead = true;
                    continue;
                }
                bool fall_back = false;
                auto started = warm::start(*child, s, *encoded, request.stdin_data.has_value(),
                                           request.stdin_file.value_or(""), id, &fall_back);
                // Killing, reaping and removing the leaf of a failed warm sandbox can wait for
                // the kernel; the reaper does it (the pool implies one).
                if (!started) child->retire(*impl_->host->reaper());
                if (!started && fall_back) {
                    dead = true;
                    continue;
                }
                warm->count_launch(true, dead);
                if (!started) return fail(std::move(started).error());
                finish_parts(*started);
                return make_run(std::move(*started));
            }
        }
        warm->count_launch(false, dead);
    }

    // Cold path: the shared sequence (spawn.h) with this call's leaf name, argv and stdin.
    std::vector<char*> argv;
    for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    SpawnOptions options;
    options.leaf_name = id;
    options.entry = child::run;
    options.argv = argv.data();
    options.stdin_file = request.stdin_file ? request.stdin_file->c_str() : nullptr;
    options.stdin_pipe = request.stdin_data.has_value();
    auto spawned = spawn(s, options);
    if (!spawned) return fail(std::move(spawned).error());
    // A failure from here on leaves the child in *spawned, whose destructor kills and reaps it
    // and removes its leaf before launch returns.
    auto parts =
        await_exec(*spawned, s, LaunchNames{request.argv[0], request.stdin_file.value_or("")});
    if (!parts) return fail(std::move(parts).error());
    finish_parts(*parts);
    return make_run(std::move(*parts));
}

bool Sandbox::wait_warm(size_t count, Millis timeout) const {
    return impl_->warm && impl_->warm->wait_ready(count, timeout);
}

PoolStats Sandbox::pool_stats() const { return impl_->warm ? impl_->warm->stats() : PoolStats{}; }

Outcome launch_failure(const Error& e) {
    Outcome o;
    o.reason = Termination::SandboxError;
    o.failed_errno = e.sys_errno;
    o.failed_step = e.step;
    o.error_message = e.message();
    return o;
}

Outcome run_once(const Sandbox& sandbox, const RunRequest& request, int cancel_fd) {
    auto run = sandbox.launch(request);
    if (!run) return launch_failure(run.error());
    return (*run)->wait(cancel_fd);
}

}  // namespace sandbox
