// SHA-256 over OpenSSL's EVP interface, for the output pumps (sandbox/run.cc) and the run
// records (runtime/record_*). Parent side only: allocates, never call between fork and exec.
#pragma once

#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace sandbox {

// Incremental digest. update() any number of times, then hex_digest() once.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&& other) noexcept;
    Sha256& operator=(Sha256&& other) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(std::string_view data);
    // 64 lowercase hex digits. Finalizes: later update()/hex_digest() calls are ignored and
    // return "". Also "" when OpenSSL could not allocate a context (never silently wrong).
    std::string hex_digest();

private:
    evp_md_ctx_st* ctx_ = nullptr;
    bool failed_ = false;
};

// One-shot: sha256 of data as 64 lowercase hex digits ("" only if OpenSSL fails).
std::string sha256_hex(std::string_view data);

}  // namespace sandbox
