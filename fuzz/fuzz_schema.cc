// JSON Schema compilation and validation of tool arguments. The first line of the input is a
// schema (compiled with the same strictness as a tool manifest's inputSchema), the rest an
// instance validated against it; when the first line is not a usable schema, the instance is
// validated against the shipped run_command tool's schema instead, so the validator itself is
// always exercised.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "runtime/tools/json_schema.h"

namespace {

std::shared_ptr<const runtime::schema::Validator> shipped() {
    static std::shared_ptr<const runtime::schema::Validator> v = [] {
        std::ifstream in(fuzz::source_path("tools.d/run_command.json"));
        std::stringstream text;
        text << in.rdbuf();
        auto manifest = nlohmann::json::parse(text.str());
        auto compiled =
            runtime::schema::Validator::compile(manifest.at("inputSchema"), "run_command");
        if (!compiled) std::abort();
        return *compiled;
    }();
    return v;
}

std::optional<nlohmann::json> parse(std::string_view text) {
    // The depth limit the server applies (jsonrpc::kMaxDepth) comes before the validator; a
    // parser callback enforces the same here so deep inputs are not a parser stack overflow.
    int depth = 0;
    bool too_deep = false;
    auto cb = [&](int d, nlohmann::json::parse_event_t, nlohmann::json&) {
        depth = d;
        if (d > 64) too_deep = true;
        return !too_deep;
    };
    nlohmann::json j = nlohmann::json::parse(text, cb, /*allow_exceptions=*/false);
    if (too_deep || j.is_discarded()) return std::nullopt;
    return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto [schema_text, instance_text] = fuzz::split_line(fuzz::as_text(data, size));
    auto instance = parse(instance_text);
    if (!instance) return 0;

    std::shared_ptr<const runtime::schema::Validator> validator = shipped();
    if (auto schema = parse(schema_text)) {
        auto compiled = runtime::schema::Validator::compile(*schema, "fuzz");
        if (compiled) validator = *compiled;
    }
    nlohmann::json with_defaults;
    auto violations = validator->validate(*instance, &with_defaults);
    if (violations.size() > runtime::schema::kMaxViolations) std::abort();
    for (const auto& v : violations)
        if (v.keyword.empty() || v.message.find('\n') != std::string::npos) std::abort();
    // Defaults applied to a valid instance must still validate.
    if (violations.empty() && !validator->validate(with_defaults, nullptr).empty()) std::abort();
    return 0;
}
