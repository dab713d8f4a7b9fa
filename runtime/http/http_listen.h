// Where `tooljail serve --http` may listen and which extra Origin values it may accept: parsing
// and the loopback-only rule for the --http and --allowed-origin flags. Pure (no socket, no
// resolver), so unit-tested (tests/unit/http_listen_test.cc).
#pragma once

#include <string>
#include <string_view>

#include "sandbox/base/result.h"

namespace runtime {

struct ListenAddress {
    std::string
        host;      // numeric: "127.0.0.1", "127.0.0.2", "::1"; beyond loopback "0.0.0.0", "::", ...
    int port = 0;  // 0 = any free port
    bool loopback = true;   // 127.0.0.0/8 or ::1
    bool wildcard = false;  // 0.0.0.0 or ::, every interface

    // "127.0.0.1:8080", "[::1]:8080": the form used in URLs and Origin values.
    std::string authority(int bound_port) const;
};

// Parses "ADDR:PORT", "[V6]:PORT", "PORT" or ":PORT" (address defaults to 127.0.0.1;
// "localhost", in any case, means 127.0.0.1, without consulting any resolver; brackets hold an
// IPv6 address only). Every error is InvalidArgument with a message that starts
// "--http 'TEXT': " and says why. A non-loopback address (anything but 127.0.0.0/8 and ::1) is
// accepted only when `authenticated` (serve --auth loaded at least one client): without
// authentication the transport must not be reachable from other hosts.
sandbox::Result<ListenAddress> parse_listen_address(std::string_view text,
                                                    bool authenticated = false);

// True when `text` is a dotted-quad IPv4 address in 127.0.0.0/8.
bool is_loopback_ipv4(const std::string& text);

// An --allowed-origin value: scheme://host[:port] in visible ASCII, with nothing after (an
// Origin header never carries a path).
bool valid_origin(const std::string& origin);

}  // namespace runtime
