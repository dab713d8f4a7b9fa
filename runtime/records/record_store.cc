// RecordStore: opening a store and the run life cycle (start / finish / refuse) with its
// markers. Recovery of interrupted runs is in record_recover.cc; the locked append path,
// rotation and retention in record_append.cc.
#include "runtime/records/record_store.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "runtime/base/json_reader.h"
#include "runtime/base/log.h"
#include "runtime/base/user_dirs.h"
#include "runtime/records/record_store_impl.h"
#include "runtime/records/redact.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

using sandbox::fail;
using sandbox::sys_error;

sandbox::Result<void> make_dirs(const std::string& path) {
    for (size_t pos = 1; pos != std::string::npos;) {
        pos = path.find('/', pos + 1);
        std::string partial = path.substr(0, pos);
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
            return fail(sys_error("records: mkdir(" + partial + ")"));
    }
    return {};
}

std::string client_summary(const records::ClientIdentity& c) {
    std::string s = c.transport;
    if (c.os_user)
        s += ":" + (c.os_user->name.empty() ? std::to_string(c.os_user->uid) : c.os_user->name);
    if (!c.token_client.empty()) s += ":" + c.token_client;
    return s;
}

void send_syslog(bool enabled, const std::string& line) {
    if (enabled) send_record_syslog(line);
}

std::string sanitize_for_syslog(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == ' ') c = '_';
    return s.substr(0, 128);
}

}  // namespace

sandbox::Result<std::string> default_records_dir() {
    if (const char* env = std::getenv("TOOLJAIL_RECORDS"); env && *env) return std::string(env);
    if (::geteuid() == 0) return std::string("/var/lib/tooljail/records");
    auto state = user_state_home("pass --records DIR (or set TOOLJAIL_RECORDS)");
    if (!state) return sandbox::fail(std::move(state).error().with_prefix("records: "));
    return *state + "/tooljail/records";
}

sandbox::Result<Retention> load_retention(const std::string& dir) {
    Retention r;
    std::string file = dir + "/retention.json";
    auto text = sandbox::sys::read_file(file, 1 << 16);
    if (!text) {
        if (text.error().sys_errno == ENOENT) return r;
        return fail(std::move(text).error().with_prefix("records: "));
    }
    json_reader::Context ctx(file);
    auto doc = json_reader::parse(ctx, *text);
    if (!doc) return fail(std::move(doc).error());
    auto root = json_reader::as_object(ctx, *doc, "",
                                       {"max_age", "max_bytes", "segment_bytes", "segment_age"});
    if (!root) return fail(std::move(root).error());
    for (const char* key : {"max_age", "segment_age"}) {
        std::string v;
        if (!root->get(key)) continue;
        SBX_TRY(json_reader::read_string(ctx, *root, key, v));
        auto secs = units::parse_duration_seconds(v);
        if (!secs)
            return ctx.bad(
                root->at(key),
                "expected a duration like \"90d\", \"12h\" or \"0\" (got \"" + v + "\")");
        (std::string_view(key) == "max_age" ? r.max_age_seconds : r.segment_age_seconds) = *secs;
    }
    for (const char* key : {"max_bytes", "segment_bytes"}) {
        std::string v;
        if (!root->get(key)) continue;
        SBX_TRY(json_reader::read_string(ctx, *root, key, v));
        auto bytes = units::parse_size(v);
        if (!bytes)
            return ctx.bad(root->at(key),
                           "expected a size like \"1G\", \"512M\" or \"0\" (got \"" + v + "\")");
        (std::string_view(key) == "max_bytes" ? r.max_bytes : r.segment_bytes) = *bytes;
    }
    if (r.segment_bytes < 4096) r.segment_bytes = 4096;
    return r;
}

sandbox::Result<void> save_retention(const std::string& dir, const Retention& r) {
    nlohmann::json doc = {{"max_age", std::to_string(r.max_age_seconds) + "s"},
                          {"max_bytes", std::to_string(r.max_bytes)},
                          {"segment_bytes", std::to_string(r.segment_bytes)},
                          {"segment_age", std::to_string(r.segment_age_seconds) + "s"}};
    std::string tmp = dir + "/.retention.json.tmp", file = dir + "/retention.json";
    auto fd = sandbox::sys::open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!fd) return fail(std::move(fd).error().with_prefix("records: "));
    SBX_TRY(sandbox::sys::write_all(fd->get(), doc.dump(2) + "\n"));
    if (::fsync(fd->get()) != 0) return fail(sys_error("records: fsync(" + tmp + ")"));
    if (::rename(tmp.c_str(), file.c_str()) != 0)
        return fail(sys_error("records: rename(" + file + ")"));
    return fsync_dir(dir);
}

