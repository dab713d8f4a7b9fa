#include "runtime/records/record_verify.h"

#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "runtime/base/json_reader.h"
#include "runtime/records/record_journal.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime::verify {
namespace {

using nlohmann::json;

// Hashes of recent seqs kept for the chain check; reorders further apart than this are still
// reported as reorders, only their prev links go unchecked.
constexpr size_t kRecent = 4096;

std::string range_text(uint64_t first, uint64_t last) {
    return first == last ? "seq " + std::to_string(first)
                         : "seq " + std::to_string(first) + ".." + std::to_string(last);
}

class Verifier {
public:
    Verifier(std::string dir, bool check_outputs)
        : dir_(std::move(dir)), check_outputs_(check_outputs) {}

    sandbox::Result<Report> run() {
        auto segments = journal::list_segments(dir_);
        if (!segments) return sandbox::fail(std::move(segments).error());
        for (size_t i = 0; i < segments->size(); ++i) {
            const auto& seg = (*segments)[i];
            bool last_segment = i + 1 == segments->size();
            seg_name_ = journal::segment_name(seg.number);
            seg_number_ = seg.number;
            auto r = journal::for_each_line(seg.path, 0, [&](const journal::Line& line) {
                on_line(line, last_segment);
                return true;
            });
            if (!r) return sandbox::fail(std::move(r).error());
            ++report_.segments;
        }
        finish();
        return std::move(report_);
    }

private:
    struct Bad {
        std::string where;
        uint64_t segment;
        uint64_t offset;
        std::string sha256;
    };
    struct Gap {
        uint64_t last;
        std::string where;
    };

    std::string where(uint64_t line) const { return seg_name_ + " line " + std::to_string(line); }

    void problem(std::string text) { report_.problems.push_back(std::move(text)); }

    void flush_bad(const json* next) {
        if (!bad_) return;
        bool acknowledged = next && json_reader::string_or_empty(*next, "type") == "torn" &&
                            journal::member(*next, "segment") == bad_->segment &&
                            journal::member(*next, "offset") == bad_->offset &&
                            json_reader::string_or_empty(*next, "sha256") == bad_->sha256;
        if (acknowledged)
            report_.notes.push_back(
                bad_->where + ": bytes torn by a crash mid-write, acknowledged by the next entry");
        else
            problem(bad_->where + ": not a valid entry (edited or corrupted)");
        bad_.reset();
    }

    void on_line(const journal::Line& line, bool last_segment) {
        if (!line.terminated) {
            if (last_segment)
                report_.notes.push_back(
                    where(line.number) +
                    ": incomplete last line (a crash mid-write, or a write in progress)");
            else
                problem(where(line.number) +
                        ": incomplete line inside the journal (edited or corrupted)");
            return;
        }
        auto seal = journal::check_seal(line.text);
        auto e = journal::parse_entry(line.text);
        if (!seal || !e || !(*e)["seq"].is_number_unsigned() || !(*e)["prev"].is_string()) {
            flush_bad(nullptr);
            bad_ =
                Bad{where(line.number), seg_number_, line.offset, sandbox::sha256_hex(line.text)};
            return;
        }
        flush_bad(&*e);
        on_entry(*e, *seal, line.number);
    }

