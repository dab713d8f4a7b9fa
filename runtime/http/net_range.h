// Address ranges on the command line, and who a request really comes from: pure, no socket and
// no resolver (tests/unit/net_range_test.cc).
//
//   --trusted-proxy ADDR[/PREFIX]  (serve --http) a reverse proxy in front: the client of a
//                                  request it forwards is taken from X-Forwarded-For
//   --metrics-allow ADDR[/PREFIX]  (serve --metrics-listen) peers that may scrape the metrics
//                                  listener beyond loopback
//
// An IPv4-mapped IPv6 address (::ffff:10.1.2.3, as a dual-stack socket reports an IPv4 peer) is
// matched as the IPv4 address it maps.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/base/result.h"

namespace runtime::net_range {

struct Range {
    std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
    int prefix = 0;                  // bits that must match
    bool v4 = false;
};

// "10.0.0.0/8", "192.168.1.7" (/32), "fd00::/8", "::1" (/128). The bits beyond the prefix must be
// zero ("10.1.0.0/8" is a mistake, not a wish). InvalidArgument with a message saying why.
sandbox::Result<Range> parse(std::string_view text);
// Every value of a repeatable flag; the first bad one fails, as "FLAG 'text': why".
sandbox::Result<std::vector<Range>> parse_all(std::string_view flag,
                                              const std::vector<std::string>& texts);

// Whether a literal address (as a socket reports it: "10.1.2.3", "::1", "::ffff:10.1.2.3") is in
// one of the ranges. Anything that is not an address is in none.
bool contains(const std::vector<Range>& ranges, std::string_view address);

// The client of a request that came from `peer` with this X-Forwarded-For value (comma-separated,
// each proxy appending the address it received the request from): `peer` itself when it is not
// a trusted proxy; else the rightmost X-Forwarded-For address that is not one (the first hop a
// trusted proxy vouches for; anything left of it the client may have made up). When every
// address is trusted, the leftmost; when the header is absent or malformed, `peer`.
std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<Range>& trusted);

}  // namespace runtime::net_range
