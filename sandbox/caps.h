// Capabilities (libcap). The child starts with a full set in its new user namespace; it keeps
// them across the switch to the unprivileged inside uid (keep-caps) long enough to build its
// mount tree, then empties every set before exec.
#pragma once

#include <sys/capability.h>

#include "sandbox/base/result.h"

namespace sandbox::caps {

struct Plan {
    cap_t all = nullptr;    // every capability effective+permitted (used after keep-caps setuid)
    cap_t empty = nullptr;  // all sets clear
    int last_cap = 0;       // highest capability number the kernel knows
    Plan() = default;
    Plan(Plan&&) noexcept;
    Plan& operator=(Plan&&) noexcept;
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;
    ~Plan();
};

// Parent.
Result<Plan> prepare();

// Child: after setresuid with PR_SET_KEEPCAPS, make the permitted set effective again.
// Returns 0 or errno.
int raise_effective(const Plan& plan);

// Child: lock securebits (no setuid fixups, no root privileges), drop the bounding set,
// clear ambient, then clear effective/permitted/inheritable. Returns 0 or errno.
int drop_all(const Plan& plan);

}  // namespace sandbox::caps