    void on_entry(const json& e, const journal::Seal& seal, uint64_t line) {
        ++report_.entries;
        uint64_t seq = journal::member(e, "seq").get<uint64_t>();  // checked by on_line
        std::string prev = journal::member(e, "prev").get<std::string>();
        std::string run_id = json_reader::string_or_empty(e, "run_id");
        std::string label = "entry seq " + std::to_string(seq) +
                            (run_id.empty() ? "" : " (run " + run_id + ")") + " in " + seg_name_ +
                            " line " + std::to_string(line);
        if (seal.claimed != seal.computed) problem(label + ": content edited (hash mismatch)");

        if (!any_) {
            any_ = true;
            report_.first_seq = seq;
            first_prev_ = prev;
            first_label_ = label;
        } else if (seq > max_seq_ + 1) {
            gaps_[max_seq_ + 1] =
                Gap{seq - 1, "between seq " + std::to_string(max_seq_) + " and " + label};
        } else if (seq <= max_seq_) {
            if (fill_gap(seq))
                problem("seq order broken at " + label + ": it comes after seq " +
                        std::to_string(max_seq_) + " (entries reordered)");
            else
                problem(label + ": seq " + std::to_string(seq) +
                        " appears again (entry duplicated or reordered)");
        }
        // The chain: prev must be the hash of seq - 1, wherever that entry is.
        if (auto it = recent_.find(seq - 1); it != recent_.end()) {
            if (it->second.first != prev)
                problem("entry seq " + std::to_string(seq - 1) + " (" + it->second.second +
                        ") or " + label +
                        ": chain broken, prev does not match (an entry was rewritten and "
                        "re-hashed, or replaced)");
        } else if (seq > 1 && any_ && seq != report_.first_seq) {
            expected_.emplace(seq - 1, std::make_pair(prev, label));
        }
        if (auto it = expected_.find(seq); it != expected_.end()) {
            if (it->second.first != seal.claimed)
                problem(label + ": content edited, its hash does not match the prev of " +
                        it->second.second);
            expected_.erase(it);
        }
        recent_[seq] = {seal.claimed, label};
        if (recent_.size() > kRecent) recent_.erase(recent_.begin());
        if (seq >= max_seq_) {
            max_seq_ = seq;
            report_.head_seq = seq;
            report_.head_hash = seal.claimed;
        }
        std::string type = json_reader::string_or_empty(e, "type");
        const json& through = journal::member(e, "through_seq");
        if (type == "prune" && through.is_number_unsigned())
            prunes_.emplace(through.get<uint64_t>(),
                            json_reader::string_or_empty(e, "through_hash"));
        if (type == "start") open_.insert(run_id);
        if (type == "end" || type == "interrupted") open_.erase(run_id);
        if (type == "end") {
            if (check_outputs_) check_outputs(e, run_id);
            note_cuts(e, run_id);
        }
        if (type == "interrupted") on_interrupted(e, run_id, label);
    }

    // The errno name a message ends with in parentheses ("... No space left on device
    // (ENOSPC)"): how records written before interrupted entries carried store_errno say it.
    static std::string errno_in(const std::string& message) {
        size_t close = message.rfind(')');
        size_t open = close == std::string::npos ? close : message.rfind('(', close);
        if (open == std::string::npos || close - open < 3 || message[open + 1] != 'E') return "";
        std::string name = message.substr(open + 1, close - open - 1);
        for (char c : name)
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return "";
        return name;
    }

    void on_interrupted(const json& e, const std::string& run_id, const std::string& label) {
        ++report_.interrupted;
        std::string message = json_reader::string_or_empty(e, "message");
        std::string store_errno = json_reader::string_or_empty(e, "store_errno");
        // Before store_errno existed, the store's own failures said so in the message.
        if (store_errno.empty() && (message.rfind("the end entry could not be written", 0) == 0 ||
                                    message.rfind("the start entry could not be synced", 0) == 0))
            store_errno = errno_in(message);
        std::string why;
        if (!store_errno.empty()) {
            ++report_.store_errors;
            why =
                "the record store could not write its end (" + store_errno +
                (store_errno == "ENOSPC" || store_errno == "EDQUOT" ? ": the disk was full)" : ")");
        } else {
            why = message.empty() ? "no reason given" : message;
        }
        if (report_.incomplete.size() < Report::kMaxListed)
            report_.incomplete.push_back("run " + run_id + " (" + label +
                                         "): interrupted, no outcome: " + why);
    }

    // Output the store did not keep, as the end entry says: noted, counted by why.
    void note_cuts(const json& e, const std::string& run_id) {
        for (const char* stream : {"stdout", "stderr"}) {
            const json& c = journal::member(e, stream);
            std::string cut = json_reader::string_or_empty(c, "store_cut");
            if (cut.empty()) continue;
            std::string err = json_reader::string_or_empty(c, "store_errno");
            std::string key = cut + (err.empty() ? "" : " " + err);
            auto& [count, example] = cuts_[key];
            if (count++ == 0) example = run_id + " " + stream;
        }
    }

    // Removes seq from the gaps; true when it was one (an entry seen late: reordered).
    bool fill_gap(uint64_t seq) {
        auto it = gaps_.upper_bound(seq);
        if (it == gaps_.begin()) return false;
        --it;
        uint64_t first = it->first;
        Gap gap = it->second;
        if (seq > gap.last) return false;
        gaps_.erase(it);
        if (first < seq) gaps_[first] = Gap{seq - 1, gap.where};
        if (seq < gap.last) gaps_[seq + 1] = Gap{gap.last, gap.where};
        return true;
    }

