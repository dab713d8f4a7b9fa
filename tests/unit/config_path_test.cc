// Config search paths (runtime/base/config_path.h): a local directory's NAME.json replaces the
// shipped one, a symlink to /dev/null masks it, missing directories of a longer path are
// skipped, and only the build tree's own executables read the source tree.
#include "runtime/base/config_path.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/policy/policy.h"
#include "runtime/tools/tool_registry.h"

namespace fs = std::filesystem;
namespace cp = runtime::config_path;

namespace {

struct Tree {
    fs::path root;
    Tree() {
        char tmpl[] = "/tmp/tooljail-config-path-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
        fs::create_directories(root / "etc");
        fs::create_directories(root / "share");
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    void write(const std::string& rel, const std::string& text) const {
        std::ofstream(root / rel) << text;
    }
    std::string path(const std::string& rel) const { return (root / rel).string(); }
    std::string search() const { return path("etc") + ":" + path("share"); }
};

std::vector<std::string> names_of(const std::vector<std::string>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(fs::path(f).filename().string());
    return out;
}

}  // namespace

TEST_CASE("config path: split drops empty elements", "[config_path][unit]") {
    CHECK(cp::split("/a") == std::vector<std::string>{"/a"});
    CHECK(cp::split("/a:/b") == std::vector<std::string>{"/a", "/b"});
    CHECK(cp::split(":/a::/b:") == std::vector<std::string>{"/a", "/b"});
    CHECK(cp::split("").empty());
}

TEST_CASE("config path: an earlier directory's file replaces the later one's",
          "[config_path][unit]") {
    Tree t;
    t.write("share/default.json", "shipped");
    t.write("share/strict.json", "shipped");
    t.write("etc/default.json", "local");
    t.write("etc/mine.json", "local");
    t.write("etc/.swap.json", "editor");
    t.write("etc/README", "not a config file");

    auto files = cp::list_json_files(t.search(), "policy directory", "no policies");
    REQUIRE(files.has_value());
    CHECK(*files == std::vector<std::string>{t.path("etc/default.json"), t.path("etc/mine.json"),
                                             t.path("share/strict.json")});
    auto found = cp::find_json_file(t.search(), "default");
    REQUIRE(found.has_value());
    CHECK(*found == t.path("etc/default.json"));
    found = cp::find_json_file(t.search(), "strict");
    REQUIRE(found.has_value());
    CHECK(*found == t.path("share/strict.json"));
    auto none = cp::find_json_file(t.search(), "nope");
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().sys_errno == ENOENT);
}

TEST_CASE("config path: a symlink to /dev/null masks the shipped file", "[config_path][unit]") {
    Tree t;
    t.write("share/default.json", "shipped");
    t.write("share/strict.json", "shipped");
    fs::create_symlink("/dev/null", t.root / "etc/strict.json");

    auto files = cp::list_json_files(t.search(), "policy directory", "no policies");
    REQUIRE(files.has_value());
    CHECK(names_of(*files) == std::vector<std::string>{"default.json"});
    auto masked = cp::find_json_file(t.search(), "strict");
    REQUIRE_FALSE(masked.has_value());
    CHECK(masked.error().sys_errno == ENOENT);

    SECTION("masking everything leaves nothing, which is an error") {
        fs::create_symlink("/dev/null", t.root / "etc/default.json");
        auto empty = cp::list_json_files(t.search(), "policy directory", "no policies (*.json)");
        REQUIRE_FALSE(empty.has_value());
        CHECK(empty.error().code == sandbox::Errc::NotFound);
        CHECK_THAT(empty.error().message(), Catch::Contains(t.search() + ": no policies (*.json)"));
    }
    SECTION("a symlink to anything else is followed, and must reach a regular file") {
        fs::create_symlink(t.root / "share/default.json", t.root / "etc/linked.json");
        fs::create_symlink("/dev/zero", t.root / "etc/device.json");
        auto bad = cp::list_json_files(t.search(), "policy directory", "none");
        REQUIRE_FALSE(bad.has_value());
        CHECK_THAT(bad.error().message(), Catch::Contains("device.json: not a regular file"));
    }
}

