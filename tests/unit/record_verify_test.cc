// `tooljail runs verify` (runtime/records/record_verify.h): each kind of tampering is detected and
// named.
#include "runtime/records/record_verify.h"

#include <filesystem>

#include <catch2/catch.hpp>

#include "runtime/records/record_journal.h"
#include "tests/unit/record_test_util.h"

using nlohmann::json;
using rectest::TempStore;

namespace {

// A store with three complete runs: seq 1..6 in journal-1.jsonl.
std::vector<std::string> make_store(const TempStore& t) {
    auto store = rectest::open_store(t.dir());
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i)
        ids.push_back(rectest::record_run(*store, "out " + std::to_string(i) + "\n"));
    return ids;
}

runtime::verify::Report verify(const TempStore& t) {
    auto r = runtime::verify::verify_store(t.dir());
    REQUIRE(r);
    return *r;
}

std::string problems(const runtime::verify::Report& r) {
    std::string all;
    for (const auto& p : r.problems) all += p + "\n";
    return all;
}

}  // namespace

TEST_CASE("verify: an untouched store is intact", "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto r = verify(t);
    CHECK(r.intact());
    CHECK(r.entries == 6);
    CHECK(r.first_seq == 1);
    CHECK(r.head_seq == 6);
    CHECK(r.outputs == 3);
    CHECK(r.head_hash.size() == 64);
}

TEST_CASE("verify: an edited entry is named", "[records][verify][unit]") {
    TempStore t;
    auto ids = make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    // seq 4 is the end of the second run: change its exit code.
    size_t pos = lines[3].find("\"exit_code\":0");
    REQUIRE(pos != std::string::npos);
    lines[3].replace(pos, 13, "\"exit_code\":1");
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    CHECK(r.problems.front() == "entry seq 4 (run " + ids[1] +
                                    ") in journal-1.jsonl line 4: content edited (hash mismatch)");
}

TEST_CASE("verify: an entry edited and re-hashed breaks the chain at the next entry",
          "[records][verify][unit]") {
    TempStore t;
    auto ids = make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    auto e = json::parse(lines[3]);
    e["exit_code"] = 1;
    e.erase("hash");
    lines[3] = runtime::journal::seal(e, 4, e["prev"]).line;  // a forger who knows the format
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    INFO(problems(r));
    CHECK(r.problems.front().find("entry seq 4 (run " + ids[1] + ")") != std::string::npos);
    CHECK(r.problems.front().find("chain broken") != std::string::npos);
}

TEST_CASE("verify: a deleted entry is named", "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    lines.erase(lines.begin() + 2);  // seq 3
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    INFO(problems(r));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems.front().rfind("seq 3 missing: entry deleted (between seq 2 and entry seq 4",
                                   0) == 0);
}

TEST_CASE("verify: deleting the first entries is not mistaken for retention",
          "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    lines.erase(lines.begin(), lines.begin() + 2);
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    INFO(problems(r));
    CHECK(r.problems.front().rfind("seq 1..2 missing: entries deleted before entry seq 3", 0) == 0);
}

TEST_CASE("verify: reordered entries are named", "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    std::swap(lines[2], lines[3]);  // seq 3 and 4
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    INFO(problems(r));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems.front().rfind("seq order broken at entry seq 3", 0) == 0);
    CHECK(r.problems.front().find("reordered") != std::string::npos);
}

TEST_CASE("verify: a line replaced by garbage is named", "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    lines[1] = "{\"hello\": \"world\"}";
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    REQUIRE_FALSE(r.intact());
    INFO(problems(r));
    CHECK(r.problems.front() == "journal-1.jsonl line 2: not a valid entry (edited or corrupted)");
}

TEST_CASE("verify: tampered and deleted output files are named", "[records][verify][unit]") {
    TempStore t;
    auto ids = make_store(t);
    rectest::write_lines(t.dir() + "/output/" + ids[0] + ".stdout", {"forged"});
    std::filesystem::remove(t.dir() + "/output/" + ids[2] + ".stdout");
    auto r = verify(t);
    REQUIRE(r.problems.size() == 2);
    CHECK(r.problems[0] == "output of run " + ids[0] + " (output/" + ids[0] +
                               ".stdout): content tampered (sha256 mismatch)");
    CHECK(r.problems[1] ==
          "output of run " + ids[2] + " (output/" + ids[2] + ".stdout): missing (deleted)");
}

TEST_CASE("verify: a store that cannot be read is an error, not a verdict",
          "[records][verify][unit]") {
    TempStore t;
    auto r = runtime::verify::verify_store(t.dir() + "/nope");
    CHECK_FALSE(r);
}

TEST_CASE("verify: entries of an unexpected shape are reported, never a crash",
          "[records][verify][unit]") {
    TempStore t;
    make_store(t);
    auto lines = rectest::read_lines(t.segment(1));
    std::string prev = json::parse(lines.back())["hash"];
    // Correctly chained (a forger rewrote the tail), but every field has the wrong type.
    for (const json& odd :
         {json{{"type", "end"}, {"run_id", 5}, {"stdout", "text"}, {"stderr", {{"file", 7}}}},
          json{{"type", "prune"}, {"through_seq", "x"}, {"supervisor", 3}},
          json{{"type", "end"},
               {"run_id", "run-1-a"},
               {"stdout", {{"file", "output/../../etc/passwd"}}}}}) {
        auto sealed = runtime::journal::seal(odd, lines.size() + 1, prev);
        lines.push_back(sealed.line);
        prev = sealed.hash;
    }
    lines.push_back(R"({"seq":"nine","prev":1,"hash":"zz"})");
    rectest::write_lines(t.segment(1), lines);
    auto r = verify(t);
    INFO(problems(r));
    REQUIRE(r.problems.size() == 2);
    CHECK(r.problems[0].find("output/../../etc/passwd): not a store output path") !=
          std::string::npos);
    CHECK(r.problems[1] == "journal-1.jsonl line 10: not a valid entry (edited or corrupted)");
    runtime::records::Folder f;
    REQUIRE(runtime::journal::for_each_entry(t.dir(), [&](const json& e) { f.add(e); }));
    CHECK(f.take().size() == 4);
}
