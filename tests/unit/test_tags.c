/*
 * test_tags.c — a tag's forms (fs/tags.c): indices to manifest names and
 * back, names the config no longer declares failing closed (the default
 * category, the default origin), the key domain of tags and of a manifest
 * agreeing, and directory tags through real xattrs on a temp directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "country.h"
#include "manifest.h"
#include "tags.h"
#include "testutil.h"

static const char conf_text[] =
	"[site]\nname = t\ncountry = JP\n[meta]\npath = /nonexistent-geofs/meta\n"
	"[keys]\nkeyring = /nonexistent-geofs/k\n"
	"[backend tokyo-1]\npath = /nonexistent-geofs/b1\ncountry = JP\n"
	"[backend seoul-1]\npath = /nonexistent-geofs/b2\ncountry = KR\n"
	"[category personal]\nstore_in = origin\naccess_from = origin\n"
	"[category media]\nstore_in = origin, KR\naccess_from = *\n"
	"[defaults]\ncategory = personal\norigin = site\n";

static int setup(void **state)
{
	char err[4096];
	struct geo_config *cfg;

	assert_int_equal(config_parse("t.conf", conf_text, strlen(conf_text), &cfg, err,
				      sizeof(err)), 0);
	*state = cfg;
	return 0;
}

static int teardown(void **state)
{
	config_free(*state);
	return 0;
}

static void test_manifest_roundtrip(void **state)
{
	const struct geo_config *cfg = *state;
	struct geo_tags t = { .cat = config_category(cfg, "media"), .origin = country_index("KR"),
			      .flags = MANIFEST_ORIGIN_SET }, back;
	struct manifest *mf = manifest_new();

	assert_non_null(mf);
	tags_to_manifest(cfg, &t, mf);
	assert_string_equal(mf->category, "media");
	assert_memory_equal(mf->origin, "KR", 3);
	assert_int_equal(mf->flags, MANIFEST_ORIGIN_SET);
	tags_from_manifest(cfg, mf, &back);
	assert_int_equal(back.cat, t.cat);
	assert_int_equal(back.origin, t.origin);
	assert_int_equal(back.flags, t.flags);
	manifest_free(mf);
}

static void test_unknown_names_fail_closed(void **state)
{
	const struct geo_config *cfg = *state;
	struct manifest *mf = manifest_new();
	struct geo_tags t;

	assert_non_null(mf);
	snprintf(mf->category, sizeof(mf->category), "retired");
	memcpy(mf->origin, "ZZ", 3);
	mf->flags = 0xff;
	tags_from_manifest(cfg, mf, &t);
	assert_int_equal(t.cat, cfg->default_category);
	assert_int_equal(t.origin, cfg->default_origin);
	assert_int_equal(t.flags, MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET);
	tags_default(cfg, &t);
	assert_int_equal(t.cat, config_category(cfg, "personal"));
	assert_string_equal(country_code(t.origin), "JP");
	assert_int_equal(t.flags, 0);
	manifest_free(mf);
}

/* A file's key is wrapped under the domain of its tags and unwrapped under
 * the domain its manifest names: the two must be the same string. */
static void test_domains_agree(void **state)
{
	const struct geo_config *cfg = *state;
	struct geo_tags t = { .cat = config_category(cfg, "media"), .origin = country_index("JP") };
	char a[KEYS_DOMAIN_MAX], b[KEYS_DOMAIN_MAX];
	struct manifest *mf = manifest_new();

	assert_non_null(mf);
	tags_domain(cfg, &t, a);
	tags_to_manifest(cfg, &t, mf);
	tags_manifest_domain(mf, b);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "JP"));
	assert_non_null(strstr(a, "media"));
	manifest_free(mf);
}

static void test_dir_tags_roundtrip(void **state)
{
	const struct geo_config *cfg = *state;
	char *dir = tu_tmpdir();
	struct geo_tags t = { .cat = config_category(cfg, "media"), .origin = country_index("KR"),
			      .flags = MANIFEST_CAT_SET }, back;
	int fd;

	assert_non_null(dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tags_dir_get(cfg, fd, &back), -ENODATA);
	assert_int_equal(tags_dir_set(cfg, fd, &t), 0);
	assert_int_equal(tags_dir_get(cfg, fd, &back), 0);
	assert_int_equal(back.cat, t.cat);
	assert_int_equal(back.origin, t.origin);
	assert_int_equal(back.flags, MANIFEST_CAT_SET);
	close(fd);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_manifest_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_names_fail_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_tags_roundtrip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
