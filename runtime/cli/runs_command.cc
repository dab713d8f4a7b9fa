#include "runtime/cli/runs_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "runtime/base/exit_codes.h"
#include "runtime/base/json_reader.h"
#include "runtime/records/record_journal.h"
#include "runtime/records/record_schema.h"
#include "runtime/records/record_store.h"
#include "runtime/records/record_verify.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime {
namespace {

using nlohmann::json;
constexpr int kExitNotFound = 1;

std::string dump(const json& j, int indent = -1) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

int fail_with(const std::string& message) {
    std::cerr << "tooljail: " << message << "\n";
    return kExitSandboxError;
}

// The store as the ops commands see it: it must exist (they never create one by mistake).
bool store_exists(const std::string& dir, std::string& error) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
    error = "no record store at " + dir + " (use --records DIR or TOOLJAIL_RECORDS)";
    return false;
}

// When the store is writable, mark the runs of dead supervisors first, so the view is current.
void recover_if_writable(const std::string& dir) {
    if (::access(dir.c_str(), W_OK) != 0) return;
    RecordOptions options;
    options.dir = dir;
    auto store = RecordStore::open(options);
    (void)store;
}

// What a record's tool column shows: the tool name, or the program for `tooljail run`.
using journal::member;

std::string tool_of(const json& r) {
    std::string tool = json_reader::string_or_empty(r, "tool");
    const json& argv = member(r, "argv");
    if (tool.empty() && argv.is_array() && !argv.empty() && argv[0].is_string())
        tool = argv[0].get<std::string>();
    return tool;
}

std::string client_of(const json& r) {
    const json& c = member(r, "client");
    if (!c.is_object()) return "";
    std::string s = json_reader::string_or_empty(c, "transport");
    if (member(c, "os_user").is_object())
        s += ":" + json_reader::string_or_empty(c["os_user"], "name");
    if (!json_reader::string_or_empty(c, "token_client").empty())
        s += ":" + json_reader::string_or_empty(c, "token_client");
    if (!json_reader::string_or_empty(member(c, "client_info"), "name").empty())
        s += " (" + json_reader::string_or_empty(c["client_info"], "name") + ")";
    return s;
}

bool client_matches(const json& r, const std::string& want) {
    const json& c = member(r, "client");
    if (!c.is_object()) return false;
    if (json_reader::string_or_empty(c, "transport") == want ||
        json_reader::string_or_empty(c, "token_client") == want)
        return true;
    const json& user = member(c, "os_user");
    const json& uid = member(user, "uid");
    if (json_reader::string_or_empty(user, "name") == want ||
        (uid.is_number_unsigned() && std::to_string(uid.get<uint64_t>()) == want))
        return true;
    return json_reader::string_or_empty(member(c, "client_info"), "name") == want;
}

std::optional<records::Time> record_time(const json& r) {
    std::string at = json_reader::string_or_empty(r, "started_at");
    if (at.empty()) at = json_reader::string_or_empty(r, "ended_at");
    return units::parse_time(at, records::Time{});
}

struct Filter {
    std::optional<records::Time> since, until;
};

sandbox::Result<Filter> make_filter(const RunsOptions& o) {
    Filter f;
    auto now = std::chrono::system_clock::now();
    for (auto [text, out] : {std::pair{&o.since, &f.since}, std::pair{&o.until, &f.until}}) {
        if (text->empty()) continue;
        *out = units::parse_time(*text, now);
        if (!*out)
            return sandbox::fail(
                sandbox::Errc::InvalidArgument,
                "'" + *text + "' is neither an RFC 3339 time nor a duration like 1h or 7d");
    }
    return f;
}

bool keep(const json& r, const RunsOptions& o, const Filter& f) {
    auto t = record_time(r);
    if (f.since && (!t || *t < *f.since)) return false;
    if (f.until && (!t || *t > *f.until)) return false;
    if (!o.tool.empty() && json_reader::string_or_empty(r, "tool") != o.tool &&
        tool_of(r) != o.tool)
        return false;
    if (!o.client.empty() && !client_matches(r, o.client)) return false;
    if (!o.status.empty() && json_reader::string_or_empty(r, "status") != o.status) return false;
    if (!o.reason.empty() && json_reader::string_or_empty(r, "reason") != o.reason) return false;
    return true;
}

sandbox::Result<std::vector<json>> load_records(const std::string& dir) {
    records::Folder folder;
    auto r = journal::for_each_entry(dir, [&](const json& e) { folder.add(e); });
    if (!r) return sandbox::fail(std::move(r).error());
    auto all = folder.take();
    // RFC 3339 UTC with fixed width sorts as text. A record whose start was pruned sorts by its
    // end.
    auto key = [](const json& rec) {
        return json_reader::string_or_empty(rec, "started_at").empty()
                   ? json_reader::string_or_empty(rec, "ended_at")
                   : json_reader::string_or_empty(rec, "started_at");
    };
    std::stable_sort(all.begin(), all.end(),
                     [&](const json& a, const json& b) { return key(a) < key(b); });
    return all;
}

