/*
 * test_codec.c — shard objects: round trips, the pinned object layout, and
 * every tampering, truncation and substitution a backend could attempt,
 * each of which must be -EIO.
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

#define MIB (1024 * 1024)

static uint8_t key[AEAD_KEY_LEN];
static const struct shard_addr addr0 = { .file = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
						     13, 14, 15, 16 } },
					 .index = 7, .gen = 42 };

static int setup(void **state)
{
	tu_fill(key, sizeof(key), 1);
	return 0;
}

/* Encodes len bytes of data; returns a malloc'ed object, *objlen set. */
static uint8_t *encode(const void *data, size_t len, bool compress, size_t *objlen)
{
	uint8_t *obj = malloc(codec_max_object(len));
	int n;

	assert_non_null(obj);
	n = codec_encode(key, &addr0, compress, data, len, obj, codec_max_object(len));
	assert_true(n >= (int)CODEC_OVERHEAD);
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
	assert_int_equal(codec_encode(key, &addr0, true, data, CFG_SHARD_MAX + 1, obj,
				      codec_max_object(CFG_SHARD_MAX + 1)), -EINVAL);
	free(obj);
	free(data);
}

static void test_encode_needs_room(void **state)
{
	uint8_t data[100] = { 0 }, obj[100 + CODEC_OVERHEAD];

	assert_int_equal(codec_encode(key, &addr0, true, data, sizeof(data), obj,
				      sizeof(obj) - 1), -EINVAL);
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
	l7 = codec_encode(key, &addr0, true, d7, sizeof(d7), o7, sizeof(o7));
	l8 = codec_encode(key, &a8, true, d8, sizeof(d8), o8, sizeof(o8));
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
		n = codec_encode(key, &addr0, true, data, len, obj, codec_max_object(len));
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_small),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_round_trip_compressible),
		cmocka_unit_test(test_largest_shard),
		cmocka_unit_test(test_encode_needs_room),
		cmocka_unit_test(test_decode_needs_room),
		cmocka_unit_test(test_nonces_differ),
		cmocka_unit_test(test_header_layout),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_bit_flips_large),
		cmocka_unit_test(test_truncation_and_extension),
		cmocka_unit_test(test_wrong_key_and_address),
		cmocka_unit_test(test_swapped_objects),
		cmocka_unit_test(test_forged_layout),
		cmocka_unit_test(test_codec_table),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
