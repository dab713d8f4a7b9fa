// skip_test(): mark the running integration test as skipped.
//
// The runner (main.cc) runs each TEST_CASE as its own ctest process with SKIP_RETURN_CODE 77, so
// ending the process with 77 reads as "skipped" rather than a false pass. Catch2 2.13 has no
// SKIP macro. Because this ends the whole process, call it before creating anything that needs
// cleaning up, and only from tests that ctest runs one per process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

inline constexpr int kSkipExitCode = 77;

// Prints "SKIP: <why>" to stderr and exits 77.
[[noreturn]] inline void skip_test(const std::string& why) {
    std::fprintf(stderr, "SKIP: %s\n", why.c_str());
    std::fflush(nullptr);
    std::exit(kSkipExitCode);
}
