// `tooljail serve` over stdio, driven with raw lines: hostile and malformed input is answered
// per JSON-RPC and the server keeps serving afterwards.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/sandbox_fixture.h"

namespace {

// A running `tooljail serve` with pipes to its stdin and stdout.
class Server {
public:
    explicit Server(const std::string& workspace) {
        int in[2], out[2];
        REQUIRE(pipe2(in, O_CLOEXEC) == 0);
        REQUIRE(pipe2(out, O_CLOEXEC) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            execl(TOOLJAIL_BINARY, TOOLJAIL_BINARY, "serve", "--workspace", workspace.c_str(),
                  nullptr);
            _exit(99);
        }
        close(in[0]);
        close(out[1]);
        in_ = in[1];
        out_ = out[0];
    }
    ~Server() {
        if (in_ >= 0) close(in_);
        close(out_);
        int status;
        if (waitpid(pid_, &status, WNOHANG) == 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
        }
    }

    void send_raw(const std::string& bytes) {
        size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = write(in_, bytes.data() + off, bytes.size() - off);
            REQUIRE(n > 0);
            off += static_cast<size_t>(n);
        }
    }
    void send(const nlohmann::json& msg) { send_raw(msg.dump() + "\n"); }

    // The next line on stdout, parsed; fails the test after 20 s.
    nlohmann::json receive() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        for (;;) {
            size_t nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                auto doc = nlohmann::json::parse(line, nullptr, false);
                INFO(line);
                REQUIRE_FALSE(doc.is_discarded());  // stdout carries only JSON-RPC messages
                return doc;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            REQUIRE(left.count() > 0);
            pollfd p{out_, POLLIN, 0};
            REQUIRE(poll(&p, 1, static_cast<int>(left.count())) >= 0);
            char chunk[65536];
            ssize_t n = read(out_, chunk, sizeof chunk);
            REQUIRE(n > 0);
            buf_.append(chunk, static_cast<size_t>(n));
        }
    }

    void close_stdin() {
        close(in_);
        in_ = -1;
    }
    // Exit status after stdin closed.
    int wait_exit() {
        int status = 0;
        REQUIRE(waitpid(pid_, &status, 0) == pid_);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    void initialize() {
        send({{"jsonrpc", "2.0"},
              {"id", 0},
              {"method", "initialize"},
              {"params",
               {{"protocolVersion", "2025-11-25"},
                {"capabilities", nlohmann::json::object()},
                {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
        auto r = receive();
        REQUIRE(r["result"]["protocolVersion"] == "2025-11-25");
        send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    }

private:
    pid_t pid_ = -1;
    int in_ = -1;
    int out_ = -1;
    std::string buf_;
};

void expect_error(const nlohmann::json& reply, int code, const nlohmann::json& id) {
    INFO(reply.dump());
    CHECK(reply["jsonrpc"] == "2.0");
    CHECK(reply["error"]["code"] == code);
    CHECK(reply["id"] == id);
}

}  // namespace

TEST_CASE("serve stdio: requests before initialize are refused, ping is allowed",
          "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}});
    expect_error(s.receive(), -32600, 1);
    s.send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}});
    CHECK(s.receive()["result"] == nlohmann::json::object());
    s.initialize();
    s.send({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/list"}});
    CHECK(s.receive()["result"]["tools"].size() >= 9);
}

TEST_CASE("serve stdio: version negotiation", "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    for (auto [asked, expected] :
         std::vector<std::pair<std::string, std::string>>{{"2025-06-18", "2025-06-18"},
                                                          {"2025-03-26", "2025-03-26"},
                                                          {"1999-01-01", "2025-11-25"}}) {
        Server s(ws.path());
        s.send({{"jsonrpc", "2.0"},
                {"id", 1},
                {"method", "initialize"},
                {"params",
                 {{"protocolVersion", asked},
                  {"capabilities", nlohmann::json::object()},
                  {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
        auto r = s.receive();
        CHECK(r["result"]["protocolVersion"] == expected);
        CHECK(r["result"]["serverInfo"]["name"] == "tooljail");
    }
}

TEST_CASE("serve stdio: malformed input is answered and the server keeps serving",
          "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.initialize();
    struct Case {
        std::string line;
        int code;
        nlohmann::json id;
    };
    std::vector<Case> cases = {
        {"{not json", -32700, nullptr},
        {"\"just a string\"", -32600, nullptr},
        {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", -32600, nullptr},
        {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", -32600, nullptr},
        {R"({"jsonrpc":"2.0","id":[1],"method":"ping"})", -32600, nullptr},
        {R"({"jsonrpc":"2.0","id":true,"method":"ping"})", -32600, nullptr},
        {R"({"jsonrpc":"1.0","id":5,"method":"ping"})", -32600, 5},
        {R"({"jsonrpc":"2.0","id":6,"method":"no/such/method"})", -32601, 6},
        {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"no_such_tool"}})",
         -32602, 7},
        {R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_directory","arguments":[]}})",
         -32602, 8},
        {R"({"jsonrpc":"2.0","id":9,"method":"tools/call"})", -32602, 9},
        {R"({"jsonrpc":"2.0","id":10,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})",
         -32600, 10},
        {"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\",\"params\":{\"x\":\"\xc3\x28\"}}",
         -32700, nullptr},
        {std::string(100000, '[') + std::string(100000, ']'), -32700, nullptr},
        // Valid JSON that is not taken, answered with the request's id (issue 16 item 9).
        {R"({"jsonrpc":"2.0","id":12,"method":"ping","params":{"s":"\ud800"}})", -32602, 12},
        {R"({"jsonrpc":"2.0","method":"ping","params":{"a":)" + std::string(100, '[') +
             std::string(100, ']') + R"(},"id":"deep"})",
         -32602, "deep"},
    };
    for (const Case& c : cases) {
        s.send_raw(c.line + "\n");
        expect_error(s.receive(), c.code, c.id);
    }
    // A 64 MiB line is discarded whole (bounded memory) and answered with a parse error.
    s.send_raw(std::string(64 << 20, 'x') + "\n");
    expect_error(s.receive(), -32700, nullptr);
    // Notifications get no reply; the next request's reply is the next line.
    s.send({{"jsonrpc", "2.0"}, {"method", "notifications/unknown"}});
    s.send({{"jsonrpc", "2.0"}, {"id", "still-here"}, {"method", "ping"}});
    auto pong = s.receive();
    CHECK(pong["id"] == "still-here");
    CHECK(pong["result"] == nlohmann::json::object());
}

// issue 16 item 11: answering a response could make two peers answer each other for ever.
TEST_CASE("serve stdio: responses from the client are never answered", "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.initialize();
    for (const char* line : {
             R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})",
             R"({"jsonrpc":"2.0","id":1,"result":{}})",
             R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"no id"}})",
             R"({"jsonrpc":"2.0","id":1.5,"result":null})",
             R"({"jsonrpc":"2.0","id":2,"result":{"s":"\udc00"}})",
         })
        s.send_raw(std::string(line) + "\n");
    s.send({{"jsonrpc", "2.0"}, {"id", "after"}, {"method", "ping"}});
    auto pong = s.receive();  // the next line: nothing was sent for the responses
    CHECK(pong["id"] == "after");
    CHECK(pong["result"] == nlohmann::json::object());
}

// issue 16 item 12: ids are unique among the requests not yet answered (MCP 2026-07-28 basic:
// "MUST NOT match the ID of any other request the sender has issued and not yet received a
// response for"). A request reusing one is refused with id null, whatever its method, so the
// only response carrying the id is the call's.
TEST_CASE("serve stdio: a request reusing the id of a call in progress is refused with id null",
          "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.initialize();
    auto call = [](const nlohmann::json& id, const std::string& code) {
        return nlohmann::json{
            {"jsonrpc", "2.0"},
            {"id", id},
            {"method", "tools/call"},
            {"params", {{"name", "run_python"}, {"arguments", {{"code", code}}}}}};
    };
    s.send(call(5, "import time\ntime.sleep(2)\nprint('first')"));
    for (const char* method : {"ping", "tools/list", "tools/call"}) {
        INFO(method);
        nlohmann::json again = {{"jsonrpc", "2.0"}, {"id", 5}, {"method", method}};
        if (std::string(method) == "tools/call") again = call(5, "print('second')");
        s.send(again);
        auto refused = s.receive();
        expect_error(refused, -32600, nullptr);
        CHECK(refused["error"]["data"]["id"] == 5);
    }
    auto first = s.receive();
    INFO(first.dump());
    CHECK(first["id"] == 5);
    CHECK(first["result"]["structuredContent"]["stdout"] == "first\n");
    // Answered: the id is free again.
    s.send({{"jsonrpc", "2.0"}, {"id", 5}, {"method", "ping"}});
    CHECK(s.receive()["id"] == 5);
    // A cancelled call gets no response, so its id is free at once.
    s.send(call("c", "import time\ntime.sleep(60)"));
    usleep(300 * 1000);
    s.send({{"jsonrpc", "2.0"},
            {"method", "notifications/cancelled"},
            {"params", {{"requestId", "c"}}}});
    s.send({{"jsonrpc", "2.0"}, {"id", "c"}, {"method", "ping"}});
    auto pong = s.receive();
    CHECK(pong["id"] == "c");
    CHECK(pong["result"] == nlohmann::json::object());
}

TEST_CASE("serve stdio: a tool call returns a structured result", "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.initialize();
    s.send(
        {{"jsonrpc", "2.0"},
         {"id", 1},
         {"method", "tools/call"},
         {"params",
          {{"name", "run_command"}, {"arguments", {{"program", "echo"}, {"args", {"hello"}}}}}}});
    auto r = s.receive();
    INFO(r.dump());
    CHECK(r["result"]["isError"] == false);
    CHECK(r["result"]["structuredContent"]["stdout"] == "hello\n");
    CHECK(r["result"]["structuredContent"]["status"] == "success");
}

TEST_CASE("serve stdio: closing stdin ends the server and its runs", "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.initialize();
    s.send({{"jsonrpc", "2.0"},
            {"id", 1},
            {"method", "tools/call"},
            {"params",
             {{"name", "run_python"}, {"arguments", {{"code", "import time\ntime.sleep(60)"}}}}}});
    usleep(500 * 1000);
    auto start = std::chrono::steady_clock::now();
    s.close_stdin();
    CHECK(s.wait_exit() == 0);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

namespace {
nlohmann::json stateless_meta(const std::string& version = "2026-07-28") {
    return {{"io.modelcontextprotocol/protocolVersion", version},
            {"io.modelcontextprotocol/clientCapabilities", nlohmann::json::object()},
            {"io.modelcontextprotocol/clientInfo", {{"name", "t"}, {"version", "1"}}}};
}
}  // namespace

TEST_CASE("serve stdio: the stateless 2026-07-28 revision needs no initialize",
          "[serve][integration]") {
    tjtest::TempDir ws("tooljail-serve-");
    Server s(ws.path());
    s.send({{"jsonrpc", "2.0"},
            {"id", 1},
            {"method", "server/discover"},
            {"params", {{"_meta", stateless_meta()}}}});
    auto discover = s.receive()["result"];
    CHECK(discover["resultType"] == "complete");
    CHECK(discover["supportedVersions"][0] == "2026-07-28");
    CHECK(discover["capabilities"].contains("tools"));
    CHECK(discover["ttlMs"].is_number_integer());
    CHECK(discover["cacheScope"] == "public");
    CHECK(discover["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "tooljail");

    s.send({{"jsonrpc", "2.0"},
            {"id", 2},
            {"method", "tools/list"},
            {"params", {{"_meta", stateless_meta()}}}});
    auto list = s.receive()["result"];
    CHECK(list["resultType"] == "complete");
    CHECK(list["tools"].size() >= 9);
    CHECK(list["ttlMs"].is_number_integer());
    CHECK(list["cacheScope"] == "public");

    s.send({{"jsonrpc", "2.0"},
            {"id", 3},
            {"method", "tools/call"},
            {"params",
             {{"_meta", stateless_meta()},
              {"name", "run_command"},
              {"arguments", {{"program", "echo"}, {"args", {"stateless"}}}}}}});
    auto call = s.receive()["result"];
    CHECK(call["resultType"] == "complete");
    CHECK(call["structuredContent"]["stdout"] == "stateless\n");

    // Removed in this revision.
    s.send({{"jsonrpc", "2.0"},
            {"id", 4},
            {"method", "ping"},
            {"params", {{"_meta", stateless_meta()}}}});
    expect_error(s.receive(), -32601, 4);
    // Unsupported version: -32022 with the supported list.
    s.send({{"jsonrpc", "2.0"},
            {"id", 5},
            {"method", "tools/list"},
            {"params", {{"_meta", stateless_meta("2099-01-01")}}}});
    auto unsupported = s.receive();
    expect_error(unsupported, -32022, 5);
    CHECK(unsupported["error"]["data"]["requested"] == "2099-01-01");
    CHECK(unsupported["error"]["data"]["supported"][0] == "2026-07-28");
    // clientCapabilities is required.
    s.send({{"jsonrpc", "2.0"},
            {"id", 6},
            {"method", "tools/list"},
            {"params", {{"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}}}});
    expect_error(s.receive(), -32602, 6);
}
