#include "runtime/cli/usage.h"

#include <algorithm>
#include <string_view>

namespace runtime::usage {
namespace {

// "--timeout=5" -> "--timeout"; other words unchanged.
std::string option_name(const std::string& arg) { return arg.substr(0, arg.find('=')); }

bool is_option_of(const CLI::App& app, const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '-') return false;
    return app.get_option_no_throw(option_name(arg)) != nullptr;
}

// "run", "runs list", "token create": the path of a subcommand below the top.
std::string path_of(const CLI::App* app) {
    std::string path;
    for (; app != nullptr && app->get_parent() != nullptr; app = app->get_parent())
        path = app->get_name() + (path.empty() ? "" : " " + path);
    return path;
}

// The direct subcommand of app named name, or nullptr.
const CLI::App* subcommand(const CLI::App& app, const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(name)) return sub;
    return nullptr;
}

void collect(const CLI::App* app, std::vector<const CLI::App*>& out) {
    for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
        out.push_back(sub);
        collect(sub, out);
    }
}

constexpr std::string_view kPathOptions[] = {"--workspace", "--policy-dir", "--tools-dir",
                                             "--records",   "--state",      "--tools-lock",
                                             "--auth",      "--lock"};

}  // namespace

std::optional<std::string> misplaced_option(const CLI::App& app,
                                            const std::vector<std::string>& args) {
    std::vector<const CLI::App*> subs;
    collect(&app, subs);
    auto first_sub = std::find_if(args.begin(), args.end(), [&](const std::string& a) {
        return subcommand(app, a) != nullptr;
    });
    // Before the subcommand: an option that only a subcommand has.
    for (auto it = args.begin(); it != first_sub; ++it) {
        if (it->size() < 2 || (*it)[0] != '-' || is_option_of(app, *it)) continue;
        // The subcommand that was written names the owner when it has the option; else every
        // subcommand that has one is a candidate.
        std::vector<const CLI::App*> scope;
        if (first_sub != args.end()) {
            const CLI::App* written = subcommand(app, *first_sub);
            scope.push_back(written);
            collect(written, scope);
        }
        auto owned = [&](const std::vector<const CLI::App*>& candidates) {
            std::vector<std::string> out;
            for (const CLI::App* sub : candidates)
                if (is_option_of(*sub, *it)) out.push_back("`tooljail " + path_of(sub) + "`");
            return out;
        };
        std::vector<std::string> owners = owned(scope);
        if (owners.empty()) owners = owned(subs);
        if (owners.empty()) continue;
        std::string list = owners.front();
        for (size_t i = 1; i < owners.size(); ++i) list += ", " + owners[i];
        const std::string name = option_name(*it);
        const std::string example =
            first_sub == args.end() ? "" : " (tooljail " + *first_sub + " " + name + " ...)";
        return name + " is an option of " + list + ": put it after the subcommand" + example;
    }
    // After it, up to "--": one of tooljail's own options.
    for (auto it = first_sub; it != args.end() && *it != "--"; ++it) {
        if (it == first_sub || !is_option_of(app, *it)) continue;
        const CLI::App* sub = subcommand(app, *first_sub);
        if (sub != nullptr && is_option_of(*sub, *it)) continue;
        const std::string name = option_name(*it);
        return name +
               " is an option of tooljail itself: put it before the subcommand "
               "(tooljail " +
               name + " ... " + *first_sub + " ...)";
    }
    return std::nullopt;
}

std::optional<std::string> unexpanded_tilde(const CLI::App& app) {
    std::vector<const CLI::App*> apps{&app};
    collect(&app, apps);
    for (const CLI::App* a : apps) {
        if (a->get_parent() != nullptr && !a->parsed()) continue;
        for (const CLI::Option* opt : a->get_options()) {
            const std::string name = opt->get_lnames().empty() ? "" : opt->get_lnames().front();
            if (std::find(std::begin(kPathOptions), std::end(kPathOptions), "--" + name) ==
                std::end(kPathOptions))
                continue;
            for (const std::string& value : opt->results())
                if (!value.empty() && value[0] == '~')
                    return "--" + name + " " + value +
                           ": '~' is expanded only by a shell, and not inside quotes or after "
                           "'=': write the path out, e.g. $HOME" +
                           value.substr(value.find('/') == std::string::npos ? value.size()
                                                                             : value.find('/'));
        }
    }
    return std::nullopt;
}

std::vector<std::string> run_options_after_program(const CLI::App& run,
                                                   const std::vector<std::string>& program_argv,
                                                   const std::vector<std::string>& args) {
    std::vector<std::string> ours;
    if (std::find(args.begin(), args.end(), "--") != args.end()) return ours;
    for (size_t i = 1; i < program_argv.size(); ++i)
        if (is_option_of(run, program_argv[i])) ours.push_back(program_argv[i]);
    return ours;
}

}  // namespace runtime::usage
