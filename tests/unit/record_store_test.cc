// The record store (runtime/records/record_store.h): durable start/end entries, markers and
// recovery of interrupted runs, concurrent writers, refusals, retention. Tampering:
// record_verify_test.cc.
#include "runtime/records/record_store.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "runtime/records/record_journal.h"
#include "runtime/records/record_verify.h"
#include "sandbox/base/sha256.h"
#include "tests/unit/record_test_util.h"

using nlohmann::json;
using rectest::TempStore;

namespace {

std::vector<json> entries(const std::string& dir) {
    std::vector<json> out;
    REQUIRE(runtime::journal::for_each_entry(dir, [&](const json& e) { out.push_back(e); }));
    return out;
}

std::vector<json> records(const std::string& dir) {
    runtime::records::Folder f;
    for (const auto& e : entries(dir)) f.add(e);
    return f.take();
}

void require_intact(const std::string& dir) {
    auto report = runtime::verify::verify_store(dir);
    REQUIRE(report);
    for (const auto& p : report->problems) UNSCOPED_INFO(p);
    REQUIRE(report->intact());
}

// Forks a child that opens the store, starts a run and then either exits without finishing it
// (a supervisor crash: no destructors run) or waits for a byte on `hold` first.
pid_t crashing_supervisor(const std::string& dir, int hold_fd = -1) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        runtime::RecordOptions o;
        o.dir = dir;
        auto store = runtime::RecordStore::open(o);
        if (!store || !(*store)->start(rectest::sample_start("crash"))) ::_exit(2);
        if (hold_fd >= 0) {
            char c;
            ssize_t ignored = ::read(hold_fd, &c, 1);
            (void)ignored;
        }
        ::_exit(0);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("record store: a run is a start and an end entry, chained, with its output",
          "[records][unit]") {
    TempStore t;
    auto store = rectest::open_store(t.dir());
    struct stat st {};
    REQUIRE(::stat(t.dir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    auto started = store->start(rectest::sample_start());
    REQUIRE(started);
    CHECK(started->run_id.rfind("run-" + std::to_string(::getpid()) + "-", 0) == 0);
    CHECK(started->trace_id.size() == 32);
    CHECK(std::filesystem::exists(t.dir() + "/open/" + started->run_id));
    REQUIRE(store->finish(started->run_id, rectest::sample_outcome("hello\n")));
    CHECK_FALSE(std::filesystem::exists(t.dir() + "/open/" + started->run_id));
    CHECK_FALSE(store->finish(started->run_id, rectest::sample_outcome()));  // only once

    auto es = entries(t.dir());
    REQUIRE(es.size() == 2);
    CHECK(es[0]["type"] == "start");
    CHECK(es[0]["seq"] == 1);
    CHECK(es[0]["prev"] == std::string(runtime::journal::kGenesis));
    CHECK(es[1]["type"] == "end");
    CHECK(es[1]["seq"] == 2);
    CHECK(es[1]["prev"] == es[0]["hash"]);
    std::string file = es[1]["stdout"]["file"];
    CHECK(file == "output/" + started->run_id + ".stdout");
    CHECK(rectest::read_all(t.dir() + "/" + file) == "hello\n");
    CHECK(es[1]["stdout"]["file_sha256"] == sandbox::sha256_hex("hello\n"));
    CHECK(es[1]["stderr"]["file"].is_null());  // nothing captured, no file

    auto rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["status"] == "success");
    CHECK(rs[0]["trace_id"] == started->trace_id);
    require_intact(t.dir());
}

TEST_CASE("record store: arguments, argv and env are redacted before they are written",
          "[records][unit]") {
    TempStore t;
    auto store = rectest::open_store(t.dir());
    auto start = rectest::sample_start();
    start.arguments = {{"query", "x"}, {"api_key", "sk-abcdefghijklmnopqrstuvwxyz"}};
    start.argv = {"curl", "-H", "Authorization: Bearer abcdefgh12345678", "https://x"};
    start.env = {"PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=abc"};
    auto started = store->start(start);
    REQUIRE(started);
    REQUIRE(store->finish(started->run_id, rectest::sample_outcome()));
    std::string journal = rectest::read_all(t.segment(1));
    for (const char* secret : {"sk-abcdefghijklmnopqrstuvwxyz", "abcdefgh12345678", "=abc\""})
        CHECK(journal.find(secret) == std::string::npos);
    auto rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["redacted"] == true);
    CHECK(rs[0]["redacted_pointers"] == json({"/arguments/api_key", "/argv/2", "/env/1"}));
    CHECK(rs[0]["arguments"]["query"] == "x");
}

TEST_CASE("record store: a refusal is a record of its own", "[records][unit]") {
    TempStore t;
    auto store = rectest::open_store(t.dir());
    runtime::records::Refusal r{rectest::sample_start(), runtime::records::kValidationError,
                                "path escapes the workspace"};
    r.run.tool = "read_file";
    r.run.arguments = {{"path", "../etc/shadow"}, {"token", "t"}};
    auto id = store->refuse(r);
    REQUIRE(id);
    auto rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["run_id"] == *id);
    CHECK(rs[0]["status"] == "refused");
    CHECK(rs[0]["reason"] == "validation_error");
    CHECK(rs[0]["message"] == "path escapes the workspace");
    CHECK(rs[0]["arguments"]["token"] == "[REDACTED]");
    require_intact(t.dir());
}

