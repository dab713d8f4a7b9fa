// The record store's size budget and its reserve (docs/RECORDS.md, "The size budget"): what the
// store holds is counted before anything is written, the end of a run stores as much of its
// output as the budget leaves room for (after retention removed what it may) and says so in the
// record when it stores less, and a small reserve lets a run that started record its end even
// on a full disk.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "runtime/base/log.h"
#include "runtime/records/record_journal.h"
#include "runtime/records/record_store_impl.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

using sandbox::fail;
using sandbox::sys_error;

constexpr const char* kUsageFile = "usage.json";

// A full disk or quota: what the reserve is for.
bool disk_full(int err) { return err == ENOSPC || err == EDQUOT; }

// Creates `file` and writes `data` to it, durably (the directory is synced by the caller).
sandbox::Result<void> write_output(const std::string& file, std::string_view data) {
    auto fd = sandbox::sys::open_file(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!fd) return fail(std::move(fd).error().with_prefix("records: "));
    if (auto w = sandbox::sys::write_all(fd->get(), data); !w)
        return fail(std::move(w).error().with_prefix("records: " + file + ": "));
    if (::fdatasync(fd->get()) != 0) return fail(sys_error("records: fdatasync(" + file + ")"));
    return {};
}

}  // namespace

sandbox::Result<void> RecordStore::Impl::sync_usage_locked() {
    if (!budgeted()) return {};
    auto current = [&](uint64_t segment, uint64_t size, uint64_t ino) {
        return segment == seg_number && size == seg_size && ino == static_cast<uint64_t>(seg_ino);
    };
    if (usage && current(usage->segment, usage->size, usage->ino)) return {};
    // Another process appended since we looked: it left the size it knew.
    if (auto text = sandbox::sys::read_file(path(kUsageFile), 1 << 12)) {
        auto j = nlohmann::json::parse(*text, nullptr, false);
        auto number = [&](const char* key) -> std::optional<uint64_t> {
            if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned())
                return std::nullopt;
            return j[key].get<uint64_t>();
        };
        auto bytes = number("bytes"), segment_bytes = number("segment_bytes"),
             segment = number("segment"), size = number("size"), ino = number("ino");
        if (bytes && segment_bytes && segment && size && ino && current(*segment, *size, *ino)) {
            usage = Usage{*bytes, *segment_bytes, *segment, *size, *ino};
            usage_saved = usage;
            return {};
        }
    }
    // No file, or one left behind by a crash or by a tooljail that kept none: count it all.
    auto segments = journal::list_segments(dir);
    if (!segments) return fail(std::move(segments).error().with_prefix("records: "));
    Usage u{0, seg_size, seg_number, seg_size, static_cast<uint64_t>(seg_ino)};
    for (const auto& s : *segments) u.bytes += file_size(s.path);
    u.bytes += dir_bytes(path("output"));
    for (const auto& f : segment_outputs(path(journal::segment_name(seg_number))))
        u.segment_bytes += file_size(path(f));
    usage = u;
    LOG_INFO("records: the store holds {} bytes (counted)", u.bytes);
    return {};
}

void RecordStore::Impl::save_usage_locked() {
    // Unchanged since it was read or written: another process's newer file must not be replaced.
    if (!budgeted() || !usage || usage == usage_saved) return;
    nlohmann::json j = {{"bytes", usage->bytes},
                        {"segment_bytes", usage->segment_bytes},
                        {"segment", usage->segment},
                        {"size", usage->size},
                        {"ino", usage->ino}};
    // Not synced and not atomic: a file that does not describe the journal's end is ignored.
    auto fd = sandbox::sys::open_file(path(kUsageFile), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd && sandbox::sys::write_all(fd->get(), j.dump() + "\n")) usage_saved = usage;
}

