/*
 * padbench.c — what Padmé padding ([data] pad = padme) costs: the size
 * overhead over a mixed set of file sizes, and the codec's throughput with
 * pad = padme and pad = off, measured in the same run on the same data.
 *
 *   build/padbench [FILES [SEED]]      (scripts/bench.sh runs it)
 *
 * Files get sizes spread evenly on a log scale from 100 bytes to 8 MiB (as
 * many small files as large ones per factor of ten), are cut into 1 MiB
 * shards and encoded with the real codec (LZ4, then AES-256-GCM), once
 * incompressible and once half compressible. Prints one table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"

#define SHARD (1u << 20)

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result {
	uint64_t raw, stored, objects;
	double enc_s, dec_s;
};

/* Encodes and decodes one shard with pad on or off into r. */
static int one(const uint8_t *src, size_t len, struct shard_addr *a, bool pad, uint8_t *obj,
	       uint8_t *out, struct result *r)
{
	static const uint8_t key[AEAD_KEY_LEN] = { 7 };
	double t0 = now(), t1;
	int n = codec_encode(key, a, true, pad, src, len, obj, codec_max_object(SHARD));

	t1 = now();
	if (n < 0 || codec_decode(key, a, obj, (size_t)n, out, SHARD) != (int)len ||
	    memcmp(out, src, len) != 0) {
		fprintf(stderr, "padbench: round trip failed\n");
		return -1;
	}
	r->enc_s += t1 - t0;
	r->dec_s += now() - t1;
	r->raw += len;
	r->stored += (uint64_t)n;
	r->objects++;
	return 0;
}

/* Every shard of every file, with pad = off and pad = padme in turn (the
 * same data, the same cache state), summing sizes and times. */
static int run(const uint8_t *data, const size_t *sizes, int nfiles, struct result *off,
	       struct result *on)
{
	uint8_t *obj = malloc(codec_max_object(SHARD)), *out = malloc(SHARD);
	struct shard_addr a = { .gen = 1 };
	int rc = 0;

	memset(off, 0, sizeof(*off));
	memset(on, 0, sizeof(*on));
	if (!obj || !out)
		rc = -1;
	for (int f = 0; f < nfiles && !rc; f++) {
		for (size_t o = 0; o < sizes[f] && !rc; o += SHARD) {
			size_t len = sizes[f] - o < SHARD ? sizes[f] - o : SHARD;
			const uint8_t *src = data + (o + (size_t)f * 4099) % (16u << 20);
			bool first = (a.index & 1) != 0;	/* alternate who goes first */

			rc = one(src, len, &a, first, obj, out, first ? on : off);
			if (!rc)
				rc = one(src, len, &a, !first, obj, out, first ? off : on);
			a.index++;
		}
	}
	free(out);
	free(obj);
	return rc;
}

int main(int argc, char **argv)
{
	int nfiles = argc > 1 ? atoi(argv[1]) : 400;
	size_t *sizes = calloc((size_t)(nfiles > 0 ? nfiles : 1), sizeof(*sizes));
	/* 16 MiB of source plus room for the last shard read at any offset */
	uint8_t *data = malloc((16u << 20) + SHARD);
	static const char *const kinds[] = { "incompressible", "50% compressible" };

	if (argc > 2)
		rng = strtoull(argv[2], NULL, 0) | 1;
	if (nfiles < 1 || !sizes || !data)
		return 2;
	for (int i = 0; i < nfiles; i++)
		sizes[i] = (size_t)exp(log(100.0) + (log(8.0 * SHARD) - log(100.0)) *
				       (double)(next() % 1000000) / 1e6);
	printf("Padmé padding: %d files, 100 B .. 8 MiB log-uniform, 1 MiB shards\n", nfiles);
	printf("%-18s %-6s %8s %12s %12s %9s %10s %10s\n", "data", "pad", "objects",
	       "content B", "stored B", "overhead", "enc MB/s", "dec MB/s");
	for (int k = 0; k < 2; k++) {
		struct result off, on;

		for (size_t i = 0; i < (16u << 20) + SHARD; i += 8) {
			uint64_t v = next();

			/* half compressible: every other 64-byte run is text */
			if (k == 1 && (i / 64) % 2)
				memcpy(&v, "geofs-jp", 8);
			memcpy(data + i, &v, 8);
		}
		if (run(data, sizes, nfiles, &off, &on))
			return 2;
		printf("%-18s %-6s %8llu %12llu %12llu %8.2f%% %10.0f %10.0f\n", kinds[k], "off",
		       (unsigned long long)off.objects, (unsigned long long)off.raw,
		       (unsigned long long)off.stored,
		       100.0 * ((double)off.stored / (double)off.raw - 1),
		       (double)off.raw / 1e6 / off.enc_s, (double)off.raw / 1e6 / off.dec_s);
		printf("%-18s %-6s %8llu %12llu %12llu %8.2f%% %10.0f %10.0f\n", kinds[k], "padme",
		       (unsigned long long)on.objects, (unsigned long long)on.raw,
		       (unsigned long long)on.stored,
		       100.0 * ((double)on.stored / (double)on.raw - 1),
		       (double)on.raw / 1e6 / on.enc_s, (double)on.raw / 1e6 / on.dec_s);
		printf("%-18s padme stores %+.2f%% more than off\n", "",
		       100.0 * ((double)on.stored / (double)off.stored - 1));
	}
	free(data);
	free(sizes);
	return 0;
}
