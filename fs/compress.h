/*
 * compress.h — shard compression codecs, looked up by name (compress.c is
 * the only file that includes lz4.h).
 *
 * A codec id is stored inside each shard's encrypted payload, so the set of
 * ids is a file format: never renumber.
 */
#ifndef GEOFS_COMPRESS_H
#define GEOFS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum {
	CODEC_RAW = 0,		/* stored as is */
	CODEC_LZ4 = 1,		/* LZ4 block format */
};

struct compress_codec {
	const char *name;
	uint8_t id;
	/* Compresses n bytes into dst (cap bytes). Returns the compressed
	 * length, or 0 when the result would not be smaller than n (the caller
	 * stores the shard raw), or -errno. */
	int (*compress)(const void *src, size_t n, void *dst, size_t cap);
	/* Decompresses exactly rawlen bytes. 0, or -EIO on malformed input. */
	int (*decompress)(const void *src, size_t n, void *dst, size_t rawlen);
};

/* Codec by name ("lz4", "raw"); NULL if unknown. */
const struct compress_codec *compress_by_name(const char *name);

/* Codec by stored id; NULL if unknown. */
const struct compress_codec *compress_by_id(uint8_t id);

#endif
