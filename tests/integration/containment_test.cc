// Containment claims (REQUIREMENTS.md section 1) about the filesystem, identity and the
// environment, each proven by attempting the escape from inside a real sandbox with
// tooljail-probe and asserting that it fails. Processes, network and seccomp are in
// containment_process_test.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"

using sandbox::Outcome;
using sandbox::Termination;
using tjtest::attempt;
using tjtest::require_ran;
using tjtest::SandboxFixture;

namespace {

std::set<std::string> lines_set(const std::string& out) {
    auto lines = tjtest::split_lines(out);
    return {lines.begin(), lines.end()};
}

}  // namespace

// ---- filesystem ---------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: workspace is read-only",
                 "[containment][integration]") {
    // The host directory is 0777 and data.txt 0666: only the read-only bind can refuse.
    auto sb = prepare();
    struct Try {
        std::vector<std::string> args;
        const char* label;
    };
    const std::vector<Try> tries = {
        {{"write", "/workspace/data.txt"}, "write"},          // overwrite an existing file
        {{"write", "/workspace/new-file.txt"}, "write"},      // create a file
        {{"write", "/workspace/sub/new-file.txt"}, "write"},  // create in a subdirectory
        {{"write", "data.txt"}, "write"},                     // relative to the cwd
        {{"mkdir", "/workspace/new-dir"}, "mkdir"},
        {{"unlink", "/workspace/data.txt"}, "unlink"},
        {{"write", "/workspace/tooljail-probe"}, "write"},  // the running binary itself
    };
    for (const Try& t : tries) {
        Outcome o = tjtest::run_probe(*sb, t.args);
        INFO("attempt: " << t.args[0] << " " << t.args[1]);
        require_ran(o);
        TJ_SHOW(o);
        CHECK(attempt(o, t.label) == "EROFS");
    }

    Outcome fs = tjtest::run_probe(*sb, {"statfs", "/workspace"});
    require_ran(fs);
    auto line = tjtest::result_of(fs.out.data, "statfs").value_or("");
    CHECK(tjtest::field(line, "rdonly") == "1");
    CHECK(tjtest::field(line, "nosuid") == "1");
    CHECK(tjtest::field(line, "nodev") == "1");

    // Still readable, and it is the working directory.
    Outcome rd = tjtest::run_probe(*sb, {"read", "data.txt"});
    require_ran(rd);
    CHECK(attempt(rd, "read") == "ok");
    Outcome cwd = tjtest::run_probe(*sb, {"cwd"});
    require_ran(cwd);
    CHECK(tjtest::field(tjtest::result_of(cwd.out.data, "cwd").value_or(""), "path") ==
          "/workspace");

    // Nothing changed on the host.
    std::set<std::string> entries;
    for (const auto& e : std::filesystem::directory_iterator(workspace()))
        entries.insert(e.path().filename().string());
    CHECK(entries == std::set<std::string>{"data.txt", "sub", "tooljail-probe"});
    CHECK(std::filesystem::is_empty(workspace() + "/sub"));
    std::ifstream data(workspace() + "/data.txt");
    std::string content((std::istreambuf_iterator<char>(data)), std::istreambuf_iterator<char>());
    CHECK(content == kDataText);
}

TEST_CASE_METHOD(SandboxFixture, "containment: system directories and root are read-only",
                 "[containment][integration]") {
    auto sb = prepare();
    // EROFS from the read-only mount; EACCES if the directory's owner (an unmapped host uid)
    // refuses first. Either way the write must not happen.
    for (const char* path : {"/usr/tooljail-escape", "/usr/bin/tooljail-escape", "/tooljail-escape",
                             "/etc/tooljail-escape", "/etc/ld.so.cache", "/dev/tooljail-escape",
                             "/proc/sys/kernel/hostname", "/proc/sysrq-trigger"}) {
        Outcome o = tjtest::run_probe(*sb, {"write", path});
        INFO("write " << path);
        require_ran(o);
        TJ_SHOW(o);
        std::string r = attempt(o, "write");
        CHECK(r != "ok");
        CHECK(r != "missing");
    }
    Outcome usr = tjtest::run_probe(*sb, {"statfs", "/usr"});
    require_ran(usr);
    CHECK(tjtest::field(tjtest::result_of(usr.out.data, "statfs").value_or(""), "rdonly") == "1");
    Outcome root = tjtest::run_probe(*sb, {"statfs", "/"});
    require_ran(root);
    CHECK(tjtest::field(tjtest::result_of(root.out.data, "statfs").value_or(""), "rdonly") == "1");
}

