// Policy validation tables: accepted edge values, one failing example per rule (mounts, env,
// identity, limits...), each of which must name the file and the JSON pointer of the offending
// field, and the env.set/env.pass rules.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/policy/policy.h"
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
    SECTION("a share of the host's CPU, and a non-executable /tmp") {
        auto p = parse(doc);
        REQUIRE(p.has_value());
        CHECK(p->sandbox.limits.cpu_host_percent == 0);  // absent: no share
        CHECK_FALSE(p->sandbox.tmp_noexec);
        CHECK_FALSE(runtime::policy_to_json(*p)["limits"].contains("cpu_host_percent"));
        for (int share : {1, 50, 100}) {
            doc["limits"]["cpu_host_percent"] = share;
            doc["tmp"] = {{"noexec", true}};
            auto q = parse(doc);
            REQUIRE(q.has_value());
            CHECK(q->sandbox.limits.cpu_host_percent == static_cast<uint32_t>(share));
            CHECK(q->sandbox.tmp_noexec);
            CHECK(runtime::policy_to_json(*q)["limits"]["cpu_host_percent"] == share);
            CHECK(runtime::policy_to_json(*q)["tmp"] == json{{"noexec", true}});
        }
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
        {"/limits/cpu_host_percent", 0,
         "/limits/cpu_host_percent: must be between 1 and 100 (got 0)"},
        {"/limits/cpu_host_percent", 101, "/limits/cpu_host_percent: must be between 1 and 100"},
        {"/limits/cpu_host_percent", 50.5, "/limits/cpu_host_percent: expected integer"},
        {"/limits/cpu_host_percent", "50%",
         "/limits/cpu_host_percent: expected integer (got string)"},
        {"/tmp", true, "/tmp: expected object (got boolean)"},
        {"/tmp/noexec", "yes", "/tmp/noexec: expected boolean (got string)"},
        {"/tmp/size_mb", 5, "/tmp/size_mb: unknown key"},
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
