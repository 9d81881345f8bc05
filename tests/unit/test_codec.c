/*
 * test_codec.c — shard objects: round trips, the pinned object layouts
 * (v1 unpadded, v2 Padmé-padded), objects written before padding still
 * decoding, padded objects taking only Padmé bucket sizes, and every
 * tampering, truncation and substitution a backend could attempt, each of
 * which must be -EIO. The generic tests run once per version.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "compress.h"
#include "config.h"
#include "testutil.h"

_Static_assert(CFG_SHARD_MAX <= CODEC_SHARD_MAX, "a shard_size the config accepts must fit an object");

#define MIB (1024 * 1024)

static uint8_t key[AEAD_KEY_LEN];
static const struct shard_addr addr0 = { .file = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
						     13, 14, 15, 16 } },
					 .index = 7, .gen = 42 };

static bool pad;	/* the version the generic tests encode */

static int setup(void **state)
{
	tu_fill(key, sizeof(key), 1);
	return 0;
}

static int setup_v1(void **state)
{
	pad = false;
	return 0;
}

static int setup_v2(void **state)
{
	pad = true;
	return 0;
}

/* Encodes len bytes of data; returns a malloc'ed object, *objlen set. */
static uint8_t *encode(const void *data, size_t len, bool compress, size_t *objlen)
{
	uint8_t *obj = malloc(codec_max_object(len));
	int n;

	assert_non_null(obj);
	n = codec_encode(key, &addr0, compress, pad, data, len, obj, codec_max_object(len));
	assert_true(n >= (int)(pad ? CODEC_OVERHEAD2 : CODEC_OVERHEAD));
	assert_true((size_t)n <= codec_max_object(len));
	*objlen = (size_t)n;
	return obj;
}

/* Encodes then decodes; returns the object length. */
static size_t round_trip(const void *data, size_t len, bool compress)
{
	size_t objlen;
	uint8_t *obj = encode(data, len, compress, &objlen);
	uint8_t *out = malloc(len + 1);

	assert_non_null(out);
	assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, len), (int)len);
	assert_memory_equal(out, data, len);
	free(out);
	free(obj);
	return objlen;
}

static void test_round_trip_small(void **state)
{
	uint8_t one = 0x5a;

	assert_int_equal(round_trip(&one, 0, true), CODEC_OVERHEAD);
	assert_int_equal(round_trip(&one, 0, false), CODEC_OVERHEAD);
	assert_int_equal(round_trip(&one, 1, true), 1 + CODEC_OVERHEAD);
	assert_int_equal(round_trip(&one, 1, false), 1 + CODEC_OVERHEAD);
}

static void test_round_trip_random(void **state)
{
	uint8_t *data = malloc(MIB);

	tu_fill(data, MIB, 2);
	/* incompressible: LZ4 is not kept, the object is raw + overhead */
	assert_int_equal(round_trip(data, MIB, true), MIB + CODEC_OVERHEAD);
	assert_int_equal(round_trip(data, MIB, false), MIB + CODEC_OVERHEAD);
	free(data);
}

static void test_round_trip_compressible(void **state)
{
	uint8_t *data = malloc(MIB);

	for (size_t i = 0; i < MIB; i++)
		data[i] = (uint8_t)("geofs keeps data at home. "[i % 26]);
	assert_true(round_trip(data, MIB, true) < MIB / 50);
	assert_int_equal(round_trip(data, MIB, false), MIB + CODEC_OVERHEAD);
	free(data);
}

static void test_largest_shard(void **state)
{
	uint8_t *data = calloc(1, CFG_SHARD_MAX + 1);
	uint8_t *obj = malloc(codec_max_object(CFG_SHARD_MAX + 1));

	assert_true(round_trip(data, CFG_SHARD_MAX, true) < CFG_SHARD_MAX / 100);
	assert_int_equal(codec_encode(key, &addr0, true, pad, data, CFG_SHARD_MAX + 1, obj,
				      codec_max_object(CFG_SHARD_MAX + 1)), -EINVAL);
	free(obj);
	free(data);
}