TEST_CASE_METHOD(SandboxFixture,
                 "containment: /tmp is a writable and fresh tmpfs of the configured size",
                 "[containment][integration]") {
    config.limits.tmpfs_bytes = 16 * tjtest::kMiB;
    auto sb = prepare();
    Outcome w = tjtest::run_probe(*sb, {"write", "/tmp/marker"});
    require_ran(w);
    CHECK(attempt(w, "write") == "ok");
    // /dev/null is writable too (tools expect it).
    Outcome devnull = tjtest::run_probe(*sb, {"write", "/dev/null"});
    require_ran(devnull);
    CHECK(attempt(devnull, "write") == "ok");

    // A second run gets a fresh /tmp: the first run's file is gone.
    Outcome r = tjtest::run_probe(*sb, {"read", "/tmp/marker"});
    require_ran(r);
    CHECK(attempt(r, "read") == "ENOENT");

    Outcome st = tjtest::run_probe(*sb, {"statfs", "/tmp"});
    require_ran(st);
    auto line = tjtest::result_of(st.out.data, "statfs").value_or("");
    INFO("statfs /tmp: " << line);
    CHECK(tjtest::field(line, "type") == "0x1021994");  // TMPFS_MAGIC
    CHECK(tjtest::field(line, "size") == std::to_string(16 * tjtest::kMiB));
    CHECK(tjtest::field(line, "rdonly") == "0");
}

TEST_CASE_METHOD(SandboxFixture, "containment: host files outside the binds are invisible",
                 "[containment][integration]") {
    // World-readable secrets in host directories outside the binds: only the mount tree can hide
    // them. One under /var/tmp, one under the host's /tmp (which the sandbox replaces).
    tjtest::TempDir var_dir("tooljail-secret-", "/var/tmp", 0755);
    tjtest::TempDir tmp_dir("tooljail-secret-", "/tmp", 0755);
    tjtest::write_host_file(var_dir.path() + "/secret", "var secret\n", 0644);
    tjtest::write_host_file(tmp_dir.path() + "/secret", "tmp secret\n", 0644);
    auto sb = prepare();

    std::vector<std::string> paths = {var_dir.path() + "/secret",
                                      tmp_dir.path() + "/secret",
                                      "/etc/shadow",
                                      "/etc/passwd-",
                                      "/etc/ssh/ssh_host_ed25519_key",
                                      "/root/.bash_history",
                                      "/proc/1/root/etc/shadow",
                                      std::string(TOOLJAIL_SOURCE_DIR) + "/CMakeLists.txt"};
    for (const std::string& path : paths) {
        Outcome o = tjtest::run_probe(*sb, {"read", path});
        INFO("read " << path);
        require_ran(o);
        TJ_SHOW(o);
        CHECK(attempt(o, "read") == "ENOENT");
    }
    for (const char* dir : {"/root", "/home", "/var", "/sys/fs/cgroup", "/run", "/boot"}) {
        Outcome o = tjtest::run_probe(*sb, {"ls", dir});
        INFO("ls " << dir);
        require_ran(o);
        TJ_SHOW(o);
        CHECK(attempt(o, "ls") == "ENOENT");
    }
}

TEST_CASE_METHOD(SandboxFixture, "containment: the root holds only the planned tree",
                 "[containment][integration]") {
    auto sb = prepare();

    Outcome root = tjtest::run_probe(*sb, {"ls", "/"});
    require_ran(root);
    const std::set<std::string> allowed_root = {"usr",   "bin",    "lib",  "lib32",
                                                "lib64", "libx32", "sbin", "etc",
                                                "dev",   "proc",   "tmp",  "workspace"};
    for (const std::string& name : tjtest::split_lines(root.out.data)) {
        INFO("/" << name << " exists inside the sandbox");
        CHECK(allowed_root.count(name) == 1);
    }

    // /etc: the configured entries, plus the identity files a launcher may synthesise.
    Outcome etc = tjtest::run_probe(*sb, {"ls", "/etc"});
    require_ran(etc);
    std::set<std::string> allowed_etc(config.etc_entries.begin(), config.etc_entries.end());
    for (const char* extra :
         {"passwd", "group", "hosts", "hostname", "resolv.conf", "nsswitch.conf"})
        allowed_etc.insert(extra);
    for (const std::string& name : tjtest::split_lines(etc.out.data)) {
        INFO("/etc/" << name << " exists inside the sandbox");
        CHECK(allowed_etc.count(name) == 1);
    }

    // /dev: the five character devices, plus the customary symlinks and pseudo-fs dirs.
    Outcome dev = tjtest::run_probe(*sb, {"ls", "/dev"});
    require_ran(dev);
    auto dev_names = lines_set(dev.out.data);
    for (const char* needed : {"null", "zero", "full", "random", "urandom"}) {
        INFO("/dev/" << needed << " should exist");
        CHECK(dev_names.count(needed) == 1);
    }
    const std::set<std::string> allowed_dev = {"null", "zero",  "full",   "random", "urandom",
                                               "fd",   "stdin", "stdout", "stderr", "pts",
                                               "ptmx", "shm",   "mqueue"};
    for (const std::string& name : dev_names) {
        INFO("/dev/" << name << " exists inside the sandbox");
        CHECK(allowed_dev.count(name) == 1);
    }
    for (const char* node : {"/dev/mem", "/dev/kmsg", "/dev/vda", "/dev/sda", "/dev/tty",
                             "/dev/console", "/dev/kvm", "/dev/fuse"}) {
        Outcome o = tjtest::run_probe(*sb, {"read", node});
        INFO("read " << node);
        require_ran(o);
        CHECK(attempt(o, "read") == "ENOENT");
    }

    // pivot_root detached the old root: every mount point is part of the planned tree.
    Outcome mounts = tjtest::run_probe(*sb, {"mounts"});
    require_ran(mounts);
    for (const std::string& line : tjtest::split_lines(mounts.out.data)) {
        std::istringstream fields(line);
        std::string id, parent, devno, fs_root, mount_point;
        fields >> id >> parent >> devno >> fs_root >> mount_point;
        std::string top = mount_point.substr(0, mount_point.find('/', 1));
        INFO("mountinfo: " << line);
        CHECK((mount_point == "/" || allowed_root.count(top.substr(1)) == 1));
    }
}