TEST_CASE("record store: a supervisor that dies mid-run leaves a run marked interrupted",
          "[records][unit]") {
    TempStore t;
    { auto first = rectest::open_store(t.dir()); }  // create the layout
    REQUIRE(wait_exit(crashing_supervisor(t.dir())) == 0);
    auto rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["status"] == "running");

    auto store = rectest::open_store(t.dir());  // open() recovers
    rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["status"] == "interrupted");
    CHECK(rs[0]["reason"] == "interrupted");
    CHECK(std::filesystem::is_empty(t.dir() + "/open"));
    // Recovery is idempotent.
    auto again = store->recover();
    REQUIRE(again);
    CHECK(again->empty());
    require_intact(t.dir());
}

TEST_CASE("record store: after a reboot, runs of the previous boot without an end are interrupted",
          "[records][unit]") {
    TempStore t;
    { rectest::record_run(*rectest::open_store(t.dir())); }
    // A run started before a power cut: its start entry is durable, its marker was not.
    auto lines = rectest::read_lines(t.segment(1));
    REQUIRE(lines.size() == 2);
    runtime::records::RunStart old = rectest::sample_start("before the power cut");
    old.run_id = "run-1-0000000000000001";
    runtime::records::Supervisor old_supervisor{1, 1, "old-boot", "host", "0.1.0"};
    auto last = json::parse(lines.back());
    auto sealed = runtime::journal::seal(runtime::records::start_entry(old, old_supervisor, {}), 3,
                                         last["hash"]);
    lines.push_back(sealed.line);
    rectest::write_lines(t.segment(1), lines);
    rectest::write_lines(t.dir() + "/boot.json", {R"({"boot_id":"old-boot","segment":1})"});

    auto store = rectest::open_store(t.dir());
    auto rs = records(t.dir());
    REQUIRE(rs.size() == 2);
    CHECK(rs[0]["status"] == "success");
    CHECK(rs[1]["run_id"] == old.run_id);
    CHECK(rs[1]["status"] == "interrupted");
    CHECK(rs[1]["message"] == "the host rebooted during the run");
    CHECK(json::parse(rectest::read_all(t.dir() + "/boot.json"))["boot_id"] != "old-boot");
    require_intact(t.dir());
    // Once per boot: opening again changes nothing.
    auto before = entries(t.dir()).size();
    { auto again = rectest::open_store(t.dir()); }
    CHECK(entries(t.dir()).size() == before);
}

