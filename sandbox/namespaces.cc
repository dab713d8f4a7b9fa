#include "sandbox/namespaces.h"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/base/sys.h"

namespace sandbox::namespaces {

unsigned long long clone_flags() {
    return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
}

std::vector<std::string> names() { return {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}; }

Result<Cloned> clone_child(int cgroup_fd) {
    int pidfd = -1;
    struct clone_args args = {};
    args.flags = clone_flags() | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        // Born inside its leaf: no attach write on the critical path (cgroup v2 only).
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    // No stack given: clone3 then behaves like fork(), the child runs on a copy of ours.
    long ret = ::syscall(SYS_clone3, &args, sizeof args);
    if (ret < 0)
        return fail(
            sys_error("clone3(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET|"
                      "CLONE_NEWIPC|CLONE_NEWUTS)"));
    return Cloned{static_cast<pid_t>(ret), pidfd};
}

Result<void> write_id_maps(pid_t child, const IdMap& map) {
    std::string proc = "/proc/" + std::to_string(child);
    std::string uid_line =
        std::to_string(map.inside_uid) + " " + std::to_string(map.host_uid) + " 1\n";
    std::string gid_line =
        std::to_string(map.inside_gid) + " " + std::to_string(map.host_gid) + " 1\n";
    auto uid = sys::write_file(proc + "/uid_map", uid_line);
    if (!uid) return fail(std::move(uid).error().with_prefix("user namespace: uid_map: "));
    // An unprivileged parent must deny setgroups before writing gid_map (user_namespaces(7)).
    auto sg = sys::write_file(proc + "/setgroups", map.allow_setgroups ? "allow" : "deny");
    if (!sg) return fail(std::move(sg).error().with_prefix("user namespace: setgroups: "));
    auto gid = sys::write_file(proc + "/gid_map", gid_line);
    if (!gid) return fail(std::move(gid).error().with_prefix("user namespace: gid_map: "));
    return {};
}

}  // namespace sandbox::namespaces