sandbox::Result<void> RecordStore::Impl::keep_reserve_locked() {
    std::string file = path("reserve");
    if (!reserve_fd.valid()) {
        auto fd = sandbox::sys::open_file(file, O_RDWR | O_CREAT, 0600);
        if (!fd) return fail(std::move(fd).error().with_prefix("records: "));
        reserve_fd = std::move(*fd);
    }
    struct stat st {};
    if (::fstat(reserve_fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= kReserveBytes)
        return {};
    // posix_fallocate returns the error rather than setting errno.
    if (int err = ::posix_fallocate(reserve_fd.get(), 0, static_cast<off_t>(kReserveBytes));
        err != 0) {
        int ignored = ::ftruncate(reserve_fd.get(), 0);  // what it got of it goes back
        (void)ignored;
        return fail(sandbox::Error{sandbox::Errc::Syscall, err,
                                   "records: cannot set aside " +
                                       std::to_string(kReserveBytes / 1024) + " KiB (" + file +
                                       ") for the ends of running runs"});
    }
    return {};
}

bool RecordStore::Impl::release_reserve_locked() {
    if (!reserve_fd.valid()) {
        auto fd = sandbox::sys::open_file(path("reserve"), O_RDWR);
        if (!fd) return false;
        reserve_fd = std::move(*fd);
    }
    struct stat st {};
    if (::fstat(reserve_fd.get(), &st) != 0 || st.st_size == 0) return false;
    return ::ftruncate(reserve_fd.get(), 0) == 0;
}

sandbox::Result<RecordStore::Impl::Appended> RecordStore::Impl::append_end(
    const std::string& run_id, const sandbox::Outcome& outcome) {
    std::lock_guard<std::mutex> guard(mu);
    SBX_TRY(lock_journal());
    struct Unlock {
        Impl& impl;
        ~Unlock() {
            impl.save_usage_locked();
            impl.unlock_journal();
        }
    } unlock{*this};
    SBX_TRY(sync_tail_locked());
    if (auto synced = sync_usage_locked(); !synced) {
        LOG_WARN("records: the store's size is unknown, its budget not applied: {}",
                 synced.error().message());
        usage.reset();
    }

    // How much of each capture fits in the budget, after retention removed what it may.
    const std::string& out_data = outcome.out.data;
    const std::string& err_data = outcome.err.data;
    uint64_t keep_out = out_data.size(), keep_err = err_data.size();
    if (budgeted() && usage && keep_out + keep_err > 0) {
        uint64_t need = keep_out + keep_err + kEndEntryBytes;
        if (usage->bytes + need > retention.max_bytes) {
            uint64_t limit = retention.max_bytes > need ? retention.max_bytes - need : 0;
            if (auto pruned = prune_locked(limit); !pruned)
                LOG_WARN("records: retention: {}", pruned.error().message());
        }
        if (usage && usage->bytes + need > retention.max_bytes) {
            uint64_t used = usage->bytes + kEndEntryBytes;
            uint64_t room = retention.max_bytes > used ? retention.max_bytes - used : 0;
            // Half each; what one stream does not need goes to the other.
            keep_out = std::min<uint64_t>(
                keep_out, std::max(room / 2, room - std::min<uint64_t>(keep_err, room / 2)));
            keep_err = std::min<uint64_t>(keep_err, room - keep_out);
            LOG_WARN(
                "records: run {}: the store's budget ({} bytes) leaves room for {} of its {} "
                "bytes of output; the rest is not stored",
                run_id, retention.max_bytes, keep_out + keep_err,
                out_data.size() + err_data.size());
        }
    }

    std::vector<std::string> written;
    uint64_t stored = 0;
    auto store = [&](const std::string& data, uint64_t keep,
                     const char* ext) -> records::StoredOutput {
        records::StoredOutput s;
        if (data.empty()) return s;
        if (keep < data.size()) s.cut = "max_bytes";
        if (keep == 0) return s;
        std::string rel = "output/" + run_id + "." + ext, file = path(rel);
        std::string_view part(data.data(), keep);
        if (auto wrote = write_output(file, part); !wrote) {
            ::unlink(file.c_str());
            // The outcome matters more than the output: the end entry goes on without it.
            LOG_ERROR("records: run {}: its {} is not stored: {}", run_id, ext,
                      wrote.error().message());
            s = records::StoredOutput{};
            s.cut = "write_error";
            s.cut_errno = sandbox::sys::errno_name(wrote.error().sys_errno);
            return s;
        }
        written.push_back(file);
        stored += keep;
        s.file = rel;
        s.sha256 = sandbox::sha256_hex(part);
        s.bytes = keep;
        return s;
    };
    records::StoredOutput out = store(out_data, keep_out, "stdout");
    records::StoredOutput err = store(err_data, keep_err, "stderr");
    auto discard = [&](records::StoredOutput& s, const sandbox::Error& why) {
        if (s.file.empty()) return;
        s = records::StoredOutput{};
        s.cut = "write_error";
        s.cut_errno = sandbox::sys::errno_name(why.sys_errno);
    };
    if (!written.empty()) {
        if (auto synced = fsync_dir(path("output")); !synced) {
            LOG_ERROR("records: run {}: its output is not stored: {}", run_id,
                      synced.error().message());
            for (const auto& f : written) ::unlink(f.c_str());
            written.clear();
            stored = 0;
            discard(out, synced.error());
            discard(err, synced.error());
        }
    }
    if (usage) usage->bytes += stored;

    nlohmann::json body =
        records::end_entry(run_id, outcome, out, err, std::chrono::system_clock::now());
    bool rotated = false;
    auto appended = append_locked({body}, true, nullptr, &rotated);
    if (!appended && disk_full(appended.error().sys_errno) && release_reserve_locked()) {
        LOG_WARN(
            "records: {} is full: the reserve was given up to record the end of run {}; "
            "new runs are refused until there is room for it again",
            dir, run_id);
        appended = append_locked({body}, true, nullptr, &rotated);
    }
    if (!appended) {
        for (const auto& f : written) ::unlink(f.c_str());  // named by no entry
        if (usage) usage->bytes -= std::min(usage->bytes, stored);
        return appended;
    }
    if (usage) usage->segment_bytes += stored;  // named by the entry just written
    if (rotated || (budgeted() && usage && usage->bytes > retention.max_bytes)) {
        if (auto pruned = prune_locked(); !pruned)
            LOG_WARN("records: retention: {}", pruned.error().message());
    }
    return appended;
}

}  // namespace runtime