static void test_encode_needs_room(void **state)
{
	uint8_t data[100] = { 0 }, obj[100 + CODEC_OVERHEAD];

	assert_int_equal(codec_encode(key, &addr0, true, false, data, sizeof(data), obj,
				      sizeof(obj) - 1), -EINVAL);
	assert_int_equal(codec_encode(key, &addr0, true, true, data, sizeof(data), obj,
				      sizeof(obj)), -EINVAL);	/* padding needs more */
}

static void test_decode_needs_room(void **state)
{
	uint8_t data[100], out[100];
	size_t objlen;
	uint8_t *obj;

	tu_fill(data, sizeof(data), 3);
	obj = encode(data, sizeof(data), false, &objlen);
	assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, sizeof(out) - 1), -EIO);
	assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, sizeof(out)), 100);
	free(obj);
}

static void test_nonces_differ(void **state)
{
	uint8_t data[64] = { 0 };
	size_t l1, l2;
	uint8_t *o1 = encode(data, sizeof(data), true, &l1);
	uint8_t *o2 = encode(data, sizeof(data), true, &l2);

	assert_int_equal(l1, l2);
	assert_memory_not_equal(o1 + 8, o2 + 8, AEAD_NONCE_LEN);
	assert_memory_not_equal(o1 + CODEC_HDR_LEN, o2 + CODEC_HDR_LEN, l1 - CODEC_HDR_LEN);
	free(o1);
	free(o2);
}

/* The object carries nothing in clear but magic, version and nonce. */
static void test_header_layout(void **state)
{
	uint8_t data[10] = "0123456789";
	size_t objlen;
	uint8_t *obj = encode(data, sizeof(data), false, &objlen);

	assert_memory_equal(obj, "GEOS\x01\0\0\0", 8);
	assert_int_equal(objlen, CODEC_HDR_LEN + CODEC_INNER_LEN + sizeof(data) + AEAD_TAG_LEN);
	assert_null(memmem(obj, objlen, data, 4));
	assert_null(memmem(obj, objlen, addr0.file.b, 4));
	free(obj);
}

/* Every single-bit flip anywhere in an object (header, nonce, ciphertext,
 * tag), compressed or not, is -EIO. */
static void flip_every_bit(bool compress)
{
	uint8_t data[200], out[200];
	size_t objlen;
	uint8_t *obj;

	memset(data, 'a', 100);
	tu_fill(data + 100, 100, 4);
	obj = encode(data, sizeof(data), compress, &objlen);
	for (size_t i = 0; i < objlen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			obj[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, sizeof(out)),
					 -EIO);
			obj[i] ^= (uint8_t)(1 << bit);
		}
	}
	assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, sizeof(out)), 200);
	free(obj);
}

static void test_bit_flips(void **state)
{
	flip_every_bit(false);
	flip_every_bit(true);
}

static void test_bit_flips_large(void **state)
{
	uint8_t *data = malloc(MIB), *out = malloc(MIB);
	const size_t where[] = { 0, 4, 8, 19, 20, 24, 25, 4096, MIB / 2, MIB + 24, MIB + 39 };
	size_t objlen;
	uint8_t *obj;

	tu_fill(data, MIB, 5);
	obj = encode(data, MIB, true, &objlen);
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		assert_true(where[i] < objlen);
		obj[where[i]] ^= 0x80;
		assert_int_equal(codec_decode(key, &addr0, obj, objlen, out, MIB), -EIO);
		obj[where[i]] ^= 0x80;
	}
	free(obj);
	free(out);
	free(data);
}