sandbox::Result<std::unique_ptr<RecordStore>> RecordStore::open(const RecordOptions& options) {
    std::string dir = options.dir;
    if (dir.empty()) {
        auto fallback = default_records_dir();
        if (!fallback) return fail(std::move(fallback).error());
        dir = std::move(*fallback);
    }
    if (dir.empty() || dir[0] != '/') {
        char cwd[4096];
        if (!::getcwd(cwd, sizeof cwd)) return fail(sys_error("records: getcwd"));
        dir = std::string(cwd) + "/" + dir;
    }
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    SBX_TRY(make_dirs(dir));
    SBX_TRY(make_dirs(dir + "/open"));
    SBX_TRY(make_dirs(dir + "/output"));
    std::unique_ptr<RecordStore> store(new RecordStore());
    store->dir_ = dir;
    if (options.retention) {
        store->retention_ = *options.retention;
    } else {
        auto r = load_retention(dir);
        if (!r) return fail(std::move(r).error());
        store->retention_ = *r;
    }
    store->impl_ = std::make_unique<Impl>();
    Impl& impl = *store->impl_;
    impl.dir = dir;
    impl.retention = store->retention_;
    impl.syslog = options.syslog;
    impl.supervisor = own_identity();
    auto lock = sandbox::sys::open_file(dir + "/journal.lock", O_RDWR | O_CREAT, 0600);
    if (!lock) return fail(std::move(lock).error().with_prefix("records: "));
    impl.lock_fd = std::move(*lock);
    // Probe the journal now, so an unusable store fails at open rather than at the first run.
    {
        std::lock_guard<std::mutex> guard(impl.mu);
        SBX_TRY(impl.lock_journal());
        auto probed = impl.append_locked({}, false, nullptr, nullptr);
        impl.unlock_journal();
        if (!probed) return fail(std::move(probed).error());
    }
    if (options.syslog) open_record_syslog();
    if (auto rebooted = recover_previous_boot(impl); !rebooted)
        LOG_WARN("records: recovering the runs of the previous boot: {}",
                 rebooted.error().message());
    if (auto recovered = store->recover(); !recovered)
        LOG_WARN("records: recovering interrupted runs: {}", recovered.error().message());
    return store;
}

RecordStore::~RecordStore() {
    if (!impl_) return;
    {
        std::lock_guard<std::mutex> guard(impl_->mu);
        for (const auto& [run_id, run] : impl_->open_runs) {
            bool pending = false;
            for (const auto& p : impl_->pending_interrupted)
                pending = pending || p.run_id == run_id;
            if (!pending)
                impl_->pending_interrupted.push_back(
                    {run_id, "the supervisor closed the record store without finishing the run",
                     ""});
        }
    }
    if (!impl_->pending_interrupted.empty()) {
        if (auto r = impl_->append({}); !r) LOG_ERROR("records: {}", r.error().message());
    }
}

