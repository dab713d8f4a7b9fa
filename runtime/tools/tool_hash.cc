#include "runtime/tools/tool_hash.h"

#include <nlohmann/json.hpp>

#include "sandbox/base/sha256.h"

namespace runtime {

sandbox::Result<std::string> manifest_hash(std::string_view manifest_text) {
    nlohmann::json manifest =
        nlohmann::json::parse(manifest_text, nullptr, /*allow_exceptions=*/false);
    if (!manifest.is_object())
        return sandbox::fail(sandbox::Errc::InvalidArgument, "manifest is not a JSON object");
    // Switching a tool off and on again is not a change to approve.
    manifest.erase("enabled");
    // nlohmann's objects are sorted maps: dump() is canonical for key order and whitespace.
    // The text parsed, so it is valid UTF-8 and `replace` never applies; it only rules out a throw.
    return sandbox::sha256_hex(
        manifest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

sandbox::Result<std::string> tool_hash(const ToolDef& tool) {
    auto hash = manifest_hash(tool.source);
    if (!hash) return sandbox::fail(std::move(hash).error().with_prefix(tool.path + ": "));
    return hash;
}

}  // namespace runtime
