// tools.d manifests and policy files: the loaders' strict parsing, with the shipped policies as
// the policy set a manifest resolves against. The first byte picks which parser gets the rest.
// A loaded policy must survive its own round trip (policy_to_json then parse_policy), which
// `tooljail check` and the MCP policy resources rely on.
#include <cstdlib>

#include "fuzz/fuzz_util.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/tool_registry.h"

namespace {

const runtime::PolicySet& shipped_policies() {
    static runtime::PolicySet* set = [] {
        auto policies =
            runtime::load_policy_dir(fuzz::source_path("policies"), runtime::process_env());
        if (!policies) std::abort();
        return new runtime::PolicySet(std::move(*policies));
    }();
    return *set;
}

// A fixed environment: env.pass lookups must not depend on the fuzzing host.
std::optional<std::string> fake_env(const std::string& name) {
    if (name == "LANG") return std::string("C.UTF-8");
    return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text = fuzz::as_text(data + 1, size - 1);
    if (data[0] & 1) {
        auto tool = runtime::parse_tool(text, "fuzz.json", shipped_policies());
        if (tool) {
            if (tool->name.empty() || !tool->input || tool->argv.empty()) std::abort();
            (void)tool->to_mcp().dump();
        } else if (tool.error().message().empty()) {
            std::abort();
        }
        return 0;
    }
    auto policy = runtime::parse_policy(text, "fuzz.json", fake_env);
    if (!policy) {
        if (policy.error().message().empty()) std::abort();
        return 0;
    }
    std::string again = runtime::policy_to_json(*policy).dump();
    auto reparsed = runtime::parse_policy(again, "fuzz.json", fake_env);
    if (!reparsed || runtime::policy_to_json(*reparsed).dump() != again) std::abort();
    return 0;
}
