// Containment claims (REQUIREMENTS.md section 1), each proven by attempting the escape from
// inside a real sandbox with tooljail-probe and asserting that it fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/base/unique_fd.h"
#include "tests/integration/sandbox_fixture.h"

using sandbox::Outcome;
using sandbox::Termination;
using tjtest::attempt;
using tjtest::SandboxFixture;

namespace {

// The probe ran to the end: the attempt was made and reported.
void require_ran(const Outcome& o) {
    TJ_SHOW(o);
    REQUIRE(o.reason == Termination::Exit);
    REQUIRE(o.exit_code == 0);
}

std::set<std::string> lines_set(const std::string& out) {
    auto lines = tjtest::split_lines(out);
    return {lines.begin(), lines.end()};
}

// A TCP listener on the host: addr:0, returns the fd and the chosen port.
sandbox::UniqueFd host_listener(const char* addr, uint16_t& port) {
    sandbox::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    REQUIRE(fd.valid());
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, addr, &sa.sin_addr) == 1);
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(listen(fd.get(), 8) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port = ntohs(sa.sin_port);
    return fd;
}

// Nobody connected to the listener (the sandbox's attempt never reached the host).
bool nothing_accepted(int listen_fd) {
    int conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn >= 0) {
        close(conn);
        return false;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

// First non-loopback IPv4 address of the host, empty if none.
std::string host_external_ipv4() {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return {};
    std::string found;
    for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        if (std::string_view(buf).rfind("127.", 0) != 0) found = buf;
    }
    freeifaddrs(list);
    return found;
}

// Denied by the default profile with SeccompAction::Errno: EPERM, or (if the policy kills)
// death by SIGSYS. Anything else (ok, EINVAL, ENOSYS, EFAULT...) means the kernel processed the
// call, i.e. nothing in the sandbox stopped it.
bool denied_eperm_or_sigsys(const Outcome& o, const std::string& label) {
    if (o.reason == Termination::SeccompViolation) return true;
    if (o.reason == Termination::Signaled && o.signal == SIGSYS) return true;
    return o.reason == Termination::Exit && attempt(o, label) == "EPERM";
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

// ---- network ------------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: no network and not even the host's loopback",
                 "[containment][integration]") {
    uint16_t lo_port = 0;
    sandbox::UniqueFd lo_listener = host_listener("127.0.0.1", lo_port);
    uint16_t any_port = 0;
    sandbox::UniqueFd any_listener = host_listener("0.0.0.0", any_port);
    const std::string external_ip = host_external_ipv4();

    // Abstract unix sockets are per network namespace: the host's must be unreachable.
    const std::string abstract_name = tjtest::unique_token("tooljail-abstract");
    sandbox::UniqueFd unix_listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    REQUIRE(unix_listener.valid());
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    std::memcpy(ua.sun_path + 1, abstract_name.data(), abstract_name.size());
    socklen_t ua_len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    REQUIRE(bind(unix_listener.get(), reinterpret_cast<sockaddr*>(&ua), ua_len) == 0);
    REQUIRE(listen(unix_listener.get(), 8) == 0);

    // Landlock (ABI >= 4) also refuses TCP connect, with EACCES, unless the policy asks for
    // loopback (then local TCP servers must work); running each case with Landlock off as well
    // proves the network namespace holds on its own.
    const int abi = tjtest::shared_host()->landlock_abi();
    std::vector<sandbox::LandlockMode> modes = {sandbox::LandlockMode::Off};
    if (abi > 0) modes.push_back(sandbox::LandlockMode::Required);
    for (sandbox::LandlockMode mode : modes) {
        for (bool loopback : {false, true}) {
            const bool landlock_net = mode == sandbox::LandlockMode::Required && abi >= 4 && !loopback;
            config.landlock.mode = mode;
            config.loopback = loopback;
            INFO("loopback=" << loopback << " landlock="
                             << (mode == sandbox::LandlockMode::Required ? "required" : "off")
                             << " abi=" << abi);
            auto sb = prepare();

            // The host's 127.0.0.1 is not this namespace's: with lo down it is unreachable,
            // with lo up nothing listens on it.
            Outcome lo = tjtest::run_probe(*sb, {"connect", "127.0.0.1", std::to_string(lo_port)});
            require_ran(lo);
            TJ_SHOW(lo);
            CHECK(attempt(lo, "connect") == (landlock_net ? "EACCES"
                                             : loopback   ? "ECONNREFUSED"
                                                          : "ENETUNREACH"));

            if (!external_ip.empty()) {
                INFO("host address " << external_ip);
                Outcome ext =
                    tjtest::run_probe(*sb, {"connect", external_ip, std::to_string(any_port)});
                require_ran(ext);
                TJ_SHOW(ext);
                CHECK(attempt(ext, "connect") == (landlock_net ? "EACCES" : "ENETUNREACH"));
            }
            Outcome internet = tjtest::run_probe(*sb, {"connect", "1.1.1.1", "53"});
            require_ran(internet);
            TJ_SHOW(internet);
            CHECK(attempt(internet, "connect") == (landlock_net ? "EACCES" : "ENETUNREACH"));

            // Abstract names live in the network namespace (Landlock ABI 6 also scopes them).
            Outcome ux = tjtest::run_probe(*sb, {"connect-unix", "@" + abstract_name});
            require_ran(ux);
            TJ_SHOW(ux);
            const std::string ux_result = attempt(ux, "connect-unix");
            CHECK((ux_result == "ECONNREFUSED" || (abi >= 6 && ux_result == "EPERM")));

            // Only lo exists (down, or up with loopback=true).
            Outcome dev = tjtest::run_probe(*sb, {"cat", "/proc/net/dev"});
            require_ran(dev);
            auto lines = tjtest::split_lines(dev.out.data);
            REQUIRE(lines.size() >= 2);  // two header lines
            std::vector<std::string> interfaces;
            for (size_t i = 2; i < lines.size(); ++i) {
                std::string name = lines[i].substr(0, lines[i].find(':'));
                name.erase(0, name.find_first_not_of(' '));
                interfaces.push_back(name);
            }
            TJ_SHOW(dev);
            CHECK(interfaces == std::vector<std::string>{"lo"});
        }
    }
    CHECK(nothing_accepted(lo_listener.get()));
    CHECK(nothing_accepted(any_listener.get()));
    CHECK(nothing_accepted(unix_listener.get()));
}

