// Bearer-token authentication (runtime/http/auth_tokens.h): the token file round-trips and refuses
// every malformed entry with its JSON pointer; tokens are well-formed and verify only exactly;
// the Authorization header is read strictly; scopes allow exactly their tools.
#include "runtime/http/auth_tokens.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "sandbox/base/sha256.h"

using runtime::auth::BearerHeader;
using runtime::auth::TokenEntry;
using runtime::auth::TokenFile;
using runtime::auth::TokenVerifier;

namespace {

const std::string kHashA = sandbox::sha256_hex("tjk_a");
const std::string kHashB = sandbox::sha256_hex("tjk_b");

std::string entry(const std::string& client, const std::string& hash,
                  const std::string& tools = R"(["read_file"])",
                  const std::string& created = R"("2026-11-21T18:30:00.123Z")") {
    return R"({"client": ")" + client + R"(", "sha256": ")" + hash + R"(", "tools": )" + tools +
           R"(, "created": )" + created + "}";
}

std::string file_of(const std::string& entries) { return R"({"clients": [)" + entries + "]}"; }

std::string refusal(const std::string& text) {
    auto parsed = runtime::auth::parse_token_file("tokens.json", text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == sandbox::Errc::InvalidArgument);
    return parsed.error().context;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string templ =
            (std::filesystem::temp_directory_path() / "tooljail-auth-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("auth: a token file parses, and saves and loads back unchanged", "[auth][unit]") {
    std::string text =
        file_of(entry("ci-bot", kHashA) + "," + entry("Alice.Laptop_2", kHashB, R"(["*"])"));
    auto parsed = runtime::auth::parse_token_file("tokens.json", text);
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->clients.size() == 2);
    CHECK(parsed->clients[0].client == "ci-bot");
    CHECK(parsed->clients[0].sha256 == kHashA);
    CHECK(parsed->clients[0].tools == std::vector<std::string>{"read_file"});
    CHECK(parsed->clients[0].created == "2026-11-21T18:30:00.123Z");
    CHECK(parsed->clients[1].all_tools());
    CHECK(parsed->find("Alice.Laptop_2") == &parsed->clients[1]);
    CHECK(parsed->find("nobody") == nullptr);

    TempDir dir;
    std::string path = (dir.path / "tokens.json").string();
    REQUIRE(runtime::auth::save_token_file(path, *parsed).has_value());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto loaded = runtime::auth::load_token_file(path);
    REQUIRE(loaded.has_value());
    CHECK(runtime::auth::serialize_token_file(*loaded) ==
          runtime::auth::serialize_token_file(*parsed));
    // No temporary file is left next to it.
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                        std::filesystem::directory_iterator()) == 1);
    // An empty list is a valid file (serve refuses it; revoke can produce it).
    auto empty = runtime::auth::parse_token_file("tokens.json", R"({"clients": []})");
    REQUIRE(empty.has_value());
    CHECK(empty->clients.empty());
}

