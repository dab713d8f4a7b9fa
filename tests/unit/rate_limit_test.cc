// Token buckets and the keyed limiter (runtime/ops/rate_limit.h) and admission on top of them
// (runtime/ops/admission.h), over a fake clock: refill math, burst, the retry time, the key bound.
#include "runtime/ops/rate_limit.h"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "runtime/ops/admission.h"

namespace rl = runtime::rate_limit;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
    rl::Clock::time_point now{};
    rl::Now fn() {
        return [this] { return now; };
    }
};

}  // namespace

TEST_CASE("rate limit: parse RATE and RATE/BURST", "[rate_limit][unit]") {
    auto r = rl::parse_rate("5");
    REQUIRE(r);
    CHECK(r->per_second == 5);
    CHECK(r->burst == 5);
    r = rl::parse_rate("0.5/10");
    REQUIRE(r);
    CHECK(r->per_second == 0.5);
    CHECK(r->burst == 10);
    r = rl::parse_rate("0.2");
    REQUIRE(r);
    CHECK(r->burst == 1);  // a burst below one token would refuse everything
    for (const char* off : {"off", "0"}) {
        r = rl::parse_rate(off);
        REQUIRE(r);
        CHECK_FALSE(r->limited());
    }
}

TEST_CASE("rate limit: malformed rates are refused with the expected form", "[rate_limit][unit]") {
    auto text = GENERATE("", "-1", "abc", "5/", "5/0", "5/1.5", "/5", "inf", "nan", "1e7", "5/x",
                         " 5", "5/10/2");
    auto r = rl::parse_rate(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sandbox::Errc::InvalidArgument);
    CHECK(r.error().message().find("RATE/BURST") != std::string::npos);
}

TEST_CASE("rate limit: a bucket allows its burst, then one token per 1/rate seconds",
          "[rate_limit][unit]") {
    FakeClock clock;
    rl::TokenBucket bucket({2, 3}, clock.now);
    for (int i = 0; i < 3; ++i) CHECK(bucket.take(clock.now) == 0);
    // Empty: one token comes in 1/2 s.
    CHECK(bucket.take(clock.now) == Approx(0.5));
    clock.now += 250ms;
    CHECK(bucket.take(clock.now) == Approx(0.25));  // a refusal takes nothing
    clock.now += 250ms;
    CHECK(bucket.take(clock.now) == 0);
    CHECK(bucket.take(clock.now) == Approx(0.5));
    // Idle for long: refills to the burst and no further.
    clock.now += 60s;
    CHECK(bucket.seconds_until_full(clock.now) == 0);
    for (int i = 0; i < 3; ++i) CHECK(bucket.take(clock.now) == 0);
    CHECK(bucket.take(clock.now) > 0);
    CHECK(bucket.seconds_until_full(clock.now) == Approx(1.5));
}

TEST_CASE("rate limit: a time earlier than the last take refills nothing", "[rate_limit][unit]") {
    FakeClock clock;
    clock.now += 10s;
    rl::TokenBucket bucket({1, 1}, clock.now);
    CHECK(bucket.take(clock.now) == 0);
    CHECK(bucket.take(clock.now - 5s) == Approx(1));
}

TEST_CASE("rate limit: an unlimited rate always admits", "[rate_limit][unit]") {
    FakeClock clock;
    rl::KeyedLimiter limiter(4, clock.fn());
    for (int i = 0; i < 100; ++i) CHECK(limiter.take("k", rl::Rate{}) == 0);
    CHECK(limiter.size() == 0);  // and keeps no bucket for it
}

TEST_CASE("rate limit: keys have buckets of their own", "[rate_limit][unit]") {
    FakeClock clock;
    rl::KeyedLimiter limiter(16, clock.fn());
    rl::Rate rate{1, 2};
    CHECK(limiter.take("a", rate) == 0);
    CHECK(limiter.take("a", rate) == 0);
    CHECK(limiter.take("a", rate) == Approx(1));
    CHECK(limiter.take("b", rate) == 0);
    CHECK(limiter.size() == 2);
}

