// `tooljail mcp-config` through the binary: it prints without writing, --write merges into the
// client's file atomically keeping other entries, follows a dotfile manager's symlink, keeps
// the file's mode, refuses a file with comments, and the entry it writes starts a server that
// answers tools/list.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("mcp-config: prints, then --write merges keeping the other servers",
          "[mcp_config][integration]") {
    tjtest::TempDir dir("tooljail-mcp-config-");
    const std::string ws = dir.path() + "/project";
    fs::create_directory(ws);
    const std::string binary = fs::canonical(TOOLJAIL_BINARY).string();

    SECTION("print does not write, and names the file") {
        auto r = tjtest::run_tooljail({"mcp-config", "--client", "vscode", "--workspace", ws});
        REQUIRE(r.status == 0);
        CHECK_FALSE(fs::exists(ws + "/.vscode/mcp.json"));
        auto doc = json::parse(r.out);
        CHECK(doc["servers"]["tooljail"]["command"] == binary);
        CHECK(doc["servers"]["tooljail"]["args"] == json{"serve", "--workspace", ws});
        CHECK_THAT(r.err, Catch::Contains(ws + "/.vscode/mcp.json"));
    }
    SECTION("--write merges into an existing file, keeping its mode and other entries") {
        fs::create_directory(ws + "/.vscode");
        tjtest::write_host_file(
            ws + "/.vscode/mcp.json",
            R"({"inputs": [], "servers": {"other": {"type": "http", "url": "http://x/mcp"}}})",
            0640);
        auto r = tjtest::run_tooljail(
            {"mcp-config", "--client", "vscode", "--workspace", ws, "--write"});
        REQUIRE(r.status == 0);
        auto doc = json::parse(slurp(ws + "/.vscode/mcp.json"));
        CHECK(doc["servers"]["other"]["url"] == "http://x/mcp");
        CHECK(doc["servers"]["tooljail"]["command"] == binary);
        CHECK(doc.contains("inputs"));
        struct stat st {};
        REQUIRE(::stat((ws + "/.vscode/mcp.json").c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0640);
        // Nothing left behind by the atomic replace.
        size_t files = 0;
        for (auto& e : fs::directory_iterator(ws + "/.vscode")) files += e.is_regular_file();
        CHECK(files == 1);
        // Twice is the same as once.
        std::string once = slurp(ws + "/.vscode/mcp.json");
        REQUIRE(
            tjtest::run_tooljail({"mcp-config", "--client", "vscode", "--workspace", ws, "--write"})
                .status == 0);
        CHECK(slurp(ws + "/.vscode/mcp.json") == once);
    }
    SECTION("claude-desktop goes to the XDG config home, created owner-only") {
        const std::string xdg = dir.path() + "/config";
        auto r = tjtest::run_tooljail(
            {"mcp-config", "--client", "claude-desktop", "--workspace", ws, "--write"}, "",
            {"HOME=" + dir.path(), "XDG_CONFIG_HOME=" + xdg, "PATH=/usr/bin:/bin"});
        REQUIRE(r.status == 0);
        const std::string file = xdg + "/Claude/claude_desktop_config.json";
        auto doc = json::parse(slurp(file));
        CHECK(doc["mcpServers"]["tooljail"] ==
              json{{"command", binary}, {"args", {"serve", "--workspace", ws}}});
        struct stat st {};
        REQUIRE(::stat(file.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }
    SECTION("a symlinked file stays a symlink; its target is rewritten") {
        fs::create_directory(dir.path() + "/dotfiles");
        tjtest::write_host_file(dir.path() + "/dotfiles/mcp.json",
                                R"({"mcpServers": {"keep": {"command": "/bin/true"}}})", 0644);
        fs::create_symlink(dir.path() + "/dotfiles/mcp.json", ws + "/.mcp.json");
        auto r = tjtest::run_tooljail(
            {"mcp-config", "--client", "claude-code", "--workspace", ws, "--write"});
        REQUIRE(r.status == 0);
        CHECK(fs::is_symlink(ws + "/.mcp.json"));
        auto doc = json::parse(slurp(dir.path() + "/dotfiles/mcp.json"));
        CHECK(doc["mcpServers"]["keep"]["command"] == "/bin/true");
        CHECK(doc["mcpServers"]["tooljail"]["type"] == "stdio");
    }
    SECTION("a file with comments is refused and left alone") {
        fs::create_directory(ws + "/.cursor");
        const std::string text = "{\n  // mine\n  \"mcpServers\": {}\n}\n";
        tjtest::write_host_file(ws + "/.cursor/mcp.json", text, 0644);
        auto r = tjtest::run_tooljail(
            {"mcp-config", "--client", "cursor", "--workspace", ws, "--write"});
        CHECK(r.status == 125);
        CHECK_THAT(r.err, Catch::Contains("has comments"));
        CHECK(slurp(ws + "/.cursor/mcp.json") == text);
    }
    SECTION("bad usage") {
        CHECK(tjtest::run_tooljail({"mcp-config", "--client", "emacs"}).status == 125);
        CHECK(
            tjtest::run_tooljail({"mcp-config", "--client", "cursor", "--workspace", "/"}).status ==
            125);
        CHECK(tjtest::run_tooljail(
                  {"mcp-config", "--client", "cursor", "--workspace", ws, "--name", "a b"})
                  .status == 125);
    }
}

TEST_CASE("mcp-config: the entry it writes starts a server that lists the tools",
          "[mcp_config][integration]") {
    tjtest::TempDir dir("tooljail-mcp-config-run-");
    const std::string ws = dir.path() + "/project";
    fs::create_directory(ws);
    fs::permissions(ws, fs::perms(0755));  // the sandbox user enters it
    auto r = tjtest::run_tooljail({"mcp-config", "--client", "claude-code", "--workspace", ws});
    REQUIRE(r.status == 0);
    auto server = json::parse(r.out)["mcpServers"]["tooljail"];
    REQUIRE(server["command"] == fs::canonical(TOOLJAIL_BINARY).string());
    std::vector<std::string> args = server["args"].get<std::vector<std::string>>();
    args.insert(args.end(), {"--records", dir.path() + "/records", "--pool-size", "0"});
    args.erase(args.begin());  // ServeProcess adds "serve"
    tjtest::ServeProcess s(args);
    s.initialize();
    s.send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
    auto listed = s.response(2);
    bool read_file = false;
    for (const auto& tool : listed["result"]["tools"]) read_file |= tool["name"] == "read_file";
    CHECK(read_file);
}
