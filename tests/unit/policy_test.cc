// Policy loading: the shipped files, the defaults, and one failing example per rule, each of
// which must name the file and the JSON pointer of the offending field.
#include "runtime/policy.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/seccomp.h"

using nlohmann::json;
using runtime::EnvLookup;
using runtime::Policy;

namespace {

constexpr const char* kLabel = "policies/test.json";

std::string source_dir() {
    if (const char* env = std::getenv("TOOLJAIL_SOURCE_DIR"); env != nullptr && *env != '\0')
        return env;
    return TOOLJAIL_SOURCE_DIR;
}

EnvLookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const EnvLookup kNoEnv = fake_env({});

// A complete, valid policy that every mutation starts from.
json base_policy() {
    return json::parse(R"({
      "name": "test",
      "description": "unit test policy",
      "network": "none",
      "mounts": {
        "system": [
          {"source": "/usr"},
          {"source": "/lib64", "optional": true},
          {"source": "/opt/x", "target": "/x", "noexec": true}
        ],
        "etc": ["ld.so.cache", "localtime"]
      },
      "workspace": {"noexec": false},
      "identity": {"uid": 1000, "gid": 1000},
      "hostname": "tooljail",
      "limits": {"memory_mb": 256, "pids": 64, "cpu_percent": 100, "wall_timeout_ms": 30000,
                 "cpu_time_ms": 20000, "stdout_bytes": 1048576, "stderr_bytes": 1048576,
                 "kill_on_output_cap": false, "tmpfs_mb": 64, "file_size_mb": 64,
                 "open_files": 256, "stdin_bytes": 1048576},
      "seccomp": {"profile": "default", "on_violation": "errno"},
      "landlock": {"mode": "required", "min_abi": 1},
      "env": {"set": {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, "pass": ["TERM"]}
    })");
}

sandbox::Result<Policy> parse(const json& doc, const EnvLookup& env = kNoEnv) {
    return runtime::parse_policy(doc.dump(), kLabel, env);
}

// Fails the test with the message if r holds an error; returns the error message otherwise.
std::string error_of(const sandbox::Result<Policy>& r) {
    REQUIRE_FALSE(r.has_value());
    return r.error().message();
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
    auto name = GENERATE(as<std::string>{}, "default", "strict", "ci");
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
    CHECK(set->names() == std::vector<std::string>{"ci", "default", "strict"});
    const auto& def = set->find("default")->sandbox;
    const auto& strict = set->find("strict")->sandbox;
    const auto& ci = set->find("ci")->sandbox;
    CHECK(set->find("nope") == nullptr);

    CHECK(def.seccomp.profile == "default");
    CHECK(strict.seccomp.profile == "strict");
    CHECK(strict.seccomp.on_violation == sandbox::SeccompAction::Kill);
    CHECK(strict.workspace_noexec);
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

TEST_CASE("policy: accepted edge values", "[policy][unit]") {
    json doc = base_policy();
    SECTION("cpu_time_ms 0 means no CPU-time limit") {
        doc["limits"]["cpu_time_ms"] = 0;
        auto p = parse(doc);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.limits.cpu_time == sandbox::Millis(0));
    }
    SECTION("range ends") {
        doc["limits"]["memory_mb"] = 8;
        doc["limits"]["pids"] = 65536;
        doc["limits"]["cpu_percent"] = 6400;
        doc["limits"]["wall_timeout_ms"] = 86400000;
        doc["limits"]["stdout_bytes"] = 1073741824;
        doc["limits"]["tmpfs_mb"] = 16384;
        doc["limits"]["stdin_bytes"] = 0;
        auto p = parse(doc);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.limits.memory_bytes == 8ull << 20);
        CHECK(p->sandbox.limits.tmpfs_bytes == 16ull << 30);
    }
    SECTION("loopback, host ids, landlock off, strict seccomp") {
        doc["network"] = "loopback";
        doc["identity"]["host_uid"] = 65534;
        doc["identity"]["host_gid"] = 65534;
        doc["landlock"]["mode"] = "off";
        doc["seccomp"] = {{"profile", "strict"}, {"on_violation", "kill"}};
        auto p = parse(doc);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.loopback);
        CHECK(p->sandbox.host_uid == std::optional<uid_t>(65534));
        CHECK(p->sandbox.host_gid == std::optional<gid_t>(65534));
        CHECK(p->sandbox.landlock.mode == sandbox::LandlockMode::Off);
        CHECK(p->sandbox.seccomp.on_violation == sandbox::SeccompAction::Kill);
    }
    SECTION("nested etc names and env values with newlines") {
        doc["mounts"]["etc"] = {"ssl/certs", "ca-certificates"};
        doc["env"]["set"]["MULTI"] = "a\nb";
        auto p = parse(doc);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.etc_entries == std::vector<std::string>{"ssl/certs", "ca-certificates"});
    }
    SECTION("every profile named by the seccomp layer is accepted") {
        for (const auto& profile : sandbox::seccomp::profile_names()) {
            doc["seccomp"]["profile"] = profile;
            CHECK(parse(doc).has_value());
        }
    }
}

