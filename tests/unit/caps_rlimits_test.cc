// Capabilities and rlimits against the real kernel. The capability tests run in a forked child
// that first creates a user namespace (allowed unprivileged on most hosts, and as root), where
// it holds a full capability set to drop.
#include <fcntl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "sandbox/caps.h"
#include "sandbox/rlimits.h"

namespace {

using namespace sandbox;

// Runs body() in a child and returns the bytes it wrote to the pipe fd it is given.
template <typename Body>
std::string in_child(Body body) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        std::string out = body();
        _exit(write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    return out;
}

// "CapEff=0000... CapPrm=... NoNewPrivs=0 " from /proc/self/status.
std::string status_fields() {
    std::ifstream in("/proc/self/status");
    std::string line, out;
    while (std::getline(in, line)) {
        if (line.rfind("Cap", 0) != 0 && line.rfind("NoNewPrivs", 0) != 0) continue;
        auto colon = line.find(':');
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        out += line.substr(0, colon) + "=" + value + " ";
    }
    return out;
}

std::map<std::string, std::string> parse(const std::string& s) {
    std::map<std::string, std::string> m;
    std::istringstream in(s);
    std::string word;
    while (in >> word) {
        auto eq = word.find('=');
        if (eq != std::string::npos) m[word.substr(0, eq)] = word.substr(eq + 1);
    }
    return m;
}

int kernel_last_cap() {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int n = -1;
    in >> n;
    return n;
}

constexpr const char* kZero = "0000000000000000";

}  // namespace

TEST_CASE("caps: prepare covers every capability the kernel knows", "[caps][unit]") {
    auto plan = caps::prepare();
    REQUIRE(plan);
    CHECK(plan->last_cap == kernel_last_cap());
    cap_flag_value_t v;
    for (cap_value_t c : {0, plan->last_cap}) {
        REQUIRE(cap_get_flag(plan->all, c, CAP_EFFECTIVE, &v) == 0);
        CHECK(v == CAP_SET);
        REQUIRE(cap_get_flag(plan->all, c, CAP_PERMITTED, &v) == 0);
        CHECK(v == CAP_SET);
        REQUIRE(cap_get_flag(plan->all, c, CAP_INHERITABLE, &v) == 0);
        CHECK(v == CAP_CLEAR);
        REQUIRE(cap_get_flag(plan->empty, c, CAP_PERMITTED, &v) == 0);
        CHECK(v == CAP_CLEAR);
    }
    caps::Plan moved = std::move(*plan);
    CHECK(plan->all == nullptr);
    CHECK(plan->empty == nullptr);
    CHECK(moved.all != nullptr);
    caps::Plan assigned;
    assigned = std::move(moved);
    CHECK(moved.all == nullptr);
    CHECK(assigned.last_cap == kernel_last_cap());
}

TEST_CASE("caps: drop_all leaves no capability in any set", "[caps][unit]") {
    auto plan = caps::prepare();
    REQUIRE(plan);
    std::string out = in_child([&]() -> std::string {
        if (unshare(CLONE_NEWUSER) != 0) return "unshare=" + std::to_string(errno);
        std::string before = status_fields();
        int err = caps::drop_all(*plan);
        long bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        long keep = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
        return "drop=" + std::to_string(err) + " securebits=" + std::to_string(bits) +
               " keepcaps=" + std::to_string(keep) + " beforeCapEff=" + parse(before)["CapEff"] +
               " " + status_fields();
    });
    auto m = parse(out);
    if (m.count("unshare")) {
        WARN("cannot create a user namespace here (errno " + m["unshare"] + "); skipping");
        return;
    }
    INFO(out);
    REQUIRE(m["drop"] == "0");
    // The child really held capabilities to lose (the namespace owner gets them all).
    CHECK(m["beforeCapEff"] != kZero);
    for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"}) {
        INFO(set);
        CHECK(m[set] == kZero);
    }
    CHECK(m["NoNewPrivs"] == "0");  // drop_all does not set it; child.cc has its own step
    CHECK(m["securebits"] ==
          std::to_string(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                         SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED));
    CHECK(m["keepcaps"] == "0");
}

TEST_CASE("caps: raise_effective makes the permitted set effective again", "[caps][unit]") {
    auto plan = caps::prepare();
    REQUIRE(plan);
    std::string out = in_child([&]() -> std::string {
        if (unshare(CLONE_NEWUSER) != 0) return "unshare=" + std::to_string(errno);
        cap_t current = cap_get_proc();
        cap_clear_flag(current, CAP_EFFECTIVE);
        int cleared = cap_set_proc(current);
        cap_free(current);
        std::string mid = status_fields();
        int err = caps::raise_effective(*plan);
        return "cleared=" + std::to_string(cleared) + " raise=" + std::to_string(err) +
               " midCapEff=" + parse(mid)["CapEff"] + " " + status_fields();
    });
    auto m = parse(out);
    if (m.count("unshare")) {
        WARN("cannot create a user namespace here (errno " + m["unshare"] + "); skipping");
        return;
    }
    INFO(out);
    REQUIRE(m["cleared"] == "0");
    CHECK(m["midCapEff"] == kZero);
    CHECK(m["raise"] == "0");
    CHECK(m["CapEff"] == m["CapPrm"]);
    CHECK(m["CapEff"] != kZero);
}