std::string exit_text(const json& r) {
    if (member(r, "signal").is_number_integer())
        return "sig " + std::to_string(r["signal"].get<int>());
    if (member(r, "exit_code").is_number_integer())
        return std::to_string(r["exit_code"].get<int>());
    return "-";
}

int list(const RunsOptions& o, const std::string& dir, bool as_export) {
    auto filter = make_filter(o);
    if (!filter) return fail_with(filter.error().message());
    auto all = load_records(dir);
    if (!all) return fail_with("records: " + all.error().message());
    std::vector<json> shown;
    for (auto& r : *all)
        if (keep(r, o, *filter)) shown.push_back(std::move(r));
    if (!as_export && o.limit > 0 && shown.size() > o.limit)
        shown.erase(shown.begin(), shown.end() - static_cast<ptrdiff_t>(o.limit));
    if (as_export) {
        for (const auto& r : shown) std::cout << dump(r) << "\n";
        return 0;
    }
    if (o.json) {
        std::cout << dump(json(shown), 2) << "\n";
        return 0;
    }
    std::cout << fmt::format("{:<23} {:<37} {:<11} {:<17} {:>5} {:>8}  {:<20} {}\n", "STARTED",
                             "RUN ID", "STATUS", "REASON", "EXIT", "WALL_MS", "TOOL", "CLIENT");
    for (const auto& r : shown) {
        std::string wall = member(r, "wall_ms").is_number_integer()
                               ? std::to_string(r["wall_ms"].get<int64_t>())
                               : "-";
        std::cout << fmt::format("{:<23} {:<37} {:<11} {:<17} {:>5} {:>8}  {:<20} {}\n",
                                 json_reader::string_or_empty(r, "started_at").empty()
                                     ? "(pruned)"
                                     : json_reader::string_or_empty(r, "started_at"),
                                 json_reader::string_or_empty(r, "run_id"),
                                 json_reader::string_or_empty(r, "status"),
                                 json_reader::string_or_empty(r, "reason").empty()
                                     ? "-"
                                     : json_reader::string_or_empty(r, "reason"),
                                 exit_text(r), wall, tool_of(r).substr(0, 20), client_of(r));
    }
    return 0;
}

// The captured output of one stream: (data, note about it).
std::pair<std::string, std::string> read_output(const std::string& dir, const json& capture) {
    if (!member(capture, "file").is_string()) return {"", ""};
    std::string rel = capture["file"].get<std::string>();
    if (rel.rfind("output/", 0) != 0 || rel.find("..") != std::string::npos)
        return {"", "not a store path: " + rel};
    auto data = sandbox::sys::read_file(dir + "/" + rel, 1ull << 32);
    if (!data) return {"", data.error().message()};
    if (sandbox::sha256_hex(*data) != json_reader::string_or_empty(capture, "file_sha256"))
        return {*data, "WARNING: sha256 mismatch, the file was changed"};
    return {*data, ""};
}

int show(const RunsOptions& o, const std::string& dir) {
    auto all = load_records(dir);
    if (!all) return fail_with("records: " + all.error().message());
    const json* found = nullptr;
    size_t matches = 0;
    for (const auto& r : *all) {
        std::string id = json_reader::string_or_empty(r, "run_id");
        if (id == o.run_id) {
            found = &r;
            matches = 1;
            break;
        }
        if (id.rfind(o.run_id, 0) == 0) {
            found = &r;
            ++matches;
        }
    }
    if (matches != 1) {
        std::cerr << "tooljail: "
                  << (matches == 0 ? "no record of run " : "more than one run starts with ")
                  << o.run_id << " in " << dir << "\n";
        return kExitNotFound;
    }
    auto [out, out_note] = read_output(dir, (*found).value("stdout", json()));
    auto [err, err_note] = read_output(dir, (*found).value("stderr", json()));
    if (o.json) {
        json doc = {{"record", *found}, {"stdout", out}, {"stderr", err}};
        if (!out_note.empty()) doc["stdout_note"] = out_note;
        if (!err_note.empty()) doc["stderr_note"] = err_note;
        std::cout << dump(doc) << "\n";
        return 0;
    }
    std::cout << dump(*found, 2) << "\n";
    for (auto [name, data, note] :
         {std::tuple{"stdout", &out, &out_note}, std::tuple{"stderr", &err, &err_note}}) {
        const json& c = (*found).value(name, json());
        if (!c.is_object()) continue;
        // The store may have kept less than was captured, and says why (docs/RECORDS.md).
        std::string stored;
        if (c.contains("store_cut"))
            stored = fmt::format(", {} stored: {}", c.value("stored_bytes", 0),
                                 json_reader::string_or_empty(c, "store_cut") == "max_bytes"
                                     ? std::string("the rest did not fit the store's size budget")
                                     : "the store could not write it (" +
                                           json_reader::string_or_empty(c, "store_errno") + ")");
        std::cout << fmt::format("--- {} ({} bytes written, {} captured{}{}) ---\n", name,
                                 c.value("bytes", 0), c.value("captured_bytes", 0),
                                 c.value("truncated", false) ? ", truncated" : "", stored);
        if (!note->empty()) std::cout << "[" << *note << "]\n";
        std::cout << *data;
        if (!data->empty() && data->back() != '\n') std::cout << "\n";
    }
    return 0;
}