TEST_CASE("record store: the runs of a live supervisor are never marked", "[records][unit]") {
    TempStore t;
    { auto first = rectest::open_store(t.dir()); }
    int hold[2];
    REQUIRE(::pipe(hold) == 0);
    pid_t child = crashing_supervisor(t.dir(), hold[0]);
    // Wait until the child's start entry is there.
    for (int i = 0; i < 500 && records(t.dir()).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(records(t.dir()).size() == 1);
    auto store = rectest::open_store(t.dir());
    auto marked = store->recover();
    REQUIRE(marked);
    CHECK(marked->empty());
    CHECK(records(t.dir())[0]["status"] == "running");
    REQUIRE(::write(hold[1], "x", 1) == 1);
    REQUIRE(wait_exit(child) == 0);
    marked = store->recover();
    REQUIRE(marked);
    CHECK(marked->size() == 1);
    CHECK(records(t.dir())[0]["status"] == "interrupted");
    ::close(hold[0]);
    ::close(hold[1]);
}

TEST_CASE("record store: a store closed with runs still open marks them interrupted",
          "[records][unit]") {
    TempStore t;
    std::string id;
    {
        auto store = rectest::open_store(t.dir());
        auto started = store->start(rectest::sample_start());
        REQUIRE(started);
        id = started->run_id;
    }
    auto rs = records(t.dir());
    REQUIRE(rs.size() == 1);
    CHECK(rs[0]["status"] == "interrupted");
    CHECK(std::filesystem::is_empty(t.dir() + "/open"));
}

TEST_CASE("record store: threads and several store handles never interleave entries",
          "[records][unit]") {
    TempStore t;
    auto a = rectest::open_store(t.dir());
    auto b = rectest::open_store(t.dir());  // its own flock file description, like another process
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            auto& store = i % 2 ? *a : *b;
            for (int k = 0; k < 25; ++k) {
                auto s = store.start(rectest::sample_start("t" + std::to_string(i)));
                if (!s || !store.finish(s->run_id, rectest::sample_outcome(std::to_string(k))))
                    std::abort();
            }
        });
    }
    for (auto& th : threads) th.join();
    auto rs = records(t.dir());
    CHECK(rs.size() == 200);
    for (const auto& r : rs) CHECK(r["status"] == "success");
    auto es = entries(t.dir());
    REQUIRE(es.size() == 400);
    for (size_t i = 0; i < es.size(); ++i) CHECK(es[i]["seq"] == i + 1);
    require_intact(t.dir());
}

TEST_CASE("record store: rotation and retention keep verify passing", "[records][unit]") {
    TempStore t;
    runtime::Retention keep_all;
    keep_all.segment_bytes = 4096;  // the minimum: a few runs per segment
    keep_all.max_age_seconds = 0;
    keep_all.max_bytes = 0;
    {
        auto store = rectest::open_store(t.dir(), keep_all);
        for (int i = 0; i < 40; ++i) rectest::record_run(*store, "run " + std::to_string(i) + "\n");
    }
    auto segments = runtime::journal::list_segments(t.dir());
    REQUIRE(segments);
    REQUIRE(segments->size() >= 5);
    require_intact(t.dir());

    runtime::Retention small = keep_all;
    small.max_bytes = 24 * 1024;
    auto store = rectest::open_store(t.dir(), small);
    auto pruned = store->prune();
    REQUIRE(pruned);
    REQUIRE_FALSE(pruned->segments.empty());
    CHECK(pruned->segments.front() == 1);
    CHECK_FALSE(std::filesystem::exists(t.segment(1)));
    auto report = runtime::verify::verify_store(t.dir());
    REQUIRE(report);
    CHECK(report->intact());
    CHECK(report->first_seq == pruned->through_seq + 1);
    REQUIRE_FALSE(report->notes.empty());
    CHECK(report->notes.back().find("removed by retention") != std::string::npos);
    // Output files of the pruned runs went with them; the rest are still there and checked.
    size_t outputs = 0;
    for (const auto& e : std::filesystem::directory_iterator(t.dir() + "/output"))
        outputs += e.is_regular_file();
    CHECK(outputs == report->outputs);

    // More runs keep rotating and pruning on their own, and the chain stays whole.
    for (int i = 0; i < 40; ++i) rectest::record_run(*store, "more " + std::to_string(i) + "\n");
    require_intact(t.dir());

    // Removing the oldest remaining segment by hand is deletion, not retention.
    segments = runtime::journal::list_segments(t.dir());
    REQUIRE(segments);
    REQUIRE(segments->size() >= 2);
    std::filesystem::remove(segments->front().path);
    report = runtime::verify::verify_store(t.dir());
    REQUIRE(report);
    REQUIRE_FALSE(report->intact());
    CHECK(report->problems.front().find("deleted") != std::string::npos);
}

