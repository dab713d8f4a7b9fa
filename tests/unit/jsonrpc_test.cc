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
    CHECK(refused.error_reply["error"]["code"] == jsonrpc::kParseError);
    CHECK(refused.error_reply["error"]["message"] == "message holds more than 10000 JSON values");
    CHECK(jsonrpc::parse(with_objects(jsonrpc::kMaxValues / 2 - 10)).kind == Kind::Request);
    // Commas and brackets inside strings are text, not values.
    std::string text = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":")" +
                       std::string(100000, ',') + std::string(100000, '{') + R"("}})";
    CHECK(jsonrpc::parse(text).kind == Kind::Request);
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
