// The mistakes a newcomer makes with the command line, each answered with a message that names
// the fix (issue "Real hosts", item 5), and --json's reason telling a usage error from a
// sandbox error. Every case runs the real binary.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"
#include "tests/integration/tooljail_process.h"

using tjtest::CliResult;
using tjtest::run_tooljail;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The one JSON document `run --json` prints on stdout.
nlohmann::json json_of(const CliResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(doc.is_object());
    return doc;
}

}  // namespace

TEST_CASE("cli errors: no --workspace with / as the current directory is refused",
          "[cli][integration]") {
    CliResult r = run_tooljail({"run", "--json", "--", "/bin/true"}, "", {}, "/");
    CHECK(r.status == 125);
    CHECK(has(r.err, "the workspace would be / (the current directory)"));
    CHECK(has(r.err, "pass --workspace DIR or --no-workspace"));
    nlohmann::json doc = json_of(r);
    CHECK(doc["reason"] == "usage");
    CHECK(doc["status"] == "error");

    CliResult explicit_root = run_tooljail({"run", "--workspace", "/", "--", "/bin/true"});
    CHECK(explicit_root.status == 125);
    CHECK(has(explicit_root.err, "--workspace / is the whole filesystem"));
    // --no-workspace from / is fine: nothing is bound.
    CliResult none = run_tooljail({"run", "--no-workspace", "--", "/bin/true"}, "", {}, "/");
    CHECK(none.status == 0);
}

TEST_CASE("cli errors: a workspace the sandbox user cannot enter stops serve at start",
          "[cli][integration]") {
    tjtest::TempDir private_dir("tooljail-cli-private-", "/tmp", tjtest::unenterable_mode());
    tjtest::TempDir records("tooljail-cli-records-");
    // stdin holds a request: a server that started would answer it and exit 0 at EOF.
    const std::string list = R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{)"
                             R"("io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
                             R"("io.modelcontextprotocol/clientCapabilities":{}}}})"
                             "\n";
    CliResult r = run_tooljail({"serve", "--workspace", private_dir.path(), "--records",
                                records.path(), "--pool-size", "0"},
                               list);
    CHECK(r.status == 125);
    CHECK(r.out.empty());
    CHECK(has(r.err, "cannot enter the workspace " + private_dir.path()));
    CHECK(has(r.err,
              geteuid() == 0 ? "search permission for others" : "search permission for its owner"));
}

TEST_CASE("cli errors: a path starting with ~ names the shell's expansion", "[cli][integration]") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"run", "--workspace", "~/project", "--", "/bin/true"},
          std::vector<std::string>{"run", "--workspace=~/project", "--", "/bin/true"},
          std::vector<std::string>{"serve", "--records", "~/records"}}) {
        CliResult r = run_tooljail(args);
        INFO(args[1] << " " << args[2]);
        CHECK(r.status == 125);
        CHECK(has(r.err, "'~' is expanded only by a shell"));
        CHECK(has(r.err, "$HOME/"));
    }
}

TEST_CASE("cli errors: arguments after the program are the program's, and ours are pointed out",
          "[cli][integration]") {
    // Like env(1) and timeout(1): from the program on, everything is its argv.
    CliResult ls = run_tooljail({"run", "--no-workspace", "/bin/ls", "-d", "/usr"});
    CHECK(ls.status == 0);
    CHECK(ls.out == "/usr\n");
    CliResult echo = run_tooljail({"run", "--no-workspace", "/bin/echo", "--json", "x"});
    CHECK(echo.status == 0);
    CHECK(echo.out == "--json x\n");
    CHECK(has(echo.err, "--json comes after the program, so the program gets it"));
    // With "--" the caller said so: no note.
    CliResult explicit_end = run_tooljail({"run", "--no-workspace", "--", "/bin/echo", "--json"});
    CHECK(explicit_end.out == "--json\n");
    CHECK(explicit_end.err.empty());
}

TEST_CASE("cli errors: an option on the wrong side of its subcommand says where it goes",
          "[cli][integration]") {
    CliResult before = run_tooljail({"--json", "run", "--", "/bin/true"});
    CHECK(before.status == 125);
    CHECK(has(before.err, "--json is an option of `tooljail run`: put it after the subcommand"));
    CliResult policy = run_tooljail({"--policy", "ci", "run", "--", "/bin/true"});
    CHECK(policy.status == 125);
    CHECK(has(policy.err, "--policy is an option of `tooljail run`"));
    CliResult after = run_tooljail({"run", "--log-level", "debug", "--", "/bin/true"});
    CHECK(after.status == 125);
    CHECK(has(after.err,
              "--log-level is an option of tooljail itself: put it before the "
              "subcommand"));
}

TEST_CASE("cli errors: an unknown policy lists the available ones", "[cli][integration]") {
    CliResult r = run_tooljail({"run", "--json", "--policy", "nope", "--", "/bin/true"});
    CHECK(r.status == 125);
    CHECK(has(r.err, "unknown policy 'nope'"));
    CHECK(has(r.err, "ci, default, git, strict"));
    nlohmann::json doc = json_of(r);
    CHECK(doc["reason"] == "usage");
}

TEST_CASE("cli errors: --json says usage for the caller's mistakes, sandbox_error for the host's",
          "[cli][integration]") {
    CHECK(json_of(run_tooljail(
              {"run", "--json", "--timeout", "-1", "--", "/bin/true"}))["reason"] == "usage");
    CHECK(json_of(run_tooljail({"run", "--json", "--workspace", "/no/such/dir", "--",
                                "/bin/true"}))["reason"] == "usage");
    CHECK(json_of(run_tooljail(
              {"run", "--json", "--policy", "../etc", "--", "/bin/true"}))["reason"] == "usage");
    // An invalid policy file is the operator's: sandbox_error.
    tjtest::TempDir policies("tooljail-cli-policies-");
    tjtest::write_host_file(policies.path() + "/broken.json", "{\"name\": \"broken\"", 0644);
    CliResult broken = run_tooljail({"run", "--json", "--policy-dir", policies.path(), "--policy",
                                     "broken", "--", "/bin/true"});
    CHECK(broken.status == 125);
    CHECK(json_of(broken)["reason"] == "sandbox_error");
}

TEST_CASE("cli errors: a user without a home gets the records option to use, not a bad path",
          "[cli][integration]") {
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr || geteuid() != 0) {
        WARN("needs root (to become nobody) and a nobody account: skipped");
        return;
    }
    // As nobody (home /nonexistent), with no TOOLJAIL_RECORDS and no XDG_STATE_HOME.
    tjtest::TempDir io("tooljail-cli-nobody-", "/tmp", 0777);
    const std::string err_path = io.path() + "/err";
    const uid_t uid = nobody->pw_uid;
    const gid_t gid = nobody->pw_gid;
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (err < 0 || dup2(err, 2) < 0 || chdir("/tmp") != 0) _exit(98);
        if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            _exit(97);
        const char* argv[] = {TOOLJAIL_BINARY, "run", "--no-workspace", "--", "/bin/true", nullptr};
        const char* envp[] = {"PATH=/usr/bin:/bin", "HOME=/nonexistent", nullptr};
        execve(argv[0], const_cast<char**>(argv), const_cast<char**>(envp));
        _exit(99);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 125);
    std::ifstream in(err_path);
    std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(err);
    CHECK(has(err, "no home directory for state"));
    CHECK(has(err, "'/nonexistent' does not exist"));
    CHECK(has(err, "pass --records DIR"));
}
