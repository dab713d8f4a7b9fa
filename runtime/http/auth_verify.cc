// Tokens: generation, the Authorization header, constant-time verification and the scope check.
// The token file itself is in auth_tokens.cc.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <openssl/crypto.h>

#include "runtime/http/auth_tokens.h"
#include "sandbox/base/sha256.h"
#include "sandbox/base/sys.h"

namespace runtime::auth {
namespace {

// Longer than any token we mint (47 characters) with room for other generators; a longer value
// is refused before it is hashed.
constexpr size_t kMaxTokenChars = 256;

// RFC 6750 b64token / RFC 7235 token68: ALPHA DIGIT - . _ ~ + / then optional trailing '='.
bool token68(std::string_view s) {
    size_t end = s.size();
    while (end > 0 && s[end - 1] == '=') --end;
    if (end == 0) return false;
    return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(end), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    });
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
        if (x != y) return false;
    }
    return true;
}

}  // namespace

bool TokenEntry::allows(std::string_view tool) const {
    if (all_tools()) return true;
    return std::find(tools.begin(), tools.end(), tool) != tools.end();
}

sandbox::Result<std::string> generate_token() {
    // 256 bits from the kernel CSPRNG: nothing to guess, and no need to slow down guessing (the
    // hashes can be a fast sha256 rather than a password hash because the input has full entropy).
    unsigned char bytes[32];
    if (auto r = sandbox::sys::random_bytes(bytes, sizeof bytes); !r)
        return sandbox::fail(std::move(r).error());
    // base64url without padding (RFC 4648 section 5): safe in headers, URLs and JSON as is.
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out = kTokenPrefix;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

BearerHeader bearer_token(const std::optional<std::string>& header, std::string& token) {
    if (!header) return BearerHeader::Absent;
    std::string_view v = *header;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    size_t space = v.find(' ');
    if (!ascii_iequals(v.substr(0, space), "Bearer")) return BearerHeader::NotBearer;
    if (space == std::string_view::npos) return BearerHeader::Malformed;
    std::string_view t = v.substr(space + 1);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    if (t.empty() || t.size() > kMaxTokenChars || !token68(t)) return BearerHeader::Malformed;
    token.assign(t);
    return BearerHeader::Ok;
}

std::shared_ptr<const TokenEntry> TokenVerifier::verify(std::string_view token) const {
    if (token.empty()) return nullptr;
    std::shared_ptr<const TokenFile> file = file_.load();
    // Compared as hashes, so the comparison never sees the secret itself, and every candidate
    // is 64 bytes long whatever was presented. CRYPTO_memcmp takes the same time whichever byte
    // differs; no early exit from the loop either, so a match at entry 0 costs what a miss does.
    std::string presented = sandbox::sha256_hex(token);
    if (presented.size() != 64) return nullptr;  // OpenSSL failed: fail closed
    const TokenEntry* match = nullptr;
    for (const auto& entry : file->clients) {
        bool same = entry.sha256.size() == presented.size() &&
                    CRYPTO_memcmp(entry.sha256.data(), presented.data(), presented.size()) == 0;
        if (same) match = &entry;
    }
    // Shares ownership of the whole file: the entry outlives a replace().
    return match ? std::shared_ptr<const TokenEntry>(file, match) : nullptr;
}

}  // namespace runtime::auth
