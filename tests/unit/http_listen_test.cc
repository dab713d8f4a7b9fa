// `tooljail serve --http ADDR:PORT`: which listen addresses are accepted, how they print, and
// that every refusal says why (runtime/http/http_listen.h).
#include "runtime/http/http_listen.h"

#include <string>

#include <catch2/catch.hpp>

using runtime::ListenAddress;
using runtime::parse_listen_address;

TEST_CASE("http listen: loopback forms are accepted and normalised", "[http][unit]") {
    auto [text, host, port] = GENERATE(table<std::string, std::string, int>({
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"127.0.0.2:8080", "127.0.0.2", 8080},  // all of 127.0.0.0/8 is loopback
        {"127.255.255.254:1", "127.255.255.254", 1},
        {"localhost:8931", "127.0.0.1", 8931},  // never resolved
        {"LocalHost:8931", "127.0.0.1", 8931},
        {"[::1]:8080", "::1", 8080},
        {"[0:0:0:0:0:0:0:1]:8080", "::1", 8080},  // printed in its short form
        {"8080", "127.0.0.1", 8080},              // the address defaults to 127.0.0.1
        {":8080", "127.0.0.1", 8080},
        {"127.0.0.1:0", "127.0.0.1", 0},  // 0: any free port
        {"0", "127.0.0.1", 0},
        {"127.0.0.1:65535", "127.0.0.1", 65535},
        {"127.0.0.1:00080", "127.0.0.1", 80},
    }));
    CAPTURE(text);
    auto parsed = parse_listen_address(text);
    REQUIRE(parsed.has_value());
    CHECK(parsed->host == host);
    CHECK(parsed->port == port);
}

TEST_CASE("http listen: authority brackets IPv6 and uses the bound port", "[http][unit]") {
    CHECK(ListenAddress{"127.0.0.1", 0}.authority(8931) == "127.0.0.1:8931");
    CHECK(ListenAddress{"::1", 8080}.authority(8080) == "[::1]:8080");
    auto parsed = parse_listen_address("[::1]:0");
    REQUIRE(parsed.has_value());
    CHECK(parsed->authority(40123) == "[::1]:40123");
    auto local = parse_listen_address("localhost:0");
    REQUIRE(local.has_value());
    CHECK(local->authority(5) == "127.0.0.1:5");
}

TEST_CASE("http listen: non-loopback addresses are refused without authentication",
          "[http][unit]") {
    auto text = GENERATE(as<std::string>{}, "0.0.0.0:8080", "192.168.1.10:8080", "10.0.0.1:80",
                         "128.0.0.1:80", "255.255.255.255:80", "[::]:8080", "[fe80::1]:8080",
                         "[2001:db8::1]:8080",
                         "[::ffff:127.0.0.1]:8080");  // IPv4-mapped: another socket family
    CAPTURE(text);
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == sandbox::Errc::InvalidArgument);
    CHECK(parsed.error().context == "--http '" + text +
                                        "': refusing to listen on a non-loopback address without "
                                        "authentication; give --auth FILE (clients "
                                        "from `tooljail token create`) to require bearer tokens, "
                                        "or listen on 127.0.0.0/8, ::1 or localhost");
}

TEST_CASE("http listen: with authentication any address is accepted and marked", "[http][unit]") {
    auto [text, host, loopback, wildcard] = GENERATE(table<std::string, std::string, bool, bool>({
        {"0.0.0.0:8080", "0.0.0.0", false, true},
        {"[::]:8080", "::", false, true},
        {"192.168.1.10:8080", "192.168.1.10", false, false},
        {"[2001:db8::1]:80", "2001:db8::1", false, false},
        {"127.0.0.1:8080", "127.0.0.1", true, false},
        {"[::1]:0", "::1", true, false},
    }));
    CAPTURE(text);
    auto parsed = parse_listen_address(text, true);
    REQUIRE(parsed.has_value());
    CHECK(parsed->host == host);
    CHECK(parsed->loopback == loopback);
    CHECK(parsed->wildcard == wildcard);
    // Authentication does not loosen the syntax.
    CHECK_FALSE(parse_listen_address("example.com:80", true).has_value());
    CHECK_FALSE(parse_listen_address("0.0.0.0:65536", true).has_value());
}