TEST_CASE("record store: retention settings live in the store", "[records][unit]") {
    TempStore t;
    { auto store = rectest::open_store(t.dir()); }
    auto defaults = runtime::load_retention(t.dir());
    REQUIRE(defaults);
    CHECK(defaults->max_age_seconds == 90 * 86400);
    runtime::Retention r;
    r.max_age_seconds = 3600;
    r.max_bytes = 5 << 20;
    REQUIRE(runtime::save_retention(t.dir(), r));
    auto back = runtime::load_retention(t.dir());
    REQUIRE(back);
    CHECK(back->max_age_seconds == 3600);
    CHECK(back->max_bytes == (5u << 20));
    rectest::write_lines(t.dir() + "/retention.json", {R"({"max_age": "forever"})"});
    auto bad = runtime::load_retention(t.dir());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("/max_age") != std::string::npos);
}

TEST_CASE("record store: a torn tail from a crash is acknowledged, not rewritten",
          "[records][unit]") {
    TempStore t;
    auto store = rectest::open_store(t.dir());
    rectest::record_run(*store);
    {
        std::ofstream seg(t.segment(1), std::ios::app);
        seg << R"({"at":"2026-01-01T00:00:00.000Z","run_id":"run-1-x","seq":3,"ty)";  // no newline
    }
    auto report = runtime::verify::verify_store(t.dir());
    REQUIRE(report);
    CHECK(report->intact());  // an unterminated last line is a crash, not tampering
    rectest::record_run(*store);
    auto lines = rectest::read_lines(t.segment(1));
    REQUIRE(lines.size() == 6);  // 2 entries, the torn bytes, the torn entry, 2 entries
    CHECK(lines[2].find("\"ty") != std::string::npos);
    CHECK(lines[3].find("\"type\":\"torn\"") != std::string::npos);
    report = runtime::verify::verify_store(t.dir());
    REQUIRE(report);
    for (const auto& p : report->problems) UNSCOPED_INFO(p);
    CHECK(report->intact());
    REQUIRE_FALSE(report->notes.empty());
    CHECK(report->notes.front().find("torn") != std::string::npos);
}

TEST_CASE("record store: a write cut short (disk full) is refused and leaves no partial entry",
          "[records][unit]") {
    TempStore t;
    { rectest::record_run(*rectest::open_store(t.dir())); }
    auto size_before = std::filesystem::file_size(t.segment(1));
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // RLIMIT_FSIZE makes the kernel accept only part of the write, like a filling disk.
        auto store = rectest::open_store(t.dir());
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit lim{size_before + 100, size_before + 100};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(3);
        auto started = store->start(rectest::sample_start());
        if (started) ::_exit(4);
        if (started.error().message().find(t.segment(1)) == std::string::npos) ::_exit(5);
        if (std::filesystem::file_size(t.segment(1)) != size_before) ::_exit(6);
        ::_exit(0);
    }
    CHECK(wait_exit(pid) == 0);
    CHECK(std::filesystem::file_size(t.segment(1)) == size_before);
    CHECK(std::filesystem::is_empty(t.dir() + "/open"));
    require_intact(t.dir());
    auto store = rectest::open_store(t.dir());
    rectest::record_run(*store);  // the store carries on
    CHECK(records(t.dir()).size() == 2);
    require_intact(t.dir());
}

TEST_CASE("record store: an unusable directory fails open with the path and errno",
          "[records][unit]") {
    TempStore t;
    { auto store = rectest::open_store(t.dir()); }
    std::string blocker = t.dir() + "/file";
    rectest::write_lines(blocker, {"x"});
    runtime::RecordOptions o;
    o.dir = blocker + "/store";
    auto s = runtime::RecordStore::open(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().message().find(blocker) != std::string::npos);
    CHECK(s.error().message().find("ENOTDIR") != std::string::npos);
}
