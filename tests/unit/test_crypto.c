/*
 * test_crypto.c — crypto.c against published vectors (AES-256-GCM from
 * the GCM specification, HKDF-SHA256 from RFC 5869, SHA-256 from FIPS
 * 180-2) and every way an AEAD open must fail.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "testutil.h"

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16. */
static const char gcm_key[] =
	"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char gcm_iv[] = "cafebabefacedbaddecaf888";
static const char gcm_pt[] =
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char gcm_aad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char gcm_ct[] =
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
static const char gcm_tag[] = "76fc6ece0f4e1768cddf8853bb2d551b";

struct gcm_case {
	uint8_t key[AEAD_KEY_LEN], iv[AEAD_NONCE_LEN], tag[AEAD_TAG_LEN];
	uint8_t pt[64], ct[64], aad[20];
	size_t ptlen, aadlen;
};

static void load_case(struct gcm_case *c)
{
	tu_unhex(gcm_key, c->key);
	tu_unhex(gcm_iv, c->iv);
	c->ptlen = tu_unhex(gcm_pt, c->pt);
	tu_unhex(gcm_ct, c->ct);
	c->aadlen = tu_unhex(gcm_aad, c->aad);
	tu_unhex(gcm_tag, c->tag);
}

static void test_gcm_known_answer(void **state)
{
	struct gcm_case c;
	uint8_t out[64], tag[AEAD_TAG_LEN];

	load_case(&c);
	assert_int_equal(crypto_aead_seal(c.key, c.iv, c.aad, c.aadlen, c.pt, c.ptlen, out, tag), 0);
	assert_memory_equal(out, c.ct, c.ptlen);
	assert_memory_equal(tag, c.tag, AEAD_TAG_LEN);
	assert_int_equal(crypto_aead_open(c.key, c.iv, c.aad, c.aadlen, c.ct, c.ptlen, out, c.tag), 0);
	assert_memory_equal(out, c.pt, c.ptlen);
}

/* Test case 13: zero key, zero IV, nothing to encrypt — only the tag. */
static void test_gcm_empty(void **state)
{
	uint8_t key[AEAD_KEY_LEN] = { 0 }, iv[AEAD_NONCE_LEN] = { 0 };
	uint8_t tag[AEAD_TAG_LEN], want[AEAD_TAG_LEN], dummy[1];

	tu_unhex("530f8afbc74536b9a963b4f1c4cb738b", want);
	assert_int_equal(crypto_aead_seal(key, iv, NULL, 0, dummy, 0, dummy, tag), 0);
	assert_memory_equal(tag, want, AEAD_TAG_LEN);
	assert_int_equal(crypto_aead_open(key, iv, NULL, 0, dummy, 0, dummy, want), 0);
}

static void test_gcm_in_place(void **state)
{
	struct gcm_case c;
	uint8_t buf[64], tag[AEAD_TAG_LEN];

	load_case(&c);
	memcpy(buf, c.pt, c.ptlen);
	assert_int_equal(crypto_aead_seal(c.key, c.iv, c.aad, c.aadlen, buf, c.ptlen, buf, tag), 0);
	assert_memory_equal(buf, c.ct, c.ptlen);
	assert_int_equal(crypto_aead_open(c.key, c.iv, c.aad, c.aadlen, buf, c.ptlen, buf, tag), 0);
	assert_memory_equal(buf, c.pt, c.ptlen);
}

/* Opens with one byte of one input flipped; must fail and leave no
 * plaintext behind. which: 0 key, 1 nonce, 2 aad, 3 ct, 4 tag. */
static void open_tampered(int which, size_t pos)
{
	struct gcm_case c;
	uint8_t out[64], zero[64] = { 0 };
	uint8_t *target[] = { c.key, c.iv, c.aad, c.ct, c.tag };

	load_case(&c);
	target[which][pos] ^= 0x01;
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(crypto_aead_open(c.key, c.iv, c.aad, c.aadlen, c.ct, c.ptlen, out, c.tag),
			 -EIO);
	assert_memory_equal(out, zero, c.ptlen);
}

static void test_gcm_tamper(void **state)
{
	const size_t lens[] = { AEAD_KEY_LEN, AEAD_NONCE_LEN, 20, 60, AEAD_TAG_LEN };

	for (int which = 0; which < 5; which++)
		for (size_t pos = 0; pos < lens[which]; pos++)
			open_tampered(which, pos);
}

static void test_gcm_aad_length_matters(void **state)
{
	struct gcm_case c;
	uint8_t out[64];

	load_case(&c);
	assert_int_equal(crypto_aead_open(c.key, c.iv, c.aad, c.aadlen - 1, c.ct, c.ptlen, out,
					  c.tag), -EIO);
	assert_int_equal(crypto_aead_open(c.key, c.iv, NULL, 0, c.ct, c.ptlen, out, c.tag), -EIO);
	assert_int_equal(crypto_aead_open(c.key, c.iv, c.aad, c.aadlen, c.ct, c.ptlen - 1, out,
					  c.tag), -EIO);
}

/* RFC 5869 A.1 (HKDF-SHA256, basic) and A.3 (no salt, no info). */
static void test_hkdf_rfc5869(void **state)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	tu_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		 "34007208d5b887185865", want);
	assert_int_equal(crypto_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
				     okm, sizeof(okm)), 0);
	assert_memory_equal(okm, want, sizeof(okm));

	tu_unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		 "9d201395faa4b61a96c8", want);
	assert_int_equal(crypto_hkdf(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm, sizeof(okm)), 0);
	assert_memory_equal(okm, want, sizeof(okm));
}

static void test_sha256(void **state)
{
	uint8_t h[SHA256_LEN], want[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	tu_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	crypto_sha256("abc", 3, h);
	assert_memory_equal(h, want, SHA256_LEN);
	crypto_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_random_and_wipe(void **state)
{
	uint8_t a[32], b[32], zero[32] = { 0 };

	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), 0);
	(void)crypto_random_u32(NULL);
	crypto_wipe(a, sizeof(a));
	assert_memory_equal(a, zero, sizeof(a));
	crypto_wipe(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_known_answer),
		cmocka_unit_test(test_gcm_empty),
		cmocka_unit_test(test_gcm_in_place),
		cmocka_unit_test(test_gcm_tamper),
		cmocka_unit_test(test_gcm_aad_length_matters),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_random_and_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
