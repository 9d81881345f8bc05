/*
 * crypto.c — the only file that includes OpenSSL: RNG, AES-256-GCM,
 * HKDF-SHA256, SHA-256 and wiping, each turned into -errno. See crypto.h.
 *
 * The cipher, digest and KDF implementations are fetched once per process
 * (EVP_*_fetch) and reused; each call makes its own short-lived context,
 * so every function here is thread safe. Messages carry the OpenSSL reason
 * only, never key or data bytes; an authentication failure is not logged
 * here (the caller decides how to audit it).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "log.h"

/* EVP length arguments are int: feed large buffers in chunks of this. */
#define EVP_CHUNK (1 << 30)

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_gcm;
static EVP_MD *sha256;
static EVP_KDF *hkdf;

static void fetch_algorithms(void)
{
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* Logs what OpenSSL refused (its reason string, no data) and empties the
 * thread's error queue. Always returns -EIO for the caller to pass on. */
static int ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256];

	if (e) {
		ERR_error_string_n(e, reason, sizeof(reason));
		log_err("crypto: %s failed: %s", what, reason);
	} else {
		log_err("crypto: %s failed", what);
	}
	ERR_clear_error();
	return -EIO;
}

static int ensure_fetched(void)
{
	pthread_once(&fetch_once, fetch_algorithms);
	if (!aes_gcm || !sha256 || !hkdf)
		return ossl_fail("fetching AES-256-GCM, SHA256 or HKDF");
	return 0;
}

int crypto_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		int n = len > EVP_CHUNK ? EVP_CHUNK : (int)len;

		if (RAND_bytes(p, n) != 1)
			return ossl_fail("RAND_bytes");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint32_t crypto_random_u32(void *unused)
{
	uint32_t v;

	(void)unused;
	if (crypto_random(&v, sizeof(v)) != 0)
		abort();	/* no safe fallback for randomness */
	return v;
}

/* Runs EVP_{En,De}cryptUpdate over len bytes in int-sized chunks. */
static int aead_update(EVP_CIPHER_CTX *ctx, bool enc, const unsigned char *in, size_t len,
		       unsigned char *out)
{
	while (len > 0) {
		int n = len > EVP_CHUNK ? EVP_CHUNK : (int)len;
		int outl = 0;
		int ok = enc ? EVP_EncryptUpdate(ctx, out, &outl, in, n)
			     : EVP_DecryptUpdate(ctx, out, &outl, in, n);

		if (ok != 1 || (out && outl != n))
			return -EIO;
		in += n;
		if (out)
			out += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Shared body of seal and open. Returns 0, -EIO on an OpenSSL failure
 * (logged), or -EBADMSG when the tag does not verify (not logged). */
static int aead_run(bool enc, const uint8_t *key, const uint8_t *nonce, const void *aad,
		    size_t aadlen, const void *in, size_t len, void *out, uint8_t *tag)
{
	unsigned char fin[AEAD_TAG_LEN];	/* GCM's Final writes nothing */
	EVP_CIPHER_CTX *ctx;
	int outl = 0;
	int ret;

	ret = ensure_fetched();
	if (ret)
		return ret;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ossl_fail("EVP_CIPHER_CTX_new");

	/* AES-GCM's default IV length is 12 bytes == AEAD_NONCE_LEN. */
	ret = enc ? EVP_EncryptInit_ex2(ctx, aes_gcm, key, nonce, NULL)
		  : EVP_DecryptInit_ex2(ctx, aes_gcm, key, nonce, NULL);
	if (ret != 1) {
		ret = ossl_fail("AES-GCM init");
		goto out_ctx;
	}
	if ((aadlen && aead_update(ctx, enc, aad, aadlen, NULL)) ||
	    aead_update(ctx, enc, in, len, out)) {
		ret = ossl_fail("AES-GCM update");
		goto out_ctx;
	}
	if (enc) {
		if (EVP_EncryptFinal_ex(ctx, fin, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, tag) != 1) {
			ret = ossl_fail("AES-GCM final");
			goto out_ctx;
		}
	} else {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1) {
			ret = ossl_fail("AES-GCM set tag");
			goto out_ctx;
		}
		if (EVP_DecryptFinal_ex(ctx, fin, &outl) != 1) {
			ERR_clear_error();
			ret = -EBADMSG;
			goto out_ctx;
		}
	}
	ret = 0;
out_ctx:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/* OpenSSL's frames (key schedule, GHASH key) can leave key bytes on the
 * stack of the thread that ran them, where no caller can wipe them. After
 * each keyed call, the stack those frames used (below the caller's frame)
 * is overwritten. Not inlined, so that buf lies where they were. */
#define BURN_STACK_BYTES (16 * 1024)

static void __attribute__((noinline)) burn_stack(void)
{
	unsigned char buf[BURN_STACK_BYTES];

	OPENSSL_cleanse(buf, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
}

int crypto_aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN],
		     const void *aad, size_t aadlen, const void *in, size_t len,
		     void *out, uint8_t tag[AEAD_TAG_LEN])
{
	int ret = aead_run(true, key, nonce, aad, aadlen, in, len, out, tag);

	burn_stack();
	return ret;
}

int crypto_aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN],
		     const void *aad, size_t aadlen, const void *in, size_t len,
		     void *out, const uint8_t tag[AEAD_TAG_LEN])
{
	int ret = aead_run(false, key, nonce, aad, aadlen, in, len, out, (uint8_t *)tag);

	burn_stack();
	if (ret == -EBADMSG) {
		/* Unauthenticated plaintext must not survive a failed open. */
		crypto_wipe(out, len);
		ret = -EIO;
	}
	return ret;
}

int crypto_hkdf(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
		const void *info, size_t infolen, void *out, size_t outlen)
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *kctx;
	int ret;

	ret = ensure_fetched();
	if (ret)
		return ret;
	kctx = EVP_KDF_CTX_new(hkdf);
	if (!kctx)
		return ossl_fail("EVP_KDF_CTX_new");
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
	if (saltlen)	/* RFC 5869: no salt means HashLen zero bytes, OpenSSL's default */
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 saltlen);
	if (infolen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1)
		ret = ossl_fail("HKDF-SHA256");
	EVP_KDF_CTX_free(kctx);
	burn_stack();
	return ret;
}

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int outl = 0;

	/* A digest over memory cannot fail short of a broken libcrypto, and
	 * the void contract leaves no way to report it: stop rather than
	 * hand back a wrong hash (it chains the audit log). */
	if (ensure_fetched() != 0 ||
	    EVP_Digest(data, len, out, &outl, sha256, NULL) != 1 || outl != SHA256_LEN) {
		ossl_fail("SHA-256");
		abort();
	}
}

void crypto_sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t h[SHA256_LEN];

	crypto_sha256(data, len, h);
	for (int i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * SHA256_LEN] = '\0';
}

void crypto_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}
