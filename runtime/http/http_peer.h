// Internal to the Streamable HTTP transport (runtime/http/): who is at the other end of a
// connection, for the per-client session cap when there is no token to name the client
// (docs/ADMISSION.md, "Who is a client"). Include it nowhere else.
//
// Without --auth the listener is loopback only, so every client is a process on this host. Its
// source address says little: any local process may bind any address of 127.0.0.0/8 (and ::1
// for IPv6) and so pick a new one per connection. What it cannot pick is the owner of its
// socket: the kernel records the creating process's uid, and sock_diag(7) reports it for the
// exact connection. That uid is the key. Processes of one user share it, as they share
// everything else (they can signal and trace each other); a user with a range of subordinate
// uids (newuidmap, /etc/subuid) can own sockets as several of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace httplib {
struct Request;
}

namespace runtime::http_peer {

// The uid owning the client's end of the TCP connection from client_ip:client_port to
// server_ip:server_port, both ends in this network namespace (a loopback connection), as seen in
// this process's user namespace; nullopt when the kernel cannot tell (no inet_diag support, the
// connection is gone, an address that does not parse). One NETLINK_SOCK_DIAG request, no
// privileges needed (Linux 3.3+ for SOCK_DIAG_BY_FAMILY).
std::optional<uint32_t> socket_owner(const std::string& client_ip, int client_port,
                                     const std::string& server_ip, int server_port);

// The session-cap key of an unauthenticated request: "uid:N" (socket_owner), or "addr:IP" when
// the owner cannot be found (then every local process can present a new key per address).
std::string anonymous_client_key(const httplib::Request& req);

}  // namespace runtime::http_peer
