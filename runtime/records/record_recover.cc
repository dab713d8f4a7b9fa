// Recovery of interrupted runs: markers whose supervisor is gone (same boot), and runs of a
// previous boot (a power cut), get their "interrupted" entry. See record_store.h.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "runtime/base/log.h"
#include "runtime/records/record_journal.h"
#include "runtime/records/record_store_impl.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

using sandbox::fail;
using sandbox::sys_error;

// A dead creator's half-made marker (".tmp-<id>") is removed only after this long, so a live
// creator between open() and flock() never loses its marker to a concurrent recovery.
constexpr std::chrono::seconds kTmpMarkerGrace{60};

// From /proc/<pid>/stat: field 3 (state) and field 22 (start time in clock ticks since boot).
struct ProcStat {
    char state = '?';
    uint64_t start_ticks = 0;
};
std::optional<ProcStat> proc_stat(const std::string& pid) {
    auto stat = sandbox::sys::read_file("/proc/" + pid + "/stat");
    if (!stat) return std::nullopt;
    size_t paren = stat->rfind(')');  // comm may contain spaces and parentheses
    if (paren == std::string::npos || paren + 2 >= stat->size()) return std::nullopt;
    ProcStat ps;
    ps.state = (*stat)[paren + 2];
    size_t pos = paren + 2;
    for (int field = 3; field < 22; ++field) {
        pos = stat->find(' ', pos);
        if (pos == std::string::npos) return std::nullopt;
        ++pos;
    }
    ps.start_ticks = std::strtoull(stat->c_str() + pos, nullptr, 10);
    return ps;
}

std::string boot_id() {
    auto id = sandbox::sys::read_file("/proc/sys/kernel/random/boot_id");
    if (!id) return "";
    while (!id->empty() && (id->back() == '\n' || id->back() == ' ')) id->pop_back();
    return *id;
}

// Belt and braces on top of the marker lock: a supervisor that is visibly alive (same pid, same
// start time, same boot) is never declared dead, even if its lock were somehow free.
bool visibly_alive(const nlohmann::json& marker, const records::Supervisor& self) {
    if (!marker.is_object() || !marker["pid"].is_number_integer() ||
        marker["boot_id"] != self.boot_id)
        return false;
    int pid = marker["pid"].get<int>();
    if (pid <= 0 || pid == self.pid) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    auto ps = proc_stat(std::to_string(pid));
    // A zombie (killed, not yet reaped by its parent) has closed its files: it is gone.
    return ps && ps->state != 'Z' && ps->state != 'X' && marker["start_ticks"] == ps->start_ticks;
}

// What the journal holds about a run, searched from a segment on: "none", "start" or "ended".
std::string run_state(const std::string& dir, const std::string& run_id, uint64_t from_segment) {
    std::string needle = "\"run_id\":\"" + run_id + "\"";
    std::string state = "none";
    auto segments = journal::list_segments(dir);
    if (!segments) return state;
    for (const auto& seg : *segments) {
        if (seg.number < from_segment) continue;
        auto r = journal::for_each_line(seg.path, 0, [&](const journal::Line& line) {
            if (!line.terminated || line.text.find(needle) == std::string_view::npos) return true;
            auto e = journal::parse_entry(line.text);
            if (!e || (*e)["run_id"] != run_id) return true;
            std::string type = (*e)["type"].is_string() ? (*e)["type"].get<std::string>() : "";
            if (type == "start" && state == "none") state = "start";
            if (type == "end" || type == "interrupted" || type == "refused") state = "ended";
            return true;
        });
        (void)r;
    }
    return state;
}

}  // namespace

records::Supervisor own_identity() {
    records::Supervisor s;
    s.pid = static_cast<int>(::getpid());
    if (auto ps = proc_stat("self")) s.start_ticks = ps->start_ticks;
    s.boot_id = boot_id();
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) s.hostname = host;
    s.version = TOOLJAIL_VERSION;
    return s;
}

