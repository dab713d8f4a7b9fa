#include "runtime/base/units.h"

#include <catch2/catch.hpp>

namespace units = runtime::units;

TEST_CASE("units: times, durations and sizes", "[units][unit]") {
    units::Time t{std::chrono::milliseconds(1'700'000'000'123)};
    CHECK(units::format_time(t) == "2023-11-14T22:13:20.123Z");
    CHECK(units::parse_time("2023-11-14T22:13:20.123Z", {}) == t);
    CHECK(units::parse_time("2023-11-14T23:13:20.123+01:00", {}) == t);
    CHECK(units::parse_time("2023-11-14", {}) == units::Time{std::chrono::seconds(1'699'920'000)});
    CHECK(units::parse_time("1h", t) == t - std::chrono::hours(1));
    CHECK(units::parse_time("7d", t) == t - std::chrono::hours(24 * 7));
    CHECK_FALSE(units::parse_time("yesterday", t));
    CHECK_FALSE(units::parse_time("2023-11-14T22:13:20", t));  // no offset
    // Beyond what Time counts (1678..2262): refused, not overflowed (UBSan would abort).
    CHECK_FALSE(units::parse_time("7026-11-21T10:00:00Z", t));
    CHECK_FALSE(units::parse_time("1500-01-01", t));
    CHECK(units::parse_time("2262-01-01", t));
    CHECK_FALSE(units::parse_time("999999999999w", t));
    CHECK(units::parse_time("5200w", t) == t - std::chrono::hours(24 * 7 * 5200));
    CHECK(units::parse_duration_seconds("90d") == 90 * 86400);
    CHECK(units::parse_duration_seconds("3600") == 3600);
    CHECK_FALSE(units::parse_duration_seconds("1y"));
    CHECK(units::parse_size("512M") == (512ull << 20));
    CHECK(units::parse_size("1g") == (1ull << 30));
    CHECK(units::parse_size("0") == 0u);
    CHECK_FALSE(units::parse_size("1.5G"));
}
