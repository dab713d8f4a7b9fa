// Address ranges and the client behind trusted proxies (runtime/http/net_range.h).
#include "runtime/http/net_range.h"

#include <catch2/catch.hpp>

namespace nr = runtime::net_range;

namespace {

std::vector<nr::Range> ranges(std::initializer_list<const char*> texts) {
    std::vector<nr::Range> out;
    for (const char* t : texts) {
        auto r = nr::parse(t);
        REQUIRE(r.has_value());
        out.push_back(*r);
    }
    return out;
}

}  // namespace

TEST_CASE("net range: parse and match", "[net_range][unit]") {
    auto r = ranges({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"});
    CHECK(nr::contains(r, "10.200.3.4"));
    CHECK(nr::contains(r, "192.168.1.7"));
    CHECK_FALSE(nr::contains(r, "192.168.1.8"));
    CHECK(nr::contains(r, "fd12:3456::1"));
    CHECK(nr::contains(r, "::1"));
    CHECK(nr::contains(r, "[::1]"));
    CHECK(nr::contains(r, "::ffff:10.1.2.3"));  // a dual-stack socket's IPv4 peer
    CHECK_FALSE(nr::contains(r, "11.0.0.1"));
    CHECK_FALSE(nr::contains(r, "fe80::1"));
    CHECK_FALSE(nr::contains(r, "localhost"));  // names are never resolved
    CHECK_FALSE(nr::contains(r, ""));
    CHECK(nr::contains(ranges({"0.0.0.0/0"}), "8.8.8.8"));
    CHECK_FALSE(nr::contains(ranges({"0.0.0.0/0"}), "2001:db8::1"));
    CHECK(nr::contains(ranges({"10.1.2.128/25"}), "10.1.2.200"));
    CHECK_FALSE(nr::contains(ranges({"10.1.2.128/25"}), "10.1.2.100"));
}

TEST_CASE("net range: malformed ranges are refused with a reason", "[net_range][unit]") {
    auto text =
        GENERATE(as<std::string>{}, "", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0/8",
                 "example.com", "10.0.0.0/8x", "10.1.0.0/8", "10.0.0.0/-1", "::1/1000");
    auto r = nr::parse(text);
    CHECK_FALSE(r.has_value());
    if (!r) CHECK_THAT(r.error().context, Catch::StartsWith("'" + text + "': "));
}

TEST_CASE("net range: the client behind trusted proxies", "[net_range][unit]") {
    auto proxies = ranges({"10.0.0.0/8", "127.0.0.1"});
    // Not from a proxy: the header is whatever the client made up.
    CHECK(nr::client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9");
    // One proxy: the address it received the request from.
    CHECK(nr::client_address("127.0.0.1", "198.51.100.7", proxies) == "198.51.100.7");
    // The client's own X-Forwarded-For entry is left of the first untrusted hop: ignored.
    CHECK(nr::client_address("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.5", proxies) ==
          "198.51.100.7");
    // Only proxies: the leftmost.
    CHECK(nr::client_address("127.0.0.1", "10.0.0.9, 10.0.0.5", proxies) == "10.0.0.9");
    // Absent or malformed: the peer.
    CHECK(nr::client_address("127.0.0.1", "", proxies) == "127.0.0.1");
    CHECK(nr::client_address("127.0.0.1", "unknown, 10.0.0.5", proxies) == "127.0.0.1");
    // No proxies trusted (the default): always the peer.
    CHECK(nr::client_address("127.0.0.1", "198.51.100.7", {}) == "127.0.0.1");
}
