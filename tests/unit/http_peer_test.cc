// Who is at the other end of a loopback connection (runtime/http/http_peer.h): the uid owning the
// client's socket, found by sock_diag for that exact connection, whatever source address of
// 127.0.0.0/8 the client picked.
#include "runtime/http/http_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "sandbox/base/unique_fd.h"

namespace {

struct Connection {
    sandbox::UniqueFd listener, client, accepted;
    std::string client_ip, server_ip;
    int client_port = 0, server_port = 0;
};

std::pair<std::string, int> name_of(int fd, bool peer) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    REQUIRE((peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                  : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len)) == 0);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return {text, ntohs(a.sin_port)};
}

// A TCP connection to 127.0.0.1 from `source` (any address of 127.0.0.0/8 may be bound).
Connection connect_from(const char* source) {
    Connection c;
    c.listener = sandbox::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(c.listener.valid());
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(c.listener.get(), reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
    REQUIRE(::listen(c.listener.get(), 1) == 0);
    auto [sip, sport] = name_of(c.listener.get(), false);
    server.sin_port = htons(static_cast<uint16_t>(sport));
    c.client = sandbox::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in from{};
    from.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
    REQUIRE(::bind(c.client.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    REQUIRE(::connect(c.client.get(), reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
    c.accepted = sandbox::UniqueFd(::accept4(c.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(c.accepted.valid());
    // What the server sees: the peer of its accepted socket, and its own end.
    std::tie(c.client_ip, c.client_port) = name_of(c.accepted.get(), true);
    std::tie(c.server_ip, c.server_port) = name_of(c.accepted.get(), false);
    return c;
}

}  // namespace

TEST_CASE("http peer: the owner of a loopback client's socket is its uid, whatever its address",
          "[http][unit]") {
    const char* source = GENERATE("127.0.0.1", "127.0.0.2", "127.45.6.7");
    Connection c = connect_from(source);
    CHECK(c.client_ip == source);
    auto owner =
        runtime::http_peer::socket_owner(c.client_ip, c.client_port, c.server_ip, c.server_port);
    REQUIRE(owner);
    CHECK(*owner == ::geteuid());
}

TEST_CASE(
    "http peer: no owner for a connection that does not exist or an address that does not "
    "parse",
    "[http][unit]") {
    Connection c = connect_from("127.0.0.1");
    // The server's own end is not a client's: swapping the ends finds the accepted socket, so
    // only a port nobody uses shows "none".
    CHECK_FALSE(runtime::http_peer::socket_owner(c.client_ip, 1, c.server_ip, c.server_port));
    CHECK_FALSE(runtime::http_peer::socket_owner("not an address", c.client_port, c.server_ip,
                                                 c.server_port));
    CHECK_FALSE(runtime::http_peer::socket_owner(c.client_ip, c.client_port, "::1", c.server_port));
    CHECK_FALSE(runtime::http_peer::socket_owner(c.client_ip, 0, c.server_ip, c.server_port));
}