// After a reboot, every run of the previous boot that has no end is over: markers need not be
// durable for this, so starting a run costs no directory fsync. boot.json remembers the boot
// id and the segment current when this boot first opened the store; only segments from the
// previous boot's one on are scanned, once per boot, under the journal lock.
sandbox::Result<void> recover_previous_boot(RecordStore::Impl& impl) {
    std::string file = impl.path("boot.json");
    auto read_boot = [&]() {
        auto text = sandbox::sys::read_file(file, 1 << 16);
        auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        return j.is_object() ? j : nlohmann::json::object();
    };
    if (read_boot()["boot_id"] == impl.supervisor.boot_id) return {};  // the common case, no lock
    std::lock_guard<std::mutex> guard(impl.mu);
    SBX_TRY(impl.lock_journal());
    struct Unlock {
        RecordStore::Impl& impl;
        ~Unlock() { impl.unlock_journal(); }
    } unlock{impl};
    nlohmann::json boot = read_boot();
    if (boot["boot_id"] == impl.supervisor.boot_id) return {};      // another process did it
    auto probed = impl.append_locked({}, false, nullptr, nullptr);  // learn the current segment
    if (!probed) return sandbox::fail(std::move(probed).error());
    if (boot.is_object() && boot["segment"].is_number_unsigned()) {
        std::map<std::string, bool> open;  // run_id -> still open
        auto segments = journal::list_segments(impl.dir);
        if (!segments) return sandbox::fail(std::move(segments).error());
        for (const auto& seg : *segments) {
            if (seg.number < boot["segment"].get<uint64_t>()) continue;
            auto r = journal::for_each_line(seg.path, 0, [&](const journal::Line& line) {
                if (!line.terminated || line.text.find("\"run_id\"") == std::string_view::npos)
                    return true;
                auto e = journal::parse_entry(line.text);
                if (!e || !(*e)["run_id"].is_string() || !(*e)["type"].is_string()) return true;
                std::string id = (*e)["run_id"], type = (*e)["type"];
                if (type == "start" && journal::member(journal::member(*e, "supervisor"),
                                                       "boot_id") != impl.supervisor.boot_id)
                    open[id] = true;
                if (type == "end" || type == "interrupted" || type == "refused") open[id] = false;
                return true;
            });
            if (!r) return sandbox::fail(std::move(r).error());
        }
        std::vector<nlohmann::json> entries;
        auto now = std::chrono::system_clock::now();
        for (const auto& [id, still_open] : open)
            if (still_open)
                entries.push_back(
                    records::interrupted_entry(id, "the host rebooted during the run", now));
        if (!entries.empty()) {
            auto appended = impl.append_locked(std::move(entries), false, nullptr, nullptr);
            if (!appended) return sandbox::fail(std::move(appended).error());
        }
    }
    nlohmann::json next = {{"boot_id", impl.supervisor.boot_id},
                           {"segment", std::max<uint64_t>(impl.seg_number, 1)}};
    std::string tmp = file + ".tmp";
    auto fd = sandbox::sys::open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!fd) return sandbox::fail(std::move(fd).error().with_prefix("records: "));
    SBX_TRY(sandbox::sys::write_all(fd->get(), next.dump() + "\n"));
    if (::fsync(fd->get()) != 0) return sandbox::fail(sys_error("records: fsync(" + tmp + ")"));
    if (::rename(tmp.c_str(), file.c_str()) != 0)
        return sandbox::fail(sys_error("records: rename(" + file + ")"));
    return fsync_dir(impl.dir);
}

sandbox::Result<std::vector<std::string>> RecordStore::recover() {
    std::string open_dir = impl_->path("open");
    std::vector<std::string> names;
    DIR* d = ::opendir(open_dir.c_str());
    if (!d) return fail(sys_error("records: opendir(" + open_dir + ")"));
    while (auto* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
            names.push_back(e->d_name);
    ::closedir(d);

    std::vector<std::string> marked;
    for (const auto& name : names) {
        {
            std::lock_guard<std::mutex> guard(impl_->mu);
            if (impl_->open_runs.count(name)) continue;  // ours, alive
        }
        bool tmp = name.rfind(".tmp-", 0) == 0;
        if (!sandbox::valid_run_id(tmp ? name.substr(5) : name))
            continue;  // not ours: leave it alone
        std::string file = open_dir + "/" + name;
        auto fd = sandbox::sys::open_file(file, O_RDWR);
        if (!fd) continue;  // finished and removed meanwhile
        // The lock is held by the live supervisor of the run; free means it is gone.
        if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;
        if (tmp) {
            struct stat st {};
            auto age = std::chrono::system_clock::now() -
                       std::chrono::system_clock::from_time_t(
                           ::fstat(fd->get(), &st) == 0 ? st.st_mtime : 0);
            if (age > kTmpMarkerGrace) ::unlink(file.c_str());
            continue;
        }
        auto text = sandbox::sys::read_file(file, 1 << 16);
        nlohmann::json marker =
            text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        if (!marker.is_object()) marker = nlohmann::json::object();  // half-written: no hints
        if (visibly_alive(marker, impl_->supervisor)) continue;
        uint64_t from = marker.is_object() && marker["segment"].is_number_unsigned()
                            ? marker["segment"].get<uint64_t>()
                            : 0;
        std::string state = run_state(impl_->dir, name, from);
        if (state == "start") {
            std::string detail = "the supervisor";
            if (marker.is_object() && marker["pid"].is_number_integer())
                detail += " (pid " + std::to_string(marker["pid"].get<int>()) + ")";
            detail += " ended before the run was recorded as finished";
            auto appended = impl_->append(
                {records::interrupted_entry(name, detail, std::chrono::system_clock::now())});
            if (!appended) return fail(std::move(appended).error());
            if (impl_->syslog)
                send_record_syslog("record run_id=" + name + " status=interrupted seq=" +
                                   std::to_string(appended->first_seq) +
                                   " hash=" + appended->hashes.back());
            marked.push_back(name);
            LOG_WARN("records: run {} marked interrupted: {}", name, detail);
            // Output its supervisor wrote before it died is named by no entry: it would only
            // take room from the store's budget.
            for (const char* ext : {".stdout", ".stderr"})
                ::unlink(impl_->path("output/" + name + ext).c_str());
        }
        ::unlink(file.c_str());
    }
    return marked;
}

}  // namespace runtime
