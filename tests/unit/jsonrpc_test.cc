#include "runtime/mcp/jsonrpc.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "runtime/mcp/transport.h"

using namespace runtime;
using jsonrpc::Kind;

TEST_CASE("jsonrpc: valid requests and notifications", "[jsonrpc][unit]") {
    auto req =
        jsonrpc::parse(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"1"}})");
    CHECK(req.kind == Kind::Request);
    CHECK(req.id == 7);
    CHECK(req.method == "tools/list");
    CHECK(req.params["cursor"] == "1");
    auto str_id = jsonrpc::parse(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})");
    CHECK(str_id.kind == Kind::Request);
    CHECK(str_id.id == "abc");
    auto note = jsonrpc::parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    CHECK(note.kind == Kind::Notification);
    auto resp = jsonrpc::parse(R"({"jsonrpc":"2.0","id":3,"result":{}})");
    CHECK(resp.kind == Kind::Response);
}

TEST_CASE("jsonrpc: malformed messages get the right error and id", "[jsonrpc][unit]") {
    auto [line, code, id] = GENERATE(table<std::string, int, std::string>({
        {"{", jsonrpc::kParseError, "null"},
        {"not json", jsonrpc::kParseError, "null"},
        {"[]", jsonrpc::kInvalidRequest, "null"},
        {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", jsonrpc::kInvalidRequest, "null"},
        {"42", jsonrpc::kInvalidRequest, "null"},
        {R"({"id":1,"method":"ping"})", jsonrpc::kInvalidRequest, "1"},
        {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", jsonrpc::kInvalidRequest, "1"},
        {R"({"jsonrpc":"2.0","id":1,"method":5})", jsonrpc::kInvalidRequest, "1"},
        {R"({"jsonrpc":"2.0","id":1,"method":""})", jsonrpc::kInvalidRequest, "1"},
        {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", jsonrpc::kInvalidRequest, "null"},
        {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", jsonrpc::kInvalidRequest, "null"},
        {R"({"jsonrpc":"2.0","id":{},"method":"ping"})", jsonrpc::kInvalidRequest, "null"},
        {R"({"jsonrpc":"2.0","id":"x","method":"ping","params":[1]})", jsonrpc::kInvalidRequest,
         "\"x\""},
        {R"({"jsonrpc":"2.0","id":2})", jsonrpc::kInvalidRequest, "2"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\xff\xfe\"}}",
         jsonrpc::kParseError, "null"},
    }));
    CAPTURE(line);
    auto m = jsonrpc::parse(line);
    REQUIRE(m.kind == Kind::Invalid);
    CHECK(m.error_reply["error"]["code"] == code);
    CHECK(m.error_reply["id"].dump() == id);
    CHECK(m.error_reply["jsonrpc"] == "2.0");
}

TEST_CASE("jsonrpc: deep nesting is refused without recursion", "[jsonrpc][unit]") {
    std::string deep(1'000'000, '[');
    auto m = jsonrpc::parse(deep);
    REQUIRE(m.kind == Kind::Invalid);
    CHECK(m.error_reply["error"]["code"] == jsonrpc::kParseError);
    // Brackets inside strings do not count.
    std::string in_string = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":")" +
                            std::string(1000, '[') + R"("}})";
    CHECK(jsonrpc::parse(in_string).kind == Kind::Request);
}

TEST_CASE("jsonrpc: a message of more than kMaxValues values is refused before parsing",
          "[jsonrpc][unit]") {
    // n empty objects in params: n '{' plus n-1 ',' plus the envelope's own few.
    auto with_objects = [](size_t n) {
        std::string items;
        for (size_t i = 0; i < n; ++i) items += i ? ",{}" : "{}";
        return R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":[)" + items + "]}}";
    };
    auto refused = jsonrpc::parse(with_objects(jsonrpc::kMaxValues));
    REQUIRE(refused.kind == Kind::Invalid);
    CHECK(refused.error_reply["error"]["code"] == jsonrpc::kInvalidParams);
    CHECK(refused.error_reply["id"] == 1);
    CHECK(refused.error_reply["error"]["message"] == "message holds more than 10000 JSON values");
    CHECK(jsonrpc::parse(with_objects(jsonrpc::kMaxValues / 2 - 10)).kind == Kind::Request);
    // Commas and brackets inside strings are text, not values.
    std::string text = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":")" +
                       std::string(100000, ',') + std::string(100000, '{') + R"("}})";
    CHECK(jsonrpc::parse(text).kind == Kind::Request);
}

