/*
 * test_secmem.c — locked memory for secrets: slots come zeroed, are wiped
 * when freed (a reused slot never shows the previous secret), hundreds can
 * be live at once, and whole regions are page-sized and zeroed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "secmem.h"

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_slots_zeroed_wiped_and_many(void **state)
{
	enum { N = 300 };	/* more than one page of slots */
	uint8_t *s[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		s[i] = secmem_slot_alloc();
		assert_non_null(s[i]);
		assert_true(all_zero(s[i], SECMEM_SLOT));
		memset(s[i], 0xA5, SECMEM_SLOT);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N && j < i + 4; j++)
			assert_true(s[i] + SECMEM_SLOT <= s[j] || s[j] + SECMEM_SLOT <= s[i]);
	for (int i = 0; i < N; i++)
		secmem_slot_free(s[i]);
	/* Reused slots come back zeroed, not holding 0xA5. */
	for (int i = 0; i < N; i++) {
		s[i] = secmem_slot_alloc();
		assert_true(all_zero(s[i], SECMEM_SLOT));
	}
	for (int i = 0; i < N; i++)
		secmem_slot_free(s[i]);
	secmem_slot_free(NULL);
}

static void test_regions(void **state)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = secmem_round(1);
	uint8_t *p;

	(void)state;
	assert_int_equal(n, pg);
	assert_int_equal(secmem_round(pg + 1), 2 * pg);
	p = secmem_alloc(n);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % pg, 0);
	assert_true(all_zero(p, n));
	secmem_free(p, n);
	secmem_free(NULL, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_zeroed_wiped_and_many),
		cmocka_unit_test(test_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
