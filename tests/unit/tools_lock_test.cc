// The lock file of approved tool hashes and the kill switch's disabled list: strict parsing
// with errors naming the file and the JSON pointer, atomic writes with the documented mode, and
// the switch's fail-closed reading of a broken file.
#include "runtime/tools/tools_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "runtime/tools/tool_kill_switch.h"

namespace {

const std::string kHash(64, 'a');

struct TempDir {
    std::string path;
    TempDir() {
        std::string templ =
            std::filesystem::temp_directory_path().string() + "/tooljail-lock-XXXXXX";
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

void write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

std::string lock_error(const std::string& text) {
    auto lock = runtime::parse_tools_lock(text, "tools.lock");
    REQUIRE_FALSE(lock);
    CHECK(lock.error().code == sandbox::Errc::InvalidArgument);
    return lock.error().message();
}

}  // namespace

TEST_CASE("tools lock: a valid file parses and round-trips") {
    auto lock = runtime::parse_tools_lock(
        R"({"read_file": ")" + kHash + R"(", "git_log": ")" + std::string(64, '0') + "\"}",
        "tools.lock");
    REQUIRE(lock);
    CHECK(lock->size() == 2);
    CHECK(lock->at("read_file") == kHash);
    auto again = runtime::parse_tools_lock(runtime::serialize_tools_lock(*lock), "tools.lock");
    REQUIRE(again);
    CHECK(*again == *lock);
    auto empty = runtime::parse_tools_lock("{}", "tools.lock");
    REQUIRE(empty);
    CHECK(empty->empty());
}

TEST_CASE("tools lock: strict, every error names the file and the entry") {
    CHECK_THAT(lock_error("{"), Catch::Contains("tools.lock: invalid JSON"));
    CHECK_THAT(lock_error("[]"), Catch::Contains("tools.lock: expected an object"));
    CHECK_THAT(lock_error(R"({"read_file": ")" + kHash + R"(", "read_file": ")" + kHash + "\"}"),
               Catch::Contains("/read_file: duplicate key"));
    CHECK_THAT(lock_error(R"({"Read-File": ")" + kHash + "\"}"),
               Catch::Contains("/Read-File: not a tool name"));
    CHECK_THAT(lock_error(R"({"read_file": 1})"), Catch::Contains("/read_file: expected a sha256"));
    CHECK_THAT(lock_error(R"({"read_file": ")" + std::string(63, 'a') + "\"}"),
               Catch::Contains("/read_file"));
    CHECK_THAT(lock_error(R"({"read_file": ")" + std::string(64, 'A') + "\"}"),
               Catch::Contains("/read_file"));
    CHECK_THAT(lock_error(R"({"read_file": {"sha256": ")" + kHash + "\"}}"),
               Catch::Contains("/read_file"));
}

TEST_CASE("tools lock: written atomically with mode 0644; a missing file says how to make one") {
    TempDir dir;
    std::string path = dir.path + "/tools.lock";
    auto missing = runtime::read_tools_lock(path);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == sandbox::Errc::NotFound);
    CHECK_THAT(missing.error().message(), Catch::Contains("tooljail tools approve"));

    ::umask(077);
    REQUIRE(runtime::write_tools_lock(path, {{"read_file", kHash}}));
    ::umask(022);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
    auto read = runtime::read_tools_lock(path);
    REQUIRE(read);
    CHECK(read->at("read_file") == kHash);
    // No temporary left behind.
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                        std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("disabled tools: strict parsing, a missing file disables nothing") {
    auto ok =
        runtime::parse_disabled_tools(R"({"disabled": ["git_log", "read_file"]})", "disabled.json");
    REQUIRE(ok);
    CHECK(*ok == runtime::DisabledTools{"git_log", "read_file"});
    for (const char* bad : {"[]", R"({"disabled": "git_log"})", R"({"disabled": [1]})",
                            R"({"disabled": ["A"]})", R"({"disabled": [], "x": 1})", "{}"}) {
        INFO(bad);
        auto parsed = runtime::parse_disabled_tools(bad, "disabled.json");
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().message(), Catch::StartsWith("disabled.json: "));
    }
    TempDir dir;
    auto none = runtime::read_disabled_tools(dir.path + "/disabled.json");
    REQUIRE(none);
    CHECK(none->empty());
}

TEST_CASE("kill switch: sees each replacement of the file at the next check, and fails closed") {
    TempDir dir;
    std::string file = runtime::disabled_tools_file(dir.path + "/state");
    runtime::KillSwitch ks(file);
    CHECK_FALSE(ks.disabled("git_log"));  // no file yet (nor its directory)

    REQUIRE(runtime::write_disabled_tools(file, {"git_log"}));
    CHECK(ks.disabled("git_log"));
    CHECK_FALSE(ks.disabled("read_file"));

    REQUIRE(runtime::write_disabled_tools(file, {}));
    CHECK_FALSE(ks.disabled("git_log"));

    // Broken: every tool is refused until the file is fixed.
    write(file, "{\"disabled\": [");
    CHECK(ks.disabled("git_log"));
    CHECK(ks.disabled("read_file"));
    REQUIRE(runtime::write_disabled_tools(file, {"read_file"}));
    CHECK_FALSE(ks.disabled("git_log"));
    CHECK(ks.disabled("read_file"));

    runtime::KillSwitch off("");
    CHECK_FALSE(off.disabled("git_log"));
}
