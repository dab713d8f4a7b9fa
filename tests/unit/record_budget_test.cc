// The record store's size budget (docs/RECORDS.md, "The size budget"; issue 16 item 2): output
// beyond what retention.max_bytes leaves room for is not written and the record says so,
// retention frees the budget at once rather than after an 8 MiB rotation, a run still open keeps
// its start, and a run whose end the store could not write is reported by verify as such.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "runtime/records/record_journal.h"
#include "runtime/records/record_store.h"
#include "runtime/records/record_verify.h"
#include "sandbox/base/sha256.h"
#include "tests/unit/record_test_util.h"

using nlohmann::json;
using rectest::TempStore;
namespace fs = std::filesystem;

namespace {

std::vector<json> records(const std::string& dir) {
    runtime::records::Folder f;
    REQUIRE(runtime::journal::for_each_entry(dir, [&](const json& e) { f.add(e); }));
    return f.take();
}

const json* find_run(const std::vector<json>& all, const std::string& run_id) {
    for (const auto& r : all)
        if (r["run_id"] == run_id) return &r;
    return nullptr;
}

// What the budget covers: the journal segments and the output files.
uint64_t store_bytes(const std::string& dir) {
    uint64_t total = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind("journal-", 0) == 0) total += e.file_size();
    for (const auto& e : fs::directory_iterator(dir + "/output")) total += e.file_size();
    return total;
}

runtime::Retention budget(uint64_t bytes) {
    runtime::Retention r;
    r.max_bytes = bytes;
    r.max_age_seconds = 0;
    return r;
}

sandbox::Outcome with_output(size_t out, size_t err) {
    sandbox::Outcome o = rectest::sample_outcome(std::string(out, 'o'));
    o.err.data = std::string(err, 'e');
    o.err.total = err;
    return o;
}

std::string run(runtime::RecordStore& store, const sandbox::Outcome& o) {
    auto started = store.start(rectest::sample_start("budget"));
    REQUIRE(started);
    auto finished = store.finish(started->run_id, o);
    INFO((finished ? std::string() : finished.error().message()));
    REQUIRE(finished);
    return started->run_id;
}

runtime::verify::Report verified(const std::string& dir) {
    auto report = runtime::verify::verify_store(dir);
    REQUIRE(report);
    for (const auto& p : report->problems) UNSCOPED_INFO(p);
    CHECK(report->intact());
    return *report;
}

}  // namespace

TEST_CASE(
    "record budget: retention frees the budget at once, the current segment's predecessors "
    "first",
    "[records][unit]") {
    TempStore t;
    const uint64_t max = 256 * 1024;
    auto store = rectest::open_store(t.dir(), budget(max));
    std::vector<std::string> ids;
    // Each run's output is over an eighth of the budget, so each gets a segment of its own.
    for (int i = 0; i < 12; ++i) {
        ids.push_back(run(*store, with_output(48 * 1024, 32 * 1024)));
        CHECK(store_bytes(t.dir()) <= max);
    }
    auto all = records(t.dir());
    // Nothing was cut: each run fitted once older ones were removed, oldest first.
    const json* last = find_run(all, ids.back());
    REQUIRE(last);
    CHECK((*last)["stdout"]["captured_bytes"] == 48 * 1024);
    CHECK_FALSE((*last)["stdout"].contains("store_cut"));
    CHECK(fs::file_size(t.dir() + "/" + (*last)["stdout"]["file"].get<std::string>()) == 48 * 1024);
    CHECK_FALSE(find_run(all, ids.front()));
    auto report = verified(t.dir());
    CHECK(report.complete());
    CHECK(report.notes.back().find("removed by retention") != std::string::npos);
}

