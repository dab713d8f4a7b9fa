// Policy loading: the shipped files, the defaults, and one failing example per rule, each of
// which must name the file and the JSON pointer of the offending field.
#include "runtime/policy/policy.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sandbox/seccomp.h"
#include "tests/unit/policy_test_util.h"

using nlohmann::json;
using policytest::base_policy;
using policytest::error_of;
using policytest::fake_env;
using policytest::kLabel;
using policytest::kNoEnv;
using policytest::parse;
using runtime::EnvLookup;
using runtime::Policy;

namespace {

std::string source_dir() {
    if (const char* env = std::getenv("TOOLJAIL_SOURCE_DIR"); env != nullptr && *env != '\0')
        return env;
    return TOOLJAIL_SOURCE_DIR;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "policy_test.XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
    }
};

json named(json doc, const std::string& name) {
    doc["name"] = name;
    return doc;
}

}  // namespace

TEST_CASE("policy: the base test policy is valid", "[policy][unit]") {
    auto p = parse(base_policy(), fake_env({{"TERM", "xterm"}}));
    REQUIRE(p.has_value());
    CHECK(p->name == "test");
    CHECK(p->sandbox.name == "test");
    CHECK(p->path == kLabel);
    REQUIRE(p->sandbox.binds.size() == 3);
    CHECK(p->sandbox.binds[0].source == "/usr");
    CHECK(p->sandbox.binds[0].target.empty());
    CHECK_FALSE(p->sandbox.binds[0].optional);
    CHECK(p->sandbox.binds[1].optional);
    CHECK(p->sandbox.binds[2].target == "/x");
    CHECK(p->sandbox.binds[2].noexec);
    CHECK(p->sandbox.limits.memory_bytes == 256ull << 20);
    CHECK(p->sandbox.limits.wall_timeout == sandbox::Millis(30000));
    CHECK(p->sandbox.env ==
          std::vector<std::string>{"HOME=/tmp", "PATH=/usr/bin:/bin", "TERM=xterm"});
}

TEST_CASE("policy: shipped policies load from the source tree", "[policy][unit]") {
    auto name = GENERATE(as<std::string>{}, "default", "strict", "ci", "git");
    std::string path = source_dir() + "/policies/" + name + ".json";
    auto p = runtime::load_policy_file(path, kNoEnv);
    INFO(path);
    REQUIRE(p.has_value());
    CHECK(p->name == name);
    CHECK(p->path == path);
    CHECK_FALSE(p->source.empty());
    const auto& cfg = p->sandbox;
    CHECK(cfg.uid != 0);
    CHECK(cfg.gid != 0);
    CHECK(cfg.landlock.mode == sandbox::LandlockMode::Required);
    CHECK(cfg.binds.at(0).source == "/usr");
    for (const char* entry : {"ld.so.cache", "alternatives", "localtime"})
        CHECK(std::find(cfg.etc_entries.begin(), cfg.etc_entries.end(), entry) !=
              cfg.etc_entries.end());

    SECTION("the file is in canonical form: every field explicit, nothing beyond the format") {
        std::ifstream in(path);
        json file = json::parse(in);
        CHECK(runtime::policy_to_json(*p) == file);
    }
}

TEST_CASE("policy: shipped policies differ as documented", "[policy][unit]") {
    auto set = runtime::load_policy_dir(source_dir() + "/policies", kNoEnv);
    REQUIRE(set.has_value());
    CHECK(set->names() == std::vector<std::string>{"ci", "default", "git", "strict"});
    const auto& def = set->find("default")->sandbox;
    const auto& strict = set->find("strict")->sandbox;
    const auto& ci = set->find("ci")->sandbox;
    CHECK(set->find("nope") == nullptr);

    CHECK(def.seccomp.profile == "default");
    CHECK(strict.seccomp.profile == "strict");
    CHECK(strict.seccomp.on_violation == sandbox::SeccompAction::Kill);
    CHECK(strict.workspace_noexec);
    CHECK(strict.tmp_noexec);  // with the workspace, the places a program could write code to
    CHECK_FALSE(def.tmp_noexec);
    CHECK_FALSE(ci.tmp_noexec);
    // Every shipped quota is also a share of the host, so that it is a quota on any host.
    CHECK(def.limits.cpu_host_percent == 50);
    CHECK(strict.limits.cpu_host_percent == 25);
    CHECK(ci.limits.cpu_host_percent == 50);
    CHECK_FALSE(def.loopback);
    CHECK_FALSE(strict.loopback);
    CHECK(ci.loopback);

    CHECK(strict.limits.memory_bytes < def.limits.memory_bytes);
    CHECK(def.limits.memory_bytes < ci.limits.memory_bytes);
    CHECK(strict.limits.pids < def.limits.pids);
    CHECK(def.limits.pids < ci.limits.pids);
    CHECK(strict.limits.cpu_percent < def.limits.cpu_percent);
    CHECK(def.limits.cpu_percent < ci.limits.cpu_percent);
    CHECK(strict.limits.wall_timeout < def.limits.wall_timeout);
    CHECK(def.limits.wall_timeout < ci.limits.wall_timeout);
    CHECK(strict.limits.stdout_bytes < def.limits.stdout_bytes);
    CHECK(strict.limits.kill_on_output_cap);
}