std::string entry_summary(const json& e) {
    std::string type = json_reader::string_or_empty(e, "type");
    std::string s =
        fmt::format("{} seq={} {:<11} {}", json_reader::string_or_empty(e, "at"),
                    e.value("seq", 0ull), type, json_reader::string_or_empty(e, "run_id"));
    if (type == "start") s += " tool=" + tool_of(e) + " client=" + client_of(e);
    if (type == "end")
        s += " reason=" + json_reader::string_or_empty(e, "reason") + " exit=" + exit_text(e) +
             " wall_ms=" + std::to_string(e.value("wall_ms", 0));
    if (type == "refused")
        s += " reason=" + json_reader::string_or_empty(e, "reason") + " tool=" + tool_of(e) + ": " +
             json_reader::string_or_empty(e, "message");
    if (type == "interrupted") s += " " + json_reader::string_or_empty(e, "message");
    if (type == "prune")
        s += " through_seq=" + std::to_string(e.value("through_seq", 0ull)) +
             " reason=" + json_reader::string_or_empty(e, "reason");
    return s;
}

void print_line(std::string_view line, bool as_json) {
    if (as_json) {
        std::cout << line << "\n";
    } else if (auto e = journal::parse_entry(line)) {
        std::cout << entry_summary(*e) << "\n";
    } else {
        std::cout << "(not an entry: " << line.size() << " bytes)\n";
    }
    std::cout.flush();
}