// ---- processes ----------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: host processes are invisible and unkillable",
                 "[containment][integration]") {
    auto sb = prepare();

    Outcome ps = tjtest::run_probe(*sb, {"ps"});
    require_ran(ps);
    TJ_SHOW(ps);
    // The probe is pid 1 of its own pid namespace and the only process there.
    CHECK(tjtest::split_lines(ps.out.data) == std::vector<std::string>{"1 tooljail-probe"});

    // Our own host pid (SIGKILL: an escape would end this test visibly) and our parent's
    // (signal 0, a pure existence check): neither is visible, so neither is signalable.
    for (auto [target, sig] : {std::pair{getpid(), 9}, std::pair{getppid(), 0}}) {
        Outcome k = tjtest::run_probe(*sb, {"kill", std::to_string(target), std::to_string(sig)});
        INFO("kill " << target << " " << sig);
        require_ran(k);
        std::string r = attempt(k, "kill");
        CHECK((r == "ESRCH" || r == "EPERM"));
    }
    // kill(-1) reaches every process the caller may signal; inside, that is nobody else.
    Outcome all = tjtest::run_probe(*sb, {"kill", "-1", "9"});
    require_ran(all);
    CHECK(kill(getpid(), 0) == 0);
    CHECK(kill(getppid(), 0) == 0);
}

TEST_CASE_METHOD(SandboxFixture, "containment: concurrent runs cannot see or signal each other",
                 "[containment][integration]") {
    auto sb = prepare();
    sandbox::RunRequest sleeper;
    sleeper.argv = {tjtest::kProbe, "sleep", "1500"};
    auto first = sb->launch(sleeper);
    if (!first) FAIL("launch: " << first.error().message());
    const pid_t first_pid = (*first)->pid();

    Outcome ps = tjtest::run_probe(*sb, {"ps"});
    require_ran(ps);
    CHECK(tjtest::split_lines(ps.out.data) == std::vector<std::string>{"1 tooljail-probe"});
    Outcome k = tjtest::run_probe(*sb, {"kill", std::to_string(first_pid), "9"});
    require_ran(k);
    CHECK(attempt(k, "kill") == "ESRCH");

    // The first run was untouched and finishes normally.
    Outcome o = (*first)->wait();
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.exit_code == 0);
    CHECK(attempt(o, "sleep") == "ok");
}

TEST_CASE_METHOD(SandboxFixture, "containment: a double-forked daemon does not outlive the run",
                 "[containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-daemon");
    // The daemon would sleep 30 s holding stdout and stderr open.
    Outcome o = probe({"daemon", "30000", token});
    TJ_SHOW(o);
    CHECK(o.reason == Termination::Exit);
    CHECK(o.exit_code == 0);
    CHECK(o.out.data.find("daemon pid=") != std::string::npos);  // it did start
    CHECK(o.out.data.find("daemon survived") == std::string::npos);
    CHECK(o.wall < sandbox::Millis{5000});  // the run did not wait for the daemon
    CHECK(tjtest::host_pids_with(token).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(tjtest::host_pids_with(token).empty());
}