TEST_CASE("config path: missing directories", "[config_path][unit]") {
    Tree t;
    t.write("share/default.json", "shipped");
    SECTION("of a longer path are skipped: the local directory need not exist") {
        std::string search = t.path("etc/policies") + ":" + t.path("share");
        auto files = cp::list_json_files(search, "policy directory", "none");
        REQUIRE(files.has_value());
        CHECK(names_of(*files) == std::vector<std::string>{"default.json"});
    }
    SECTION("the only one is an error naming it (a mistyped --policy-dir)") {
        auto files = cp::list_json_files(t.path("nope"), "policy directory", "none");
        REQUIRE_FALSE(files.has_value());
        CHECK(files.error().code == sandbox::Errc::NotFound);
        CHECK_THAT(files.error().message(), Catch::Contains("policy directory " + t.path("nope")));
    }
    SECTION("all of them leave nothing: an error naming the whole path") {
        std::string search = t.path("a") + ":" + t.path("b");
        auto files = cp::list_json_files(search, "policy directory", "no policies (*.json)");
        REQUIRE_FALSE(files.has_value());
        CHECK_THAT(files.error().message(), Catch::Contains(search + ": no policies (*.json)"));
    }
}

TEST_CASE("config path: policies and tools load through a layered path", "[config_path][unit]") {
    Tree t;
    const std::string source = TOOLJAIL_SOURCE_DIR;
    fs::create_directories(t.root / "share/policies");
    std::vector<std::string> shipped;  // every shipped policy: the tools name several
    for (const auto& entry : fs::directory_iterator(source + "/policies")) {
        if (entry.path().extension() != ".json") continue;
        shipped.push_back(entry.path().stem().string());
        fs::copy_file(entry.path(), t.root / "share/policies" / entry.path().filename());
    }
    std::sort(shipped.begin(), shipped.end());
    fs::create_directories(t.root / "etc/policies");
    // A local "default" that differs from the shipped one only in its description.
    std::ifstream in(source + "/policies/default.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto at = text.find("\"description\": \"");
    REQUIRE(at != std::string::npos);
    text.insert(at + 16, "LOCAL ");
    t.write("etc/policies/default.json", text);

    std::string search = t.path("etc/policies") + ":" + t.path("share/policies");
    auto policies = runtime::load_policy_dir(search, runtime::process_env());
    REQUIRE(policies.has_value());
    CHECK(policies->names() == shipped);
    CHECK(policies->find("default")->path == t.path("etc/policies/default.json"));
    CHECK_THAT(policies->find("default")->description, Catch::StartsWith("LOCAL "));
    CHECK(policies->find("strict")->path == t.path("share/policies/strict.json"));

    // The shipped tools against the layered policies: every tool still finds its policy.
    auto tools = runtime::ToolRegistry::load_dir(source + "/tools.d", *policies);
    REQUIRE(tools.has_value());
}

TEST_CASE("config path: the defaults", "[config_path][unit]") {
    // This test binary lives in its build tree, so it reads the checkout it was built from.
    CHECK(cp::build_tree_source_dir() == std::string(TOOLJAIL_SOURCE_DIR));
    const char* old = std::getenv("TOOLJAIL_TOOLS_DIR");
    std::string saved = old ? old : "";
    ::unsetenv("TOOLJAIL_TOOLS_DIR");
    CHECK(cp::default_search_path("TOOLJAIL_TOOLS_DIR", "tools.d") ==
          cp::build_tree_source_dir() + "/tools.d");
    ::setenv("TOOLJAIL_TOOLS_DIR", "/x/tools.d:/y/tools.d", 1);
    CHECK(cp::default_search_path("TOOLJAIL_TOOLS_DIR", "tools.d") == "/x/tools.d:/y/tools.d");
    if (old)
        ::setenv("TOOLJAIL_TOOLS_DIR", saved.c_str(), 1);
    else
        ::unsetenv("TOOLJAIL_TOOLS_DIR");
    CHECK(fs::path(cp::config_dir()).is_absolute());
    CHECK(fs::path(cp::data_dir()).is_absolute());
}
