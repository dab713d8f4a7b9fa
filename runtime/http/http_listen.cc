#include "runtime/http/http_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace runtime {
namespace {

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& ch : out)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return out;
}

}  // namespace

std::string ListenAddress::authority(int bound_port) const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + std::to_string(bound_port);
}

bool is_loopback_ipv4(const std::string& text) {
    in_addr addr{};
    return ::inet_pton(AF_INET, text.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

sandbox::Result<ListenAddress> parse_listen_address(std::string_view text, bool authenticated) {
    using sandbox::Errc;
    std::string prefix = "--http '" + std::string(text) + "': ";
    ListenAddress out;
    out.host = "127.0.0.1";
    std::string_view port_text = text;
    bool bracketed = !text.empty() && text.front() == '[';
    if (bracketed) {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return sandbox::fail(Errc::InvalidArgument, prefix + "expected [ADDR]:PORT");
        out.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
        if (text.find(':') != colon)
            return sandbox::fail(Errc::InvalidArgument,
                                 prefix + "write IPv6 addresses as [ADDR]:PORT");
        if (colon > 0) out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    // At most five digits before stoi: it never sees a sign, spaces or an out-of-range value.
    bool digits = !port_text.empty() && port_text.size() <= 5;
    for (char ch : port_text) digits = digits && ch >= '0' && ch <= '9';
    if (!digits || std::stoi(std::string(port_text)) > 65535)
        return sandbox::fail(Errc::InvalidArgument,
                             prefix + "expected ADDR:PORT with PORT 0-65535");
    out.port = std::stoi(std::string(port_text));

    // Not resolved: "localhost" is whatever /etc/hosts says, and a loopback check must not
    // depend on it.
    if (!bracketed && ascii_lower(out.host) == "localhost") out.host = "127.0.0.1";
    in_addr v4{};
    in6_addr v6{};
    bool loopback = false;
    if (!bracketed && ::inet_pton(AF_INET, out.host.c_str(), &v4) == 1) {
        loopback = is_loopback_ipv4(out.host);
        out.wildcard = v4.s_addr == htonl(INADDR_ANY);
    } else if (::inet_pton(AF_INET6, out.host.c_str(), &v6) == 1) {
        // Only ::1 itself: an IPv4-mapped ::ffff:127.0.0.1 is a different socket family.
        loopback = IN6_IS_ADDR_LOOPBACK(&v6);
        if (loopback) out.host = "::1";
        out.wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6);
    } else {
        return sandbox::fail(
            Errc::InvalidArgument,
            prefix + (bracketed ? "brackets must hold an IPv6 address, e.g. [::1]:PORT"
                                : "the address must be an IP address or localhost"));
    }
    out.loopback = loopback;
    if (!loopback && !authenticated)
        return sandbox::fail(
            Errc::InvalidArgument,
            prefix +
                "refusing to listen on a non-loopback address without authentication; give "
                "--auth FILE (clients from `tooljail token create`) to require bearer tokens, or "
                "listen on 127.0.0.0/8, ::1 or localhost");
    return out;
}

bool valid_origin(const std::string& origin) {
    auto sep = origin.find("://");
    if (sep == std::string::npos || sep == 0 || sep + 3 >= origin.size()) return false;
    if (origin.find('/', sep + 3) != std::string::npos) return false;
    for (char ch : origin)
        if (ch <= ' ' || ch > '~') return false;
    return true;
}

}  // namespace runtime
