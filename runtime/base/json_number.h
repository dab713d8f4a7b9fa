// Integers read back from stored JSON (record journals, run markers), which anything with
// write access to the store can have changed. nlohmann's get<Integer>() converts a float with
// static_cast, undefined behaviour when the value is out of range (found by fuzz_records), and
// wraps an integer that does not fit. integer<T>() takes only an integer within T's range and
// otherwise throws json::type_error or json::out_of_range, as get() does for other mismatches,
// so the callers' existing `catch (const json::exception&)` reports the entry as malformed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace runtime::json_number {

template <typename T>
T integer(const nlohmann::json& j) {
    if (!j.is_number_integer())
        throw nlohmann::json::type_error::create(
            302, std::string("type must be an integer, but is ") + j.type_name(), &j);
    bool fits = j.is_number_unsigned() ? std::in_range<T>(j.get<uint64_t>())
                                       : std::in_range<T>(j.get<int64_t>());
    if (!fits)
        throw nlohmann::json::out_of_range::create(406, "integer out of range: " + j.dump(), &j);
    return j.is_number_unsigned() ? static_cast<T>(j.get<uint64_t>())
                                  : static_cast<T>(j.get<int64_t>());
}

// An array of integers, each as integer<T>().
template <typename T>
std::vector<T> integers(const nlohmann::json& j) {
    if (!j.is_array())
        throw nlohmann::json::type_error::create(
            302, std::string("type must be array, but is ") + j.type_name(), &j);
    std::vector<T> out;
    for (const auto& v : j) out.push_back(integer<T>(v));
    return out;
}

}  // namespace runtime::json_number
