#include "runtime/base/systemd_scope.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include "sandbox/base/sys.h"
#include "sandbox/cgroup.h"

namespace runtime::systemd_scope {
namespace {

using sandbox::Errc;
using sandbox::fail;

constexpr auto kMoveTimeout = std::chrono::seconds(10);

// The manager that owns this process's cgroups: the system manager for root, else the user's.
std::string manager_socket() {
    if (::geteuid() == 0) return "/run/systemd/private";
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    std::string dir = runtime_dir && *runtime_dir == '/'
                          ? std::string(runtime_dir)
                          : "/run/user/" + std::to_string(::geteuid());
    return dir + "/systemd/private";
}

std::string scope_name() {
    std::random_device rd;
    return fmt::format("tooljail-{}-{:08x}.scope", ::getpid(), rd());
}

// Frees what sd-bus hands out, whatever path the call takes.
struct Bus {
    sd_bus* bus = nullptr;
    sd_bus_message* call = nullptr;
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    ~Bus() {
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(call);
        sd_bus_flush_close_unref(bus);
    }
};

std::string errno_text(int negative_errno) {
    return std::string(::strerror(-negative_errno)) + " (" +
           sandbox::sys::errno_name(-negative_errno) + ")";
}

// StartTransientUnit(name, "fail", [PIDs, Delegate, CollectMode, Description], []).
sandbox::Result<void> start_scope(const std::string& socket, const std::string& unit) {
    Bus b;
    int r = sd_bus_new(&b.bus);
    if (r >= 0) r = sd_bus_set_address(b.bus, ("unix:path=" + socket).c_str());
    if (r >= 0) r = sd_bus_start(b.bus);
    if (r < 0)
        return fail(Errc::Unsupported,
                    "cannot connect to the systemd manager at " + socket + ": " + errno_text(r));
    r = sd_bus_message_new_method_call(b.bus, &b.call, "org.freedesktop.systemd1",
                                       "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "StartTransientUnit");
    if (r >= 0) r = sd_bus_message_append(b.call, "ss", unit.c_str(), "fail");
    if (r >= 0) r = sd_bus_message_open_container(b.call, 'a', "(sv)");
    if (r >= 0)
        r = sd_bus_message_append(b.call, "(sv)(sv)(sv)(sv)", "PIDs", "au", 1,
                                  static_cast<uint32_t>(::getpid()), "Delegate", "b", 1,
                                  "CollectMode", "s", "inactive-or-failed", "Description", "s",
                                  "tooljail: sandbox supervisor and its runs");
    if (r >= 0) r = sd_bus_message_close_container(b.call);
    if (r >= 0) r = sd_bus_message_append(b.call, "a(sa(sv))", 0);
    if (r < 0)
        return fail(Errc::Internal, "building the StartTransientUnit call: " + errno_text(r));
    r = sd_bus_call(b.bus, b.call, 10'000'000, &b.error, &b.reply);
    if (r < 0)
        return fail(Errc::Unsupported,
                    "systemd refused a scope with Delegate=yes: " +
                        std::string(b.error.message ? b.error.message : errno_text(r).c_str()));
    return {};
}

bool in_unit(const std::string& unit) {
    auto self = sandbox::sys::read_file("/proc/self/cgroup");
    return self && self->find("/" + unit + "\n") != std::string::npos;
}

}  // namespace

const char* fix() {
    return "run tooljail in a cgroup of its own: as a systemd unit with Delegate=yes, or under "
           "`systemd-run --user --scope -p Delegate=yes tooljail ...` (docs/CGROUPS.md), or as "
           "root";
}

sandbox::Result<void> enter_if_needed() {
    std::optional<std::string> problem = sandbox::cgroup::own_cgroup_unusable();
    if (!problem) return {};
    const std::string socket = manager_socket();
    struct stat st {};
    if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
        return fail(Errc::Unsupported, *problem +
                                           "; no systemd manager to ask for a scope of its own (" +
                                           socket + " is not there); " + fix());
    const std::string unit = scope_name();
    if (auto started = start_scope(socket, unit); !started)
        return fail(Errc::Unsupported, *problem + "; " + started.error().message() + "; " + fix());
    // The manager moves the process when the scope's start job runs, just after the call.
    const auto deadline = std::chrono::steady_clock::now() + kMoveTimeout;
    while (!in_unit(unit)) {
        if (std::chrono::steady_clock::now() > deadline)
            return fail(Errc::Unsupported, *problem + "; systemd accepted scope " + unit +
                                               " but did not move tooljail into it within 10 s; " +
                                               fix());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
}

}  // namespace runtime::systemd_scope