// ---- identity -----------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: no capabilities and no_new_privs and never root",
                 "[containment][integration]") {
    auto sb = prepare();
    Outcome caps = tjtest::run_probe(*sb, {"caps"});
    require_ran(caps);
    TJ_SHOW(caps);
    auto lines = lines_set(caps.out.data);
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
        INFO(set);
        CHECK(lines.count(std::string(set) + ":\t0000000000000000") == 1);
    }
    CHECK(lines.count("NoNewPrivs:\t1") == 1);
    CHECK(lines.count("Seccomp:\t2") == 1);  // filter mode

    Outcome ids = tjtest::run_probe(*sb, {"getuid"});
    require_ran(ids);
    CHECK(tjtest::split_lines(ids.out.data) ==
          std::vector<std::string>{"uid=1000 gid=1000 euid=1000 egid=1000"});

    // The inside ids map to an unprivileged host id, never to host root.
    for (const char* map : {"/proc/self/uid_map", "/proc/self/gid_map"}) {
        Outcome m = tjtest::run_probe(*sb, {"cat", map});
        require_ran(m);
        auto map_lines = tjtest::split_lines(m.out.data);
        INFO(map << ":\n" << m.out.data);
        CHECK(!map_lines.empty());
        for (const std::string& line : map_lines) {
            std::istringstream in(line);
            long inside = -1, outside = -1, count = -1;
            in >> inside >> outside >> count;
            CHECK(count >= 1);
            CHECK(!(outside <= 0 && 0 < outside + count));  // host id 0 is not in the range
        }
    }

    // Becoming root fails: EINVAL because uid 0 is not mapped in the namespace at all, or
    // EPERM from the dropped CAP_SETUID.
    Outcome su = tjtest::run_probe(*sb, {"syscall", "setuid0"});
    require_ran(su);
    const std::string setuid_result = attempt(su, "setuid0");
    CHECK((setuid_result == "EINVAL" || setuid_result == "EPERM"));
}

TEST_CASE_METHOD(SandboxFixture, "containment: the configured inside ids are used",
                 "[containment][integration]") {
    config.uid = 2345;
    config.gid = 3456;
    Outcome o = probe({"getuid"});
    require_ran(o);
    CHECK(tjtest::split_lines(o.out.data) ==
          std::vector<std::string>{"uid=2345 gid=3456 euid=2345 egid=3456"});
}

TEST_CASE_METHOD(SandboxFixture, "containment: own hostname and cgroup namespace",
                 "[containment][integration]") {
    config.hostname = "tj-" + tjtest::unique_token("h").substr(0, 20);
    auto sb = prepare();
    Outcome h = tjtest::run_probe(*sb, {"hostname"});
    require_ran(h);
    CHECK(tjtest::field(h.out.data, "hostname") == config.hostname);

    // Every hierarchy shows the namespace root: the host's cgroup paths are not visible.
    Outcome cg = tjtest::run_probe(*sb, {"cgroup"});
    require_ran(cg);
    TJ_SHOW(cg);
    auto lines = tjtest::split_lines(cg.out.data);
    CHECK(!lines.empty());
    for (const std::string& line : lines) {
        INFO("/proc/self/cgroup: " << line);
        CHECK(line.size() >= 2);
        CHECK(line.substr(line.size() - 2) == ":/");
    }
}

// ---- environment and descriptors ----------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: the environment is exactly the configured one",
                 "[containment][integration]") {
    // Something in our own environment that must not leak in.
    setenv("TOOLJAIL_HOST_SECRET", "do-not-leak", 1);
    Outcome o = probe({"env"});
    require_ran(o);
    auto got = tjtest::split_lines(o.out.data);
    auto want = config.env;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
}

TEST_CASE_METHOD(SandboxFixture, "containment: only stdin stdout and stderr are open",
                 "[containment][integration]") {
    // Leave a non-CLOEXEC descriptor open in the supervisor: it must not be inherited.
    int leaked = open("/dev/null", O_RDONLY);
    REQUIRE(leaked >= 0);
    Outcome o = probe({"fds"});
    close(leaked);
    require_ran(o);
    TJ_SHOW(o);
    std::set<int> fds;
    for (const std::string& line : tjtest::split_lines(o.out.data)) fds.insert(std::stoi(line));
    CHECK(fds == std::set<int>{0, 1, 2});
}
