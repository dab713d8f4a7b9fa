// Resource URIs and the run archive: exact forms accepted, everything else refused; runs are
// bounded and visible only to their owner.
#include "runtime/mcp/resources.h"

#include <catch2/catch.hpp>

#include "runtime/mcp/run_archive.h"

using runtime::ArchivedRun;
using runtime::parse_resource_uri;
using runtime::RunArchive;

TEST_CASE("resource URIs: the documented forms", "[resources]") {
    auto r = parse_resource_uri("tooljail://runs/run-12-3");
    REQUIRE(r);
    CHECK(r->kind == "run");
    CHECK(r->name == "run-12-3");

    r = parse_resource_uri("tooljail://runs/run-1/stdout");
    REQUIRE(r);
    CHECK(r->kind == "output");
    CHECK(r->stream == "stdout");
    CHECK(r->offset == 0);
    CHECK(r->length == runtime::kDefaultPageBytes);

    r = parse_resource_uri("tooljail://runs/run-1/stderr?length=10&offset=65536");
    REQUIRE(r);
    CHECK(r->stream == "stderr");
    CHECK(r->offset == 65536);
    CHECK(r->length == 10);

    r = parse_resource_uri("tooljail://policies/default");
    REQUIRE(r);
    CHECK(r->kind == "policy");
    r = parse_resource_uri("tooljail://tools/read_file/policy");
    REQUIRE(r);
    CHECK(r->kind == "tool_policy");
    CHECK(r->name == "read_file");
}

TEST_CASE("resource URIs: everything else is refused", "[resources]") {
    for (const char* bad : {"",
                            "tooljail://",
                            "tooljail://runs",
                            "tooljail://runs/",
                            "file:///etc/passwd",
                            "tooljail://runs/../x",
                            "tooljail://runs/a/b/stdout",
                            "tooljail://runs/r/stdin",
                            "tooljail://runs/r/stdout?offset=-1",
                            "tooljail://runs/r/stdout?offset=1x",
                            "tooljail://runs/r/stdout?offset=1&offset=2",
                            "tooljail://runs/r/stdout?length=0",
                            "tooljail://runs/r/stdout?length=1048577",
                            "tooljail://runs/r/stdout?page=1",
                            "tooljail://runs/r/stdout?offset",
                            "tooljail://runs/r?offset=1",
                            "tooljail://policies/a b",
                            "tooljail://policies/default?x=1",
                            "tooljail://tools/x/limits",
                            "TOOLJAIL://runs/r",
                            "tooljail://runs/r/stdout?offset=99999999999999"}) {
        INFO(bad);
        CHECK_FALSE(parse_resource_uri(bad));
    }
    CHECK_FALSE(parse_resource_uri("tooljail://runs/" + std::string(200, 'a')));
}

TEST_CASE("cursors are decimal offsets within the list", "[resources]") {
    using nlohmann::json;
    CHECK(runtime::parse_cursor(json::object(), 5) == 0u);
    CHECK(runtime::parse_cursor(json{{"cursor", "3"}}, 5) == 3u);
    CHECK(runtime::parse_cursor(json{{"cursor", "5"}}, 5) == 5u);
    CHECK_FALSE(runtime::parse_cursor(json{{"cursor", "6"}}, 5));
    CHECK_FALSE(runtime::parse_cursor(json{{"cursor", ""}}, 5));
    CHECK_FALSE(runtime::parse_cursor(json{{"cursor", 3}}, 5));
    CHECK_FALSE(runtime::parse_cursor(json{{"cursor", "-1"}}, 5));
}

namespace {
ArchivedRun run(const std::string& id, const std::string& owner, size_t bytes) {
    return ArchivedRun{id,
                       owner,
                       "tool",
                       std::chrono::system_clock::now(),
                       nlohmann::json::object(),
                       std::string(bytes, 'o'),
                       ""};
}
}  // namespace

TEST_CASE("the run archive keeps the newest runs within its bounds", "[resources]") {
    RunArchive archive({3, 1000});
    CHECK(archive.add(run("r1", "a", 100)));
    CHECK(archive.add(run("r2", "a", 100)));
    CHECK(archive.add(run("r3", "b", 100)));
    CHECK(archive.add(run("r4", "a", 100)));  // evicts r1 (count)
    CHECK_FALSE(archive.find("r1", "a"));
    CHECK(archive.find("r2", "a"));
    CHECK(archive.add(run("r5", "a", 801)));  // evicts r2, r3 (bytes)
    CHECK_FALSE(archive.find("r2", "a"));
    CHECK_FALSE(archive.find("r3", "b"));
    CHECK_FALSE(archive.add(run("huge", "a", 1001)));  // larger than the whole archive
    CHECK(archive.find("r5", "a"));

    auto listed = archive.list("a");
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]->run_id == "r5");  // newest first
    CHECK(listed[1]->run_id == "r4");
}

TEST_CASE("another owner's runs are invisible", "[resources]") {
    RunArchive archive;
    archive.add(run("mine", "alice", 10));
    CHECK(archive.find("mine", "alice"));
    CHECK_FALSE(archive.find("mine", "bob"));
    CHECK(archive.list("bob").empty());
}