static void test_truncation_and_extension(void **state)
{
	uint8_t data[300], out[300];
	size_t objlen;
	uint8_t *obj, *big;

	memset(data, 'z', 150);
	tu_fill(data + 150, 150, 6);
	obj = encode(data, sizeof(data), true, &objlen);
	for (size_t len = 0; len < objlen; len++)
		assert_int_equal(codec_decode(key, &addr0, obj, len, out, sizeof(out)), -EIO);
	big = calloc(1, objlen + 1);
	memcpy(big, obj, objlen);
	assert_int_equal(codec_decode(key, &addr0, big, objlen + 1, out, sizeof(out)), -EIO);
	free(big);
	free(obj);
}

static void test_wrong_key_and_address(void **state)
{
	uint8_t data[100], out[100], badkey[AEAD_KEY_LEN];
	struct shard_addr a;
	size_t objlen;
	uint8_t *obj;

	tu_fill(data, sizeof(data), 7);
	obj = encode(data, sizeof(data), true, &objlen);

	memcpy(badkey, key, sizeof(badkey));
	badkey[31] ^= 1;
	assert_int_equal(codec_decode(badkey, &addr0, obj, objlen, out, sizeof(out)), -EIO);
	a = addr0;
	a.file.b[15] ^= 1;
	assert_int_equal(codec_decode(key, &a, obj, objlen, out, sizeof(out)), -EIO);
	a = addr0;
	a.index++;
	assert_int_equal(codec_decode(key, &a, obj, objlen, out, sizeof(out)), -EIO);
	a = addr0;
	a.gen--;
	assert_int_equal(codec_decode(key, &a, obj, objlen, out, sizeof(out)), -EIO);
	a = addr0;
	a.index |= UINT64_C(1) << 63;	/* every AAD byte counts */
	assert_int_equal(codec_decode(key, &a, obj, objlen, out, sizeof(out)), -EIO);
	free(obj);
}

/* Object of shard 7 handed back for shard 8 and vice versa. */
static void test_swapped_objects(void **state)
{
	uint8_t d7[100], d8[100], o7[200], o8[200], out[100];
	struct shard_addr a8 = addr0;
	int l7, l8;

	a8.index = 8;
	tu_fill(d7, sizeof(d7), 8);
	tu_fill(d8, sizeof(d8), 9);
	l7 = codec_encode(key, &addr0, true, pad, d7, sizeof(d7), o7, sizeof(o7));
	l8 = codec_encode(key, &a8, true, pad, d8, sizeof(d8), o8, sizeof(o8));
	assert_true(l7 > 0 && l8 > 0);
	assert_int_equal(codec_decode(key, &addr0, o8, (size_t)l8, out, sizeof(out)), -EIO);
	assert_int_equal(codec_decode(key, &a8, o7, (size_t)l7, out, sizeof(out)), -EIO);
	assert_int_equal(codec_decode(key, &a8, o8, (size_t)l8, out, sizeof(out)), 100);
}

/* Builds an object by hand from codec.h's documentation: pins the format,
 * and lets us check what decode does with authentic but bad plaintext. */
static size_t forge(uint8_t *obj, uint8_t codec_id, uint32_t rawlen, const void *payload,
		    size_t plen)
{
	uint8_t aad[14 + 16 + 8 + 8], *pt = obj + CODEC_HDR_LEN;

	memcpy(obj, "GEOS\x01\0\0\0", 8);
	memset(obj + 8, 0x33, AEAD_NONCE_LEN);
	pt[0] = codec_id;
	for (int i = 0; i < 4; i++)
		pt[1 + i] = (uint8_t)(rawlen >> (8 * i));
	memcpy(pt + CODEC_INNER_LEN, payload, plen);
	memcpy(aad, "geofs-shard-v1", 14);
	memcpy(aad + 14, addr0.file.b, 16);
	for (int i = 0; i < 8; i++) {
		aad[30 + i] = (uint8_t)(addr0.index >> (8 * i));
		aad[38 + i] = (uint8_t)(addr0.gen >> (8 * i));
	}
	assert_int_equal(crypto_aead_seal(key, obj + 8, aad, sizeof(aad), pt,
					  CODEC_INNER_LEN + plen, pt,
					  pt + CODEC_INNER_LEN + plen), 0);
	return CODEC_OVERHEAD + plen;
}

