#include "sandbox/warm_request.h"

#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace wr = sandbox::warm_request;

namespace {

// An aligned buffer the size the warm child maps.
struct Buffer {
    std::vector<char*> storage = std::vector<char*>(wr::kBufferBytes / sizeof(char*) + 1);
    char* data() { return reinterpret_cast<char*>(storage.data()); }
};

int decode_copy(const std::string& encoded, wr::Decoded* out, Buffer& buf) {
    std::memcpy(buf.data(), encoded.data(), encoded.size());
    return wr::decode(buf.data(), encoded.size(), out);
}

}  // namespace

TEST_CASE("warm request: argv and the stdin flag round-trip", "[warm_request][unit]") {
    std::vector<std::string> argv = {"/bin/echo", "", "two words", "--flag=ü"};
    auto has_stdin = GENERATE(false, true);
    auto encoded = wr::encode(argv, has_stdin);
    REQUIRE(encoded);
    Buffer buf;
    wr::Decoded d;
    REQUIRE(decode_copy(*encoded, &d, buf) == 0);
    CHECK(d.has_stdin == has_stdin);
    std::vector<std::string> back;
    for (char** a = d.argv; *a; ++a) back.emplace_back(*a);
    CHECK(back == argv);
}

TEST_CASE("warm request: a stdin file round-trips after argv", "[warm_request][unit]") {
    std::vector<std::string> argv = {"/usr/bin/awk", "--", "{ print }"};
    auto encoded = wr::encode(argv, false, std::string("sub/a file.txt"));
    REQUIRE(encoded);
    Buffer buf;
    wr::Decoded d;
    REQUIRE(decode_copy(*encoded, &d, buf) == 0);
    CHECK_FALSE(d.has_stdin);
    REQUIRE(d.stdin_file != nullptr);
    CHECK(std::string(d.stdin_file) == "sub/a file.txt");
    std::vector<std::string> back;
    for (char** a = d.argv; *a; ++a) back.emplace_back(*a);
    CHECK(back == argv);
    // Without one, the field stays null.
    REQUIRE(decode_copy(*wr::encode(argv, true), &d, buf) == 0);
    CHECK(d.stdin_file == nullptr);
    // Data and a file are one stdin too many; an empty or NUL-holding path is no path.
    CHECK_FALSE(wr::encode(argv, true, std::string("a")));
    CHECK_FALSE(wr::encode(argv, false, std::string()));
    CHECK_FALSE(wr::encode(argv, false, std::string("a\0b", 3)));
}

TEST_CASE("warm request: what the warm path cannot carry goes cold", "[warm_request][unit]") {
    CHECK_FALSE(wr::encode({}, false));
    CHECK_FALSE(wr::encode({std::string("a\0b", 3)}, false));
    CHECK_FALSE(wr::encode({"/bin/true", std::string(wr::kMaxBytes, 'x')}, false));
    CHECK_FALSE(wr::encode(std::vector<std::string>(wr::kMaxArgs + 1, "a"), false));
    CHECK(wr::encode(std::vector<std::string>(wr::kMaxArgs, "a"), false));
}

TEST_CASE("warm request: malformed requests are refused", "[warm_request][unit]") {
    auto good = *wr::encode({"/bin/true", "x"}, false);
    auto mutate = GENERATE(range(0, 9));
    std::string bad = good;
    wr::Header h;
    std::memcpy(&h, bad.data(), sizeof h);
    switch (mutate) {
        case 0: h.magic ^= 1; break;
        case 1: h.size += 1; break;
        case 2: h.argc = 3; break;   // more strings than sent
        case 3: h.argc = 1; break;   // trailing bytes
        case 4: h.flags = 4; break;  // unknown flag
        case 7: h.flags = 3; break;  // stdin pipe and file at once
        case 8: h.flags = 2; break;  // a stdin file that is not there
        case 5: h.argc = 0; break;
        case 6: bad.back() = 'x'; break;  // last string not terminated
    }
    std::memcpy(bad.data(), &h, sizeof h);
    Buffer buf;
    wr::Decoded d;
    CHECK(decode_copy(bad, &d, buf) == EINVAL);
    CHECK(wr::decode(buf.data(), 3, &d) == EINVAL);  // shorter than a header
}
