// Record parsing in `tooljail runs`: journal lines from a store on disk are untrusted (anyone
// with write access to the directory, a torn write, a disk error). Each input is written as a
// segment of a scratch store and read back the way `runs list/show/verify` read it: line
// splitting with torn tails, seal checks, entry parsing, folding into records and their
// status, the typed views of start and end entries, and the whole-store verifier. Also the
// command-line filters' parsers (--since, --until, retention sizes and ages).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "runtime/records/record_journal.h"
#include "runtime/records/record_schema.h"
#include "runtime/records/record_verify.h"

namespace {

const std::string& store_dir() {
    static std::string dir = [] {
        char tmpl[] = "/tmp/tooljail-fuzz-records-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        return std::string(tmpl);
    }();
    return dir;
}

void write_segment(const std::string& path, const uint8_t* data, size_t size) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    if (size && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace runtime;
    std::string_view first = fuzz::split_line(fuzz::as_text(data, size)).first;
    auto now = records::Time::clock::now();
    (void)units::parse_time(first, now);
    (void)units::parse_duration_seconds(first);
    (void)units::parse_size(first);
    (void)journal::segment_number(first);

    const std::string path = store_dir() + "/" + journal::segment_name(1);
    write_segment(path, data, size);
    records::Folder folder;
    auto end = journal::for_each_line(path, 0, [&](const journal::Line& line) {
        if (line.text.find('\n') != std::string_view::npos) std::abort();
        if (auto seal = journal::check_seal(line.text)) {
            if (seal->claimed.size() != 64 || seal->computed.size() != 64) std::abort();
        }
        if (auto entry = journal::parse_entry(line.text)) {
            if (!entry->is_object()) std::abort();
            folder.add(*entry);
            (void)records::run_start_from_json(*entry);
            (void)records::outcome_from_json(*entry);
            (void)journal::member(journal::member(*entry, "stdout"), "file");
        }
        return true;
    });
    if (end && *end > size) std::abort();
    for (const auto& record : folder.take()) {
        (void)records::record_status(record);
        (void)record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    // The whole-store verifier costs a directory scan and several opens: one input in eight
    // (chosen by content, so a failing input reproduces) keeps the rest of the target fast.
    if (size > 0 && data[0] % 8 == 0)
        (void)verify::verify_store(store_dir(), /*check_outputs=*/false);
    return 0;
}
