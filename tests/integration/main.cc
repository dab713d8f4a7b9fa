// Runner for the integration tests. Before running anything it checks that this host can create
// the namespaces a sandbox needs; if it cannot, it says why and exits 77, which CTest reports as
// "skipped" (SKIP_RETURN_CODE 77) rather than a false pass.
#define CATCH_CONFIG_RUNNER
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <catch2/catch.hpp>

namespace {

constexpr int kSkip = 77;

// Forks a child that unshares user, mount, pid and network namespaces, the way the launcher
// will. Done in a child so that this process keeps its own namespaces. Returns 0 or errno.
int probe_user_namespaces() {
    pid_t child = fork();
    if (child < 0) return errno;
    if (child == 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) != 0) _exit(errno);
        _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    if (!WIFEXITED(status)) return ECHILD;
    return WEXITSTATUS(status);
}

// Test discovery (catch_discover_tests runs the binary with --list-test-names-only at build
// time) must work on any host, so listing never triggers the check.
bool only_listing(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]).rfind("--list", 0) == 0) return true;
        if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef TOOLJAIL_TEST_RECORDS
    // Every `tooljail run` the tests start records into the build tree unless told otherwise.
    setenv("TOOLJAIL_RECORDS", TOOLJAIL_TEST_RECORDS, 0);
#endif
    if (!only_listing(argc, argv)) {
        int err = probe_user_namespaces();
        if (err != 0) {
            std::fprintf(stderr,
                         "SKIP: this host cannot create a user namespace "
                         "(unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET): %s). "
                         "Check kernel.unprivileged_userns_clone, user.max_user_namespaces and "
                         "AppArmor's restrict_unprivileged_userns.\n",
                         std::strerror(err));
            return kSkip;
        }
    }
    return Catch::Session().run(argc, argv);
}
