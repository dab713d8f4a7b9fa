// Issue 16 item 3: the read-only git tools (tools.d/git_*.json) run no program the repository
// names, whatever its config, attributes or hooks hold. Each test builds a hostile repository
// on the host (with the host's git, before the hostile settings go in), serves it with the
// shipped tools and calls git_status, git_diff, git_show and git_log through `tooljail serve`.
// Every program the repository names writes a "PWNED" marker to its stderr, which is git's and so
// lands in the tool result; gpg's is captured by git, and shown through the %GG the hostile
// format asks for. The same calls must keep working on ordinary repositories.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

namespace {

using nlohmann::json;
using tjtest::ServeProcess;
namespace fs = std::filesystem;

constexpr const char* kMarker = "PWNED";

// Runs `sh -c script` on the host in dir with a clean git environment (no system or global
// config, fixed identities and dates); REQUIREs exit 0.
void host_sh(const std::string& dir, const std::string& script) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (chdir(dir.c_str()) != 0) _exit(97);
        const char* env[] = {"PATH=/usr/bin:/bin",
                             "HOME=/nonexistent",
                             "GIT_CONFIG_NOSYSTEM=1",
                             "GIT_CONFIG_GLOBAL=/dev/null",
                             "GIT_AUTHOR_NAME=A U Thor",
                             "GIT_AUTHOR_EMAIL=author@example.com",
                             "GIT_AUTHOR_DATE=1700000000 +0000",
                             "GIT_COMMITTER_NAME=C O Mitter",
                             "GIT_COMMITTER_EMAIL=committer@example.com",
                             "GIT_COMMITTER_DATE=1700000000 +0000",
                             nullptr};
        execle("/bin/sh", "sh", "-ec", script.c_str(), nullptr, env);
        _exit(99);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    INFO("host script in " << dir << ":\n" << script);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

// A repository at dir with two commits of a.txt and b.txt, and a.txt changed in the work tree.
void ordinary_repo(const std::string& dir) {
    fs::create_directories(dir);
    host_sh(dir,
            "git init -q -b main .\n"
            "printf 'one\\n' > a.txt; printf 'bee\\n' > b.txt\n"
            "git add a.txt b.txt; git commit -q -m first\n"
            "printf 'one\\ntwo\\n' > a.txt\n"
            "git commit -q -am second\n"
            "printf 'one\\ntwo\\nthree\\n' > a.txt\n");
}

// The shell words that print the marker, split by quotes: git quotes a command's text in its
// "cannot exec" errors, and that text must not hold the marker; only running it prints one.
std::string echo_marker(const std::string& name) {
    const std::string m = kMarker;
    return "echo " + m.substr(0, 3) + "\"" + m.substr(3) + "\"-" + name + " >&2";
}

// An executable script at path that writes the marker and its name to stderr, then
// copies stdin to stdout (so it also works as a filter or pager).
void marker_script(const std::string& path, const std::string& name) {
    tjtest::write_host_file(path, "#!/bin/sh\n" + echo_marker(name) + "\ncat\n", 0755);
}

// A shell command for a config value: writes the marker named name to stderr, then
// copies stdin to stdout (a filter) or fails (a transport command, which must not wait).
std::string marker_command(const std::string& name, bool filter = true) {
    return echo_marker(name) + "; " + (filter ? "cat" : "exit 1");
}

// Where the workspace's .git is inside the sandbox: config values name sandbox paths.
constexpr const char* kSandboxGitDir = "/workspace/.git";

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct Served {
    json response;
    std::string text;  // stdout, stderr and every text content item, for marker searches
};

Served call(ServeProcess& s, int id, const std::string& tool, const json& arguments) {
    s.call(id, tool, arguments);
    Served r;
    r.response = s.response(id);
    const json& result = r.response.value("result", json::object());
    const json& sc = result.value("structuredContent", json::object());
    r.text = sc.value("stdout", "") + "\n" + sc.value("stderr", "");
    for (const auto& item : result.value("content", json::array()))
        if (item.value("type", "") == "text") r.text += "\n" + item.value("text", "");
    return r;
}

bool succeeded(const Served& r) {
    return r.response.contains("result") && !r.response["result"].value("isError", true);
}

// Calls every git tool on the workspace (with arguments that make each one read what the
// repository's hostile settings hook into) and checks that no marker appears.
void call_all_without_marker(const std::string& ws, const std::string& store,
                             const std::vector<std::pair<std::string, json>>& calls) {
    ServeProcess s({"--workspace", ws, "--records", store});
    s.initialize();
    int id = 1;
    for (const auto& [tool, arguments] : calls) {
        Served r = call(s, id++, tool, arguments);
        INFO(tool << " " << arguments.dump() << " -> " << r.response.dump());
        CHECK(r.text.find(kMarker) == std::string::npos);
    }
}

const std::vector<std::pair<std::string, json>> kEveryTool = {
    {"git_status", json::object()},    {"git_diff", json::object()},
    {"git_diff", {{"rev", "HEAD~1"}}}, {"git_diff", {{"staged", true}}},
    {"git_show", {{"rev", "HEAD"}}},   {"git_show", {{"rev", "HEAD:a.txt"}}},
    {"git_log", json::object()},       {"git_log", {{"oneline", true}, {"path", "a.txt"}}},
};

}  // namespace

