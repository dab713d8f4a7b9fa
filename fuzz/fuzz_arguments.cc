// Argument rules and argv templating (runtime/tools/arguments.h) for every shipped tool: the first
// byte picks the tool, the rest is the tools/call "arguments" JSON. The workspace is a small
// temporary tree with a file, a directory and symlinks that point inside and outside it, so the
// path confinement rules see real resolution. Checked: a refusal names a rule and is one line;
// an accepted call's argv starts with an allowed program and has no NUL.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "runtime/policy/policy.h"
#include "runtime/tools/arguments.h"
#include "runtime/tools/tool_registry.h"

namespace {

struct World {
    runtime::PolicySet policies;
    runtime::ToolRegistry tools;
    std::vector<const runtime::ToolDef*> list;
    std::string workspace;
};

World& world() {
    static World* w = [] {
        auto* w = new World;
        auto policies =
            runtime::load_policy_dir(fuzz::source_path("policies"), runtime::process_env());
        if (!policies) std::abort();
        w->policies = std::move(*policies);
        auto tools = runtime::ToolRegistry::load_dir(fuzz::source_path("tools.d"), w->policies);
        if (!tools) std::abort();
        w->tools = std::move(*tools);
        w->list = w->tools.enabled_tools();
        char dir[] = "/tmp/tooljail-fuzz-ws-XXXXXX";
        if (!::mkdtemp(dir)) std::abort();
        w->workspace = dir;
        std::string ws = w->workspace;
        // A file, a directory, a symlink inside, one escaping, one dangling.
        if (::mkdir((ws + "/src").c_str(), 0755) != 0) std::abort();
        FILE* f = std::fopen((ws + "/src/a.txt").c_str(), "w");
        if (!f) std::abort();
        std::fputs("hello\n", f);
        std::fclose(f);
        if (::symlink("src/a.txt", (ws + "/inside").c_str()) != 0 ||
            ::symlink("/etc/passwd", (ws + "/escape").c_str()) != 0 ||
            ::symlink("nowhere", (ws + "/dangling").c_str()) != 0)
            std::abort();
        return w;
    }();
    return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    World& w = world();
    const runtime::ToolDef& tool = *w.list[data[0] % w.list.size()];
    nlohmann::json args = nlohmann::json::parse(fuzz::as_text(data + 1, size - 1), nullptr, false);
    if (args.is_discarded()) return 0;

    auto result = runtime::prepare_invocation(tool, args, w.workspace, "/workspace");
    if (auto* err = std::get_if<runtime::ArgumentError>(&result)) {
        if (err->rule.empty() || err->message.empty() ||
            err->message.find('\n') != std::string::npos)
            std::abort();
        return 0;
    }
    const auto& inv = std::get<runtime::Invocation>(result);
    if (inv.argv.empty() || inv.argv[0].empty() || inv.argv[0][0] != '/') std::abort();
    if (!tool.programs.empty()) {
        bool allowed = false;
        for (const auto& p : tool.programs) allowed = allowed || p == inv.argv[0];
        if (!allowed) std::abort();
    }
    for (const auto& a : inv.argv)
        if (a.find('\0') != std::string::npos) std::abort();
    return 0;
}
