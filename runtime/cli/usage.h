// Help for command lines that CLI11 parses but a newcomer gets wrong: an option given on the
// wrong side of its subcommand, a "~" the shell did not expand, tooljail's own options written
// after the program of `tooljail run`. Each returns the message to print, or nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace runtime::usage {

// After a failed parse of args (argv without argv[0]): the first option that belongs to
// another level than where it was written ("--json" before "run", "--log-level" after it),
// as "--json is an option of `tooljail run`: put it after the subcommand
// (tooljail run --json ...)".
std::optional<std::string> misplaced_option(const CLI::App& app,
                                            const std::vector<std::string>& args);

// After a successful parse: a path option whose value starts with "~", which only a shell
// expands (and not inside quotes or after "="), named with the fix.
std::optional<std::string> unexpanded_tilde(const CLI::App& app);

// `tooljail run PROGRAM ARGS...` without "--": the arguments after the program that spell one
// of run's own options ("--json", "--timeout=5"); they go to the program, as with env(1) and
// timeout(1), so say so. Empty when args has "--" or nothing looks like ours.
std::vector<std::string> run_options_after_program(const CLI::App& run,
                                                   const std::vector<std::string>& program_argv,
                                                   const std::vector<std::string>& args);

}  // namespace runtime::usage
