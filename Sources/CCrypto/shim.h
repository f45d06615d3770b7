#pragma once
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/// SHA-256 of `length` bytes into `out` (32 bytes); returns 1 on success.
static inline int pingroll_sha256(const void *data, size_t length, unsigned char *out) {
    unsigned int written = 0;
    return EVP_Digest(data, length, out, &written, EVP_sha256(), NULL);
}

#include <openssl/hmac.h>

/// HMAC-SHA256 of `length` bytes under `key` into `out` (32 bytes); returns 1 on success.
static inline int pingroll_hmac_sha256(const void *key, size_t key_length, const void *data, size_t length, unsigned char *out) {
    unsigned int written = 0;
    return HMAC(EVP_sha256(), key, (int)key_length, data, length, out, &written) != NULL && written == 32;
}

/// AES-256-GCM: seals `length` bytes under a 32-byte key with a 12-byte nonce into `out`
/// (`length` bytes) and `tag` (16 bytes); returns 1 on success.
static inline int pingroll_aes256gcm_seal(const unsigned char *key, const unsigned char *nonce, const unsigned char *in, int length,
                                          unsigned char *out, unsigned char *tag) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) return 0;
    int n = 0, ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1
        && EVP_EncryptUpdate(ctx, out, &n, in, length) == 1
        && EVP_EncryptFinal_ex(ctx, out + n, &n) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/// Opens what `pingroll_aes256gcm_seal` sealed; returns 1 only when the tag matches.
static inline int pingroll_aes256gcm_open(const unsigned char *key, const unsigned char *nonce, const unsigned char *in, int length,
                                          const unsigned char *tag, unsigned char *out) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) return 0;
    int n = 0, ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1
        && EVP_DecryptUpdate(ctx, out, &n, in, length) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1
        && EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