TEST_CASE_METHOD(SandboxFixture, "containment: destroying a Run kills its whole tree",
                 "[containment][integration]") {
    const std::string token = tjtest::unique_token("tooljail-abandoned");
    auto sb = prepare();
    {
        sandbox::RunRequest request;
        request.argv = {tjtest::kProbe, "daemon", "30000", token};
        auto run = sb->launch(request);
        if (!run) FAIL("launch: " << run.error().message());
        // Give the daemon time to exist, then drop the Run without wait().
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        request.argv = {tjtest::kProbe, "sleep", "30000", token};
        auto sleeper = sb->launch(request);
        if (!sleeper) FAIL("launch: " << sleeper.error().message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(!tjtest::host_pids_with(token).empty());  // the sleeper, at least, is alive
    }
    CHECK(tjtest::host_pids_with(token).empty());
}

// ---- syscalls -----------------------------------------------------------------------------------

TEST_CASE_METHOD(SandboxFixture, "containment: dangerous syscalls are denied (default profile)",
                 "[containment][seccomp][integration]") {
    const std::string name = GENERATE(
        as<std::string>{}, "ptrace_traceme", "ptrace_attach", "mount", "umount", "unshare_user",
        "unshare_mnt", "unshare_net", "setns", "bpf", "keyctl", "add_key", "perf_event_open",
        "io_uring_setup", "userfaultfd", "clone_newuser", "clone_newns", "chroot", "pivot_root",
        "kexec_load", "init_module", "finit_module", "reboot", "swapon", "settimeofday",
        "clock_settime", "tiocsti", "tioclinux", "open_by_handle_at", "mknod", "acct");
    INFO("syscall " << name);
    Outcome o = probe({"syscall", name});
    TJ_SHOW(o);
    CHECK(denied_eperm_or_sigsys(o, name));
}

TEST_CASE_METHOD(SandboxFixture, "containment: clone3 is refused so clone flags stay visible",
                 "[containment][seccomp][integration]") {
    Outcome o = probe({"syscall", "clone3_newuser"});
    TJ_SHOW(o);
    // seccomp.h: clone3 fails with ENOSYS so libc falls back to clone(2).
    bool refused = o.reason == Termination::SeccompViolation ||
                   (o.reason == Termination::Exit && (attempt(o, "clone3_newuser") == "ENOSYS" ||
                                                      attempt(o, "clone3_newuser") == "EPERM"));
    CHECK(refused);
}

TEST_CASE_METHOD(SandboxFixture, "containment: kill mode ends the run with SIGSYS",
                 "[containment][seccomp][integration]") {
    config.seccomp.on_violation = sandbox::SeccompAction::Kill;
    auto sb = prepare();
    for (const char* name : {"keyctl", "ptrace_traceme", "unshare_user", "io_uring_setup"}) {
        INFO("syscall " << name);
        Outcome o = tjtest::run_probe(*sb, {"syscall", name});
        TJ_SHOW(o);
        CHECK(o.reason == Termination::SeccompViolation);
        CHECK(o.signal == SIGSYS);
        CHECK(attempt(o, name) == "missing");  // it never returned
    }
}

TEST_CASE_METHOD(SandboxFixture,
                 "containment: strict profile allows ordinary work and kills the rest",
                 "[containment][seccomp][integration]") {
    config.seccomp.profile = "strict";
    config.seccomp.on_violation = sandbox::SeccompAction::Kill;
    auto sb = prepare();

    Outcome ok = tjtest::run_probe(*sb, {"getuid"});
    TJ_SHOW(ok);
    CHECK(ok.reason == Termination::Exit);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.data.find("uid=1000") != std::string::npos);

    for (const char* name : {"keyctl", "bpf", "ptrace_traceme", "perf_event_open"}) {
        INFO("syscall " << name);
        Outcome o = tjtest::run_probe(*sb, {"syscall", name});
        TJ_SHOW(o);
        CHECK(o.reason == Termination::SeccompViolation);
        CHECK(o.signal == SIGSYS);
    }
}

TEST_CASE_METHOD(SandboxFixture, "containment: foreign syscall ABIs (x32 and int 0x80) are refused",
                 "[containment][seccomp][integration]") {
    const std::string abi = GENERATE(as<std::string>{}, "x32", "int80");
    INFO("abi " << abi);
    Outcome o = probe({abi});
    TJ_SHOW(o);
    // seccomp.h promises a kill; a plain error return is also a refusal. What must never happen
    // is the call succeeding (int80 getpid would print "ok ret=1").
    bool killed = o.reason == Termination::SeccompViolation ||
                  (o.reason == Termination::Signaled && o.signal == SIGSYS);
    bool refused =
        o.reason == Termination::Exit && attempt(o, abi) != "ok" && attempt(o, abi) != "missing";
    CHECK((killed || refused));
    CHECK(attempt(o, abi) != "ok");
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
