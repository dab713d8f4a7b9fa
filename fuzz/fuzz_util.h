// Shared by the fuzz targets: how one input is split, and the shipped configuration they load
// once. Fuzz targets are built only with -DTOOLJAIL_FUZZ=ON (clang, libFuzzer); scripts/fuzz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Splits an input at the first '\n' into (head, tail); no newline = (input, "").
inline std::pair<std::string_view, std::string_view> split_line(std::string_view in) {
    size_t nl = in.find('\n');
    if (nl == std::string_view::npos) return {in, {}};
    return {in.substr(0, nl), in.substr(nl + 1)};
}

// The source tree's policies/ and tools.d/ (TOOLJAIL_SOURCE_DIR is compiled in).
std::string source_path(std::string_view sub);

}  // namespace fuzz
