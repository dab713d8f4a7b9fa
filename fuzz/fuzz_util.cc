#include "fuzz/fuzz_util.h"

namespace fuzz {

std::string source_path(std::string_view sub) {
    return std::string(TOOLJAIL_SOURCE_DIR "/") + std::string(sub);
}

}  // namespace fuzz
