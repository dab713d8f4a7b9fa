#include "runtime/base/user_dirs.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace runtime {

sandbox::Result<std::string> user_state_home(std::string_view fix) {
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/')
        return std::string(xdg);
    std::string home;
    if (const char* h = std::getenv("HOME"); h && *h == '/') home = h;
    if (home.empty()) {
        if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir && *pw->pw_dir == '/')
            home = pw->pw_dir;
    }
    struct stat st {};
    if (home.empty() || ::stat(home.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        std::string which = home.empty() ? "this user has none" : "'" + home + "' does not exist";
        return sandbox::fail(sandbox::Errc::NotFound,
                             "no home directory for state (XDG_STATE_HOME is unset and " + which +
                                 "): set XDG_STATE_HOME, or " + std::string(fix));
    }
    return home + "/.local/state";
}

}  // namespace runtime