TEST_CASE("http listen: host names other than localhost are refused, never resolved",
          "[http][unit]") {
    // Shorthand and integer forms inet_aton(3) would take are not dotted quads.
    auto text = GENERATE(as<std::string>{}, "example.com:80", "localhost.localdomain:80",
                         "ip6-localhost:80", "loopback:80", "127.1:80", "0x7f000001:80",
                         "2130706433:80", "127.0.0.1.:80");
    CAPTURE(text);
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == sandbox::Errc::InvalidArgument);
    CHECK(parsed.error().context ==
          "--http '" + text + "': the address must be an IP address or localhost");
}

TEST_CASE("http listen: bad ports are refused", "[http][unit]") {
    auto text = GENERATE(as<std::string>{}, "", ":", "127.0.0.1:", "127.0.0.1:65536",
                         "127.0.0.1:99999", "127.0.0.1:123456", "127.0.0.1:-1", "127.0.0.1:+80",
                         "127.0.0.1: 80", "127.0.0.1:80 ", "127.0.0.1:8o", "127.0.0.1:0x50",
                         "localhost", "127.0.0.1", "[::1]:", "[::1]:abc", "[::1]:70000");
    CAPTURE(text);
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == sandbox::Errc::InvalidArgument);
    CHECK(parsed.error().context == "--http '" + text + "': expected ADDR:PORT with PORT 0-65535");
}

TEST_CASE("http listen: malformed addresses say which form to use", "[http][unit]") {
    auto [text, reason] = GENERATE(table<std::string, std::string>({
        {"::1:8080", "write IPv6 addresses as [ADDR]:PORT"},
        {"::1", "write IPv6 addresses as [ADDR]:PORT"},
        {"127.0.0.1:80:80", "write IPv6 addresses as [ADDR]:PORT"},
        {"[::1]", "expected [ADDR]:PORT"},
        {"[::1]8080", "expected [ADDR]:PORT"},
        {"[::1:8080", "expected [ADDR]:PORT"},
        {"[", "expected [ADDR]:PORT"},
        {"[127.0.0.1]:8080", "brackets must hold an IPv6 address, e.g. [::1]:PORT"},
        {"[localhost]:8080", "brackets must hold an IPv6 address, e.g. [::1]:PORT"},
        {"[]:8080", "brackets must hold an IPv6 address, e.g. [::1]:PORT"},
    }));
    CAPTURE(text);
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == sandbox::Errc::InvalidArgument);
    CHECK(parsed.error().context == "--http '" + text + "': " + reason);
}

TEST_CASE("http listen: loopback IPv4 is exactly 127.0.0.0/8 in dotted-quad form", "[http][unit]") {
    CHECK(runtime::is_loopback_ipv4("127.0.0.1"));
    CHECK(runtime::is_loopback_ipv4("127.200.1.9"));
    CHECK_FALSE(runtime::is_loopback_ipv4("128.0.0.1"));
    CHECK_FALSE(runtime::is_loopback_ipv4("126.255.255.255"));
    CHECK_FALSE(runtime::is_loopback_ipv4("127.1"));
    CHECK_FALSE(runtime::is_loopback_ipv4("localhost"));
    CHECK_FALSE(runtime::is_loopback_ipv4("::1"));
    CHECK_FALSE(runtime::is_loopback_ipv4(""));
}

TEST_CASE("http listen: --allowed-origin takes scheme://host[:port] only", "[http][unit]") {
    CHECK(runtime::valid_origin("http://localhost:5173"));
    CHECK(runtime::valid_origin("https://app.example.com"));
    CHECK(runtime::valid_origin("http://[::1]:8080"));
    auto bad = GENERATE(as<std::string>{}, "", "localhost:5173", "://localhost", "http://",
                        "http://localhost/", "http://localhost:5173/app", "http://local host",
                        "http://h\xc3\xa9.example");
    CAPTURE(bad);
    CHECK_FALSE(runtime::valid_origin(bad));
}