TEST_CASE("policy: the git policy runs git and nothing else, with git's program hooks off",
          "[policy][unit]") {
    auto set = runtime::load_policy_dir(source_dir() + "/policies", kNoEnv);
    REQUIRE(set.has_value());
    const auto& git = set->find("git")->sandbox;
    CHECK(git.executables == std::vector<std::string>{"/usr/bin/git", "/usr/lib/git-core/git",
                                                      "/lib64/ld-linux-x86-64.so.2"});
    CHECK(git.landlock.mode == sandbox::LandlockMode::Required);
    CHECK(git.workspace_noexec);
    CHECK(git.tmp_noexec);
    for (const auto* other : {"default", "strict", "ci"})
        CHECK(set->find(other)->sandbox.executables.empty());  // "any"
    // Every GIT_CONFIG_KEY_<n> below GIT_CONFIG_COUNT has its value, and nothing beyond it.
    std::map<std::string, std::string> env;
    for (const auto& kv : git.env) env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    CHECK(env.at("GIT_ALLOW_PROTOCOL").empty());  // no transport at all
    CHECK(env.at("GIT_CONFIG_GLOBAL") == "/dev/null");
    CHECK(env.at("GIT_CONFIG_NOSYSTEM") == "1");
    const int count = std::stoi(env.at("GIT_CONFIG_COUNT"));
    std::map<std::string, std::string> config;
    for (int i = 0; i < count; ++i)
        config[env.at("GIT_CONFIG_KEY_" + std::to_string(i))] =
            env.at("GIT_CONFIG_VALUE_" + std::to_string(i));
    CHECK(env.count("GIT_CONFIG_KEY_" + std::to_string(count)) == 0);
    CHECK(config == std::map<std::string, std::string>{{"safe.directory", "*"},
                                                       {"core.fsmonitor", "false"},
                                                       {"core.hooksPath", "/dev/null"},
                                                       {"log.showSignature", "false"},
                                                       {"credential.helper", ""},
                                                       {"protocol.allow", "never"}});
}

TEST_CASE("policy: omitted keys take the SandboxConfig member initialisers", "[policy][unit]") {
    auto p = parse(json{{"name", "test"}, {"description", "minimal"}});
    REQUIRE(p.has_value());
    const sandbox::SandboxConfig defaults;
    const auto& cfg = p->sandbox;
    CHECK(cfg.binds.empty());
    CHECK(cfg.etc_entries.empty());
    CHECK(cfg.env.empty());
    CHECK(cfg.loopback == defaults.loopback);
    CHECK(cfg.hostname == defaults.hostname);
    CHECK(cfg.uid == defaults.uid);
    CHECK(cfg.gid == defaults.gid);
    CHECK_FALSE(cfg.host_uid.has_value());
    CHECK(cfg.workspace_noexec == defaults.workspace_noexec);
    CHECK(cfg.limits.memory_bytes == defaults.limits.memory_bytes);
    CHECK(cfg.limits.pids == defaults.limits.pids);
    CHECK(cfg.limits.cpu_percent == defaults.limits.cpu_percent);
    CHECK(cfg.limits.wall_timeout == defaults.limits.wall_timeout);
    CHECK(cfg.limits.cpu_time == defaults.limits.cpu_time);
    CHECK(cfg.limits.stdout_bytes == defaults.limits.stdout_bytes);
    CHECK(cfg.limits.tmpfs_bytes == defaults.limits.tmpfs_bytes);
    CHECK(cfg.limits.open_files == defaults.limits.open_files);
    CHECK(cfg.seccomp.profile == defaults.seccomp.profile);
    CHECK(cfg.seccomp.on_violation == defaults.seccomp.on_violation);
    CHECK(cfg.landlock.mode == defaults.landlock.mode);
    CHECK(cfg.landlock.min_abi == defaults.landlock.min_abi);

    SECTION("a partial section keeps the defaults of the keys it omits") {
        auto q = parse(json{{"name", "test"}, {"description", "x"}, {"limits", {{"pids", 7}}}});
        REQUIRE(q.has_value());
        CHECK(q->sandbox.limits.pids == 7);
        CHECK(q->sandbox.limits.memory_bytes == defaults.limits.memory_bytes);
    }
}