TEST_CASE("auth: every malformed token file is refused with its JSON pointer", "[auth][unit]") {
    auto [text, message] = GENERATE(table<std::string, std::string>({
        {"[]", "tokens.json: expected object (got array)"},
        {"{}", "tokens.json: /clients: missing required key"},
        {R"({"clients": {}})", "tokens.json: /clients: expected array (got object)"},
        {R"({"clients": [], "version": 1})",
         "tokens.json: /version: unknown key (allowed: clients)"},
        {R"({"clients": [], "clients": []})", "tokens.json: /clients: duplicate key"},
        {file_of("1"), "tokens.json: /clients/0: expected object (got number)"},
        {file_of(R"({"client": "a", "sha256": "x", "tools": [], "created": "", "extra": 1})"),
         "tokens.json: /clients/0/extra: unknown key (allowed: client, sha256, tools, created)"},
        {file_of(R"({"sha256": ")" + kHashA +
                 R"(", "tools": ["*"], "created": "2026-01-01T00:00:00Z"})"),
         "tokens.json: /clients/0/client: missing required key"},
        {file_of(entry("", kHashA)),
         "tokens.json: /clients/0/client: must be 1-64 characters of A-Za-z0-9._- (got \"\")"},
        {file_of(entry("a b", kHashA)),
         "tokens.json: /clients/0/client: must be 1-64 characters of A-Za-z0-9._- (got \"a b\")"},
        {file_of(entry(std::string(65, 'a'), kHashA)),
         "tokens.json: /clients/0/client: must be 1-64 characters of A-Za-z0-9._- (got \"" +
             std::string(65, 'a') + "\")"},
        {file_of(entry("a", kHashA.substr(1))),
         "tokens.json: /clients/0/sha256: expected 64 lowercase hex digits (the sha256 of the "
         "token)"},
        {file_of(entry("a", std::string(64, 'A'))),
         "tokens.json: /clients/0/sha256: expected 64 lowercase hex digits (the sha256 of the "
         "token)"},
        {file_of(entry("a", kHashA, R"("read_file")")),
         "tokens.json: /clients/0/tools: expected array (got string)"},
        {file_of(entry("a", kHashA, "[]")),
         "tokens.json: /clients/0/tools: must list at least one tool, or \"*\" for all"},
        {file_of(entry("a", kHashA, "[1]")),
         "tokens.json: /clients/0/tools/0: expected string (got number)"},
        {file_of(entry("a", kHashA, R"(["read_file", "*"])")),
         "tokens.json: /clients/0/tools/1: \"*\" must be the only entry (it already means every "
         "tool)"},
        {file_of(entry("a", kHashA, R"(["read file"])")),
         "tokens.json: /clients/0/tools/0: not a tool name (1-128 of A-Za-z0-9_-.)"},
        {file_of(entry("a", kHashA, R"(["git_log", "git_log"])")),
         "tokens.json: /clients/0/tools/1: duplicate tool \"git_log\""},
        {file_of(entry("a", kHashA, R"(["*"])", R"("yesterday")")),
         "tokens.json: /clients/0/created: expected an RFC 3339 time, e.g. 2026-11-21T18:30:00Z"},
        {file_of(entry("a", kHashA, R"(["*"])", R"("7d")")),
         "tokens.json: /clients/0/created: expected an RFC 3339 time, e.g. 2026-11-21T18:30:00Z"},
        {file_of(entry("a", kHashA, R"(["*"])", "0")),
         "tokens.json: /clients/0/created: expected string (got number)"},
        {file_of(entry("a", kHashA) + "," + entry("a", kHashB)),
         "tokens.json: /clients/1/client: duplicate client (also /clients/0)"},
        {file_of(entry("a", kHashA) + "," + entry("b", kHashA)),
         "tokens.json: /clients/1/sha256: the same token as /clients/0"},
    }));
    CAPTURE(text);
    CHECK(refusal(text) == message);
}

TEST_CASE("auth: scoped tool names must exist in tools.d", "[auth][unit]") {
    auto file = runtime::auth::parse_token_file(
        "tokens.json", file_of(entry("a", kHashA, R"(["*"])") + "," +
                               entry("b", kHashB, R"(["read_file", "nope"])")));
    REQUIRE(file.has_value());
    auto known = [](const std::string& name) { return name == "read_file"; };
    auto checked = runtime::auth::check_known_tools("tokens.json", *file, known);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().context ==
          "tokens.json: /clients/1/tools/1: unknown tool 'nope' (not in tools.d)");
    file->clients[1].tools = {"read_file"};
    CHECK(runtime::auth::check_known_tools("tokens.json", *file, known).has_value());
}

TEST_CASE("auth: load refuses a missing file and one others may write", "[auth][unit]") {
    TempDir dir;
    std::string path = (dir.path / "tokens.json").string();
    auto missing = runtime::auth::load_token_file(path);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == sandbox::Errc::NotFound);

    std::ofstream(path) << file_of(entry("a", kHashA));
    REQUIRE(::chmod(path.c_str(), 0620) == 0);
    auto writable = runtime::auth::load_token_file(path);
    REQUIRE_FALSE(writable.has_value());
    CHECK(writable.error().code == sandbox::Errc::PermissionDenied);
    CHECK(writable.error().context ==
          "token file " + path + ": writable by group or others (mode 620); chmod 600 it");
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    CHECK(runtime::auth::load_token_file(path).has_value());

    std::ofstream(path) << "{\"clients\": [}";
    auto bad = runtime::auth::load_token_file(path);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().context.rfind(path + ": invalid JSON at byte", 0) == 0);
}