    void check_outputs(const json& e, const std::string& run_id) {
        for (const char* stream : {"stdout", "stderr"}) {
            const json& c = journal::member(e, stream);
            if (!journal::member(c, "file").is_string()) continue;
            std::string rel = c["file"].get<std::string>();
            std::string name = "output of run " + run_id + " (" + rel + ")";
            // A tampered journal must not make verify read outside the store.
            if (rel.rfind("output/", 0) != 0 || rel.find('/', 7) != std::string::npos ||
                rel.find("..") != std::string::npos) {
                problem(name + ": not a store output path (entry edited)");
                continue;
            }
            ++report_.outputs;
            auto data = sandbox::sys::read_file(dir_ + "/" + rel, 1ull << 32);
            if (!data) {
                problem(name + (data.error().sys_errno == ENOENT
                                    ? ": missing (deleted)"
                                    : ": unreadable: " + data.error().message()));
            } else if (sandbox::sha256_hex(*data) !=
                       json_reader::string_or_empty(c, "file_sha256")) {
                problem(name + ": content tampered (sha256 mismatch)");
            }
        }
    }

    void finish() {
        flush_bad(nullptr);
        report_.running = open_.size();
        if (!open_.empty())
            report_.notes.push_back(std::to_string(open_.size()) +
                                    " run(s) started and not ended: still running, or their "
                                    "supervisor died and no store open has marked them yet");
        for (const auto& [why, cut] : cuts_)
            report_.notes.push_back(std::to_string(cut.first) +
                                    " output stream(s) stored only in part or not at all (" +
                                    (why.rfind("max_bytes", 0) == 0
                                         ? "the store's size budget, max_bytes"
                                         : "a write error: " + why.substr(why.find(' ') + 1)) +
                                    "), as their end entries record; e.g. run " + cut.second);
        if (!any_) return;
        // The start of the journal: the genesis, or exactly where retention stopped.
        if (report_.first_seq == 1) {
            if (first_prev_ != journal::kGenesis)
                problem(first_label_ + ": prev is not the genesis hash (edited)");
        } else {
            uint64_t wanted = report_.first_seq - 1;
            auto it = prunes_.find(wanted);
            if (it != prunes_.end() && it->second == first_prev_) {
                report_.notes.push_back("seq 1.." + std::to_string(wanted) +
                                        " removed by retention (prune entry)");
            } else if (it != prunes_.end()) {
                problem(first_label_ +
                        ": prev does not match the hash retention recorded for seq " +
                        std::to_string(wanted) + " (edited)");
            } else {
                uint64_t covered = 0;
                for (const auto& [through, hash] : prunes_)
                    if (through < report_.first_seq) covered = std::max(covered, through);
                std::string text = range_text(covered + 1, wanted) +
                                   " missing: " + (covered + 1 == wanted ? "entry" : "entries") +
                                   " deleted before " + first_label_;
                if (covered > 0)
                    text += " (retention removed only through seq " + std::to_string(covered) + ")";
                problem(text);
            }
        }
        for (const auto& [first, gap] : gaps_)
            problem(range_text(first, gap.last) + " missing: " +
                    (first == gap.last ? "entry" : "entries") + " deleted (" + gap.where + ")");
    }

    std::string dir_;
    bool check_outputs_;
    Report report_;
    std::string seg_name_;
    uint64_t seg_number_ = 0;
    bool any_ = false;
    uint64_t max_seq_ = 0;
    std::string first_prev_;
    std::string first_label_;
    std::optional<Bad> bad_;
    std::map<uint64_t, Gap> gaps_;
    std::map<uint64_t, std::pair<std::string, std::string>> recent_;  // seq -> (hash, label)
    std::map<uint64_t, std::pair<std::string, std::string>>
        expected_;                            // seq -> (hash wanted, by whom)
    std::map<uint64_t, std::string> prunes_;  // through_seq -> through_hash
    std::set<std::string> open_;              // runs started and not (yet) ended
    std::map<std::string, std::pair<uint64_t, std::string>> cuts_;  // why -> (count, example)
};

}  // namespace

sandbox::Result<Report> verify_store(const std::string& dir, bool check_outputs) {
    // Every read is type-checked; this is the backstop for tampered content nobody foresaw.
    try {
        return Verifier(dir, check_outputs).run();
    } catch (const json::exception& e) {
        return sandbox::fail(sandbox::Errc::Internal,
                             std::string("verify: unexpected entry content: ") + e.what());
    }
}

}  // namespace runtime::verify
