/*
 * geoid.h — identifiers shared by the core: file ids and object ids.
 *
 * Both are 128 random bits from crypto_random(). A file id names a file's
 * manifest in the meta root and is bound into every shard's AEAD; an object
 * id names one stored replica on a backend and is linkable to nothing.
 */
#ifndef GEOFS_GEOID_H
#define GEOFS_GEOID_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define GEO_ID_LEN  16
#define GEO_HEX_LEN (2 * GEO_ID_LEN)

struct geo_id {
	uint8_t b[GEO_ID_LEN];
};

/* Writes 32 lowercase hex digits and a NUL into out (GEO_HEX_LEN + 1 bytes). */
static inline void geoid_hex(const struct geo_id *id, char out[GEO_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < GEO_ID_LEN; i++) {
		out[2 * i] = digits[id->b[i] >> 4];
		out[2 * i + 1] = digits[id->b[i] & 15];
	}
	out[GEO_HEX_LEN] = '\0';
}

/* Value of one hex digit (either case), or -1. */
int geo_hexval(char c);

/* Parses exactly 32 hex digits (either case). Returns 0 or -EINVAL. */
int geoid_parse(const char *hex, struct geo_id *out);

static inline bool geoid_equal(const struct geo_id *a, const struct geo_id *b)
{
	return memcmp(a->b, b->b, GEO_ID_LEN) == 0;
}

#endif