TEST_CASE("policy: invalid values name the file and the JSON pointer", "[policy][unit]") {
    struct Case {
        std::string pointer;  // where to put the value
        json value;
        std::string expect;  // substring of the error message
    };
    auto c = GENERATE(values<Case>({
        // top level
        {"/name", 5, "/name: expected string (got number)"},
        {"/name", "Test", "/name: must match"},
        {"/name", "other", "/name: must equal the file name stem \"test\" (got \"other\")"},
        {"/description", "", "/description: must not be empty"},
        {"/description", json::array(), "/description: expected string (got array)"},
        {"/network", "host", "/network: must be one of \"none\", \"loopback\" (got \"host\")"},
        {"/network", true, "/network: expected string (got boolean)"},
        {"/hostname", "", "/hostname"},
        {"/hostname", "bad_host", "/hostname"},
        {"/hostname", "-x", "/hostname"},
        {"/hostname", std::string(65, 'a'), "/hostname"},
        // unknown keys, top level and nested
        {"/bogus", 1, "/bogus: unknown key"},
        {"/limits/memory_gb", 1, "/limits/memory_gb: unknown key"},
        {"/mounts/system/0/readonly", true, "/mounts/system/0/readonly: unknown key"},
        {"/mounts/extra", json::array(), "/mounts/extra: unknown key"},
        {"/workspace/path", "/w", "/workspace/path: unknown key"},
        {"/identity/user", "x", "/identity/user: unknown key"},
        {"/seccomp/syscalls", json::array(), "/seccomp/syscalls: unknown key"},
        {"/landlock/paths", json::array(), "/landlock/paths: unknown key"},
        {"/env/unset", json::array(), "/env/unset: unknown key"},
        // wrong section types
        {"/limits", 5, "/limits: expected object (got number)"},
        {"/mounts/system", json::object(), "/mounts/system: expected array (got object)"},
        {"/mounts/system/1", "/lib64", "/mounts/system/1: expected object (got string)"},
        {"/mounts/etc", "ld.so.cache", "/mounts/etc: expected array (got string)"},
        {"/mounts/system", json::array_t(33, {{"source", "/usr"}}), "/mounts/system: at most 32"},
        {"/mounts/etc", json::array_t(25, "x"), "/mounts/etc: at most 24 entries"},
        {"/env/set", json::array(), "/env/set: expected object (got array)"},
        {"/env/pass", "TERM", "/env/pass: expected array (got string)"},
        {"/workspace/noexec", "no", "/workspace/noexec: expected boolean (got string)"},
        // limits
        {"/limits/memory_mb", 0, "/limits/memory_mb: must be between 8 and 1048576 (got 0)"},
        {"/limits/memory_mb", 7, "/limits/memory_mb: must be between 8 and 1048576 (got 7)"},
        {"/limits/memory_mb", 1048577, "/limits/memory_mb: must be between 8 and 1048576"},
        {"/limits/memory_mb", -1, "/limits/memory_mb: must be between 8 and 1048576 (got -1)"},
        {"/limits/memory_mb", 1.5, "/limits/memory_mb: expected integer (got non-integer number)"},
        {"/limits/memory_mb", "256", "/limits/memory_mb: expected integer (got string)"},
        {"/limits/memory_mb", 1e30, "/limits/memory_mb: expected integer"},
        {"/limits/pids", 0, "/limits/pids: must be between 1 and 65536 (got 0)"},
        {"/limits/pids", 65537, "/limits/pids: must be between 1 and 65536"},
        {"/limits/cpu_percent", 0, "/limits/cpu_percent: must be between 1 and 6400 (got 0)"},
        {"/limits/cpu_percent", 6401, "/limits/cpu_percent: must be between 1 and 6400"},
        {"/limits/wall_timeout_ms", 0, "/limits/wall_timeout_ms: must be between 1 and 86400000"},
        {"/limits/wall_timeout_ms", 86400001, "/limits/wall_timeout_ms: must be between"},
        {"/limits/cpu_time_ms", 86400001, "/limits/cpu_time_ms: must be between 0 and 86400000"},
        {"/limits/stdout_bytes", 0, "/limits/stdout_bytes: must be between 1 and 1073741824"},
        {"/limits/stdout_bytes", 1073741825, "/limits/stdout_bytes: must be between"},
        {"/limits/stderr_bytes", 0, "/limits/stderr_bytes: must be between 1 and 1073741824"},
        {"/limits/stderr_bytes", 1073741825, "/limits/stderr_bytes: must be between"},
        {"/limits/tmpfs_mb", 0, "/limits/tmpfs_mb: must be between 1 and 16384 (got 0)"},
        {"/limits/tmpfs_mb", 16385, "/limits/tmpfs_mb: must be between 1 and 16384"},
        {"/limits/file_size_mb", 0, "/limits/file_size_mb: must be between 1 and 1048576"},
        {"/limits/open_files", 15, "/limits/open_files: must be between 16 and 1048576"},
        {"/limits/stdin_bytes", 1073741825, "/limits/stdin_bytes: must be between 0 and"},
        {"/limits/kill_on_output_cap", 1, "/limits/kill_on_output_cap: expected boolean"},
        // identity
        {"/identity/uid", 0, "/identity/uid: must be between 1 and 4294967294 (got 0)"},
        {"/identity/gid", 0, "/identity/gid: must be between 1 and 4294967294 (got 0)"},
        {"/identity/uid", -1, "/identity/uid: must be between"},
        {"/identity/uid", 4294967295, "/identity/uid: must be between"},
        {"/identity/host_uid", 0, "/identity/host_uid: must be between 1 and"},
        {"/identity/host_gid", 0, "/identity/host_gid: must be between 1 and"},
        // mount sources
        {"/mounts/system/0/source", "usr", "/mounts/system/0/source: must be an absolute path"},
        {"/mounts/system/0/source", "", "/mounts/system/0/source: must be an absolute path"},
        {"/mounts/system/0/source", "/usr/../etc", "/mounts/system/0/source: must not contain '.'"},
        {"/mounts/system/0/source", "/usr/./lib", "/mounts/system/0/source: must not contain '.'"},
        {"/mounts/system/0/source", "/usr//lib", "/mounts/system/0/source: must not contain '//'"},
        {"/mounts/system/0/source", "/usr/", "/mounts/system/0/source: must not end with '/'"},
        {"/mounts/system/0/source", "/usr\nx", "/mounts/system/0/source: must not contain control"},
        {"/mounts/system/0/source", "/", "/mounts/system/0/source: must not bind the host root"},
        {"/mounts/system/0/source", "/proc", "/mounts/system/0/source: must not expose host /proc"},
        {"/mounts/system/0/source", "/proc/1",
         "/mounts/system/0/source: must not expose host /proc"},
        {"/mounts/system/0/source", "/sys/fs",
         "/mounts/system/0/source: must not expose host /sys"},
        {"/mounts/system/0/source", "/dev", "/mounts/system/0/source: must not expose host /dev"},
        {"/mounts/system/0/source", "/run/docker.sock", "/mounts/system/0/source: must not expose"},
        {"/mounts/system/0/source", "/tmp", "/mounts/system/0/source: must not expose host /tmp"},
        {"/mounts/system/0/source", "/etc", "/mounts/system/0/source: must not expose host /etc"},
        {"/mounts/system/0/source", 5, "/mounts/system/0/source: expected string (got number)"},
        {"/mounts/system/0/optional", "yes", "/mounts/system/0/optional: expected boolean"},
        // mount targets
        {"/mounts/system/2/target", "x", "/mounts/system/2/target: must be an absolute path"},
        {"/mounts/system/2/target", "/x/../proc", "/mounts/system/2/target: must not contain '.'"},
        {"/mounts/system/2/target", "/",
         "/mounts/system/2/target: must not be mounted over the root"},
        {"/mounts/system/2/target", "/proc", "/mounts/system/2/target: collides with /proc"},
        {"/mounts/system/2/target", "/dev/shm", "/mounts/system/2/target: collides with /dev"},
        {"/mounts/system/2/target", "/tmp", "/mounts/system/2/target: collides with /tmp"},
        {"/mounts/system/2/target", "/etc/x", "/mounts/system/2/target: collides with /etc"},
        {"/mounts/system/2/target", "/workspace",
         "/mounts/system/2/target: collides with the workspace"},
        {"/mounts/system/2/target", "/workspace/x",
         "/mounts/system/2/target: collides with the workspace"},
        {"/mounts/system/2/target", "/usr",
         "/mounts/system/2/target: duplicate mount target /usr (also at /mounts/system/0/source)"},
        {"/mounts/system/1/source", "/usr", "/mounts/system/1/source: duplicate mount target /usr"},
        // etc names
        {"/mounts/etc/0", "", "/mounts/etc/0: must not be empty"},
        {"/mounts/etc/0", "/etc/hosts", "/mounts/etc/0: must be a name under /etc"},
        {"/mounts/etc/0", "..", "/mounts/etc/0: must not contain '.' or '..'"},
        {"/mounts/etc/0", "../shadow", "/mounts/etc/0: must not contain '.' or '..'"},
        {"/mounts/etc/0", "ssl/../shadow", "/mounts/etc/0: must not contain '.' or '..'"},
        {"/mounts/etc/0", "ssl//certs", "/mounts/etc/0: must not contain '//'"},
        {"/mounts/etc/0", "ssl/", "/mounts/etc/0: must not end with '/'"},
        {"/mounts/etc/0", "passwd", "/mounts/etc/0: /etc/passwd must not be exposed"},
        {"/mounts/etc/0", "group", "/mounts/etc/0: /etc/group must not be exposed"},
        {"/mounts/etc/0", "shadow", "/mounts/etc/0: /etc/shadow must not be exposed"},
        {"/mounts/etc/0", "ssh/ssh_host_rsa_key", "/mounts/etc/0: /etc/ssh must not be exposed"},
        {"/mounts/etc/0", "ssl/private", "/mounts/etc/0: /etc/ssl/private must not be exposed"},
        {"/mounts/etc/1", "ld.so.cache", "/mounts/etc/1: duplicate entry \"ld.so.cache\""},
        {"/mounts/etc/1", 5, "/mounts/etc/1: expected string (got number)"},
        // seccomp and landlock
        {"/seccomp/profile", "nope", "/seccomp/profile: must be one of"},
        {"/seccomp/profile", 1, "/seccomp/profile: expected string"},
        {"/seccomp/on_violation", "log",
         "/seccomp/on_violation: must be one of \"errno\", \"kill\""},
        {"/landlock/mode", "best_effort", "/landlock/mode: must be one of \"required\", \"off\""},
        {"/landlock/min_abi", 0, "/landlock/min_abi: must be between 1 and 32 (got 0)"},
        {"/landlock/min_abi", 33, "/landlock/min_abi: must be between 1 and 32"},
        // env
        {"/env/set/1BAD", "x", "/env/set/1BAD: must be a variable name"},
        {"/env/set/BAD-NAME", "x", "/env/set/BAD-NAME: must be a variable name"},
        {"/env/set/A~1B", "x", "/env/set/A~1B: must be a variable name"},
        {"/env/set/LD_PRELOAD", "/x.so", "/env/set/LD_PRELOAD: is read by the dynamic loader"},
        {"/env/set/GLIBC_TUNABLES", "x", "/env/set/GLIBC_TUNABLES: is read by the dynamic loader"},
        {"/env/set/HOME", 5, "/env/set/HOME: expected string (got number)"},
        {"/env/set/HOME", std::string("a\0b", 3), "/env/set/HOME: value must not contain NUL"},
        {"/env/set/BIG", std::string(131072, 'x'), "/env/set/BIG: NAME=value must be shorter"},
        {"/env/pass/0", "LD_PRELOAD", "/env/pass/0: LD_PRELOAD runs code in the sandbox"},
        {"/env/pass/0", "LD_LIBRARY_PATH", "/env/pass/0: LD_LIBRARY_PATH runs code"},
        {"/env/pass/0", "LD_AUDIT", "/env/pass/0: LD_AUDIT runs code"},
        {"/env/pass/0", "PYTHONPATH", "/env/pass/0: PYTHONPATH runs code"},
        {"/env/pass/0", "BASH_ENV", "/env/pass/0: BASH_ENV runs code"},
        {"/env/pass/0", "GIT_SSH_COMMAND", "/env/pass/0: GIT_SSH_COMMAND runs code"},
        {"/env/pass/0", "NODE_OPTIONS", "/env/pass/0: NODE_OPTIONS runs code"},
        {"/env/pass/0", "BAD NAME", "/env/pass/0: \"BAD NAME\" is not a variable name"},
        {"/env/pass/0", "", "/env/pass/0: \"\" is not a variable name"},
        {"/env/pass/0", 5, "/env/pass/0: expected string (got number)"},
        {"/env/pass/1", "TERM", "/env/pass/1: duplicate entry \"TERM\""},
        {"/env/pass/1", "HOME", "/env/pass/1: HOME is also in /env/set"},
    }));
    json doc = base_policy();
    doc[json::json_pointer(c.pointer)] = c.value;
    INFO("mutation " << c.pointer << " = " << c.value.dump());
    std::string message = error_of(parse(doc));
    CHECK_THAT(message, Catch::Contains(c.expect));
    CHECK_THAT(message, Catch::StartsWith(std::string(kLabel) + ": /"));
}