TEST_CASE("policy: the error message has the documented shape", "[policy][unit]") {
    json doc = base_policy();
    doc["limits"]["memory_mb"] = 0;
    auto r = runtime::parse_policy(doc.dump(), "policies/test.json", kNoEnv);
    CHECK(error_of(r) ==
          "policies/test.json: /limits/memory_mb: must be between 8 and 1048576 (got 0)");
}

TEST_CASE("policy: error messages escape control and non-ASCII bytes", "[policy][unit]") {
    json doc = base_policy();
    doc["hostname"] = "a\nb\xc3\xa9";
    std::string message = error_of(parse(doc));
    CHECK_THAT(message, Catch::Contains("(got \"a\\x0ab\\xc3\\xa9\")"));
    CHECK(message.find('\n') == std::string::npos);

    auto r = runtime::parse_policy("{\"name\": \"te\xff\"}", kLabel, kNoEnv);
    CHECK_THAT(error_of(r), Catch::Contains("\\xff"));
}

TEST_CASE("policy: name must equal the file stem", "[policy][unit]") {
    json doc = base_policy();
    CHECK(runtime::parse_policy(doc.dump(), "/etc/tooljail/test.json", kNoEnv).has_value());
    CHECK(runtime::parse_policy(doc.dump(), "test.json", kNoEnv).has_value());
    auto r = runtime::parse_policy(doc.dump(), "policies/default.json", kNoEnv);
    CHECK(error_of(r) ==
          "policies/default.json: /name: must equal the file name stem "
          "\"default\" (got \"test\")");
}

TEST_CASE("policy: malformed JSON is reported with a byte offset", "[policy][unit]") {
    auto text = GENERATE(as<std::string>{}, "", "{", "{\"name\": }", "{\"name\": \"test\",}",
                         "/* comment */ {}", "{\"name\": \"te\xff\"}", "{} {}", "nul");
    auto r = runtime::parse_policy(text, kLabel, kNoEnv);
    INFO("text: " << text);
    CHECK_THAT(error_of(r), Catch::StartsWith("policies/test.json: invalid JSON at byte "));
    CHECK(r.error().code == sandbox::Errc::InvalidArgument);
}

TEST_CASE("policy: the top level must be an object", "[policy][unit]") {
    auto text = GENERATE(as<std::string>{}, "[]", "5", "\"default\"", "null");
    CHECK_THAT(error_of(runtime::parse_policy(text, kLabel, kNoEnv)),
               Catch::Equals(std::string("policies/test.json: expected object (got ") +
                             json::parse(text).type_name() + ")"));
}

TEST_CASE("policy: duplicate keys are errors", "[policy][unit]") {
    auto c = GENERATE(values<std::pair<std::string, std::string>>({
        {R"({"name": "test", "name": "test", "description": "d"})", "/name: duplicate key"},
        {R"({"name": "test", "description": "d", "limits": {"pids": 1, "pids": 2}})",
         "/limits/pids: duplicate key"},
        {R"({"name": "test", "description": "d", "mounts": {"system":
             [{"source": "/usr"}, {"source": "/opt", "source": "/srv"}]}})",
         "/mounts/system/1/source: duplicate key"},
        {R"({"name": "test", "description": "d", "mounts": {"etc": ["a", "b"], "system":
             [[], {"x": {"a/b": 1, "a/b": 2}}]}})",
         "/mounts/system/1/x/a~1b: duplicate key"},
    }));
    CHECK_THAT(error_of(runtime::parse_policy(c.first, kLabel, kNoEnv)),
               Catch::Equals(std::string(kLabel) + ": " + c.second));
}