// issue 16 item 11: a response must never be answered, or two such peers answer each other
// for ever. Whatever else is wrong with it, an object with "result" or "error" and no "method"
// is a response.
TEST_CASE("jsonrpc: a response from the client is never answered", "[jsonrpc][unit]") {
    auto line = GENERATE(
        as<std::string>{}, R"({"jsonrpc":"2.0","id":3,"result":{}})",
        R"({"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"x"}})",
        R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}})",
        R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"no id"}})",
        R"({"jsonrpc":"2.0","id":1.5,"result":1})", R"({"jsonrpc":"2.0","id":[1],"result":null})",
        R"({"jsonrpc":"1.0","id":4,"result":{}})", R"({"id":5,"error":{"code":1,"message":"x"}})",
        R"({"jsonrpc":"2.0","id":6,"result":{},"error":{}})");
    CAPTURE(line);
    auto m = jsonrpc::parse(line);
    CHECK(m.kind == Kind::Response);
    CHECK(m.error_reply.is_null());
}

// issue 16 item 9: JSON that is valid but that tooljail does not take (too deep, too many values,
// a lone UTF-16 surrogate escape) is answered with the request's id when it can be read, so the
// client's request fails at once instead of waiting out its timeout.
TEST_CASE("jsonrpc: valid JSON the server cannot take is answered with the request's id",
          "[jsonrpc][unit]") {
    auto nested = [](size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    std::string many;
    for (size_t i = 0; i < jsonrpc::kMaxValues; ++i) many += i ? ",{}" : "{}";
    auto [line, id, message] = GENERATE_COPY(table<std::string, std::string, std::string>({
        {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"s":"\ud800"}}})",
         "7", "lone UTF-16 surrogate escape (\\ud800)"},
        {R"({"jsonrpc":"2.0","id":"q","method":"ping","params":{"s":"a\udc00b"}})", "\"q\"",
         "(\\udc00)"},
        {R"({"jsonrpc":"2.0","method":"ping","params":{"s":"\uD83D\u0041"},"id":8})", "8",
         "(\\uD83D)"},
        // The id may come after the part that is refused.
        {R"({"jsonrpc":"2.0","method":"tools/call","params":{"a":)" + nested(100) + R"(},"id":9})",
         "9", "nested deeper than 64 levels"},
        {R"({"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"a":[)" + many + "]}}",
         "\"big\"", "more than 10000 JSON values"},
    }));
    CAPTURE(line.substr(0, 200));
    auto m = jsonrpc::parse(line);
    REQUIRE(m.kind == Kind::Invalid);
    CHECK(m.error_reply["id"].dump() == id);
    CHECK(m.error_reply["error"]["code"] == jsonrpc::kInvalidParams);
    CHECK_THAT(m.error_reply["error"]["message"].get<std::string>(), Catch::Contains(message));
}

