/*
 * test_manifest.c — the manifest format: round trip, the exact byte layout
 * (built here by hand from manifest.c's layout comment), and hostile input:
 * every truncation, every flipped byte, and lying counts and indices with a
 * correct checksum.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "manifest.h"
#include "testutil.h"

#define SS (1024u * 1024)

static char err[256];

/* ---- a hand-written encoder, independent of manifest.c ----------------- */

struct raw {
	uint8_t b[8192];
	size_t n;
};

static void raw_le(struct raw *r, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

static void raw_bytes(struct raw *r, const void *p, size_t n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void raw_str(struct raw *r, const char *s)
{
	raw_le(r, strlen(s), 1);
	raw_bytes(r, s, strlen(s));
}

static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

static void raw_seal(struct raw *r)
{
	raw_le(r, ref_crc32c(r->b, r->n), 4);
}

/* Header up to and including the backend table. */
static void raw_header(struct raw *r, uint64_t size, uint32_t shard_size, int nb)
{
	static const char *names[] = { "tokyo-1", "osaka-1", "seoul-1" };
	uint8_t id[16], wrapped[KEYS_WRAPPED_LEN];

	memset(id, 0x11, sizeof(id));
	memset(wrapped, 0x22, sizeof(wrapped));
	r->n = 0;
	raw_bytes(r, "GEOMAN01", 8);
	raw_bytes(r, id, 16);
	raw_le(r, 9, 8);		/* generation */
	raw_le(r, size, 8);
	raw_le(r, shard_size, 4);
	raw_le(r, MANIFEST_CAT_SET, 1);
	raw_str(r, "medical");
	raw_bytes(r, "JP", 2);
	raw_le(r, 2, 4);		/* key version */
	raw_bytes(r, wrapped, sizeof(wrapped));
	raw_le(r, (uint64_t)nb, 1);
	for (int i = 0; i < nb; i++)
		raw_str(r, names[i]);
}

static void raw_entry(struct raw *r, uint64_t idx, uint64_t gen, uint32_t objlen, int nrep,
		      const uint8_t *backends)
{
	uint8_t oid[16];

	raw_le(r, idx, 8);
	raw_le(r, gen, 8);
	raw_le(r, objlen, 4);
	raw_le(r, (uint64_t)nrep, 1);
	for (int i = 0; i < nrep; i++) {
		memset(oid, (int)(0x40 + idx + (uint64_t)i), sizeof(oid));
		raw_le(r, backends[i], 1);
		raw_bytes(r, oid, 16);
	}
}

static int parse_raw(const struct raw *r, struct manifest **m)
{
	return manifest_parse(r->b, r->n, m, err, sizeof(err));
}

static void expect_bad(const struct raw *r, const char *why)
{
	struct manifest *m = (struct manifest *)1;

	assert_int_equal(parse_raw(r, &m), -EINVAL);
	assert_null(m);
	if (why && !strstr(err, why))
		fprintf(stderr, "expected \"%s\", got \"%s\"\n", why, err);
	if (why)
		assert_non_null(strstr(err, why));
}

/* ---- a sample manifest -------------------------------------------------- */

/* 10 MiB file, shards 0, 3 (two replicas) and 9 stored, the rest holes. */
static struct manifest *sample(void)
{
	struct manifest *m = manifest_new();
	int tokyo, osaka;

	assert_non_null(m);
	memset(m->id.b, 0x11, 16);
	m->generation = 9;
	m->size = 10 * SS;
	m->shard_size = SS;
	m->flags = MANIFEST_CAT_SET;
	strcpy(m->category, "medical");
	strcpy(m->origin, "JP");
	m->key_version = 2;
	memset(m->wrapped_key, 0x22, sizeof(m->wrapped_key));
	tokyo = manifest_backend(m, "tokyo-1");
	osaka = manifest_backend(m, "osaka-1");
	assert_int_equal(tokyo, 0);
	assert_int_equal(osaka, 1);
	assert_int_equal(manifest_backend(m, "tokyo-1"), 0);
	assert_int_equal(manifest_reserve(m, 10), 0);
	for (int idx = 0; idx < 10; idx++) {
		struct shard_ref *s = &m->shards[idx];

		if (idx != 0 && idx != 3 && idx != 9)
			continue;
		s->gen = (uint64_t)idx + 5;
		s->objlen = 1000 + (uint32_t)idx;
		s->nrep = idx == 3 ? 2 : 1;
		for (int r = 0; r < s->nrep; r++) {
			s->rep[r].backend = (uint8_t)(r == 0 ? osaka : tokyo);
			memset(s->rep[r].oid.b, 0x40 + idx + r, 16);
		}
	}
	return m;
}

static void assert_same(const struct manifest *a, const struct manifest *b)
{
	uint64_t n = a->nshards > b->nshards ? a->nshards : b->nshards;

	assert_memory_equal(a->id.b, b->id.b, 16);
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->shard_size, b->shard_size);
	assert_int_equal(a->flags, b->flags);
	assert_string_equal(a->category, b->category);
	assert_string_equal(a->origin, b->origin);
	assert_int_equal(a->key_version, b->key_version);
	assert_memory_equal(a->wrapped_key, b->wrapped_key, KEYS_WRAPPED_LEN);
	assert_int_equal(a->nbackends, b->nbackends);
	for (int i = 0; i < a->nbackends; i++)
		assert_string_equal(a->bnames[i], b->bnames[i]);
	for (uint64_t i = 0; i < n; i++) {
		const struct shard_ref *x = i < a->nshards ? &a->shards[i] : NULL;
		const struct shard_ref *y = i < b->nshards ? &b->shards[i] : NULL;
		int nx = x ? x->nrep : 0, ny = y ? y->nrep : 0;

		assert_int_equal(nx, ny);
		if (!nx)
			continue;
		assert_int_equal(x->gen, y->gen);
		assert_int_equal(x->objlen, y->objlen);
		for (int r = 0; r < nx; r++) {
			assert_int_equal(x->rep[r].backend, y->rep[r].backend);
			assert_memory_equal(x->rep[r].oid.b, y->rep[r].oid.b, 16);
		}
	}
}

static void test_round_trip(void **state)
{
	struct manifest *m = sample(), *back, *dup;
	uint8_t *buf;
	size_t len;

	assert_int_equal(manifest_serialize(m, &buf, &len), 0);
	assert_int_equal(manifest_parse(buf, len, &back, err, sizeof(err)), 0);
	assert_same(m, back);
	assert_int_equal(back->nshards, 10);	/* up to the highest stored shard */
	assert_int_equal(manifest_stored_bytes(back), 1000 + 2 * 1003 + 1009);

	dup = manifest_dup(back);
	assert_non_null(dup);
	assert_ptr_not_equal(dup->shards, back->shards);
	assert_same(back, dup);
	manifest_free(dup);
	manifest_free(back);
	manifest_free(m);
	free(buf);
	manifest_free(NULL);
}

/* The bytes are exactly what the layout comment in manifest.c says. */
static void test_layout_pinned(void **state)
{
	static const uint8_t b1[] = { 1 }, b01[] = { 1, 0 };
	struct manifest *m = sample();
	struct raw r;
	uint8_t *buf;
	size_t len;

	raw_header(&r, 10 * SS, SS, 2);
	raw_le(&r, 3, 8);
	raw_entry(&r, 0, 5, 1000, 1, b1);
	raw_entry(&r, 3, 8, 1003, 2, b01);
	raw_entry(&r, 9, 14, 1009, 1, b1);
	raw_seal(&r);
	assert_int_equal(manifest_serialize(m, &buf, &len), 0);
	assert_int_equal(len, r.n);
	assert_memory_equal(buf, r.b, len);
	free(buf);
	manifest_free(m);
}

static void test_crc32c_check_value(void **state)
{
	assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_every_truncation(void **state)
{
	struct manifest *m = sample(), *back;
	uint8_t *buf, *copy;
	size_t len;

	assert_int_equal(manifest_serialize(m, &buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);	/* exact size: ASan sees any overread */
		memcpy(copy, buf, n);
		back = (struct manifest *)1;
		assert_int_equal(manifest_parse(copy, n, &back, err, sizeof(err)), -EINVAL);
		assert_null(back);
		assert_true(err[0] != '\0');
		free(copy);
	}
	free(buf);
	manifest_free(m);
}

static void test_every_flipped_byte(void **state)
{
	struct manifest *m = sample(), *back;
	uint8_t *buf;
	size_t len;

	assert_int_equal(manifest_serialize(m, &buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int x = 1; x < 256; x *= 3) {
			buf[i] ^= (uint8_t)x;
			assert_int_equal(manifest_parse(buf, len, &back, err, sizeof(err)), -EINVAL);
			buf[i] ^= (uint8_t)x;
		}
	}
	assert_int_equal(manifest_parse(buf, len, &back, err, sizeof(err)), 0);
	manifest_free(back);
	free(buf);
	manifest_free(m);
}

static void test_trailing_bytes(void **state)
{
	struct raw r;

	raw_header(&r, SS, SS, 0);
	raw_le(&r, 0, 8);
	raw_le(&r, 0, 1);
	raw_seal(&r);
	expect_bad(&r, "trailing bytes");
}

/* Counts and indices that lie, behind a correct checksum. */
static void test_hostile_counts(void **state)
{
	static const uint8_t b0[] = { 0 }, b00[] = { 0, 0, 0, 0, 0 };
	struct manifest *m;
	struct raw r;

	raw_header(&r, SS, SS, 1);
	raw_le(&r, UINT64_MAX, 8);
	raw_seal(&r);
	expect_bad(&r, "exceeds the manifest's length");

	raw_header(&r, SS, SS, 1);
	raw_le(&r, 2, 8);		/* long enough for two short entries */
	raw_entry(&r, 0, 1, 100, 4, b00);
	raw_seal(&r);
	expect_bad(&r, "truncated shard table");

	/* a 1 PiB sparse file with no shards: fine, and nothing allocated */
	raw_header(&r, UINT64_C(1) << 50, SS, 1);
	raw_le(&r, 0, 8);
	raw_seal(&r);
	assert_int_equal(parse_raw(&r, &m), 0);
	assert_int_equal(m->nshards, 0);
	assert_null(m->shards);
	manifest_free(m);

	/* one shard at the very end of the dense limit: allowed */
	raw_header(&r, UINT64_C(1) << 50, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, MANIFEST_MAX_DENSE - 1, 1, 100, 1, b0);
	raw_seal(&r);
	assert_int_equal(parse_raw(&r, &m), 0);
	assert_int_equal(m->nshards, MANIFEST_MAX_DENSE);
	assert_int_equal(m->shards[MANIFEST_MAX_DENSE - 1].nrep, 1);
	manifest_free(m);

	/* one past it, or anywhere up to 4 Gi shards: refused, not allocated */
	raw_header(&r, UINT64_C(1) << 50, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, MANIFEST_MAX_DENSE, 1, 100, 1, b0);
	raw_seal(&r);
	expect_bad(&r, "beyond the supported");
	raw_header(&r, UINT64_MAX, CFG_SHARD_MAX, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, (UINT64_C(1) << 32) - 1, 1, 100, 1, b0);
	raw_seal(&r);
	expect_bad(&r, NULL);

	/* size so large it needs more than MANIFEST_MAX_SHARDS */
	raw_header(&r, UINT64_MAX, CFG_SHARD_MIN, 1);
	raw_le(&r, 0, 8);
	raw_seal(&r);
	expect_bad(&r, "more than");

	raw_header(&r, SS, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, 0, 1, 100, 5, b00);
	raw_seal(&r);
	expect_bad(&r, "replica count");
	raw_header(&r, SS, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, 0, 1, 100, 0, b00);
	raw_bytes(&r, b00, 5);		/* padding past the count check */
	raw_bytes(&r, b00, 5);
	raw_bytes(&r, b00, 5);
	raw_bytes(&r, b00, 2);
	raw_seal(&r);
	expect_bad(&r, "replica count");
}

static void test_bad_entries(void **state)
{
	static const uint8_t b0[] = { 0 }, b1[] = { 1 };
	struct raw r;

	raw_header(&r, 3 * SS, SS, 1);		/* shard 3 lies past EOF */
	raw_le(&r, 1, 8);
	raw_entry(&r, 3, 1, 100, 1, b0);
	raw_seal(&r);
	expect_bad(&r, "past the end");

	raw_header(&r, 3 * SS + 1, SS, 1);	/* ...unless the file reaches it */
	raw_le(&r, 1, 8);
	raw_entry(&r, 3, 1, 100, 1, b0);
	raw_seal(&r);
	{
		struct manifest *m;

		assert_int_equal(parse_raw(&r, &m), 0);
		manifest_free(m);
	}

	raw_header(&r, 8 * SS, SS, 1);
	raw_le(&r, 2, 8);
	raw_entry(&r, 4, 1, 100, 1, b0);
	raw_entry(&r, 4, 1, 100, 1, b0);
	raw_seal(&r);
	expect_bad(&r, "strictly increasing");

	raw_header(&r, 8 * SS, SS, 1);
	raw_le(&r, 2, 8);
	raw_entry(&r, 5, 1, 100, 1, b0);
	raw_entry(&r, 2, 1, 100, 1, b0);
	raw_seal(&r);
	expect_bad(&r, "strictly increasing");

	raw_header(&r, 8 * SS, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, 0, 1, 100, 1, b1);
	raw_seal(&r);
	expect_bad(&r, "backend index out of range");

	raw_header(&r, 8 * SS, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, 0, 1, CODEC_OVERHEAD - 1, 1, b0);
	raw_seal(&r);
	expect_bad(&r, "object length");

	raw_header(&r, 8 * SS, SS, 1);
	raw_le(&r, 1, 8);
	raw_entry(&r, 0, 1, codec_max_object(SS) + 1, 1, b0);	/* padding included */
	raw_seal(&r);
	expect_bad(&r, "object length");
}

/* Patches one header field of a valid manifest (at off) and reseals. */
static void expect_bad_field(size_t off, const void *val, size_t n, const char *why)
{
	struct raw r;

	raw_header(&r, SS, SS, 2);
	raw_le(&r, 0, 8);
	memcpy(r.b + off, val, n);
	raw_seal(&r);
	expect_bad(&r, why);
}

static void test_bad_fields(void **state)
{
	const uint8_t small[4] = { 0xff, 0xff, 0, 0 }, big[4] = { 1, 0, 0, 1 };
	const size_t cat = 46, origin = 46 + 7, keyver = origin + 2;
	const size_t names = keyver + 4 + KEYS_WRAPPED_LEN + 1;

	expect_bad_field(40, small, 4, "shard size");
	expect_bad_field(40, big, 4, "shard size");
	expect_bad_field(44, "\x04", 1, "unknown flags");
	expect_bad_field(cat, "med/cal", 7, "category");
	expect_bad_field(cat, "med\0cal", 7, "category");
	expect_bad_field(45, "\x00", 1, "category");
	expect_bad_field(origin, "jp", 2, "origin");
	expect_bad_field(origin, "J1", 2, "origin");
	expect_bad_field(keyver, "\0\0\0\0", 4, "key version");
	expect_bad_field(names + 1, "osaka-1", 7, "duplicate backend");
	expect_bad_field(names + 1, "tok o-1", 7, "backend name");
	expect_bad_field(names, "\x00", 1, "backend name");
	expect_bad_field(0, "GEOMAN02", 8, "magic");
}

static void test_serialize_refuses_invalid(void **state)
{
	struct manifest *m = sample();
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;

	m->size = 9 * SS;	/* shard 9 now lies past EOF */
	assert_int_equal(manifest_serialize(m, &buf, &len), -EINVAL);
	assert_null(buf);
	m->size = 10 * SS;
	m->shards[3].rep[1].backend = 7;
	assert_int_equal(manifest_serialize(m, &buf, &len), -EINVAL);
	m->shards[3].rep[1].backend = 0;
	strcpy(m->origin, "J");
	assert_int_equal(manifest_serialize(m, &buf, &len), -EINVAL);
	strcpy(m->origin, "JP");
	assert_int_equal(manifest_serialize(m, &buf, &len), 0);
	free(buf);
	manifest_free(m);
}

static void test_reserve_and_backends(void **state)
{
	struct manifest *m = manifest_new();
	char name[16];

	assert_int_equal(manifest_reserve(m, 3), 0);
	m->shards[2].nrep = 1;
	m->shards[2].objlen = 77;
	assert_int_equal(manifest_reserve(m, 1000), 0);
	assert_int_equal(m->nshards, 1000);
	assert_true(m->cap >= 1000);
	assert_int_equal(m->shards[2].objlen, 77);
	assert_int_equal(m->shards[999].nrep, 0);
	assert_int_equal(manifest_reserve(m, 10), 0);	/* never shrinks */
	assert_int_equal(m->nshards, 1000);
	/* a caller that shrinks nshards (truncate) gets holes back on growth */
	m->shards[500].nrep = 1;
	m->nshards = 100;
	assert_int_equal(manifest_reserve(m, 600), 0);
	assert_int_equal(m->shards[500].nrep, 0);
	assert_int_equal(manifest_reserve(m, MANIFEST_MAX_DENSE + 1), -EFBIG);

	for (int i = 0; i < MANIFEST_MAX_BACKENDS; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		assert_int_equal(manifest_backend(m, name), i);
	}
	assert_int_equal(manifest_backend(m, "one-more"), -ENOSPC);
	assert_int_equal(manifest_backend(m, "b17"), 17);
	manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_layout_pinned),
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_flipped_byte),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_hostile_counts),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_serialize_refuses_invalid),
		cmocka_unit_test(test_reserve_and_backends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
