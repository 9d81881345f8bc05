/*
 * compress.c — the shard codecs table (the only file that includes lz4.h).
 * See compress.h: ids are a file format, names are what configs say.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <lz4.h>

#include "compress.h"

/* "raw" never shrinks anything: the caller stores the shard as is. */
static int raw_compress(const void *src, size_t n, void *dst, size_t cap)
{
	return 0;
}

static int raw_decompress(const void *src, size_t n, void *dst, size_t rawlen)
{
	if (n != rawlen)
		return -EIO;
	memmove(dst, src, n);
	return 0;
}

static int lz4_compress(const void *src, size_t n, void *dst, size_t cap)
{
	int out;

	if (n == 0)
		return 0;
	if (n > LZ4_MAX_INPUT_SIZE)
		return -EINVAL;
	/* Only a strictly smaller result is worth keeping, so give LZ4 no more
	 * room than n - 1 bytes: it then gives up early on incompressible data. */
	if (cap > n - 1)
		cap = n - 1;
	if (cap > INT_MAX)
		cap = INT_MAX;
	out = LZ4_compress_default(src, dst, (int)n, (int)cap);
	return out > 0 ? out : 0;
}

static int lz4_decompress(const void *src, size_t n, void *dst, size_t rawlen)
{
	if (n > INT_MAX || rawlen > INT_MAX)
		return -EIO;
	if (rawlen == 0)	/* LZ4 never encodes empty input: see lz4_compress */
		return -EIO;
	if (LZ4_decompress_safe(src, dst, (int)n, (int)rawlen) != (int)rawlen)
		return -EIO;
	return 0;
}

static const struct compress_codec codecs[] = {
	{ "raw", CODEC_RAW, raw_compress, raw_decompress },
	{ "lz4", CODEC_LZ4, lz4_compress, lz4_decompress },
};

const struct compress_codec *compress_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (strcmp(codecs[i].name, name) == 0)
			return &codecs[i];
	return NULL;
}

const struct compress_codec *compress_by_id(uint8_t id)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].id == id)
			return &codecs[i];
	return NULL;
}