static void test_forged_layout(void **state)
{
	const struct compress_codec *lz4 = compress_by_name("lz4");
	uint8_t obj[512], out[256], raw[256], packed[256];
	size_t n;
	int clen;

	memset(raw, 'q', sizeof(raw));
	n = forge(obj, CODEC_RAW, 5, "hello", 5);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);

	clen = lz4->compress(raw, sizeof(raw), packed, sizeof(packed));
	assert_true(clen > 0 && clen < (int)sizeof(raw));
	n = forge(obj, CODEC_LZ4, sizeof(raw), packed, (size_t)clen);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), (int)sizeof(raw));
	assert_memory_equal(out, raw, sizeof(raw));

	/* authentic, but wrong inside: all -EIO */
	n = forge(obj, 9, 5, "hello", 5);			/* unknown codec */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_RAW, 4, "hello", 5);		/* raw length mismatch */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_RAW, 6, "hello", 5);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_LZ4, sizeof(raw) - 1, packed, (size_t)clen);	/* short */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_LZ4, sizeof(raw), "\xff\xff\xff\xff", 4);	/* garbage */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_LZ4, 0, "", 0);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_RAW, UINT32_MAX, "hello", 5);	/* absurd length */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge(obj, CODEC_RAW, 5, "hello", 5);
	obj[4] = 2;						/* future version */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
}

/* ---- padding (v2) ---- */

static void test_padme_values(void **state)
{
	size_t prev = 0;

	assert_int_equal(codec_padme(0), 0);
	assert_int_equal(codec_padme(1), 1);
	assert_int_equal(codec_padme(1000), 1024);
	assert_int_equal(codec_padme(1025), 1088);
	assert_int_equal(codec_padme(MIB + CODEC_OVERHEAD2), MIB + 32768);
	for (size_t l = 2; l <= 4 * MIB; l++) {
		size_t p = codec_padme(l);

		assert_true(p >= l && p >= prev);
		assert_true(p - l <= l * 12 / 100);		/* at most 12% */
		if (l % 4093 == 0 || l < 5000)
			assert_int_equal(codec_padme(p), p);	/* a bucket is its own pad */
		prev = p;
	}
	/* O(log log n) bits: few buckets per power of two */
	for (unsigned e = 4; e < 24; e++) {
		size_t buckets = 0, last = 0;

		for (size_t l = (size_t)1 << e; l < (size_t)1 << (e + 1); l++) {
			if (codec_padme(l) != last)
				buckets++;
			last = codec_padme(l);
		}
		/* 2^(floor(log2 e) + 1) <= 2e steps, plus 2^(e+1) itself */
		assert_true(buckets <= ((size_t)2 << (31 - __builtin_clz(e))) + 1);
	}
}

/* Encodes data[0..len) padded and checks the object: a Padmé length,
 * exactly padme(len + overhead) when incompressible, and a round trip. */
static size_t padded_trip(const uint8_t *data, size_t len, bool compress, bool incompressible,
			  uint8_t *obj, uint8_t *out)
{
	int n = codec_encode(key, &addr0, compress, true, data, len, obj, codec_max_object(len));

	assert_true(n > 0);
	assert_int_equal(obj[4], 2);
	assert_int_equal(codec_padme((size_t)n), (size_t)n);
	if (incompressible)
		assert_int_equal((size_t)n, codec_padme(len + CODEC_OVERHEAD2));
	assert_int_equal(codec_decode(key, &addr0, obj, (size_t)n, out, len), (int)len);
	assert_memory_equal(out, data, len);
	return (size_t)n;
}