TEST_CASE("auth: generated tokens are prefixed base64url of 32 random bytes", "[auth][unit]") {
    auto a = runtime::auth::generate_token();
    auto b = runtime::auth::generate_token();
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a != *b);
    CHECK(a->size() == 4 + 43);
    CHECK(a->rfind("tjk_", 0) == 0);
    CHECK(a->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               4) == std::string::npos);
    // A generated token passes the header check it will meet.
    std::string token;
    CHECK(runtime::auth::bearer_token("Bearer " + *a, token) == BearerHeader::Ok);
    CHECK(token == *a);
}

TEST_CASE("auth: verification accepts exactly the right token", "[auth][unit]") {
    auto token = runtime::auth::generate_token();
    REQUIRE(token.has_value());
    TokenFile file;
    file.clients.push_back({"first", kHashA, {"*"}, "2026-01-01T00:00:00Z"});
    file.clients.push_back(
        {"second", sandbox::sha256_hex(*token), {"read_file"}, "2026-01-01T00:00:00Z"});
    TokenVerifier verifier(std::move(file));

    auto right = verifier.verify(*token);
    REQUIRE(right != nullptr);
    CHECK(right->client == "second");
    CHECK(verifier.verify("tjk_a").get() == &verifier.file()->clients[0]);

    std::string last = *token;
    last.back() = last.back() == 'A' ? 'B' : 'A';  // differs only in the last byte
    std::string first = *token;
    first[0] = 'T';
    CHECK(verifier.verify(last) == nullptr);
    CHECK(verifier.verify(first) == nullptr);
    CHECK(verifier.verify(token->substr(0, token->size() - 1)) == nullptr);
    CHECK(verifier.verify(*token + "A") == nullptr);
    CHECK(verifier.verify("") == nullptr);
    // The hash is not the token: presenting the stored hash gets nothing.
    CHECK(verifier.verify(sandbox::sha256_hex(*token)) == nullptr);
}

TEST_CASE("auth: the Authorization header is read strictly", "[auth][unit]") {
    std::string token;
    CHECK(runtime::auth::bearer_token(std::nullopt, token) == BearerHeader::Absent);
    auto [header, form, want] = GENERATE(table<std::string, BearerHeader, std::string>({
        {"Bearer tjk_abc", BearerHeader::Ok, "tjk_abc"},
        {"bearer tjk_abc", BearerHeader::Ok, "tjk_abc"},  // the scheme is case-insensitive
        {"BEARER  tjk_abc ", BearerHeader::Ok, "tjk_abc"},
        {"Bearer abc+/~.-_==", BearerHeader::Ok, "abc+/~.-_=="},
        {"Bearer " + std::string(256, 'a'), BearerHeader::Ok, std::string(256, 'a')},
        {"Bearer " + std::string(257, 'a'), BearerHeader::Malformed, ""},  // oversized
        {"Bearer " + std::string(100000, 'a'), BearerHeader::Malformed, ""},
        {"Bearer", BearerHeader::Malformed, ""},
        {"Bearer ", BearerHeader::Malformed, ""},  // trimmed to "Bearer"
        {"", BearerHeader::NotBearer, ""},
        {"Bearer a b", BearerHeader::Malformed, ""},
        {"Bearer a,b", BearerHeader::Malformed, ""},
        {"Bearer ===", BearerHeader::Malformed, ""},
        {"Bearer tjk_\xc3\xa9", BearerHeader::Malformed, ""},
        {"Basic dXNlcjpwYXNz", BearerHeader::NotBearer, ""},
        {"Bearertjk_abc", BearerHeader::NotBearer, ""},
    }));
    CAPTURE(header);
    token.clear();
    CHECK(runtime::auth::bearer_token(header, token) == form);
    CHECK(token == want);
}

