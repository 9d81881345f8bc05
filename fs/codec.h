/*
 * codec.h — one shard to one stored object and back: LZ4 (kept only if it
 * shrinks), then AES-256-GCM under the file's data key.
 *
 * Object layout (all a backend ever sees):
 *   "GEOS" | version u8 (1) | 3 zero bytes | nonce[12] | ciphertext | tag[16]
 * Plaintext inside the AEAD:
 *   codec id u8 | raw length u32 LE | payload
 * AAD: "geofs-shard-v1" | file id[16] | shard index u64 LE | generation u64 LE
 * The nonce is fresh and random for every object. The object carries no
 * file id, index, name, size field in clear, or key.
 */
#ifndef GEOFS_CODEC_H
#define GEOFS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "geoid.h"

#define CODEC_HDR_LEN    (4 + 4 + AEAD_NONCE_LEN)
#define CODEC_INNER_LEN  5
#define CODEC_OVERHEAD   (CODEC_HDR_LEN + CODEC_INNER_LEN + AEAD_TAG_LEN)

/* Largest object an n-byte shard can become (raw fallback included). */
static inline size_t codec_max_object(size_t n)
{
	return n + CODEC_OVERHEAD;
}

struct shard_addr {
	struct geo_id file;
	uint64_t index;
	uint64_t gen;
};

/* Encodes len bytes (len <= 16 MiB) into obj (cap >= codec_max_object(len)).
 * compress: try LZ4 first. Returns the object length or -errno. */
int codec_encode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 bool compress, const void *data, size_t len, void *obj, size_t cap);

/* Decodes an object into out (cap bytes). Returns the shard's raw length,
 * or -EIO when the object is malformed, truncated, fails authentication
 * (wrong key, file, index or generation) or would not fit in cap. */
int codec_decode(const uint8_t key[AEAD_KEY_LEN], const struct shard_addr *a,
		 const void *obj, size_t objlen, void *out, size_t cap);

#endif