TEST_CASE("jsonrpc: a refused message without a readable id gets id null, never a guess",
          "[jsonrpc][unit]") {
    auto nested = [](size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    auto [line, code] = GENERATE_COPY(table<std::string, int>({
        // The lone surrogate is the id itself: no id can be read.
        {R"({"jsonrpc":"2.0","id":"\ud800","method":"ping"})", jsonrpc::kInvalidRequest},
        {R"({"jsonrpc":"2.0","id":1.5,"method":"ping","params":{"a":)" + nested(100) + "}}",
         jsonrpc::kInvalidRequest},
        // Not JSON at all, whatever it holds.
        {R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud800"})",
         jsonrpc::kParseError},
        {R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud80"}})",
         jsonrpc::kParseError},
        {std::string(100000, '['), jsonrpc::kParseError},
        {nested(100), jsonrpc::kParseError},
    }));
    CAPTURE(line.substr(0, 200));
    auto m = jsonrpc::parse(line);
    REQUIRE(m.kind == Kind::Invalid);
    CHECK(m.error_reply["id"].is_null());
    CHECK(m.error_reply["error"]["code"] == code);
}

TEST_CASE("jsonrpc: a refused notification or response gets nothing", "[jsonrpc][unit]") {
    auto nested = [](size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    // JSON-RPC: a notification is never answered, not even with an error.
    auto note =
        jsonrpc::parse(R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"a":)" +
                       nested(100) + "}}");
    CHECK(note.kind == Kind::Invalid);
    CHECK(note.error_reply.is_null());
    auto surrogate = jsonrpc::parse(R"({"jsonrpc":"2.0","method":"n","params":{"s":"\udfff"}})");
    CHECK(surrogate.kind == Kind::Invalid);
    CHECK(surrogate.error_reply.is_null());
    auto response = jsonrpc::parse(R"({"jsonrpc":"2.0","id":1,"result":{"s":"\ud800","a":)" +
                                   nested(100) + "}}");
    CHECK(response.kind == Kind::Response);
    CHECK(response.error_reply.is_null());
    // A valid surrogate pair is not refused.
    auto pair =
        jsonrpc::parse(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud83d\ude00"}})");
    CHECK(pair.kind == Kind::Request);
    CHECK(pair.params["s"] == "\xf0\x9f\x98\x80");
}

TEST_CASE("jsonrpc: serialisation survives invalid UTF-8 in program output", "[jsonrpc][unit]") {
    nlohmann::json msg = jsonrpc::result(1, {{"text", std::string("ok \xff\xfe end")}});
    std::string line = jsonrpc::serialize(msg);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(nlohmann::json::parse(line)["result"]["text"].get<std::string>().find("end") !=
          std::string::npos);
}

namespace {
struct PipeInput {
    int r, w;
    PipeInput() {
        int fds[2];
        REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
        r = fds[0];
        w = fds[1];
    }
    ~PipeInput() {
        close(r);
        if (w >= 0) close(w);
    }
    void feed_and_close(const std::string& data) {
        // Small inputs fit the pipe buffer; large ones are written by a child process.
        if (fork() == 0) {
            size_t off = 0;
            while (off < data.size()) {
                ssize_t n = write(w, data.data() + off, data.size() - off);
                if (n <= 0) _exit(1);
                off += static_cast<size_t>(n);
            }
            _exit(0);
        }
        close(w);
        w = -1;
    }
};
}  // namespace

TEST_CASE("transport: lines, CRLF, empty lines and a final unterminated line",
          "[transport][unit]") {
    PipeInput p;
    p.feed_and_close("a\r\n\n\nb\nc");
    LineReader in(p.r);
    CHECK(in.next()->text == "a");
    CHECK(in.next()->text == "b");
    CHECK(in.next()->text == "c");
    CHECK_FALSE(in.next().has_value());
}

TEST_CASE("transport: an oversized line is discarded whole and reading continues",
          "[transport][unit]") {
    PipeInput p;
    std::string big(3 << 20, 'x');
    p.feed_and_close("first\n" + big + "\nafter\n" + big);
    LineReader in(p.r, 1 << 20);
    CHECK(in.next()->text == "first");
    auto over = in.next();
    REQUIRE(over);
    CHECK(over->oversized);
    CHECK(over->text.empty());
    CHECK(in.next()->text == "after");
    auto last = in.next();
    REQUIRE(last);
    CHECK(last->oversized);
    CHECK_FALSE(in.next().has_value());
}