int tail(const RunsOptions& o, const std::string& dir) {
    auto segments = journal::list_segments(dir);
    if (!segments) return fail_with("records: " + segments.error().message());
    uint64_t current = segments->empty() ? 1 : segments->back().number;
    uint64_t offset = 0, line_no = 1;
    // The last N lines of the current segment (a new segment may hold fewer).
    std::vector<std::string> last;
    auto seg_path = [&](uint64_t n) { return dir + "/" + journal::segment_name(n); };
    auto first = journal::for_each_line(seg_path(current), 0, [&](const journal::Line& line) {
        if (!line.terminated) return true;
        ++line_no;
        last.emplace_back(line.text);
        if (last.size() > o.lines) last.erase(last.begin());
        return true;
    });
    if (first) offset = *first;
    for (const auto& l : last) print_line(l, o.json);
    while (o.follow) {
        auto read = journal::for_each_line(
            seg_path(current), offset,
            [&](const journal::Line& line) {
                if (line.terminated) print_line(line.text, o.json);
                return true;
            },
            line_no);
        if (read) offset = *read;
        struct stat st {};
        if (::stat(seg_path(current + 1).c_str(), &st) == 0) {
            // Rotated: what was appended to the old segment before the switch was read above.
            ++current;
            offset = 0;
            continue;
        }
        if (!read) {  // pruned under us: jump to the newest segment
            auto now = journal::list_segments(dir);
            if (now && !now->empty()) {
                current = now->back().number;
                offset = 0;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return 0;
}

// Exit status: 0 intact and complete, 1 tampered, 2 intact but with runs that have no outcome
// (interrupted), 125 the store cannot be read (docs/RECORDS.md).
int verify_command(const RunsOptions& o, const std::string& dir) {
    auto report = verify::verify_store(dir);
    if (!report) return fail_with("records: cannot read the store: " + report.error().message());
    if (o.json) {
        std::cout << dump({{"intact", report->intact()},
                           {"complete", report->complete()},
                           {"problems", report->problems},
                           {"interrupted", report->interrupted},
                           {"store_errors", report->store_errors},
                           {"incomplete", report->incomplete},
                           {"running", report->running},
                           {"notes", report->notes},
                           {"segments", report->segments},
                           {"entries", report->entries},
                           {"outputs", report->outputs},
                           {"first_seq", report->first_seq},
                           {"head_seq", report->head_seq},
                           {"head_hash", report->head_hash}})
                  << "\n";
    } else {
        std::string chain = fmt::format(
            "{} entries (seq {}..{}) in {} segment(s), {} output file(s) checked; head hash {}",
            report->entries, report->first_seq, report->head_seq, report->segments, report->outputs,
            report->head_hash);
        if (!report->intact())
            std::cout << "records: TAMPERED: " << report->problems.front() << "\n";
        else if (!report->complete())
            std::cout << fmt::format(
                "records: INCOMPLETE: {} run(s) have no outcome ({} because the store could not "
                "write their end); the chain is intact: {}\n",
                report->interrupted, report->store_errors, chain);
        else
            std::cout << "records: intact: " << chain << "\n";
        for (size_t i = 1; i < report->problems.size(); ++i)
            std::cout << "  also: " << report->problems[i] << "\n";
        for (const auto& r : report->incomplete) std::cout << "  " << r << "\n";
        if (report->interrupted > report->incomplete.size())
            std::cout << "  ... and " << report->interrupted - report->incomplete.size()
                      << " more interrupted run(s)\n";
        for (const auto& n : report->notes) std::cout << "  note: " << n << "\n";
    }
    if (!report->intact()) return 1;
    return report->complete() ? 0 : 2;
}

sandbox::Result<Retention> retention_with_flags(const RunsOptions& o, Retention r) {
    if (!o.max_age.empty()) {
        auto v = units::parse_duration_seconds(o.max_age);
        if (!v)
            return sandbox::fail(sandbox::Errc::InvalidArgument,
                                 "--max-age: expected a duration like 30d (got " + o.max_age + ")");
        r.max_age_seconds = *v;
    }
    for (auto [text, out, flag] :
         {std::tuple{&o.max_bytes, &r.max_bytes, "--max-bytes"},
          std::tuple{&o.segment_bytes, &r.segment_bytes, "--segment-bytes"}}) {
        if (text->empty()) continue;
        auto v = units::parse_size(*text);
        if (!v)
            return sandbox::fail(
                sandbox::Errc::InvalidArgument,
                std::string(flag) + ": expected a size like 1G (got " + *text + ")");
        *out = *v;
    }
    return r;
}

int retention(const RunsOptions& o, const std::string& dir, bool apply) {
    auto current = load_retention(dir);
    if (!current) return fail_with(current.error().message());
    auto wanted = retention_with_flags(o, *current);
    if (!wanted) return fail_with(wanted.error().message());
    if (!apply) {
        bool changed = !o.max_age.empty() || !o.max_bytes.empty() || !o.segment_bytes.empty();
        if (changed) {
            if (auto saved = save_retention(dir, *wanted); !saved)
                return fail_with(saved.error().message());
        }
        std::cout << fmt::format(
            "max_age_seconds={} max_bytes={} segment_bytes={} segment_age_seconds={}\n",
            wanted->max_age_seconds, wanted->max_bytes, wanted->segment_bytes,
            wanted->segment_age_seconds);
        return 0;
    }
    RecordOptions ro;
    ro.dir = dir;
    ro.retention = *wanted;
    auto store = RecordStore::open(ro);
    if (!store) return fail_with(store.error().message());
    auto report = (*store)->prune();
    if (!report) return fail_with(report.error().message());
    if (report->segments.empty())
        std::cout << "records: nothing to prune\n";
    else
        std::cout << fmt::format("records: removed {} segment(s) through seq {}, {} bytes\n",
                                 report->segments.size(), report->through_seq, report->bytes);
    return 0;
}

int run_action(const RunsOptions& o) {
    std::string dir = o.records;
    if (dir.empty()) {
        auto fallback = default_records_dir();
        if (!fallback) return fail_with(fallback.error().message());
        dir = std::move(*fallback);
    }
    std::string error;
    if (!store_exists(dir, error)) return fail_with(error);
    if (o.action == "verify") return verify_command(o, dir);
    if (o.action == "retention") return retention(o, dir, false);
    if (o.action == "prune") return retention(o, dir, true);
    recover_if_writable(dir);
    if (o.action == "list") return list(o, dir, false);
    if (o.action == "export") return list(o, dir, true);
    if (o.action == "show") return show(o, dir);
    if (o.action == "tail") return tail(o, dir);
    return fail_with("runs: unknown action '" + o.action + "'");
}

}  // namespace

int runs_command(const RunsOptions& o) {
    // Records are read back from disk, where anyone with access could have edited them: a value
    // of an unexpected type must end in a message, not an uncaught exception.
    try {
        return run_action(o);
    } catch (const json::exception& e) {
        return fail_with(
            std::string(
                "records: an entry has an unexpected shape (run `tooljail runs verify`): ") +
            e.what());
    }
}

}  // namespace runtime