static void test_padded_objects_take_bucket_sizes(void **state)
{
	uint8_t *rnd = malloc(MIB), *txt = malloc(MIB), *out = malloc(MIB);
	uint8_t *obj = malloc(codec_max_object(MIB));
	size_t sizes[8], nsizes = 0;

	assert_true(rnd && txt && out && obj);
	tu_fill(rnd, MIB, 11);
	for (size_t i = 0; i < MIB; i++)	/* half text, half noise: compresses some */
		txt[i] = i % 64 < 32 ? (uint8_t)"residency "[i % 10] : rnd[i];
	for (size_t len = 1; len <= 4096; len++) {
		padded_trip(rnd, len, true, true, obj, out);
		padded_trip(rnd, len, false, true, obj, out);
		padded_trip(txt, len, true, false, obj, out);
	}
	for (size_t len = 4097; len <= MIB; len += 7919) {
		padded_trip(rnd, len, true, true, obj, out);
		padded_trip(txt, len, true, false, obj, out);
	}
	padded_trip(rnd, MIB, true, true, obj, out);
	/* the sizes of files of 1000..1100 incompressible bytes: a few buckets */
	for (size_t len = 1000; len <= 1100; len++) {
		size_t n = padded_trip(rnd, len, true, true, obj, out), k;

		for (k = 0; k < nsizes && sizes[k] != n; k++)
			;
		if (k == nsizes) {
			assert_true(nsizes < 3);
			sizes[nsizes++] = n;
		}
	}
	assert_int_equal(nsizes, 2);
	free(obj);
	free(out);
	free(txt);
	free(rnd);
}

/* A v2 object built by hand from codec.h: plaintext (codec id, raw length,
 * payload length, payload, then pad bytes of padval) sealed under label,
 * total bytes in all. */
static size_t forge2(uint8_t *obj, const char *label, uint8_t version, uint8_t codec_id,
		     uint32_t rawlen, uint32_t plen_field, const void *payload, size_t plen,
		     uint8_t padval, size_t total)
{
	uint8_t aad[14 + 16 + 8 + 8], *pt = obj + CODEC_HDR_LEN;
	size_t ptlen = total - CODEC_HDR_LEN - AEAD_TAG_LEN;

	assert_true(ptlen >= CODEC_INNER2_LEN + plen);
	memcpy(obj, "GEOS\0\0\0\0", 8);
	obj[4] = version;
	memset(obj + 8, 0x44, AEAD_NONCE_LEN);
	pt[0] = codec_id;
	for (int i = 0; i < 4; i++) {
		pt[1 + i] = (uint8_t)(rawlen >> (8 * i));
		pt[5 + i] = (uint8_t)(plen_field >> (8 * i));
	}
	memcpy(pt + CODEC_INNER2_LEN, payload, plen);
	memset(pt + CODEC_INNER2_LEN + plen, padval, ptlen - CODEC_INNER2_LEN - plen);
	memcpy(aad, label, 14);
	memcpy(aad + 14, addr0.file.b, 16);
	for (int i = 0; i < 8; i++) {
		aad[30 + i] = (uint8_t)(addr0.index >> (8 * i));
		aad[38 + i] = (uint8_t)(addr0.gen >> (8 * i));
	}
	assert_int_equal(crypto_aead_seal(key, obj + 8, aad, sizeof(aad), pt, ptlen, pt,
					  pt + ptlen), 0);
	return total;
}

/* The true length is authenticated: padding cannot be made content, and
 * the version cannot be swapped. */