sandbox::Result<RecordStore::Started> RecordStore::start(const records::RunStart& run) {
    records::RunStart r = run;
    if (r.run_id.empty()) r.run_id = sandbox::new_run_id();
    if (!sandbox::valid_run_id(r.run_id))
        return fail(sandbox::Errc::InvalidArgument, "records: run id must be 1..64 of [a-z0-9-]");
    if (r.trace_id.empty()) r.trace_id = records::new_trace_id();
    std::vector<std::string> pointers;
    redact::redact_json(r.arguments, "/arguments", pointers);
    redact::redact_argv(r.argv, "/argv", pointers);
    redact::redact_env(r.env, "/env", pointers);
    r.redacted = !pointers.empty();
    r.redacted_pointers = std::move(pointers);

    // The marker is made under a temporary name, locked, then linked into place: its final name
    // never refers to an unlocked file while the run lives.
    uint64_t segment_hint;
    {
        std::lock_guard<std::mutex> guard(impl_->mu);
        segment_hint = impl_->seg_number;
    }
    std::string tmp = impl_->path("open/.tmp-" + r.run_id),
                marker_path = impl_->path("open/" + r.run_id);
    auto marker = sandbox::sys::open_file(tmp, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (!marker) return fail(std::move(marker).error().with_prefix("records: "));
    nlohmann::json content = {{"run_id", r.run_id},
                              {"segment", segment_hint},
                              {"pid", impl_->supervisor.pid},
                              {"start_ticks", impl_->supervisor.start_ticks},
                              {"boot_id", impl_->supervisor.boot_id}};
    auto made = [&]() -> sandbox::Result<void> {
        if (::flock(marker->get(), LOCK_EX | LOCK_NB) != 0)
            return fail(sys_error("records: flock(" + tmp + ")"));
        if (auto w = sandbox::sys::write_all(marker->get(), content.dump()); !w)
            return fail(std::move(w).error().with_prefix("records: " + tmp + ": "));
        if (::link(tmp.c_str(), marker_path.c_str()) != 0)
            return fail(sys_error("records: link(" + marker_path + ")"));
        ::unlink(tmp.c_str());
        // Not fsync'd: a marker only has to outlive its supervisor process, which the page cache
        // does. A power cut is caught by the boot check in open() instead.
        return sandbox::Result<void>();
    }();
    if (!made) {
        ::unlink(tmp.c_str());
        return fail(std::move(made).error());
    }

    // With the reserve in place: a run starts only when its end can be recorded on a full disk.
    bool landed = false;
    auto appended = impl_->append(
        {records::start_entry(r, impl_->supervisor, std::chrono::system_clock::now())}, &landed,
        true);
    std::lock_guard<std::mutex> guard(impl_->mu);
    OpenRun open_run{std::move(*marker), r.tool.empty() && !r.argv.empty() ? r.argv[0] : r.tool,
                     client_summary(r.client)};
    if (!appended) {
        if (landed) {
            open_run.segment = impl_->seg_number;
            impl_->open_runs.emplace(r.run_id, std::move(open_run));
            impl_->pending_interrupted.push_back(
                {r.run_id, "the start entry could not be synced: " + appended.error().message(),
                 appended.error().sys_errno ? sandbox::sys::errno_name(appended.error().sys_errno)
                                            : ""});
        } else {
            ::unlink(marker_path.c_str());
        }
        return fail(std::move(appended).error());
    }
    open_run.segment = appended->segment;
    impl_->open_runs.emplace(r.run_id, std::move(open_run));
    return Started{r.run_id, r.trace_id, appended->first_seq};
}

sandbox::Result<void> RecordStore::finish(const std::string& run_id,
                                          const sandbox::Outcome& outcome) {
    OpenRun* run = nullptr;
    {
        std::lock_guard<std::mutex> guard(impl_->mu);
        auto it = impl_->open_runs.find(run_id);
        if (it == impl_->open_runs.end())
            return fail(sandbox::Errc::InvalidArgument,
                        "records: run " + run_id + " was not started by this store");
        for (const auto& pending : impl_->pending_interrupted)
            if (pending.run_id == run_id)
                return fail(sandbox::Errc::InvalidArgument, "records: run " + run_id +
                                                                " already failed to finish; "
                                                                "it is recorded as interrupted");
        run = &it->second;  // std::map nodes are stable; only this call erases this run
    }
    // Output files (as far as the store's budget allows) and the end entry, under the lock.
    auto finished = impl_->append_end(run_id, outcome);
    std::lock_guard<std::mutex> guard(impl_->mu);
    if (!finished) {
        const sandbox::Error& e = finished.error();
        impl_->pending_interrupted.push_back(
            {run_id, "the end entry could not be written: " + e.message(),
             e.sys_errno ? sandbox::sys::errno_name(e.sys_errno) : ""});
        return fail(std::move(finished).error());
    }
    send_syslog(impl_->syslog,
                "record run_id=" + run_id + " status=" + sandbox::termination_name(outcome.reason) +
                    " exit=" + std::to_string(outcome.exit_code) + " signal=" +
                    std::to_string(outcome.signal) + " tool=" + sanitize_for_syslog(run->tool) +
                    " client=" + sanitize_for_syslog(run->client) +
                    " wall_ms=" + std::to_string(outcome.wall.count()) + " seq=" +
                    std::to_string(finished->first_seq) + " hash=" + finished->hashes.back());
    ::unlink(impl_->path("open/" + run_id).c_str());
    impl_->open_runs.erase(run_id);
    return {};
}

sandbox::Result<std::string> RecordStore::refuse(const records::Refusal& refusal) {
    records::Refusal r = refusal;
    if (r.run.run_id.empty()) r.run.run_id = sandbox::new_run_id();
    if (!sandbox::valid_run_id(r.run.run_id))
        return fail(sandbox::Errc::InvalidArgument, "records: run id must be 1..64 of [a-z0-9-]");
    if (r.run.trace_id.empty()) r.run.trace_id = records::new_trace_id();
    std::vector<std::string> pointers;
    redact::redact_json(r.run.arguments, "/arguments", pointers);
    redact::redact_argv(r.run.argv, "/argv", pointers);
    redact::redact_env(r.run.env, "/env", pointers);
    redact::redact_text(r.message);
    r.run.redacted = !pointers.empty();
    r.run.redacted_pointers = std::move(pointers);
    auto appended = impl_->append(
        {records::refused_entry(r, impl_->supervisor, std::chrono::system_clock::now())});
    if (!appended) return fail(std::move(appended).error());
    send_syslog(impl_->syslog,
                "record run_id=" + r.run.run_id +
                    " status=refused reason=" + sanitize_for_syslog(r.reason) + " tool=" +
                    sanitize_for_syslog(r.run.tool.empty() && !r.run.argv.empty() ? r.run.argv[0]
                                                                                  : r.run.tool) +
                    " client=" + sanitize_for_syslog(client_summary(r.run.client)) + " seq=" +
                    std::to_string(appended->first_seq) + " hash=" + appended->hashes.back());
    return r.run.run_id;
}

sandbox::Result<PruneReport> RecordStore::prune() {
    std::lock_guard<std::mutex> guard(impl_->mu);
    SBX_TRY(impl_->lock_journal());
    auto r = impl_->prune_locked();
    impl_->unlock_journal();
    return r;
}

}  // namespace runtime
