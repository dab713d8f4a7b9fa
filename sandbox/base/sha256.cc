#include "sandbox/base/sha256.h"

#include <utility>

#include <openssl/evp.h>

namespace sandbox {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) failed_ = true;
}

Sha256::~Sha256() {
    if (ctx_) EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), failed_(std::exchange(other.failed_, true)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
    if (this != &other) {
        if (ctx_) EVP_MD_CTX_free(ctx_);
        ctx_ = std::exchange(other.ctx_, nullptr);
        failed_ = std::exchange(other.failed_, true);
    }
    return *this;
}

void Sha256::update(std::string_view data) {
    if (failed_ || data.empty()) return;
    if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) failed_ = true;
}

std::string Sha256::hex_digest() {
    if (failed_) return "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    failed_ = true;  // finalized
    if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) return "";
    static const char kHex[] = "0123456789abcdef";
    std::string hex(len * 2, '0');
    for (unsigned int i = 0; i < len; ++i) {
        hex[2 * i] = kHex[md[i] >> 4];
        hex[2 * i + 1] = kHex[md[i] & 0xf];
    }
    return hex;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.hex_digest();
}

}  // namespace sandbox