TEST_CASE("git tools: a clean filter from the repository's config never runs",
          "[git_tools][integration]") {
    tjtest::TempDir dir("tooljail-git-filter-");
    const std::string ws = dir.path() + "/ws";
    ordinary_repo(ws);
    // The attributes are committed content; the driver is repository config. a.txt differs
    // from the index, so git status and git diff must hash it through the filter.
    host_sh(ws,
            "printf '*.txt filter=pwn\\n' > .gitattributes\n"
            "git add .gitattributes; git commit -q -m attributes\n"
            "printf 'changed\\n' >> a.txt\n"
            "git config filter.pwn.clean " +
                quoted(marker_command("clean")) +
                "\n"
                "git config filter.pwn.smudge " +
                quoted(marker_command("smudge")) + "\n");
    call_all_without_marker(ws, dir.path() + "/store", kEveryTool);
}

TEST_CASE("git tools: a partial clone's lazy fetch runs neither core.sshCommand nor upload-pack",
          "[git_tools][integration]") {
    tjtest::TempDir dir("tooljail-git-lazy-");
    const std::string origin = dir.path() + "/origin", ssh_ws = dir.path() + "/ssh",
                      local_ws = dir.path() + "/local";
    ordinary_repo(origin);
    host_sh(origin, "git commit -q -am third; git config uploadpack.allowFilter true");
    // Partial clones without their blobs: git show/diff must fetch them from the promisor remote.
    for (const std::string& ws : {ssh_ws, local_ws})
        host_sh(dir.path(),
                "git clone -q --filter=blob:none --no-checkout file://" + origin + " " + ws);
    // Over ssh: core.sshCommand is run for the fetch. Locally: remote.origin.uploadpack is.
    host_sh(ssh_ws,
            "git config remote.origin.url ssh://git.example.invalid/repo.git\n"
            "git config core.sshCommand " +
                quoted(marker_command("sshCommand", false)) +
                "\n"
                "git config credential.helper " +
                quoted("!" + marker_command("credential", false)) +
                "\n"
                "git config core.askPass " +
                quoted(std::string(kSandboxGitDir) + "/pwn.sh") + "\n");
    marker_script(ssh_ws + "/.git/pwn.sh", "askpass");
    host_sh(local_ws,
            "git config remote.origin.uploadpack " + quoted(marker_command("uploadpack", false)));
    const std::vector<std::pair<std::string, json>> lazy = {
        {"git_show", {{"rev", "HEAD:a.txt"}}},   {"git_show", {{"rev", "HEAD"}}},
        {"git_diff", {{"rev", "HEAD~1..HEAD"}}}, {"git_log", {{"oneline", true}}},
        {"git_status", json::object()},
    };
    call_all_without_marker(ssh_ws, dir.path() + "/store", lazy);
    call_all_without_marker(local_ws, dir.path() + "/store", lazy);
}

