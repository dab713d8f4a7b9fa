// Internal to the Streamable HTTP transport: see http_peer.h.
#include "runtime/http/http_peer.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "sandbox/base/unique_fd.h"

namespace runtime::http_peer {
namespace {

// The address in the form inet_diag_sockid carries it (network byte order, IPv4 in the first
// word); the family, or 0 when it does not parse.
int parse_address(const std::string& ip, __be32 (&out)[4]) {
    std::memset(out, 0, sizeof out);
    if (::inet_pton(AF_INET, ip.c_str(), &out[0]) == 1) return AF_INET;
    if (::inet_pton(AF_INET6, ip.c_str(), out) == 1) return AF_INET6;
    return 0;
}

}  // namespace

std::optional<uint32_t> socket_owner(const std::string& client_ip, int client_port,
                                     const std::string& server_ip, int server_port) {
    if (client_port <= 0 || client_port > 65535 || server_port <= 0 || server_port > 65535)
        return std::nullopt;
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    int family = parse_address(client_ip, message.request.id.idiag_src);
    if (family == 0 || parse_address(server_ip, message.request.id.idiag_dst) != family)
        return std::nullopt;
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;  // one socket, found by its four-tuple: no dump
    message.request.sdiag_family = static_cast<__u8>(family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0u;
    // "src" is the local end of the socket looked up: the client's.
    message.request.id.idiag_sport = htons(static_cast<uint16_t>(client_port));
    message.request.id.idiag_dport = htons(static_cast<uint16_t>(server_port));
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    sandbox::UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd.valid()) return std::nullopt;
    // The kernel answers at once; the timeout only guards against a kernel that never does.
    timeval timeout{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) != static_cast<ssize_t>(sizeof message))
        return std::nullopt;
    alignas(nlmsghdr) char reply[8192];
    ssize_t n;
    do {
        n = ::recv(fd.get(), reply, sizeof reply, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return std::nullopt;
    // One exact-match request, one message back (NLMSG_OK's checks, without its int length).
    const auto* h = reinterpret_cast<const nlmsghdr*>(reply);
    if (static_cast<size_t>(n) < sizeof(nlmsghdr) || h->nlmsg_len < sizeof(nlmsghdr) ||
        h->nlmsg_len > static_cast<size_t>(n))
        return std::nullopt;
    // NLMSG_ERROR: ENOENT when no such connection exists (anymore).
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return std::nullopt;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return std::nullopt;
    const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    return diag->idiag_uid;
}

std::string anonymous_client_key(const httplib::Request& req) {
    if (auto uid = socket_owner(req.remote_addr, req.remote_port, req.local_addr, req.local_port))
        return "uid:" + std::to_string(*uid);
    return "addr:" + req.remote_addr;
}

}  // namespace runtime::http_peer
