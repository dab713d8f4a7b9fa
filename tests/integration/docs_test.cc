// What the documentation promises about the command line, checked against the binary: README's
// list of `tooljail run --json` fields, and `tooljail check` (docs/POLICIES.md names it) on the
// shipped files and on a broken one.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The backquoted words of README's bullet on --json (from "`--json`" to the next bullet).
std::set<std::string> readme_json_fields() {
    std::string readme = slurp(std::string(TOOLJAIL_SOURCE_DIR) + "/README.md");
    size_t start = readme.find("`--json`\n  instead prints");
    REQUIRE(start != std::string::npos);
    size_t end = readme.find("\n- ", start);
    std::string bullet = readme.substr(start, end - start);
    std::set<std::string> words;
    std::regex quoted("`([a-z0-9_]+)`");
    for (auto it = std::sregex_iterator(bullet.begin(), bullet.end(), quoted);
         it != std::sregex_iterator(); ++it)
        words.insert((*it)[1]);
    return words;
}

void check_documented(const json& doc, const std::set<std::string>& documented,
                      const std::string& what) {
    for (const auto& [key, value] : doc.items()) {
        INFO(what << ": --json field '" << key << "' is not in README's list");
        CHECK(documented.count(key) == 1);
        if (value.is_object())
            for (const auto& [sub, ignored] : value.items()) {
                INFO(what << ": --json field '" << key << "." << sub << "' is not in README");
                CHECK(documented.count(sub) == 1);
            }
    }
}

}  // namespace

TEST_CASE("docs: README lists every field tooljail run --json prints", "[docs][integration]") {
    auto documented = readme_json_fields();
    REQUIRE(documented.count("status") == 1);
    tjtest::TempDir dir("tooljail-docs-");
    const std::string records = dir.path() + "/records";

    auto ran = tjtest::run_tooljail(
        {"run", "--json", "--records", records, "--no-workspace", "--", "/bin/echo", "hi"});
    REQUIRE(ran.status == 0);
    auto doc = json::parse(ran.out);
    CHECK(doc["tooljail_exit_status"] == 0);
    check_documented(doc, documented, "a run");

    auto missing = tjtest::run_tooljail(
        {"run", "--json", "--records", records, "--no-workspace", "--", "/no/such/program"});
    CHECK(missing.status == 127);
    doc = json::parse(missing.out);
    CHECK(doc["reason"] == "sandbox_error");
    CHECK(doc["tooljail_exit_status"] == 127);
    CHECK(doc["failed_step"] == "execve");
    check_documented(doc, documented, "a launch failure");

    auto refused = tjtest::run_tooljail(
        {"run", "--json", "--records", records, "--policy", "nope", "--", "/bin/true"});
    CHECK(refused.status == 125);
    doc = json::parse(refused.out);
    CHECK(doc["reason"] == "usage");
    check_documented(doc, documented, "a refused command line");
}

TEST_CASE("docs: tooljail check validates the shipped files and prints each tool's risk",
          "[docs][check][integration]") {
    auto r = tjtest::run_tooljail({"check"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out,
               Catch::Contains("policies: " + std::string(TOOLJAIL_SOURCE_DIR) + "/policies"));
    CHECK_THAT(r.out, Catch::Contains("run_python"));
    CHECK_THAT(r.out, Catch::Contains("high"));
    CHECK_THAT(r.out, Catch::Contains("served: "));

    auto j = tjtest::run_tooljail({"check", "--json"});
    REQUIRE(j.status == 0);
    auto doc = json::parse(j.out);
    std::map<std::string, json> tools;
    for (const auto& t : doc["tools"]) tools[t["name"].get<std::string>()] = t;
    REQUIRE(tools.count("run_python") == 1);
    CHECK(tools["run_python"]["risk"] == "high");
    CHECK(tools["read_file"]["risk"] == "low");
    CHECK(tools["read_file"]["hints"] == "read-only");
    CHECK(tools["read_file"]["served"] == true);
    CHECK(tools["read_file"]["network"] == "none");
    CHECK(tools["read_file"]["limits"]["wall_timeout_ms"].is_number_integer());
    CHECK(tools["read_file"]["file"] ==
          std::string(TOOLJAIL_SOURCE_DIR) + "/tools.d/read_file.json");
    CHECK(doc["served"] == doc["tools"].size());
}

TEST_CASE("docs: tooljail check shows overrides and masks, and fails on a bad file",
          "[docs][check][integration]") {
    tjtest::TempDir dir("tooljail-check-");
    const std::string local = dir.path() + "/local", state = dir.path() + "/state";
    fs::create_directories(local);
    const std::string shipped = std::string(TOOLJAIL_SOURCE_DIR) + "/tools.d";
    const std::string path = local + ":" + shipped;
    // A local copy of read_file wins; run_python is masked; the kill switch disables git_log.
    fs::copy_file(shipped + "/read_file.json", local + "/read_file.json");
    fs::create_symlink("/dev/null", local + "/run_python.json");
    REQUIRE(tjtest::run_tooljail({"tools", "disable", "git_log", "--state", state}).status == 0);
    auto r = tjtest::run_tooljail({"check", "--json", "--tools-dir", path, "--state", state});
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto doc = json::parse(r.out);
    std::map<std::string, json> tools;
    for (const auto& t : doc["tools"]) tools[t["name"].get<std::string>()] = t;
    CHECK(tools["read_file"]["file"] == local + "/read_file.json");
    CHECK(tools["list_directory"]["file"] == shipped + "/list_directory.json");
    CHECK(tools.count("run_python") == 0);
    CHECK(tools["git_log"]["served"] == false);
    CHECK(tools["git_log"]["state"] == "disabled (kill switch)");
    CHECK(doc["tools_path"] == path);

    // One broken file fails the whole check, naming it and the JSON pointer; exit 1.
    std::ofstream(local + "/read_file.json") << "{\"name\": \"read_file\", \"nope\": 1}";
    auto bad = tjtest::run_tooljail({"check", "--tools-dir", path, "--state", state});
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Catch::Contains(local + "/read_file.json"));
    CHECK(bad.out.empty());
}
