/*
 * test_info_text.c — the user.geo.info text the daemon writes
 * (fs/info_text.c) read back by geoctl's parser (tools/geoctl/info.c):
 * every field of a directory's and of a file's text survives the round
 * trip, tags resolved from a real config give the policy's lists, and a
 * text cut to a small buffer stays a NUL-terminated prefix.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "country.h"
#include "info_text.h"
#include "manifest.h"
#include "../../tools/geoctl/info.h"

static const char conf_text[] =
	"[site]\nname = t\ncountry = JP\n[meta]\npath = /nonexistent-geofs/meta\n"
	"[keys]\nkeyring = /nonexistent-geofs/k\n"
	"[backend tokyo-1]\npath = /nonexistent-geofs/b1\ncountry = JP\n"
	"[backend seoul-1]\npath = /nonexistent-geofs/b2\ncountry = KR\n"
	"[category personal]\nstore_in = origin\naccess_from = origin\n"
	"[category media]\nstore_in = origin, KR\naccess_from = *\nreplicas = 2\n"
	"[defaults]\ncategory = personal\norigin = site\n";

static void roundtrip(const struct info_text *it, struct geo_info *gi)
{
	char buf[8192];
	size_t n = info_text_format(it, buf, sizeof(buf));

	assert_int_equal(n, strlen(buf));
	assert_int_equal(info_parse(buf, n, gi), 0);
}

static void test_dir_fields_roundtrip(void **state)
{
	struct info_text it = {
		.is_file = false, .category = "media", .category_set = true,
		.origin = "KR", .origin_set = false, .replicas = 2,
	};
	struct geo_info gi;

	strcpy(it.store_in, "JP,KR");
	strcpy(it.access_from, "*");
	roundtrip(&it, &gi);
	assert_int_equal(gi.type, INFO_DIR);
	assert_string_equal(gi.category, "media");
	assert_true(gi.category_set);
	assert_string_equal(gi.origin, "KR");
	assert_false(gi.origin_set);
	assert_string_equal(gi.store_in, "JP,KR");
	assert_string_equal(gi.access_from, "*");
	assert_true(cset_has(&gi.store_set, country_index("JP")));
	assert_true(cset_has(&gi.store_set, country_index("KR")));
	assert_false(cset_has(&gi.store_set, country_index("US")));
	assert_true(cset_has(&gi.access_set, country_index("US")));
	assert_int_equal(gi.replicas, 2);
	assert_false(gi.is_file_data);
	assert_false(gi.misplaced);
	info_free(&gi);
}

static void test_file_fields_roundtrip(void **state)
{
	struct info_text it = {
		.is_file = true, .category = "personal", .category_set = false,
		.origin = "JP", .origin_set = true, .replicas = 1,
		.size = 3 * 65536 + 5, .stored = 200123, .shards = 4,
		.placement = "JP/osaka-1,KR/seoul-1",
		.backend_bytes = "osaka-1:150000,seoul-1:50123",
		.status = "misplaced 1 replica in KR, allowed JP",
	};
	struct geo_info gi;

	strcpy(it.store_in, "JP");
	strcpy(it.access_from, "JP");
	roundtrip(&it, &gi);
	assert_int_equal(gi.type, INFO_FILE);
	assert_string_equal(gi.category, "personal");
	assert_false(gi.category_set);
	assert_string_equal(gi.origin, "JP");
	assert_true(gi.origin_set);
	assert_true(gi.is_file_data);
	assert_int_equal(gi.size, 3 * 65536 + 5);
	assert_int_equal(gi.stored, 200123);
	assert_int_equal(gi.shards, 4);
	assert_int_equal(gi.nplace, 2);
	assert_string_equal(gi.place[0].country, "JP");
	assert_string_equal(gi.place[0].backend, "osaka-1");
	assert_int_equal(gi.place[0].bytes, 150000);
	assert_string_equal(gi.place[1].country, "KR");
	assert_string_equal(gi.place[1].backend, "seoul-1");
	assert_int_equal(gi.place[1].bytes, 50123);
	assert_true(gi.misplaced);
	assert_string_equal(gi.reason, "1 replica in KR, allowed JP");
	assert_int_equal(info_bytes_in(&gi, "KR"), 50123);
	info_free(&gi);

	it.status = "ok";
	it.placement = it.backend_bytes = "";
	roundtrip(&it, &gi);
	assert_false(gi.misplaced);
	assert_string_equal(gi.status, "ok");
	assert_int_equal(gi.nplace, 0);
	info_free(&gi);
}

/* The tag lines as a config resolves them: what geoctl then compares. */
static void test_tags_from_config_roundtrip(void **state)
{
	char err[4096];
	struct geo_config *cfg;
	struct info_text it = { .is_file = false };
	struct geo_tags t;
	struct geo_info gi;

	assert_int_equal(config_parse("t.conf", conf_text, strlen(conf_text), &cfg, err,
				      sizeof(err)), 0);
	t.cat = config_category(cfg, "media");
	t.origin = country_index("JP");
	t.flags = MANIFEST_CAT_SET;
	info_text_tags(&it, cfg, &t);
	roundtrip(&it, &gi);
	assert_string_equal(gi.category, "media");
	assert_true(gi.category_set);
	assert_string_equal(gi.origin, "JP");
	assert_false(gi.origin_set);
	assert_string_equal(gi.store_in, "JP,KR");
	assert_string_equal(gi.access_from, "*");
	assert_int_equal(gi.replicas, 2);
	info_free(&gi);
	tags_default(cfg, &t);
	info_text_tags(&it, cfg, &t);
	roundtrip(&it, &gi);
	assert_string_equal(gi.category, "personal");
	assert_false(gi.category_set);
	assert_string_equal(gi.store_in, "JP");
	info_free(&gi);
	config_free(cfg);
}

static void test_cut_text_is_terminated(void **state)
{
	struct info_text it = { .is_file = false, .category = "personal", .origin = "JP" };
	char buf[20];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(info_text_format(&it, buf, sizeof(buf)), sizeof(buf) - 1);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, "type=dir\ncategory=p", sizeof(buf) - 1);
	assert_int_equal(info_text_format(&it, buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_fields_roundtrip),
		cmocka_unit_test(test_file_fields_roundtrip),
		cmocka_unit_test(test_tags_from_config_roundtrip),
		cmocka_unit_test(test_cut_text_is_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
