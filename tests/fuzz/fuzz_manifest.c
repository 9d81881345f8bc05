/*
 * fuzz_manifest.c — manifest_parse() on arbitrary bytes.
 *
 * Most random inputs die at the CRC-32C, so each input is tried twice: as
 * given, and with its last four bytes replaced by the right checksum, which
 * lets the fuzzer reach the field checks. Checks: -EINVAL with a reason or 0
 * with a manifest; a manifest that parses is within the limits manifest.h
 * documents, serializes, and serializes back to exactly the bytes it was
 * parsed from (the format is canonical), and its copy does too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "manifest.h"

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return c ^ 0xFFFFFFFFu;
}

static void check_manifest(const struct manifest *m)
{
	uint64_t nstored = 0;

	FUZZ_CHECK(m->shard_size >= CFG_SHARD_MIN && m->shard_size <= CFG_SHARD_MAX);
	FUZZ_CHECK(m->nbackends >= 0 && m->nbackends <= MANIFEST_MAX_BACKENDS);
	FUZZ_CHECK(m->nshards <= m->cap && m->nshards <= MANIFEST_MAX_DENSE);
	FUZZ_CHECK(memchr(m->category, '\0', CFG_NAME_MAX) && m->category[0]);
	FUZZ_CHECK(strlen(m->origin) == 2);
	FUZZ_CHECK(m->key_version >= 1);
	for (int i = 0; i < m->nbackends; i++)
		FUZZ_CHECK(memchr(m->bnames[i], '\0', CFG_NAME_MAX) && m->bnames[i][0]);
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct shard_ref *s = &m->shards[i];

		FUZZ_CHECK(s->nrep <= CFG_MAX_REPLICAS);
		if (!s->nrep)
			continue;
		nstored++;
		/* a stored shard lies inside the file */
		FUZZ_CHECK(i < (m->size + m->shard_size - 1) / m->shard_size);
		FUZZ_CHECK(s->objlen >= CODEC_OVERHEAD &&
			   s->objlen <= codec_max_object(m->shard_size));
		for (int k = 0; k < s->nrep; k++)
			FUZZ_CHECK(s->rep[k].backend < m->nbackends);
	}
	FUZZ_CHECK(m->nshards == 0 || m->shards[m->nshards - 1].nrep > 0);
	(void)manifest_stored_bytes(m);
	(void)nstored;
}

static void round_trip(const uint8_t *buf, size_t len, const struct manifest *m)
{
	struct manifest *dup;
	uint8_t *out = NULL, *out2 = NULL;
	size_t olen = 0, olen2 = 0;

	FUZZ_CHECK(manifest_serialize(m, &out, &olen) == 0);
	FUZZ_CHECK(olen == len && memcmp(out, buf, len) == 0);
	dup = manifest_dup(m);
	if (dup) {
		FUZZ_CHECK(manifest_serialize(dup, &out2, &olen2) == 0);
		FUZZ_CHECK(olen2 == len && memcmp(out2, buf, len) == 0);
		manifest_free(dup);
	}
	free(out);
	free(out2);
}

static void one(const uint8_t *buf, size_t len)
{
	struct manifest *m = NULL;
	char err[256];
	int rc;

	memset(err, 'X', sizeof(err));
	rc = manifest_parse(buf, len, &m, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(m == NULL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
		FUZZ_CHECK(rc == -ENOMEM || err[0] != '\0');
		return;
	}
	FUZZ_CHECK(m != NULL);
	check_manifest(m);
	round_trip(buf, len, m);
	manifest_free(m);
}

int fuzz_manifest(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	uint32_t crc;

	one(data, size);
	if (size < 4)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	crc = crc32c(fixed, size - 4);
	for (int i = 0; i < 4; i++)
		fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	if (memcmp(fixed, data, size) != 0)
		one(fixed, size);
	free(fixed);
	return 0;
}

FUZZ_ENTRY(fuzz_manifest)
