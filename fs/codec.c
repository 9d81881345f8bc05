/*
 * codec.c — shard <-> stored object: optional LZ4, Padmé padding (v2), then
 * AES-256-GCM with a fresh random nonce and the shard's address as AAD.
 * Both object versions decode; the layout is in codec.h; the crypto lives
 * in crypto.c, the compressors in compress.c.
 *
 * Encoding writes the plaintext straight into the object buffer and seals
 * it in place. Decoding needs room for the decrypted payload before it is
 * decompressed: a per-thread scratch buffer, grown on demand and freed at
 * thread exit, so the hot path does not malloc.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "compress.h"

/* Both AAD labels have the same length. */
#define CODEC_AAD_LABEL1 "geofs-shard-v1"
#define CODEC_AAD_LABEL2 "geofs-shard-v2"
#define CODEC_LABEL_LEN  (sizeof(CODEC_AAD_LABEL1) - 1)
#define CODEC_AAD_LEN    (CODEC_LABEL_LEN + GEO_ID_LEN + 8 + 8)

static const uint8_t codec_magic[4] = { 'G', 'E', 'O', 'S' };

struct scratch {
	uint8_t *buf;
	size_t cap;
};

static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static bool scratch_key_ok;

static void scratch_destroy(void *p)
{
	struct scratch *s = p;

	free(s->buf);
	free(s);
}

static void scratch_init(void)
{
	scratch_key_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0;
}

/* This thread's scratch buffer with at least n bytes, or NULL. */
static uint8_t *scratch_get(size_t n)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_init);
	if (!scratch_key_ok)
		return NULL;
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	if (s->cap < n) {
		uint8_t *nb = malloc(n);

		if (!nb)
			return NULL;
		free(s->buf);
		s->buf = nb;
		s->cap = n;
	}
	return s->buf;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void build_aad(uint8_t aad[CODEC_AAD_LEN], const struct shard_addr *a, int version)
{
	size_t off = CODEC_LABEL_LEN;

	memcpy(aad, version == 2 ? CODEC_AAD_LABEL2 : CODEC_AAD_LABEL1, off);
	memcpy(aad + off, a->file.b, GEO_ID_LEN);
	off += GEO_ID_LEN;
	put_le64(aad + off, a->index);
	put_le64(aad + off + 8, a->gen);
}

int codec_encode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 bool compress, bool pad, const void *data, size_t len, void *obj,
		 size_t cap)
{
	const struct compress_codec *lz4 = compress_by_id(CODEC_LZ4);
	size_t inner = pad ? CODEC_INNER2_LEN : CODEC_INNER_LEN;
	uint8_t *o = obj, *nonce = o + 8, *pt = o + CODEC_HDR_LEN;
	uint8_t *payload = pt + inner;
	uint8_t aad[CODEC_AAD_LEN];
	uint8_t codec = CODEC_RAW;
	size_t plen = len, ptlen;
	int ret;

	if (len > CODEC_SHARD_MAX || cap < codec_max_object(len))
		return -EINVAL;

	if (compress && lz4) {
		ret = lz4->compress(data, len, payload, len);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			codec = CODEC_LZ4;
			plen = (size_t)ret;
		}
	}
	if (codec == CODEC_RAW && len)
		memcpy(payload, data, len);

	memcpy(o, codec_magic, 4);
	o[4] = pad ? 2 : 1;
	o[5] = o[6] = o[7] = 0;
	ret = crypto_random(nonce, AEAD_NONCE_LEN);
	if (ret)
		return ret;
	pt[0] = codec;
	put_le32(pt + 1, (uint32_t)len);
	ptlen = inner + plen;
	if (pad) {
		size_t total = codec_padme(ptlen + CODEC_HDR_LEN + AEAD_TAG_LEN);

		put_le32(pt + 5, (uint32_t)plen);
		memset(payload + plen, 0, total - CODEC_HDR_LEN - AEAD_TAG_LEN - ptlen);
		ptlen = total - CODEC_HDR_LEN - AEAD_TAG_LEN;
	}

	build_aad(aad, a, o[4]);
	ret = crypto_aead_seal(key, nonce, aad, sizeof(aad), pt, ptlen, pt, pt + ptlen);
	if (ret)
		return ret;
	return (int)(CODEC_HDR_LEN + ptlen + AEAD_TAG_LEN);
}

/* The payload of a decrypted v2 plaintext (ptlen bytes at pt): its length
 * in *plen, or -EIO when it does not fit or the padding is not zeros. */
static int v2_payload(const uint8_t *pt, size_t ptlen, size_t *plen)
{
	size_t n = get_le32(pt + 5);

	if (n > ptlen - CODEC_INNER2_LEN)
		return -EIO;
	for (size_t i = CODEC_INNER2_LEN + n; i < ptlen; i++)
		if (pt[i])
			return -EIO;
	*plen = n;
	return 0;
}

int codec_decode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 const void *obj, size_t objlen, void *out, size_t cap)
{
	const uint8_t *o = obj;
	const struct compress_codec *c;
	uint8_t aad[CODEC_AAD_LEN];
	size_t ctlen, plen, inner;
	uint32_t rawlen;
	uint8_t *pt;
	int version;

	/* Everything checkable in clear is checked before any work. */
	if (objlen < CODEC_OVERHEAD || objlen > codec_max_object(CODEC_SHARD_MAX))
		return -EIO;
	if (memcmp(o, codec_magic, 4) != 0 || o[5] || o[6] || o[7])
		return -EIO;
	version = o[4];
	if (version == 1) {
		if (objlen > CODEC_SHARD_MAX + CODEC_OVERHEAD)
			return -EIO;
		inner = CODEC_INNER_LEN;
	} else if (version == 2) {
		if (objlen < CODEC_OVERHEAD2 || codec_padme(objlen) != objlen)
			return -EIO;
		inner = CODEC_INNER2_LEN;
	} else {
		return -EIO;
	}

	ctlen = objlen - CODEC_HDR_LEN - AEAD_TAG_LEN;
	pt = scratch_get(ctlen);
	if (!pt)
		return -ENOMEM;
	build_aad(aad, a, version);
	if (crypto_aead_open(key, o + 8, aad, sizeof(aad), o + CODEC_HDR_LEN, ctlen, pt,
			     o + CODEC_HDR_LEN + ctlen) != 0)
		return -EIO;
	plen = ctlen - inner;
	if (version == 2 && v2_payload(pt, ctlen, &plen) != 0)
		return -EIO;

	rawlen = get_le32(pt + 1);
	c = compress_by_id(pt[0]);
	if (!c || rawlen > cap || rawlen > CODEC_SHARD_MAX)
		return -EIO;
	if (c->decompress(pt + inner, plen, out, rawlen) != 0)
		return -EIO;
	return (int)rawlen;
}
