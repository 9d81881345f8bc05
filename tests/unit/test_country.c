/*
 * test_country.c — country.c: ISO 3166-1 alpha-2 lookup (upper case only),
 * country sets and their formatting; and geoid_parse() from geoid.c, the
 * other small identifier module of the core.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "country.h"
#include "geoid.h"

static int idx(const char *code)
{
	int i = country_index(code);

	assert_true(i >= 0);
	return i;
}

static void test_table(void **state)
{
	assert_int_equal(country_count(), 249);
	assert_int_equal(country_index("AD"), 0);
	assert_string_equal(country_code(country_count() - 1), "ZW");
	for (int i = 0; i < country_count(); i++)
		assert_int_equal(country_index(country_code(i)), i);
	for (int i = 1; i < country_count(); i++)
		assert_true(strcmp(country_code(i - 1), country_code(i)) < 0);
}

static void test_valid_codes(void **state)
{
	static const char *const codes[] = { "JP", "KR", "CN", "DE", "FR", "US", "GB", "IE", "AX", "SS" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_equal(country_code(idx(codes[i])), codes[i]);
}

static void test_invalid_codes(void **state)
{
	static const char *const bad[] = {
		"jp", "Jp", "jP", "XX", "ZZ", "UK", "EU", "J", "", "JPN", "J1", "1J",
		"J ", " J", "JP ", "\xc3\x89" "S",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(country_index(bad[i]), -EINVAL);
	assert_int_equal(country_index(NULL), -EINVAL);
	assert_string_equal(country_code(-1), "??");
	assert_string_equal(country_code(country_count()), "??");
	assert_string_equal(country_code(100000), "??");
}

static void test_cset_basic(void **state)
{
	struct cset s;

	cset_clear(&s);
	assert_true(cset_empty(&s));
	assert_false(cset_full(&s));
	assert_int_equal(cset_count(&s), 0);
	cset_add(&s, idx("JP"));
	cset_add(&s, idx("JP"));
	cset_add(&s, idx("KR"));
	cset_add(&s, -1);			/* ignored */
	cset_add(&s, COUNTRY_MAX + 5);		/* ignored */
	assert_int_equal(cset_count(&s), 2);
	assert_true(cset_has(&s, idx("JP")));
	assert_true(cset_has(&s, idx("KR")));
	assert_false(cset_has(&s, idx("CN")));
	assert_false(cset_has(&s, -1));
	assert_false(cset_has(&s, 9999));
	assert_false(cset_empty(&s));
}

static void test_cset_fill(void **state)
{
	struct cset s;

	cset_fill(&s);
	assert_true(cset_full(&s));
	assert_int_equal(cset_count(&s), country_count());
	for (int i = 0; i < country_count(); i++)
		assert_true(cset_has(&s, i));
	/* bits past the table are not countries */
	assert_false(cset_has(&s, country_count()));
}

static void test_cset_relations(void **state)
{
	struct cset a, b, all, none;

	cset_clear(&a);
	cset_clear(&b);
	cset_clear(&none);
	cset_fill(&all);
	cset_add(&a, idx("JP"));
	cset_add(&b, idx("JP"));
	cset_add(&b, idx("KR"));
	assert_true(cset_subset(&a, &b));
	assert_false(cset_subset(&b, &a));
	assert_true(cset_subset(&a, &a));
	assert_true(cset_subset(&none, &a));
	assert_true(cset_subset(&b, &all));
	assert_false(cset_subset(&all, &b));
	assert_false(cset_equal(&a, &b));
	cset_add(&a, idx("KR"));
	assert_true(cset_equal(&a, &b));
	cset_clear(&a);
	cset_add(&a, idx("FR"));
	cset_union(&a, &b);
	assert_int_equal(cset_count(&a), 3);
	assert_true(cset_has(&a, idx("FR")) && cset_has(&a, idx("KR")) && cset_has(&a, idx("JP")));
	cset_union(&a, &all);
	assert_true(cset_full(&a));
}

static void test_cset_format(void **state)
{
	struct cset s;
	char buf[64];

	cset_clear(&s);
	assert_int_equal(cset_format(&s, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "-");
	cset_add(&s, idx("KR"));
	cset_add(&s, idx("JP"));
	cset_add(&s, idx("DE"));
	assert_int_equal(cset_format(&s, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "DE,JP,KR");	/* table order, not insertion */
	cset_fill(&s);
	assert_int_equal(cset_format(&s, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "*");
}

static void test_cset_format_truncates(void **state)
{
	struct cset s;
	char buf[8];

	cset_clear(&s);
	cset_add(&s, idx("JP"));
	cset_add(&s, idx("KR"));
	cset_add(&s, idx("US"));
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cset_format(&s, buf, 4), 8);
	assert_string_equal(buf, "JP,");
	assert_int_equal(buf[4], 'x');		/* nothing past len */
	assert_int_equal(cset_format(&s, buf, 1), 8);
	assert_string_equal(buf, "");
	assert_int_equal(cset_format(&s, NULL, 0), 8);
	assert_int_equal(cset_format(&s, buf, 8), 8);
	assert_string_equal(buf, "JP,KR,U");
}

static void test_geoid_parse(void **state)
{
	static const char hex[] = "00112233445566778899aabbccddeeff";
	struct geo_id id, id2;
	char out[GEO_HEX_LEN + 1];

	assert_int_equal(geoid_parse(hex, &id), 0);
	assert_int_equal(id.b[0], 0x00);
	assert_int_equal(id.b[15], 0xff);
	geoid_hex(&id, out);
	assert_string_equal(out, hex);
	assert_int_equal(geoid_parse("00112233445566778899AABBCCDDEEFF", &id2), 0);
	assert_true(geoid_equal(&id, &id2));
}

static void test_geoid_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "0011223344556677889900aabbccddee0",	/* 33 digits */
		"00112233445566778899aabbccddeef",		/* 31 */
		"00112233445566778899aabbccddeefg",
		" 0112233445566778899aabbccddeeff",
		"00112233445566778899aabbccddeeff\n",
		"0x112233445566778899aabbccddeeff",
	};
	struct geo_id id;

	memset(&id, 0x5a, sizeof(id));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(geoid_parse(bad[i], &id), -EINVAL);
	assert_int_equal(geoid_parse(NULL, &id), -EINVAL);
	assert_int_equal(id.b[0], 0x5a);	/* untouched on failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_valid_codes),
		cmocka_unit_test(test_invalid_codes),
		cmocka_unit_test(test_cset_basic),
		cmocka_unit_test(test_cset_fill),
		cmocka_unit_test(test_cset_relations),
		cmocka_unit_test(test_cset_format),
		cmocka_unit_test(test_cset_format_truncates),
		cmocka_unit_test(test_geoid_parse),
		cmocka_unit_test(test_geoid_parse_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