TEST_CASE("policy: missing required keys are errors", "[policy][unit]") {
    auto c = GENERATE(values<std::pair<std::string, std::string>>({
        {"/name", "policies/test.json: /name: missing required key"},
        {"/description", "policies/test.json: /description: missing required key"},
        {"/mounts/system/0/source",
         "policies/test.json: /mounts/system/0/source: missing required key"},
    }));
    json doc = base_policy();
    json::json_pointer ptr(c.first);
    doc[ptr.parent_pointer()].erase(ptr.back());
    auto r = parse(doc);
    CHECK(error_of(r) == c.second);
    CHECK(r.error().code == sandbox::Errc::InvalidArgument);
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

TEST_CASE("policy: env.set and env.pass", "[policy][unit]") {
    json doc = base_policy();
    doc["env"] = {{"set", {{"PATH", "/usr/bin"}, {"HOME", "/tmp"}, {"A0", "x"}, {"A", "y"}}},
                  {"pass", {"TERM", "TZ", "MISSING"}}};
    auto env = fake_env(
        {{"TERM", "xterm-256color"}, {"TZ", "UTC"}, {"SECRET", "s3cret"}, {"PATH", "/host/bin"}});

    SECTION("set values, plus passed variables that are present, sorted by name") {
        auto p = parse(doc, env);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.env == std::vector<std::string>{"A=y", "A0=x", "HOME=/tmp",
                                                         "PATH=/usr/bin", "TERM=xterm-256color",
                                                         "TZ=UTC"});
        CHECK(p->env_pass == std::vector<std::string>{"TERM", "TZ", "MISSING"});
        CHECK(p->env_set.size() == 4);
    }
    SECTION("nothing is inherited that is not listed") {
        auto p = parse(doc, fake_env({}));
        REQUIRE(p.has_value());
        CHECK(p->sandbox.env ==
              std::vector<std::string>{"A=y", "A0=x", "HOME=/tmp", "PATH=/usr/bin"});
    }
    SECTION("an empty EnvLookup passes nothing") {
        auto p = parse(doc, EnvLookup{});
        REQUIRE(p.has_value());
        CHECK(p->sandbox.env.size() == 4);
    }
    SECTION("a name in both set and pass is refused rather than silently resolved") {
        doc["env"]["pass"].push_back("PATH");
        CHECK_THAT(error_of(parse(doc, env)),
                   Catch::Contains("/env/pass/3: PATH is also in /env/set"));
    }
    SECTION("a passed value that cannot go into envp names the entry, not the value") {
        auto r = parse(doc, fake_env({{"TZ", std::string("U\0TC", 4)}}));
        std::string message = error_of(r);
        CHECK_THAT(message, Catch::Contains("/env/pass/1: TZ in the supervisor's environment: "
                                            "value must not contain NUL"));
    }
    SECTION("policy_to_json shows passed names but never their values") {
        auto p = parse(doc, env);
        REQUIRE(p.has_value());
        json out = runtime::policy_to_json(*p);
        CHECK(out["env"]["pass"] == json{"TERM", "TZ", "MISSING"});
        CHECK(out["env"]["set"].size() == 4);
        CHECK(out.dump().find("xterm-256color") == std::string::npos);
    }
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
    // In a build tree the compiled-in source directory exists.
    CHECK(runtime::default_policy_dir() == std::string(TOOLJAIL_SOURCE_DIR) + "/policies");

    if (saved) ::setenv("TOOLJAIL_POLICY_DIR", saved->c_str(), 1);
}