TEST_CASE("auth: a scope allows exactly its tools, and * allows all", "[auth][unit]") {
    TokenEntry some{"c", kHashA, {"read_file", "git_log"}, "2026-01-01T00:00:00Z"};
    CHECK(some.allows("read_file"));
    CHECK(some.allows("git_log"));
    CHECK_FALSE(some.allows("run_command"));
    CHECK_FALSE(some.allows("read_fil"));
    CHECK_FALSE(some.allows("READ_FILE"));
    CHECK_FALSE(some.allows("*"));
    CHECK_FALSE(some.allows(""));
    TokenEntry all{"c", kHashA, {"*"}, "2026-01-01T00:00:00Z"};
    CHECK(all.all_tools());
    CHECK(all.allows("run_command"));
    CHECK_FALSE(some.all_tools());
}

TEST_CASE("auth: client and scope names follow their rules", "[auth][unit]") {
    CHECK(runtime::auth::valid_client_name("a"));
    CHECK(runtime::auth::valid_client_name(std::string(64, 'z')));
    CHECK(runtime::auth::valid_client_name("ci-bot.2_x"));
    CHECK_FALSE(runtime::auth::valid_client_name(""));
    CHECK_FALSE(runtime::auth::valid_client_name(std::string(65, 'z')));
    CHECK_FALSE(runtime::auth::valid_client_name("a/b"));
    CHECK_FALSE(runtime::auth::valid_client_name("a:b"));
    size_t index = 99;
    CHECK(runtime::auth::scope_problem({"read_file", "git_log"}, index).empty());
    CHECK(runtime::auth::scope_problem({"*"}, index).empty());
    CHECK(runtime::auth::scope_problem({"a", "-x", "b b"}, index) ==
          "not a tool name (1-128 of A-Za-z0-9_-.)");
    CHECK(index == 2);
}

namespace {

// What kubelet makes of a Secret volume: each key a symlink through ..data, which points at a
// timestamped directory and is swapped atomically on update (AtomicWriter).
struct SecretVolume {
    std::filesystem::path dir;
    int generation = 0;
    explicit SecretVolume(const std::filesystem::path& at) : dir(at) {
        std::filesystem::create_directories(dir);
    }
    void publish(const std::string& text, mode_t mode = 0644) {
        namespace fs = std::filesystem;
        std::string ts = "..2026_12_07_19_00_0" + std::to_string(generation++) + ".123456789";
        fs::create_directory(dir / ts);
        std::ofstream(dir / ts / "tokens.json") << text;
        REQUIRE(::chmod((dir / ts / "tokens.json").c_str(), mode) == 0);
        fs::create_directory_symlink(ts, dir / "..data_tmp");
        fs::rename(dir / "..data_tmp", dir / "..data");
        if (!fs::is_symlink(dir / "tokens.json"))
            fs::create_symlink("..data/tokens.json", dir / "tokens.json");
    }
    std::string path() const { return (dir / "tokens.json").string(); }
};

}  // namespace

