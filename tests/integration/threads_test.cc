// The launcher is used from worker threads (tooljail serve). The child is a raw clone3 copy of
// one thread, so any glibc wrapper that coordinates "all threads" (setxid broadcasts) would wait
// for threads that do not exist in the child. This test launches while other threads are being
// created and destroyed, the situation in which such a child hangs.
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/sandbox_fixture.h"

TEST_CASE("threads: launches from a thread while other threads churn all complete",
          "[threads][integration]") {
    tjtest::SandboxFixture fx;
    sandbox::SandboxConfig config = tjtest::default_config(fx.workspace());
    auto sb = sandbox::Sandbox::prepare(config, tjtest::shared_host());
    REQUIRE(sb);

    std::atomic<bool> stop{false};
    std::vector<std::thread> churn;
    for (int i = 0; i < 3; ++i)
        churn.emplace_back([&stop] {
            while (!stop.load()) std::thread([] {}).join();
        });
    int failures = 0;
    std::thread launcher([&] {
        for (int i = 0; i < 150; ++i) {
            sandbox::RunRequest req;
            req.argv = {"/bin/true"};
            sandbox::Outcome o = sandbox::run_once(**sb, req);
            if (o.reason != sandbox::Termination::Exit || o.exit_code != 0) {
                ++failures;
                WARN("launch " << i << ": " << sandbox::termination_name(o.reason) << " "
                               << o.error_message);
            }
        }
    });
    launcher.join();
    stop = true;
    for (auto& t : churn) t.join();
    CHECK(failures == 0);
}
