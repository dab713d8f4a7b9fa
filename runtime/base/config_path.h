// Where tooljail finds its configuration: the policies/ and tools.d/ directories, and the local
// configuration directory (/etc/tooljail) that holds the token file and local overrides.
//
// A search path is one directory, or several joined by ':' as in $PATH. The first directory
// that holds NAME.json defines NAME: a file in an earlier directory replaces the file of the same
// name in a later one, and a NAME.json there that is a symlink to /dev/null removes NAME from the
// set (masks it, as systemd masks a unit). A file's own "name" must equal its stem (the loaders
// check), so replacing by file name is replacing by name.
//
// The default search path of a kind (subdir "policies" or "tools.d"), in this order:
//   1. $TOOLJAIL_POLICY_DIR / $TOOLJAIL_TOOLS_DIR when set and not empty (itself a search path);
//   2. <source>/SUBDIR when this process is an executable of its own CMake build tree (the
//      `tooljail` there, its tests and benchmarks; built with TOOLJAIL_BUILD_TREE_CONFIG=ON, the
//      default): a build-tree run reads the checkout it was built from and nothing else;
//   3. installed: <config dir>/SUBDIR:<data dir>/SUBDIR, compiled in from the install prefix,
//      e.g. /etc/tooljail/policies:/usr/share/tooljail/policies for a /usr install. The local
//      directory wins; it need not exist. An installed binary never looks at a source tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"

namespace runtime::config_path {

// The directories of a search path, in order; empty elements are dropped.
std::vector<std::string> split(std::string_view search_path);

// The effective files of a search path: for each NAME, the first directory's NAME.json that is
// not masked; sorted by name. Only regular "*.json" files directly in each directory count
// (dotfiles skipped); another entry named *.json that is not a regular file or a mask is
// InvalidArgument. label names the path in errors ("policy directory"), none is the message
// when no file is left ("no policies (*.json)", NotFound). A directory that does not exist is
// NotFound when it is the path's only one, and skipped in a path of several.
sandbox::Result<std::vector<std::string>> list_json_files(std::string_view search_path,
                                                          std::string_view label,
                                                          std::string_view none);

// The file that defines NAME: the first directory's NAME.json. NotFound (sys_errno ENOENT)
// when no directory has one, or the first one found is a mask. name must be a plain name (no
// '/'); the caller checks it.
sandbox::Result<std::string> find_json_file(std::string_view search_path, std::string_view name);

// The default search path of subdir (above); env_var names the override variable.
std::string default_search_path(const char* env_var, std::string_view subdir);

// The local configuration directory, /etc/tooljail unless configured otherwise
// (TOOLJAIL_CONFIG_DIR at build time); a build-tree run uses the same one.
std::string config_dir();

// The data directory the install put policies/ and tools.d/ in (<prefix>/share/tooljail).
std::string data_dir();

// The checkout this executable's build tree was configured from, or "" for an installed (or
// copied) binary and for builds with TOOLJAIL_BUILD_TREE_CONFIG=OFF.
std::string build_tree_source_dir();

}  // namespace runtime::config_path
