#include "runtime/http/net_range.h"

#include <arpa/inet.h>

#include <cstring>

namespace runtime::net_range {
namespace {

// A literal address in network order; false when text is not one. "::ffff:a.b.c.d" becomes
// the IPv4 address.
bool parse_address(std::string_view text, std::array<uint8_t, 16>& out, bool& v4) {
    if (text.size() > 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    std::string s(text);
    out.fill(0);
    in_addr a4{};
    if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
        std::memcpy(out.data(), &a4, 4);
        v4 = true;
        return true;
    }
    in6_addr a6{};
    if (::inet_pton(AF_INET6, s.c_str(), &a6) != 1) return false;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a6.s6_addr, kMapped, 12) == 0) {
        std::memcpy(out.data(), a6.s6_addr + 12, 4);
        v4 = true;
        return true;
    }
    std::memcpy(out.data(), a6.s6_addr, 16);
    v4 = false;
    return true;
}

bool in(const Range& r, const std::array<uint8_t, 16>& a, bool v4) {
    if (r.v4 != v4) return false;
    int bits = r.prefix;
    for (size_t i = 0; bits > 0; ++i, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        if ((a[i] & mask) != (r.addr[i] & mask)) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

sandbox::Result<Range> parse(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return sandbox::fail(sandbox::Errc::InvalidArgument, "'" + std::string(text) + "': " + why);
    };
    std::string_view addr = text;
    std::string_view bits;
    if (size_t slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        bits = text.substr(slash + 1);
    }
    Range r;
    if (!parse_address(addr, r.addr, r.v4))
        return bad("expected an IPv4 or IPv6 address, optionally /PREFIX (10.0.0.0/8, fd00::/8)");
    int max = r.v4 ? 32 : 128;
    r.prefix = max;
    if (!bits.empty() || text.find('/') != std::string_view::npos) {
        if (bits.empty() || bits.size() > 3) return bad("bad prefix length");
        int n = 0;
        for (char c : bits) {
            if (c < '0' || c > '9') return bad("bad prefix length");
            n = n * 10 + (c - '0');
        }
        if (n > max) return bad("prefix longer than " + std::to_string(max));
        r.prefix = n;
    }
    for (int bit = r.prefix; bit < max; ++bit)
        if (r.addr[static_cast<size_t>(bit / 8)] & (0x80 >> (bit % 8)))
            return bad("address bits set beyond the /" + std::to_string(r.prefix) +
                       " prefix (did you mean the network address?)");
    return r;
}

sandbox::Result<std::vector<Range>> parse_all(std::string_view flag,
                                              const std::vector<std::string>& texts) {
    std::vector<Range> out;
    for (const std::string& text : texts) {
        auto r = parse(text);
        if (!r) return sandbox::fail(std::move(r).error().with_prefix(std::string(flag) + " "));
        out.push_back(*r);
    }
    return out;
}

bool contains(const std::vector<Range>& ranges, std::string_view address) {
    std::array<uint8_t, 16> a{};
    bool v4 = false;
    if (!parse_address(trim(address), a, v4)) return false;
    for (const Range& r : ranges)
        if (in(r, a, v4)) return true;
    return false;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<Range>& trusted) {
    if (!contains(trusted, peer) || trim(forwarded_for).empty()) return std::string(peer);
    std::vector<std::string_view> hops;
    size_t pos = 0;
    while (pos <= forwarded_for.size()) {
        size_t comma = forwarded_for.find(',', pos);
        if (comma == std::string_view::npos) comma = forwarded_for.size();
        hops.push_back(trim(forwarded_for.substr(pos, comma - pos)));
        pos = comma + 1;
    }
    std::array<uint8_t, 16> scratch{};
    bool v4 = false;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        // A hop that is not an address means the header is not what our proxies write: trust
        // none of it.
        if (!parse_address(*it, scratch, v4)) return std::string(peer);
        if (!contains(trusted, *it)) return std::string(*it);
    }
    return std::string(hops.front());
}

}  // namespace runtime::net_range