TEST_CASE("record budget: output beyond the budget is not written, and the record says so",
          "[records][unit]") {
    TempStore t;
    const uint64_t max = 64 * 1024;
    auto store = rectest::open_store(t.dir(), budget(max));
    sandbox::Outcome big = with_output(100 * 1024, 100 * 1024);
    big.out.sha256 = sandbox::sha256_hex(big.out.data);  // of every byte the child wrote
    std::string id = run(*store, big);
    CHECK(store_bytes(t.dir()) <= max);
    auto all = records(t.dir());
    const json* r = find_run(all, id);
    REQUIRE(r);
    CHECK((*r)["status"] == "success");
    for (const char* stream : {"stdout", "stderr"}) {
        INFO(stream << ": " << (*r)[stream].dump());
        const json& c = (*r)[stream];
        CHECK(c["captured_bytes"] == 100 * 1024);
        CHECK(c["store_cut"] == "max_bytes");
        CHECK(c["store_errno"].is_null());
        uint64_t stored = c["stored_bytes"].get<uint64_t>();
        CHECK(stored > 20 * 1024);  // half of what room there is, each
        CHECK(stored < 32 * 1024);
        std::string file = t.dir() + "/" + c["file"].get<std::string>();
        REQUIRE(fs::file_size(file) == stored);
        CHECK(c["file_sha256"] == sandbox::sha256_hex(rectest::read_all(file)));
    }
    CHECK((*r)["stdout"]["sha256"] == big.out.sha256);  // the whole capture's, as before

    // A stream that needs little leaves the rest to the other.
    std::string small_err = run(*store, with_output(100 * 1024, 1000));
    all = records(t.dir());
    r = find_run(all, small_err);
    REQUIRE(r);
    CHECK_FALSE((*r)["stderr"].contains("store_cut"));
    CHECK((*r)["stdout"]["stored_bytes"].get<uint64_t>() > 40 * 1024);
    CHECK(store_bytes(t.dir()) <= max);

    auto report = verified(t.dir());
    CHECK(report.complete());
    bool noted = false;
    for (const auto& n : report.notes)
        noted = noted || n.find("the store's size budget, max_bytes") != std::string::npos;
    CHECK(noted);
}

TEST_CASE("record budget: a run still open keeps its start entry through retention",
          "[records][unit]") {
    TempStore t;
    auto store = rectest::open_store(t.dir(), budget(128 * 1024));
    run(*store, with_output(40 * 1024, 0));
    auto long_run = store->start(rectest::sample_start("long"));
    REQUIRE(long_run);
    for (int i = 0; i < 10; ++i) run(*store, with_output(40 * 1024, 0));
    REQUIRE(store->finish(long_run->run_id, rectest::sample_outcome("late\n")));
    auto all = records(t.dir());
    const json* r = find_run(all, long_run->run_id);
    REQUIRE(r);
    CHECK_FALSE(r->contains("partial"));
    CHECK((*r)["status"] == "success");
    // Once it ended, retention goes on.
    for (int i = 0; i < 10; ++i) run(*store, with_output(40 * 1024, 0));
    CHECK_FALSE(find_run(records(t.dir()), long_run->run_id));
    CHECK(store_bytes(t.dir()) <= 128 * 1024);
    verified(t.dir());
}

TEST_CASE(
    "record budget: a run whose end the store could not write is reported by verify, with "
    "the store's errno",
    "[records][unit]") {
    TempStore t;
    { rectest::record_run(*rectest::open_store(t.dir())); }
    std::string segment = t.segment(1);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        auto store = rectest::open_store(t.dir());
        auto started = store->start(rectest::sample_start("cut short"));
        if (!started) ::_exit(3);
        // The end entry gets only part of its write, as on a disk that fills up.
        auto size = fs::file_size(segment);
        rlimit lim{size + 100, RLIM_INFINITY};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(4);
        auto finished = store->finish(started->run_id, rectest::sample_outcome(""));
        if (finished || finished.error().sys_errno != ENOSPC) ::_exit(5);
        // Room again: the next append records the run as interrupted, and why.
        lim.rlim_cur = RLIM_INFINITY;
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(6);
        if (!store->start(rectest::sample_start("after"))) ::_exit(7);
        ::_exit(0);  // no destructor: "after" is left to recovery
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    { auto reopened = rectest::open_store(t.dir()); }  // marks "after" interrupted

    auto report = verified(t.dir());
    CHECK_FALSE(report.complete());
    CHECK(report.interrupted == 2);
    CHECK(report.store_errors == 1);
    REQUIRE(report.incomplete.size() == 2);
    CHECK(report.incomplete[0].find("interrupted, no outcome: the record store could not write "
                                    "its end (ENOSPC: the disk was full)") != std::string::npos);
    CHECK(report.incomplete[1].find("ended before the run was recorded as finished") !=
          std::string::npos);
    auto all = records(t.dir());
    REQUIRE(all.size() == 3);
    CHECK(all[1]["status"] == "interrupted");
    CHECK(all[1]["store_errno"] == "ENOSPC");
}