TEST_CASE("policy: policy_to_json round-trips", "[policy][unit]") {
    json doc = base_policy();
    doc["identity"]["host_uid"] = 1234;
    auto p = parse(doc);
    REQUIRE(p.has_value());
    json out = runtime::policy_to_json(*p);
    auto again = runtime::parse_policy(out.dump(), kLabel, kNoEnv);
    REQUIRE(again.has_value());
    CHECK(runtime::policy_to_json(*again) == out);
    CHECK(out["limits"]["memory_mb"] == 256);
    CHECK(out["identity"]["host_uid"] == 1234);
    CHECK_FALSE(out["identity"].contains("host_gid"));
    CHECK(out["mounts"]["system"][2]["target"] == "/x");
    CHECK_FALSE(out["mounts"]["system"][0].contains("target"));
}

TEST_CASE("policy: loading a directory", "[policy][unit]") {
    TempDir dir;
    dir.write("alpha.json", named(base_policy(), "alpha").dump());
    dir.write("beta.json", named(base_policy(), "beta").dump());
    dir.write("README.md", "not a policy");
    dir.write(".hidden.json", "{ not even json");

    SECTION("*.json only, dotfiles skipped, name order") {
        auto set = runtime::load_policy_dir(dir.path.string(), kNoEnv);
        REQUIRE(set.has_value());
        CHECK(set->names() == std::vector<std::string>{"alpha", "beta"});
        CHECK(set->size() == 2);
        REQUIRE(set->find("beta") != nullptr);
        CHECK(set->find("beta")->path == (dir.path / "beta.json").string());
    }
    SECTION("one bad file fails the load and is named") {
        json bad = named(base_policy(), "bad");
        bad["limits"]["pids"] = 0;
        dir.write("bad.json", bad.dump());
        auto set = runtime::load_policy_dir(dir.path.string(), kNoEnv);
        REQUIRE_FALSE(set.has_value());
        CHECK_THAT(set.error().message(),
                   Catch::StartsWith((dir.path / "bad.json").string() + ": /limits/pids: "));
    }
    SECTION("a file whose name does not match its policy fails") {
        dir.write("gamma.json", named(base_policy(), "alpha").dump());
        auto set = runtime::load_policy_dir(dir.path.string(), kNoEnv);
        REQUIRE_FALSE(set.has_value());
        CHECK_THAT(set.error().message(), Catch::Contains("gamma.json: /name: must equal"));
    }
    SECTION("a directory named *.json is an error, not skipped") {
        std::filesystem::create_directory(dir.path / "sub.json");
        auto set = runtime::load_policy_dir(dir.path.string(), kNoEnv);
        REQUIRE_FALSE(set.has_value());
        CHECK_THAT(set.error().message(), Catch::Contains("sub.json: not a regular file"));
    }
}

TEST_CASE("policy: empty or missing directories are errors", "[policy][unit]") {
    TempDir dir;
    dir.write("notes.txt", "x");
    auto empty = runtime::load_policy_dir(dir.path.string(), kNoEnv);
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error().code == sandbox::Errc::NotFound);
    CHECK_THAT(empty.error().message(), Catch::Contains("no policies"));

    auto missing = runtime::load_policy_dir((dir.path / "nope").string(), kNoEnv);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == sandbox::Errc::NotFound);

    auto file = runtime::load_policy_file((dir.path / "nope.json").string(), kNoEnv);
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().code == sandbox::Errc::NotFound);
    CHECK_THAT(file.error().message(), Catch::StartsWith((dir.path / "nope.json").string()));
}

TEST_CASE("policy: PolicySet refuses a second policy of the same name", "[policy][unit]") {
    runtime::PolicySet set;
    auto p = parse(base_policy());
    REQUIRE(p.has_value());
    REQUIRE(set.add(*p).has_value());
    auto again = set.add(*p);
    REQUIRE_FALSE(again.has_value());
    CHECK_THAT(again.error().message(), Catch::Contains("defined twice"));
}

TEST_CASE("policy: default_policy_dir", "[policy][unit]") {
    const char* old = std::getenv("TOOLJAIL_POLICY_DIR");
    std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;

    ::setenv("TOOLJAIL_POLICY_DIR", "/somewhere/policies", 1);
    CHECK(runtime::default_policy_dir() == "/somewhere/policies");
    ::unsetenv("TOOLJAIL_POLICY_DIR");
    // The test binary is one of its build tree's executables: the checkout's, and nothing else.
    CHECK(runtime::default_policy_dir() == std::string(TOOLJAIL_SOURCE_DIR) + "/policies");

    if (saved) ::setenv("TOOLJAIL_POLICY_DIR", saved->c_str(), 1);
}