static void test_padded_layout(void **state)
{
	const char *v2 = "geofs-shard-v2", *v1 = "geofs-shard-v1";
	uint8_t obj[512], out[256], data[100];
	size_t n, total = codec_padme(CODEC_OVERHEAD2 + 5);
	int len;

	n = forge2(obj, v2, 2, CODEC_RAW, 5, 5, "hello", 5, 0, total);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	/* a payload length that runs past the end */
	n = forge2(obj, v2, 2, CODEC_RAW, 5, 200, "hello", 5, 0, total);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge2(obj, v2, 2, CODEC_RAW, 5, 4, "hello", 5, 0, total);	/* raw != payload */
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	/* padding that is not zeros */
	n = forge2(obj, v2, 2, CODEC_RAW, 5, 5, "hello", 5, 'x', total);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	/* a v2 plaintext under the v1 label, and a v2 object with a length
	 * that is no Padmé bucket */
	n = forge2(obj, v1, 2, CODEC_RAW, 5, 5, "hello", 5, 0, total);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	n = forge2(obj, v2, 2, CODEC_RAW, 5, 5, "hello", 5, 0, CODEC_OVERHEAD2 + 5 + 1);
	assert_true(codec_padme(n) != n);
	assert_int_equal(codec_decode(key, &addr0, obj, n, out, sizeof(out)), -EIO);
	/* a real v2 object told it is v1, and unknown versions */
	tu_fill(data, sizeof(data), 12);
	len = codec_encode(key, &addr0, false, true, data, sizeof(data), obj, sizeof(obj));
	assert_true(len > 0);
	assert_memory_equal(obj, "GEOS\x02\0\0\0", 8);
	obj[4] = 1;
	assert_int_equal(codec_decode(key, &addr0, obj, (size_t)len, out, sizeof(out)), -EIO);
	obj[4] = 3;
	assert_int_equal(codec_decode(key, &addr0, obj, (size_t)len, out, sizeof(out)), -EIO);
	obj[4] = 2;
	assert_int_equal(codec_decode(key, &addr0, obj, (size_t)len, out, sizeof(out)), 100);
	/* cut down to the next smaller bucket: -EIO */
	for (size_t l = (size_t)len - 1; l >= CODEC_OVERHEAD2; l--) {
		if (codec_padme(l) == l) {
			assert_int_equal(codec_decode(key, &addr0, obj, l, out, sizeof(out)), -EIO);
			break;
		}
	}
}

/* Objects written by geofs before padding (v1, made by that code with the
 * key 0xa0..0xbf and the address of addr0) still decode. */
static const uint8_t pinned_v1_raw[81] = {
	0x47, 0x45, 0x4f, 0x53, 0x01, 0x00, 0x00, 0x00, 0x98, 0xb7, 0x36, 0x1b,
	0x0f, 0x45, 0x1a, 0xcd, 0xc8, 0x01, 0xff, 0x03, 0xdc, 0x30, 0xcf, 0x1f,
	0xb7, 0x78, 0x07, 0x4f, 0xdb, 0x47, 0x85, 0xe0, 0x40, 0xee, 0xc8, 0x13,
	0x05, 0x8b, 0x5a, 0xa9, 0x41, 0x58, 0x3b, 0xe1, 0x0e, 0x16, 0x4b, 0xde,
	0x42, 0x7d, 0x81, 0xe0, 0x58, 0x58, 0x7a, 0xa2, 0x07, 0x85, 0x8a, 0x1c,
	0x01, 0x6c, 0x78, 0x22, 0x56, 0x2e, 0x0c, 0xa1, 0x4e, 0x2a, 0x3f, 0xb4,
	0x56, 0x20, 0x93, 0xc9, 0x00, 0x4d, 0x0e, 0x98, 0xe8,
};
static const uint8_t pinned_v1_lz4[66] = {
	0x47, 0x45, 0x4f, 0x53, 0x01, 0x00, 0x00, 0x00, 0x19, 0x3b, 0x56, 0x5b,
	0x9d, 0x25, 0x9b, 0xda, 0x75, 0x01, 0x67, 0xca, 0x16, 0x9e, 0xdd, 0x71,
	0x0c, 0xbb, 0x20, 0x73, 0x51, 0x20, 0x77, 0xc9, 0x33, 0xa7, 0xb2, 0xd6,
	0xa7, 0xda, 0xd6, 0xad, 0xd5, 0x8a, 0x25, 0x8c, 0x06, 0x4c, 0x27, 0x77,
	0xb8, 0xf3, 0xf0, 0x14, 0xd6, 0xa9, 0xd1, 0x7c, 0xc8, 0xc7, 0x67, 0x2d,
	0xb6, 0x25, 0x72, 0xac, 0xc9, 0x6e,
};

