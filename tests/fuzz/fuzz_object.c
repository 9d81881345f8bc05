/*
 * fuzz_object.c — codec_decode(), the parser of every stored object a
 * backend hands back.
 *
 * The first input byte picks a mode, the rest is the payload:
 *   0  the payload is an object as read from a backend: it must be refused
 *      with -EIO (only the key holder can make an object that decodes);
 *   1  the payload is the plaintext inside the AEAD (codec id, raw length,
 *      compressed or raw bytes; for v2 also the payload length and the
 *      padding), sealed here with the right key and address as a v1 and as
 *      a v2 object, so the decoder's checks after authentication see
 *      hostile values; the output buffer is exactly `cap` bytes (cap from
 *      the payload) so any write past it is caught; a result is -EIO or a
 *      length <= cap, and a v2 object whose length is no Padmé bucket is
 *      -EIO;
 *   2  the payload is shard content: encode (padded or not, compressed or
 *      not), decode back to the same bytes, then flip one bit, change the
 *      index, the generation or truncate, and each must give -EIO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "fuzz.h"

static const uint8_t key[AEAD_KEY_LEN] = { 0x42, 0x13, 0x37 };
static const struct shard_addr addr = {
	.file = { .b = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } },
	.index = 3, .gen = 7,
};

/* Builds the AAD exactly as codec.c documents it (codec.h). */
static size_t aad_of(const struct shard_addr *a, uint8_t *aad, int version)
{
	const char *label = version == 2 ? "geofs-shard-v2" : "geofs-shard-v1";
	size_t off = strlen(label);

	memcpy(aad, label, off);
	memcpy(aad + off, a->file.b, GEO_ID_LEN);
	off += GEO_ID_LEN;
	for (int i = 0; i < 8; i++)
		aad[off + i] = (uint8_t)(a->index >> (8 * i));
	off += 8;
	for (int i = 0; i < 8; i++)
		aad[off + i] = (uint8_t)(a->gen >> (8 * i));
	return off + 8;
}

static void mode_raw(const uint8_t *p, size_t n)
{
	size_t cap = CFG_SHARD_MIN;
	uint8_t *out = malloc(cap);

	if (!out)
		return;
	FUZZ_CHECK(codec_decode(key, &addr, p, n, out, cap) == -EIO);
	free(out);
}

/* Seals the n plaintext bytes at p as a version `version` object and
 * decodes it into exactly cap bytes. */
static void sealed_one(const uint8_t *p, size_t n, size_t cap, int version)
{
	uint8_t aad[64], *obj, *out;
	size_t objlen, alen = aad_of(&addr, aad, version);
	size_t inner = version == 2 ? CODEC_INNER2_LEN : CODEC_INNER_LEN;
	int rc;

	objlen = CODEC_HDR_LEN + n + AEAD_TAG_LEN;
	obj = calloc(1, objlen);
	out = malloc(cap ? cap : 1);
	if (!obj || !out)
		goto out;
	memcpy(obj, "GEOS\0\0\0\0", 8);
	obj[4] = (uint8_t)version;
	memset(obj + 8, 0xA5, AEAD_NONCE_LEN);
	FUZZ_CHECK(crypto_aead_seal(key, obj + 8, aad, alen, p, n, obj + CODEC_HDR_LEN,
				    obj + CODEC_HDR_LEN + n) == 0);
	rc = codec_decode(key, &addr, obj, objlen, out, cap);
	if (n < inner || (version == 2 && codec_padme(objlen) != objlen)) {
		FUZZ_CHECK(rc == -EIO);
	} else {
		FUZZ_CHECK(rc == -EIO || (rc >= 0 && (size_t)rc <= cap));
		/* a raw v1 shard (codec 0) decodes to exactly its bytes */
		if (rc >= 0 && p[0] == 0 && version == 1)
			FUZZ_CHECK((size_t)rc == n - CODEC_INNER_LEN &&
				   memcmp(out, p + CODEC_INNER_LEN, (size_t)rc) == 0);
	}
out:
	free(obj);
	free(out);
}

static void mode_sealed(const uint8_t *p, size_t n)
{
	size_t cap;

	if (n < 2)
		return;
	cap = (size_t)p[0] << 8 | p[1];	/* 0..65535 */
	sealed_one(p + 2, n - 2, cap, 1);
	sealed_one(p + 2, n - 2, cap, 2);
}

static void mode_roundtrip(const uint8_t *p, size_t n)
{
	size_t cap = codec_max_object(n);
	uint8_t *obj = malloc(cap), *out = malloc(n ? n : 1);
	struct shard_addr a2;
	int len, rc;

	if (!obj || !out)
		goto out;
	len = codec_encode(key, &addr, n & 1, !(n && (p[0] & 1)), p, n, obj, cap);
	FUZZ_CHECK(len >= (int)CODEC_OVERHEAD && (size_t)len <= cap);
	rc = codec_decode(key, &addr, obj, (size_t)len, out, n);
	FUZZ_CHECK(rc == (int)n && memcmp(out, p, n) == 0);
	/* too small an output buffer is refused, never overrun */
	if (n)
		FUZZ_CHECK(codec_decode(key, &addr, obj, (size_t)len, out, n - 1) == -EIO);
	a2 = addr;
	a2.index++;
	FUZZ_CHECK(codec_decode(key, &a2, obj, (size_t)len, out, n) == -EIO);
	a2 = addr;
	a2.gen--;
	FUZZ_CHECK(codec_decode(key, &a2, obj, (size_t)len, out, n) == -EIO);
	a2 = addr;
	a2.file.b[0] ^= 1;
	FUZZ_CHECK(codec_decode(key, &a2, obj, (size_t)len, out, n) == -EIO);
	FUZZ_CHECK(codec_decode(key, &addr, obj, (size_t)len - 1, out, n) == -EIO);
	if (n) {
		size_t bit = (size_t)p[0] * 131 % ((size_t)len * 8);

		obj[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		FUZZ_CHECK(codec_decode(key, &addr, obj, (size_t)len, out, n) == -EIO);
	}
out:
	free(obj);
	free(out);
}

int fuzz_object(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		mode_raw(data + 1, size - 1);
		break;
	case 1:
		mode_sealed(data + 1, size - 1);
		break;
	default:
		mode_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}

FUZZ_ENTRY(fuzz_object)