TEST_CASE(
    "git tools: hooks, fsmonitor, pager, textconv, diff drivers and gpg of the repository never "
    "run",
    "[git_tools][integration]") {
    tjtest::TempDir dir("tooljail-git-helpers-");
    const std::string ws = dir.path() + "/ws";
    ordinary_repo(ws);
    // A commit carrying a (fake) signature, so that a %G format must ask gpg.program.
    host_sh(ws,
            "tree=$(git rev-parse HEAD^{tree}); parent=$(git rev-parse HEAD)\n"
            "signed=$(printf 'tree %s\\nparent %s\\nauthor A <a@example.com> 1700000000 +0000\\n"
            "committer A <a@example.com> 1700000000 +0000\\ngpgsig -----BEGIN PGP "
            "SIGNATURE-----\\n \\n iQEzBAABCAAdFiEE\\n -----END PGP SIGNATURE-----\\n\\nsigned\\n' "
            "\"$tree\" \"$parent\" | git hash-object -t commit -w --stdin)\n"
            "git update-ref refs/heads/main \"$signed\"\n"
            "printf '*.txt diff=pwn\\n' > .git/info/attributes\n");
    marker_script(ws + "/.git/pwn.sh", "script");
    const std::string script = std::string(kSandboxGitDir) + "/pwn.sh";
    std::string config;
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"core.fsmonitor", script},
             {"core.hooksPath", std::string(kSandboxGitDir) + "/hooks"},
             {"core.pager", marker_command("pager")},
             {"pager.status", marker_command("pager-status")},
             {"pager.log", marker_command("pager-log")},
             {"diff.external", script},
             {"diff.pwn.command", script},
             {"diff.pwn.textconv", script},
             {"log.showSignature", "true"},
             {"format.pretty", "%H %G? %GG %s"},
             {"gpg.program", script},
             {"gpg.openpgp.program", script},
             {"core.editor", script},
             {"sequence.editor", script},
             {"status.submoduleSummary", "true"},
             {"maintenance.auto", "true"},
             {"gc.auto", "1"},
         })
        config += "git config " + key + " " + quoted(value) + "\n";
    host_sh(ws, config);
    fs::create_directories(ws + "/.git/hooks");
    for (const char* hook :
         {"post-index-change", "reference-transaction", "pre-auto-gc", "post-checkout",
          "post-commit", "pre-commit", "fsmonitor-watchman", "post-rewrite", "push-to-checkout"})
        marker_script(ws + "/.git/hooks/" + hook, std::string("hook-") + hook);
    call_all_without_marker(ws, dir.path() + "/store", kEveryTool);
}

TEST_CASE("git tools: status, diff, show and log still work on an ordinary repository",
          "[git_tools][integration]") {
    tjtest::TempDir dir("tooljail-git-plain-");
    const std::string ws = dir.path() + "/ws";
    ordinary_repo(ws);
    // A submodule too: git status runs git itself inside it.
    const std::string sub = dir.path() + "/sub";
    ordinary_repo(sub);
    host_sh(sub, "git checkout -q -- a.txt");
    host_sh(ws, "git -c protocol.file.allow=always submodule add -q " + sub +
                    " sub; git commit -q -m submodule");

    ServeProcess s({"--workspace", ws, "--records", dir.path() + "/store"});
    s.initialize();
    Served status = call(s, 1, "git_status", json::object());
    INFO(status.response.dump());
    CHECK(succeeded(status));
    CHECK(status.text.find("## main") != std::string::npos);
    CHECK(status.text.find(" M a.txt") != std::string::npos);

    Served diff = call(s, 2, "git_diff", json::object());
    INFO(diff.response.dump());
    CHECK(succeeded(diff));
    CHECK(diff.text.find("+three") != std::string::npos);

    Served show = call(s, 3, "git_show", {{"rev", "HEAD~1:a.txt"}});
    INFO(show.response.dump());
    CHECK(succeeded(show));
    CHECK(show.text.find("one\ntwo\n") != std::string::npos);

    Served commit = call(s, 4, "git_show", {{"rev", "HEAD~1"}});
    INFO(commit.response.dump());
    CHECK(succeeded(commit));
    CHECK(commit.text.find("second") != std::string::npos);
    CHECK(commit.text.find("+two") != std::string::npos);

    Served log = call(s, 5, "git_log", {{"oneline", true}});
    INFO(log.response.dump());
    CHECK(succeeded(log));
    CHECK(log.text.find("submodule") != std::string::npos);
    CHECK(log.text.find("first") != std::string::npos);
}