static void test_pinned_v1_objects_decode(void **state)
{
	uint8_t k[AEAD_KEY_LEN], out[1024], obj[sizeof(pinned_v1_raw)];
	char lz[600];

	for (int i = 0; i < AEAD_KEY_LEN; i++)
		k[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 600; i++)
		lz[i] = "geofs v1 lz4 "[i % 13];
	assert_int_equal(codec_decode(k, &addr0, pinned_v1_raw, sizeof(pinned_v1_raw), out,
				      sizeof(out)), 40);
	assert_memory_equal(out, "pinned v1 object, written before padding", 40);
	assert_int_equal(codec_decode(k, &addr0, pinned_v1_lz4, sizeof(pinned_v1_lz4), out,
				      sizeof(out)), 600);
	assert_memory_equal(out, lz, 600);
	/* told it is v2, the same bytes fail */
	memcpy(obj, pinned_v1_raw, sizeof(obj));
	obj[4] = 2;
	assert_int_equal(codec_decode(k, &addr0, obj, sizeof(obj), out, sizeof(out)), -EIO);
}

static void test_codec_table(void **state)
{
	assert_int_equal(compress_by_name("raw")->id, CODEC_RAW);
	assert_int_equal(compress_by_name("lz4")->id, CODEC_LZ4);
	assert_ptr_equal(compress_by_id(CODEC_LZ4), compress_by_name("lz4"));
	assert_null(compress_by_name("zstd"));
	assert_null(compress_by_id(200));
}

/* Decoding from several threads at once: each has its own scratch buffer,
 * freed at thread exit (LeakSanitizer checks under make SANITIZE=1). */
static void *decode_thread(void *arg)
{
	uint8_t *data = malloc(256 * 1024), *out = malloc(256 * 1024);
	uintptr_t seed = (uintptr_t)arg;
	int ok = 1;

	uint8_t *obj = malloc(codec_max_object(256 * 1024));

	/* no cmocka asserts here: they must not fire off the main thread */
	for (int round = 0; round < 8 && ok; round++) {
		size_t len = 1000 + (size_t)round * 30000;
		int n;

		tu_fill(data, len, seed * 100 + (uintptr_t)round);
		memset(data, 'x', len / 2);
		n = codec_encode(key, &addr0, true, pad, data, len, obj, codec_max_object(len));
		ok = n > 0 && codec_decode(key, &addr0, obj, (size_t)n, out, len) == (int)len &&
		     memcmp(out, data, len) == 0;
	}
	free(obj);
	free(out);
	free(data);
	return (void *)(uintptr_t)ok;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *ok;

	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, decode_thread, (void *)(i + 1)), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ok), 0);
		assert_true((uintptr_t)ok == 1);
	}
}

int main(void)
{
#define BOTH(t) cmocka_unit_test_setup(t, setup_v1), cmocka_unit_test_setup(t, setup_v2)
#define V1(t) cmocka_unit_test_setup(t, setup_v1)
	const struct CMUnitTest tests[] = {
		V1(test_round_trip_small),	/* these pin v1 sizes */
		V1(test_round_trip_random),
		V1(test_round_trip_compressible),
		V1(test_header_layout),
		V1(test_forged_layout),
		BOTH(test_largest_shard),
		V1(test_encode_needs_room),
		BOTH(test_decode_needs_room),
		BOTH(test_nonces_differ),
		BOTH(test_bit_flips),
		BOTH(test_bit_flips_large),
		BOTH(test_truncation_and_extension),
		BOTH(test_wrong_key_and_address),
		BOTH(test_swapped_objects),
		V1(test_padme_values),
		V1(test_padded_objects_take_bucket_sizes),
		V1(test_padded_layout),
		V1(test_pinned_v1_objects_decode),
		V1(test_codec_table),
		BOTH(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