TEST_CASE("auth: a Kubernetes Secret's token file loads through its ..data symlinks",
          "[auth][unit]") {
    TempDir tmp;
    SecretVolume secret(tmp.path / "tooljail");
    secret.publish(file_of(entry("a", kHashA)));
    auto loaded = runtime::auth::load_token_file(secret.path());
    REQUIRE(loaded.has_value());
    CHECK(loaded->clients.at(0).client == "a");

    SECTION("an update swaps ..data; the next load (SIGHUP) sees the new file") {
        secret.publish(file_of(entry("b", kHashB)));
        auto again = runtime::auth::load_token_file(secret.path());
        REQUIRE(again.has_value());
        CHECK(again->clients.at(0).client == "b");
    }
    SECTION("the file reached must still not be writable by group or others") {
        secret.publish(file_of(entry("b", kHashB)), 0666);
        auto writable = runtime::auth::load_token_file(secret.path());
        REQUIRE_FALSE(writable.has_value());
        CHECK(writable.error().code == sandbox::Errc::PermissionDenied);
        CHECK_THAT(writable.error().context, Catch::Contains("writable by group or others"));
    }
    SECTION("a link out of the directory is refused, relative or absolute") {
        std::ofstream(tmp.path / "elsewhere.json") << file_of(entry("x", kHashA));
        std::filesystem::remove(secret.dir / "tokens.json");
        std::filesystem::create_symlink("../elsewhere.json", secret.dir / "tokens.json");
        auto out = runtime::auth::load_token_file(secret.path());
        REQUIRE_FALSE(out.has_value());
        CHECK(out.error().code == sandbox::Errc::PermissionDenied);
        CHECK_THAT(out.error().context, Catch::Contains("leads out of its directory"));
        std::filesystem::remove(secret.dir / "tokens.json");
        std::filesystem::create_symlink(tmp.path / "elsewhere.json", secret.dir / "tokens.json");
        CHECK_FALSE(runtime::auth::load_token_file(secret.path()).has_value());
        std::filesystem::remove(secret.dir / "tokens.json");
        std::filesystem::create_symlink("/proc/self/root" + (tmp.path / "elsewhere.json").string(),
                                        secret.dir / "tokens.json");
        CHECK_FALSE(runtime::auth::load_token_file(secret.path()).has_value());
    }
    SECTION("a link to a directory or a loop is refused") {
        std::filesystem::remove(secret.dir / "tokens.json");
        std::filesystem::create_symlink("..data", secret.dir / "tokens.json");
        CHECK_FALSE(runtime::auth::load_token_file(secret.path()).has_value());
        std::filesystem::remove(secret.dir / "tokens.json");
        std::filesystem::create_symlink("tokens.json", secret.dir / "tokens.json");
        CHECK_FALSE(runtime::auth::load_token_file(secret.path()).has_value());
    }
    SECTION("the file reached must be owned by root or by this process's user") {
        if (::geteuid() != 0) {
            WARN("needs root to give the file another owner: skipped");
            return;
        }
        auto target = std::filesystem::canonical(secret.path());
        REQUIRE(::chown(target.c_str(), 12345, 12345) == 0);
        auto foreign = runtime::auth::load_token_file(secret.path());
        REQUIRE_FALSE(foreign.has_value());
        CHECK(foreign.error().code == sandbox::Errc::PermissionDenied);
        CHECK_THAT(foreign.error().context, Catch::Contains("owned by uid 12345"));
        REQUIRE(::chown(target.c_str(), 0, 12345) == 0);  // root:fsGroup, as kubelet leaves it
        CHECK(runtime::auth::load_token_file(secret.path()).has_value());
    }
}

TEST_CASE("auth: a rewrite keeps the file's group and read bits, never group write",
          "[auth][unit]") {
    TempDir dir;
    auto file = runtime::auth::parse_token_file("t", file_of(entry("a", kHashA)));
    REQUIRE(file.has_value());
    std::string path = (dir.path / "tokens.json").string();
    auto mode_of = [&] {
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        return st;
    };
    SECTION("a first file is owner-only") {
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        CHECK((mode_of().st_mode & 07777) == 0600);
    }
    SECTION("0640 stays 0640 (the service reads it through its group); 0660 loses group write") {
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        REQUIRE(::chmod(path.c_str(), 0640) == 0);
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        CHECK((mode_of().st_mode & 07777) == 0640);
        REQUIRE(::chmod(path.c_str(), 0660) == 0);
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        CHECK((mode_of().st_mode & 07777) == 0640);
        CHECK(runtime::auth::load_token_file(path).has_value());
    }
    SECTION("in a setgid directory a first file is group-readable, with the directory's group") {
        if (::geteuid() != 0) {
            WARN("needs root to give the directory another group: skipped");
            return;
        }
        REQUIRE(::chown(dir.path.c_str(), 0, 12345) == 0);
        REQUIRE(::chmod(dir.path.c_str(), 02750) == 0);
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        CHECK((mode_of().st_mode & 07777) == 0640);
        CHECK(mode_of().st_gid == 12345);
        // ...and a rewrite by root keeps that group even outside such a directory's default.
        REQUIRE(::chmod(dir.path.c_str(), 0750) == 0);
        REQUIRE(runtime::auth::save_token_file(path, *file).has_value());
        CHECK(mode_of().st_gid == 12345);
    }
}