TEST_CASE("rate limit: the key table stays bounded; idle full buckets make room",
          "[rate_limit][unit]") {
    FakeClock clock;
    rl::KeyedLimiter limiter(3, clock.fn());
    rl::Rate rate{1, 1};
    for (std::string key : {"a", "b", "c"}) CHECK(limiter.take(key, rate) == 0);
    SECTION("a new key is refused while every bucket is busy, until the oldest refills") {
        CHECK(limiter.take("d", rate) == Approx(1));
        CHECK(limiter.size() == 3);
        clock.now += 1s;
        CHECK(limiter.take("d", rate) == 0);
        CHECK(limiter.size() == 3);
        // "a" was evicted (least recently used): it comes back with a full bucket.
    }
    SECTION("the least recently used bucket is the one evicted") {
        clock.now += 1s;
        CHECK(limiter.take("a", rate) == 0);  // a is now the most recent, and empty
        CHECK(limiter.take("d", rate) == 0);  // b (full) evicted
        CHECK(limiter.take("a", rate) > 0);   // a kept its state
        CHECK(limiter.size() == 3);
    }
    SECTION("a flood of distinct keys never grows the table") {
        clock.now += 1s;
        for (int i = 0; i < 1000; ++i) {
            (void)limiter.take("flood-" + std::to_string(i), rate);
            CHECK(limiter.size() <= 3);
        }
    }
}

TEST_CASE("admission: client limit first, then the tool's, with per-tool overrides",
          "[admission][unit]") {
    FakeClock clock;
    runtime::AdmissionOptions options;
    options.client_rate = {1, 2};
    options.tool_rate = {1, 3};
    options.tool_rates["slow"] = {0.5, 1};
    runtime::Admission admission(options, clock.fn());

    CHECK_FALSE(admission.admit_call("alice", "fast"));
    CHECK_FALSE(admission.admit_call("alice", "fast"));
    auto refused = admission.admit_call("alice", "fast");
    REQUIRE(refused);
    CHECK(std::string(refused->limit) == "client");
    CHECK(refused->retry_after == Approx(1));
    // alice's refusals did not spend the tool's tokens: bob gets the third.
    CHECK_FALSE(admission.admit_call("bob", "fast"));
    refused = admission.admit_call("carol", "fast");
    REQUIRE(refused);
    CHECK(std::string(refused->limit) == "tool");

    CHECK_FALSE(admission.admit_call("carol", "slow"));
    refused = admission.admit_call("dave", "slow");
    REQUIRE(refused);
    CHECK(std::string(refused->limit) == "tool");
    CHECK(refused->retry_after == Approx(2));
}

TEST_CASE("admission: request rate per client, off when unset", "[admission][unit]") {
    FakeClock clock;
    runtime::AdmissionOptions options;
    CHECK_FALSE(options.any());
    runtime::Admission open(options, clock.fn());
    for (int i = 0; i < 50; ++i) CHECK_FALSE(open.admit_request("c"));
    for (int i = 0; i < 50; ++i) CHECK_FALSE(open.admit_call("c", "t"));

    options.request_rate = {10, 1};
    CHECK(options.any());
    runtime::Admission limited(options, clock.fn());
    CHECK_FALSE(limited.admit_request("c"));
    auto refused = limited.admit_request("c");
    REQUIRE(refused);
    CHECK(std::string(refused->limit) == "request");
    CHECK(refused->retry_after == Approx(0.1));
    CHECK(runtime::retry_after_header(refused->retry_after) == 1);
    CHECK(runtime::retry_after_header(2.01) == 3);
    CHECK_FALSE(limited.admit_request("other"));
}

TEST_CASE("admission: --tool-rate forms", "[admission][unit]") {
    runtime::AdmissionOptions options;
    REQUIRE(runtime::add_tool_rate(options, "2/4"));
    CHECK(options.tool_rate.per_second == 2);
    REQUIRE(runtime::add_tool_rate(options, "git_log=0.5/1"));
    CHECK(options.tool_rates.at("git_log").burst == 1);
    REQUIRE(runtime::add_tool_rate(options, "run_python=off"));
    CHECK_FALSE(options.tool_rates.at("run_python").limited());
    auto bad = GENERATE("=5", "git_log=", "git_log=x", "x");
    CHECK_FALSE(runtime::add_tool_rate(options, bad));
}
