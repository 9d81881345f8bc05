/*
 * codec.h — one shard to one stored object and back: LZ4 (kept only if it
 * shrinks), then padding (Padmé), then AES-256-GCM under the file's data
 * key.
 *
 * Object layout (all a backend ever sees):
 *   "GEOS" | version u8 | 3 zero bytes | nonce[12] | ciphertext | tag[16]
 * Version 2 (padded, written with pad = padme, the default):
 *   plaintext: codec id u8 | raw length u32 LE | payload length u32 LE |
 *              payload | zero bytes up to the padded length
 *   AAD: "geofs-shard-v2" | file id[16] | shard index u64 LE | generation u64 LE
 *   The whole object is codec_padme(unpadded object length) bytes long.
 * Version 1 (unpadded: every object written before padding, and pad = off):
 *   plaintext: codec id u8 | raw length u32 LE | payload
 *   AAD: "geofs-shard-v1" | file id | index | generation
 * Lengths live inside the AEAD plaintext, so they are authenticated; the
 * version is bound by the AAD label, so a v2 object cannot pass as v1
 * (or back) to make padding count as content. The nonce is fresh and
 * random for every object. The object carries no file id, index, name,
 * size field in clear, or key.
 *
 * Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
 * and Communication with PURBs", PETS 2019): a length L is rounded up to
 * keep only its top floor(log2(floor(log2 L))) + 1 bits, so a backend
 * learns O(log log L) bits of it, at a cost of at most 12% (less as L
 * grows).
 */
#ifndef GEOFS_CODEC_H
#define GEOFS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "geoid.h"

#define CODEC_HDR_LEN     (4 + 4 + AEAD_NONCE_LEN)
#define CODEC_INNER_LEN   5	/* v1: codec id, raw length */
#define CODEC_INNER2_LEN  9	/* v2: codec id, raw length, payload length */
/* The largest shard an object holds: a bound of the format, which the
 * config's shard_size range (CFG_SHARD_MAX) stays within. */
#define CODEC_SHARD_MAX   (16u * 1024 * 1024)
/* The smallest overhead an object has (v1); v2 adds 4 bytes and padding. */
#define CODEC_OVERHEAD    (CODEC_HDR_LEN + CODEC_INNER_LEN + AEAD_TAG_LEN)
#define CODEC_OVERHEAD2   (CODEC_HDR_LEN + CODEC_INNER2_LEN + AEAD_TAG_LEN)

/* The Padmé length of len (>= len; len for len < 2). */
static inline size_t codec_padme(size_t len)
{
	unsigned e, s;
	size_t mask;

	if (len < 2)
		return len;
	e = (unsigned)(63 - __builtin_clzll((unsigned long long)len));	/* floor(log2 len) */
	s = (unsigned)(32 - __builtin_clz(e));				/* floor(log2 e) + 1 */
	mask = ((size_t)1 << (e - s)) - 1;
	return (len + mask) & ~mask;
}

/* Largest object an n-byte shard can become (raw fallback and padding
 * included). */
static inline size_t codec_max_object(size_t n)
{
	return codec_padme(n + CODEC_OVERHEAD2);
}

struct shard_addr {
	struct geo_id file;
	uint64_t index;
	uint64_t gen;
};

/* Encodes len bytes (len <= CODEC_SHARD_MAX) into obj (cap >= codec_max_object(len)).
 * compress: try LZ4 first; pad: write a padded (v2) object, else an
 * unpadded v1 one. Returns the object length or -errno. */
int codec_encode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 bool compress, bool pad, const void *data, size_t len, void *obj,
		 size_t cap);

/* Decodes an object of either version into out (cap bytes). Returns the
 * shard's raw length, or -EIO when the object is malformed, truncated,
 * fails authentication (wrong key, file, index or generation), has a bad
 * padding or would not fit in cap. */
int codec_decode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 const void *obj, size_t objlen, void *out, size_t cap);

#endif