// ---- rlimits ----

namespace {

const rlimits::Entry* find(const rlimits::Plan& plan, int resource) {
    for (const auto& e : plan)
        if (e.resource == resource) return &e;
    return nullptr;
}

rlimit current_limit(int resource) {
    rlimit r{};
    REQUIRE(getrlimit(resource, &r) == 0);
    return r;
}

rlim_t clamped(int resource, rlim_t value) {
    rlim_t hard = current_limit(resource).rlim_max;
    return hard == RLIM_INFINITY ? value : std::min(value, hard);
}

}  // namespace

TEST_CASE("rlimits: plan maps the limits", "[rlimits][unit]") {
    Limits limits;
    limits.file_size_bytes = 1 << 20;
    limits.open_files = 64;
    limits.cpu_time = Millis(1500);
    auto plan = rlimits::plan(limits);

    auto expect = [&](int resource, rlim_t soft, rlim_t hard) {
        INFO("resource " << resource);
        const auto* e = find(plan, resource);
        REQUIRE(e != nullptr);
        CHECK(e->value.rlim_max == clamped(resource, hard));
        CHECK(e->value.rlim_cur == std::min(soft, clamped(resource, hard)));
    };
    expect(RLIMIT_CORE, 0, 0);
    expect(RLIMIT_FSIZE, 1 << 20, 1 << 20);
    expect(RLIMIT_NOFILE, 64, 64);
    expect(RLIMIT_CPU, 3, 4);  // ceil(1.5 s) + 1, + 2
    expect(RLIMIT_MSGQUEUE, 0, 0);
    expect(RLIMIT_MEMLOCK, 64 << 10, 64 << 10);
}

TEST_CASE("rlimits: zero limits are left as inherited", "[rlimits][unit]") {
    Limits limits;
    limits.file_size_bytes = 0;
    limits.open_files = 0;
    limits.cpu_time = Millis(0);
    auto plan = rlimits::plan(limits);
    CHECK(find(plan, RLIMIT_FSIZE) == nullptr);
    CHECK(find(plan, RLIMIT_NOFILE) == nullptr);
    CHECK(find(plan, RLIMIT_CPU) == nullptr);
    CHECK(find(plan, RLIMIT_CORE) != nullptr);
}

TEST_CASE("rlimits: requests above the supervisor's hard limit are clamped", "[rlimits][unit]") {
    Limits limits;
    limits.open_files = 0xffffffffu;
    auto plan = rlimits::plan(limits);
    const auto* e = find(plan, RLIMIT_NOFILE);
    REQUIRE(e != nullptr);
    rlimit now = current_limit(RLIMIT_NOFILE);
    if (now.rlim_max != RLIM_INFINITY) CHECK(e->value.rlim_max == now.rlim_max);
    CHECK(e->value.rlim_cur <= e->value.rlim_max);
}

TEST_CASE("rlimits: apply sets every limit in the child", "[rlimits][unit]") {
    Limits limits;
    limits.file_size_bytes = 4096;
    limits.open_files = 32;
    limits.cpu_time = Millis(2000);
    auto plan = rlimits::plan(limits);
    char tmpl[] = "/tmp/tooljail-rlimits-test-XXXXXX";
    int tmp = mkstemp(tmpl);
    REQUIRE(tmp >= 0);
    close(tmp);
    std::string path = tmpl;

    std::string out = in_child([&]() -> std::string {
        int err = rlimits::apply(plan);
        std::string s = "apply=" + std::to_string(err);
        for (const auto& e : plan) {
            rlimit now{};
            getrlimit(e.resource, &now);
            bool same = now.rlim_cur == e.value.rlim_cur && now.rlim_max == e.value.rlim_max;
            s += " r" + std::to_string(e.resource) + "=" + (same ? "ok" : "differs");
        }
        // The file-size limit bites: past 4096 bytes write(2) fails with EFBIG (SIGXFSZ ignored).
        signal(SIGXFSZ, SIG_IGN);
        int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        char block[8192] = {};
        ssize_t first = write(fd, block, sizeof block);
        ssize_t second = write(fd, block, sizeof block);
        s += " first=" + std::to_string(first) +
             " second_errno=" + std::to_string(second < 0 ? errno : 0);
        close(fd);
        return s;
    });
    unlink(path.c_str());
    INFO(out);
    auto m = parse(out);
    CHECK(m["apply"] == "0");
    for (const auto& e : plan) CHECK(m["r" + std::to_string(e.resource)] == "ok");
    CHECK(m["first"] == "4096");
    CHECK(m["second_errno"] == std::to_string(EFBIG));
}
