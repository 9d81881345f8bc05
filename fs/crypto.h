/*
 * crypto.h — the only door to OpenSSL (crypto.c is the only file that
 * includes it): random bytes, AES-256-GCM, HKDF-SHA256, SHA-256, wiping.
 *
 * Every function checks every EVP return and turns failure into -errno:
 * a failed authentication tag is -EIO, anything else OpenSSL refuses is
 * -EIO too (logged once with the OpenSSL reason, never with key bytes).
 */
#ifndef GEOFS_CRYPTO_H
#define GEOFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN   32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN   16
#define SHA256_LEN     32

/* Fills buf with cryptographically random bytes. 0 or -EIO. */
int crypto_random(void *buf, size_t len);

/* Random 32-bit value; aborts if the RNG fails (placement uses it). */
uint32_t crypto_random_u32(void *unused);

/* AES-256-GCM encrypt len bytes from in to out (in == out allowed), tag out.
 * 0 or -EIO. */
int crypto_aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN],
		     const void *aad, size_t aadlen, const void *in, size_t len,
		     void *out, uint8_t tag[AEAD_TAG_LEN]);

/* AES-256-GCM decrypt and verify. 0, or -EIO if the tag does not verify
 * (out then holds nothing usable: callers must discard it). */
int crypto_aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN],
		     const void *aad, size_t aadlen, const void *in, size_t len,
		     void *out, const uint8_t tag[AEAD_TAG_LEN]);

/* HKDF-SHA256 (RFC 5869). 0 or -EIO. */
int crypto_hkdf(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
		const void *info, size_t infolen, void *out, size_t outlen);

/* SHA-256 of a buffer. */
void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Lower-case hex of a SHA-256 (65 bytes with NUL). */
void crypto_sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1]);

/* Wipes secrets so the compiler cannot elide it (OPENSSL_cleanse). */
void crypto_wipe(void *p, size_t len);

#endif
