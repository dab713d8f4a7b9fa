// Namespaces: the clone3(2) call that creates the child in fresh user, mount, pid, net, ipc and
// uts namespaces (the cgroup namespace is unshared by the child once it sits in its cgroup, so
// its cgroup root is the run's leaf), and the parent-side id-map writing.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandbox/base/result.h"

namespace sandbox::namespaces {

// CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS
unsigned long long clone_flags();
// "user", "mnt", ... for the flags above plus "cgroup" (unshared by the child).
std::vector<std::string> names();

struct Cloned {
    pid_t pid;  // 0 in the child
    int pidfd;  // parent only: pidfd of the child (CLONE_PIDFD)
};

// Parent: clone3 with the flags above, CLONE_PIDFD, and CLONE_INTO_CGROUP when cgroup_fd >= 0
// (cgroup v2, Linux 5.7+). Returns in both processes like fork(); in the child pid == 0.
Result<Cloned> clone_child(int cgroup_fd);

struct IdMap {
    uid_t inside_uid;
    uid_t host_uid;
    gid_t inside_gid;
    gid_t host_gid;
    bool allow_setgroups;  // only a privileged parent may leave setgroups(2) usable
};

// Parent, after clone and before the child's go byte: writes uid_map, setgroups, gid_map.
// Maps exactly one id each way: the sandbox can never act as any other host uid.
Result<void> write_id_maps(pid_t child, const IdMap& map);

}  // namespace sandbox::namespaces
