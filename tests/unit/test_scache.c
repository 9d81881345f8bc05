/*
 * test_scache.c — the decoded-shard cache: a hit returns the bytes (past
 * the stored length as zeros), another generation never hits, the least
 * recently used entry goes first when full, and a dropped entry is gone
 * while the others stay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scache.h"

static struct geo_id fid(uint8_t b)
{
	struct geo_id id;

	memset(&id, b, sizeof(id));
	return id;
}

static void test_hit_generation_and_tail(void **state)
{
	struct scache *c = scache_new(1 << 20);
	struct geo_id a = fid(1);
	uint8_t out[16];

	(void)state;
	assert_non_null(c);
	scache_insert(c, &a, 3, 7, "abcdef", 6);
	assert_true(scache_read(c, &a, 3, 7, out, 2, 8));
	assert_memory_equal(out, "cdef\0\0\0\0", 8);
	assert_false(scache_read(c, &a, 3, 8, out, 0, 4));	/* other generation */
	assert_false(scache_read(c, &a, 4, 7, out, 0, 4));	/* other shard */
	assert_true(scache_contains(c, &a, 3, 7));
	scache_free(c);
}

static void test_lru_and_drop(void **state)
{
	struct scache *c = scache_new(300);
	struct geo_id a = fid(2), b = fid(3);
	uint8_t buf[100] = { 0 }, out[1];

	(void)state;
	scache_insert(c, &a, 0, 1, buf, 100);
	scache_insert(c, &a, 1, 1, buf, 100);
	scache_insert(c, &b, 0, 1, buf, 100);
	assert_true(scache_read(c, &a, 0, 1, out, 0, 1));	/* a/0 most recent now */
	scache_insert(c, &b, 1, 1, buf, 100);			/* evicts a/1 */
	assert_false(scache_contains(c, &a, 1, 1));
	assert_true(scache_contains(c, &a, 0, 1));
	scache_drop(c, &a, 0, 2);				/* wrong generation: kept */
	assert_true(scache_contains(c, &a, 0, 1));
	scache_drop(c, &a, 0, 1);
	assert_false(scache_contains(c, &a, 0, 1));
	assert_true(scache_contains(c, &b, 0, 1) && scache_contains(c, &b, 1, 1));
	scache_drop(c, &a, 9, 1);				/* absent: nothing happens */
	/* the dropped entry's room is free again: two more fit without evicting b */
	scache_insert(c, &a, 5, 1, buf, 100);
	assert_true(scache_contains(c, &b, 0, 1) && scache_contains(c, &b, 1, 1));
	scache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_generation_and_tail),
		cmocka_unit_test(test_lru_and_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
