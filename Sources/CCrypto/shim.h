#pragma once
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/// SHA-256 of `length` bytes into `out` (32 bytes); returns 1 on success.
static inline int pingroll_sha256(const void *data, size_t length, unsigned char *out) {
    unsigned int written = 0;
    return EVP_Digest(data, length, out, &written, EVP_sha256(), NULL);
}
