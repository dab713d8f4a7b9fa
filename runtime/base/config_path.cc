#include "runtime/base/config_path.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>

// Compiled in for this file only (CMakeLists.txt), so that changing the prefix rebuilds one
// object: TOOLJAIL_DATA_DIR and TOOLJAIL_CONFIG_DIR from the install prefix, and, in a build
// configured with TOOLJAIL_BUILD_TREE_CONFIG, TOOLJAIL_BUILD_TREE_SOURCE/_BINARY.
#ifndef TOOLJAIL_DATA_DIR
#define TOOLJAIL_DATA_DIR "/usr/local/share/tooljail"
#endif
#ifndef TOOLJAIL_CONFIG_DIR
#define TOOLJAIL_CONFIG_DIR "/etc/tooljail"
#endif

namespace runtime::config_path {
namespace fs = std::filesystem;
using sandbox::Errc;
using sandbox::fail;
using sandbox::Result;

namespace {

constexpr std::string_view kSuffix = ".json";

// A NAME.json that is a symlink to /dev/null: NAME is switched off here.
bool is_mask(const fs::directory_entry& entry) {
    std::error_code ec;
    if (!entry.is_symlink(ec)) return false;
    return fs::read_symlink(entry.path(), ec) == "/dev/null" && !ec;
}

struct Found {
    std::string path;  // "" = masked
};

// NAME -> the entry of the first directory that has one. Reads every directory of the path.
Result<std::map<std::string, Found>> scan(std::string_view search_path, std::string_view label) {
    std::vector<std::string> dirs = split(search_path);
    std::string where = std::string(label) + " " + std::string(search_path);
    if (dirs.empty()) return fail(Errc::InvalidArgument, where + ": empty search path");
    std::map<std::string, Found> found;
    for (const std::string& dir : dirs) {
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec == std::errc::no_such_file_or_directory && dirs.size() > 1) continue;
        std::string here = std::string(label) + " " + dir;
        if (ec)
            return fail(sandbox::Error{
                ec == std::errc::no_such_file_or_directory ? Errc::NotFound : Errc::Syscall,
                ec.value(), here});
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            const fs::path& path = it->path();
            std::string file = path.filename().string();
            if (file.empty() || file[0] == '.' || path.extension() != kSuffix) continue;
            std::string name = file.substr(0, file.size() - kSuffix.size());
            if (found.count(name)) continue;  // an earlier directory decided
            if (is_mask(*it)) {
                found.emplace(name, Found{});
                continue;
            }
            if (!fs::is_regular_file(it->status(ec)))
                return fail(Errc::InvalidArgument, path.string() + ": not a regular file");
            found.emplace(name, Found{path.string()});
        }
        if (ec) return fail(sandbox::Error{Errc::Syscall, ec.value(), here});
    }
    return found;
}

#ifdef TOOLJAIL_BUILD_TREE_BINARY
// The executables of a build tree live in its top directory (tooljail), tests/ and bench/. A
// prefix test would also take an install prefix inside the build tree for the build tree.
bool in_build_tree() {
    static const bool yes = [] {
        std::error_code ec;
        fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (ec) return false;
        fs::path build = fs::weakly_canonical(TOOLJAIL_BUILD_TREE_BINARY, ec);
        if (ec) return false;
        fs::path dir = exe.parent_path();
        return dir == build || dir == build / "tests" || dir == build / "bench";
    }();
    return yes;
}
#endif

}  // namespace

std::vector<std::string> split(std::string_view search_path) {
    std::vector<std::string> dirs;
    size_t pos = 0;
    while (pos <= search_path.size()) {
        size_t end = search_path.find(':', pos);
        if (end == std::string_view::npos) end = search_path.size();
        if (end > pos) dirs.emplace_back(search_path.substr(pos, end - pos));
        pos = end + 1;
    }
    return dirs;
}

Result<std::vector<std::string>> list_json_files(std::string_view search_path,
                                                 std::string_view label, std::string_view none) {
    auto found = scan(search_path, label);
    if (!found) return fail(std::move(found).error());
    std::vector<std::string> files;
    for (const auto& [name, entry] : *found)
        if (!entry.path.empty()) files.push_back(entry.path);
    if (files.empty())
        return fail(Errc::NotFound,
                    std::string(label) + " " + std::string(search_path) + ": " + std::string(none));
    return files;
}

Result<std::string> find_json_file(std::string_view search_path, std::string_view name) {
    std::string file = std::string(name) + std::string(kSuffix);
    for (const std::string& dir : split(search_path)) {
        fs::path path = fs::path(dir) / file;
        std::error_code ec;
        fs::file_status link = fs::symlink_status(path, ec);
        if (ec || !fs::exists(link)) continue;
        if (fs::is_symlink(link) && fs::read_symlink(path, ec) == "/dev/null") break;  // masked
        return path.string();
    }
    errno = ENOENT;
    return fail(sandbox::sys_error(std::string(search_path) + ": no " + file));
}

std::string default_search_path(const char* env_var, std::string_view subdir) {
    if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') return env;
    std::string sub(subdir);
    if (std::string source = build_tree_source_dir(); !source.empty()) return source + "/" + sub;
    return config_dir() + "/" + sub + ":" + data_dir() + "/" + sub;
}

std::string config_dir() { return TOOLJAIL_CONFIG_DIR; }

std::string data_dir() { return TOOLJAIL_DATA_DIR; }

std::string build_tree_source_dir() {
#ifdef TOOLJAIL_BUILD_TREE_BINARY
    if (in_build_tree()) return TOOLJAIL_BUILD_TREE_SOURCE;
#endif
    return {};
}

}  // namespace runtime::config_path
