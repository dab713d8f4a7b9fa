// The configuration directories' shared shape (policies/, tools.d/): one JSON file per entry,
// loaded all or nothing, kept by name. T is plain data with `name` and `path` members and a
// `static constexpr const char* kConfigKind` ("policy", "tool") for messages.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "runtime/base/config_path.h"
#include "sandbox/base/result.h"

namespace runtime {

// Entries by name; immutable once loaded. Iteration and names() are in name order.
template <class T>
class ConfigSet {
public:
    // nullptr when there is no entry of that name.
    const T* find(std::string_view name) const {
        auto it = by_name_.find(name);
        return it == by_name_.end() ? nullptr : &it->second;
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        out.reserve(by_name_.size());
        for (const auto& entry : by_name_) out.push_back(entry.first);
        return out;
    }
    std::size_t size() const { return by_name_.size(); }
    bool empty() const { return by_name_.empty(); }
    auto begin() const { return by_name_.begin(); }
    auto end() const { return by_name_.end(); }

    // A second entry with the same name is InvalidArgument naming both files.
    sandbox::Result<void> add(T entry) {
        std::string name = entry.name;
        auto [it, inserted] = by_name_.try_emplace(name, std::move(entry));
        if (!inserted)
            return sandbox::fail(sandbox::Errc::InvalidArgument,
                                 fmt::format("{} \"{}\" defined twice ({} and {})", T::kConfigKind,
                                             name, it->second.path, entry.path));
        return {};
    }

private:
    std::map<std::string, T, std::less<>> by_name_;
};

// Loads every effective config file of a search path (config_path::list_json_files: one
// directory or several, the first holding a name wins; label and none name the path and its
// emptiness in errors) with load(path) -> Result<T>, in name order. The first invalid file
// fails the whole load, naming that file: there is no partial result.
template <class T, class Load>
sandbox::Result<ConfigSet<T>> load_config_dir(const std::string& search_path,
                                              std::string_view label, std::string_view none,
                                              Load&& load) {
    auto files = config_path::list_json_files(search_path, label, none);
    if (!files) return sandbox::fail(std::move(files).error());
    ConfigSet<T> set;
    for (const std::string& path : *files) {
        sandbox::Result<T> entry = load(path);
        if (!entry) return sandbox::fail(std::move(entry).error());
        SBX_TRY(set.add(std::move(*entry)));
    }
    return set;
}

}  // namespace runtime
