// Capability sets are built with libcap in the parent; the child only calls cap_set_proc (one
// capset(2), no allocation) and prctl(2).
#include "sandbox/caps.h"

#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace sandbox::caps {
namespace {

// Locked so nothing after exec can undo them:
//  NOROOT: uid 0 (inside the namespace) gains no capabilities at execve;
//  NO_SETUID_FIXUP: a later setuid does not recompute the sets;
//  KEEP_CAPS_LOCKED (with KEEP_CAPS itself clear): keep-caps cannot be turned back on;
//  NO_CAP_AMBIENT_RAISE: the ambient set stays empty.
constexpr unsigned long kSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

void release(cap_t& c) {
    if (c) cap_free(c);
    c = nullptr;
}

}  // namespace

Plan::Plan(Plan&& other) noexcept
    : all(std::exchange(other.all, nullptr)),
      empty(std::exchange(other.empty, nullptr)),
      last_cap(other.last_cap) {}

Plan& Plan::operator=(Plan&& other) noexcept {
    if (this != &other) {
        release(all);
        release(empty);
        all = std::exchange(other.all, nullptr);
        empty = std::exchange(other.empty, nullptr);
        last_cap = other.last_cap;
    }
    return *this;
}

Plan::~Plan() {
    release(all);
    release(empty);
}

Result<Plan> prepare() {
    Plan plan;
    // cap_max_bits() is what the running kernel knows (cap_last_cap + 1), which may be more or
    // fewer than the capabilities libcap was built with.
    int bits = static_cast<int>(cap_max_bits());
    if (bits <= 0 || bits > 64)
        return fail(Errc::Internal, "libcap reports " + std::to_string(bits) + " capabilities");
    plan.last_cap = bits - 1;

    plan.empty = cap_init();
    if (!plan.empty) return fail(sys_error("cap_init"));
    plan.all = cap_init();
    if (!plan.all) return fail(sys_error("cap_init"));
    cap_value_t values[64];
    for (int i = 0; i < bits; ++i) values[i] = i;
    // Effective and permitted only: nothing inheritable, so nothing can flow into exec'd
    // programs through file inheritable bits.
    if (cap_set_flag(plan.all, CAP_EFFECTIVE, bits, values, CAP_SET) != 0 ||
        cap_set_flag(plan.all, CAP_PERMITTED, bits, values, CAP_SET) != 0)
        return fail(sys_error("cap_set_flag"));
    return plan;
}

int raise_effective(const Plan& plan) { return cap_set_proc(plan.all) == 0 ? 0 : errno; }

int drop_all(const Plan& plan) {
    // Order matters. Keep-caps off first: PR_SET_KEEPCAPS fails with EPERM once
    // SECBIT_KEEP_CAPS_LOCKED is set (and the securebits write below clears it anyway).
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
    // Securebits and the bounding-set drops need CAP_SETPCAP, so they precede capset.
    if (prctl(PR_SET_SECUREBITS, kSecurebits, 0, 0, 0) != 0) return errno;
    for (int cap = 0; cap <= plan.last_cap; ++cap)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno;
    if (cap_set_proc(plan.empty) != 0) return errno;

    // Cheap check that the kernel agrees: one capget(2). Anything left is a bug, reported as
    // ENOTRECOVERABLE so the audit record cannot mistake it for a host refusal.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    for (const auto& d : data)
        if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) return ENOTRECOVERABLE;
    return 0;
}

}  // namespace sandbox::caps
