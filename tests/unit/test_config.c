/*
 * test_config.c — config.c: a full config resolved field by field, the
 * defaults, path resolution, every error message (its FILE:LINE prefix and
 * a key phrase), and hostile input that must be refused without a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "testutil.h"

#define FILE_NAME "/nonexistent-geofs/etc/site.conf"
#define FILE_DIR  "/nonexistent-geofs/etc"
#define ERR_LEN   (64 * 1024)

/* A minimal valid config; error cases append to it. 13 lines. */
static const char base[] =
	"[site]\n"			/* 1 */
	"name = tokyo-app-01\n"
	"country = JP\n"
	"[meta]\n"			/* 4 */
	"path = meta\n"
	"[keys]\n"			/* 6 */
	"keyring = keys/site.keyring\n"
	"[backend tokyo-1]\n"		/* 8 */
	"path = /srv/tokyo-1\n"
	"country = JP\n"
	"[category personal]\n"		/* 11 */
	"store_in = origin\n"
	"access_from = origin\n";
#define BASE_LINES 13

static char errbuf[ERR_LEN];

static int parse_n(const char *text, size_t len, struct geo_config **cfg)
{
	return config_parse(FILE_NAME, text, len, cfg, errbuf, sizeof(errbuf));
}

static int parse(const char *text, struct geo_config **cfg)
{
	return parse_n(text, strlen(text), cfg);
}

/* base + extra, in a buffer the caller frees. */
static char *with(const char *extra)
{
	char *s;

	assert_true(asprintf(&s, "%s%s", base, extra) > 0);
	return s;
}

static struct geo_config *parse_ok(const char *text)
{
	struct geo_config *cfg = NULL;
	int rc = parse(text, &cfg);

	if (rc)
		fprintf(stderr, "unexpected errors:\n%s", errbuf);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

/* True if err has a line "FILE:LINE: ..." that contains phrase. */
static bool has_error(const char *err, int line, const char *phrase)
{
	char prefix[128];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%s:%d: ", FILE_NAME, line);

	for (const char *l = err; *l; l = strchr(l, '\n') + 1) {
		const char *end = strchr(l, '\n');

		assert_non_null(end);		/* every message ends its line */
		if (!strncmp(l, prefix, n) && memmem(l, (size_t)(end - l), phrase, strlen(phrase)))
			return true;
	}
	return false;
}

static void expect_error(const char *text, int line, const char *phrase)
{
	struct geo_config *cfg = (void *)1;
	int rc = parse(text, &cfg);

	if (rc != -EINVAL || !has_error(errbuf, line, phrase))
		fprintf(stderr, "wanted line %d: %s\ngot (rc %d):\n%s", line, phrase, rc, errbuf);
	assert_int_equal(rc, -EINVAL);
	assert_null(cfg);
	assert_true(has_error(errbuf, line, phrase));
}

/* ---- valid configs --------------------------------------------------------- */

static const char full[] =
	"# a complete config\n"
	"[site]\n"
	"name = tokyo-app-01\n"
	"country = JP\n"
	"\n"
	"[meta]\n"
	"path = meta\n"
	"country = KR\n"
	"[keys]\n"
	"  keyring=../keys/tokyo.keyring  \n"
	"[audit]\n"
	"path = ./log/audit.log\n"
	"sync_ms = 250\n"
	"[data]\n"
	"shard_size = 256K\n"
	"compress = off\n"
	"cache_size = 1G\n"
	"durability = fsync\n"
	"[backend tokyo-1]\n"
	"path = data/tokyo#1\n"
	"country = JP\n"
	"weight = 10\n"
	"drain = no\n"
	"[backend seoul-1]\n"
	"path = /mnt/seoul\n"
	"country = KR\n"
	"weight = 1000\n"
	"drain = yes\n"
	"[backend osaka-1]\n"
	"path = /mnt/osaka\n"
	"country = JP\n"
	"; categories\n"
	"[category personal]\n"
	"store_in = origin\n"
	"access_from = origin, site\n"
	"replicas = 2\n"
	"[category media]\n"
	"store_in = origin,KR , DE\n"
	"access_from = *\n"
	"compress = lz4\n"
	"[defaults]\n"
	"category = media\n"
	"origin = KR\n"
	"admin_group = geofs-admin\n"
	"[status]\n"
	"metrics_path = /var/lib/node/geofs.prom\n";

static void check_full(const struct geo_config *cfg)
{
	const struct cfg_category *p = &cfg->cats[0], *m = &cfg->cats[1];

	assert_string_equal(cfg->file, FILE_NAME);
	assert_string_equal(cfg->site_name, "tokyo-app-01");
	assert_string_equal(country_code(cfg->site_country), "JP");
	assert_string_equal(cfg->meta_path, FILE_DIR "/meta");
	assert_string_equal(country_code(cfg->meta_country), "KR");
	assert_string_equal(cfg->keyring_path, "/nonexistent-geofs/keys/tokyo.keyring");
	assert_string_equal(cfg->audit_path, FILE_DIR "/log/audit.log");
	assert_int_equal(cfg->audit_sync_ms, 250);
	assert_string_equal(cfg->metrics_path, "/var/lib/node/geofs.prom");
	assert_int_equal(cfg->shard_size, 256 * 1024);
	assert_false(cfg->compress);
	assert_int_equal(cfg->cache_size, 1ull << 30);
	assert_false(cfg->durable_close);
	assert_int_equal(cfg->nbackends, 3);
	assert_string_equal(cfg->backends[0].name, "tokyo-1");
	assert_string_equal(cfg->backends[0].path, FILE_DIR "/data/tokyo#1");
	assert_string_equal(country_code(cfg->backends[0].country), "JP");
	assert_int_equal(cfg->backends[0].weight, 10);
	assert_false(cfg->backends[0].drain);
	assert_int_equal(cfg->backends[0].line, 19);
	assert_string_equal(cfg->backends[1].path, "/mnt/seoul");
	assert_int_equal(cfg->backends[1].weight, 1000);
	assert_true(cfg->backends[1].drain);
	assert_int_equal(cfg->backends[2].weight, 1);
	assert_int_equal(cfg->ncats, 2);
	assert_string_equal(p->name, "personal");
	assert_int_equal(p->line, 33);
	assert_true(p->store_in.origin);
	assert_false(p->store_in.any);
	assert_true(cset_empty(&p->store_in.set));
	assert_true(p->access_from.origin);
	assert_int_equal(cset_count(&p->access_from.set), 1);	/* site -> JP */
	assert_true(cset_has(&p->access_from.set, country_index("JP")));
	assert_int_equal(p->replicas, 2);
	assert_false(p->compress);		/* from [data] */
	assert_true(m->store_in.origin);
	assert_int_equal(cset_count(&m->store_in.set), 2);
	assert_true(cset_has(&m->store_in.set, country_index("KR")));
	assert_true(cset_has(&m->store_in.set, country_index("DE")));
	assert_true(m->access_from.any);
	assert_false(m->access_from.origin);
	assert_int_equal(m->replicas, 1);
	assert_true(m->compress);
	assert_int_equal(cfg->default_category, 1);
	assert_string_equal(country_code(cfg->default_origin), "KR");
	assert_string_equal(cfg->admin_group, "geofs-admin");
	assert_int_equal(config_category(cfg, "media"), 1);
	assert_int_equal(config_category(cfg, "nope"), -ENOENT);
	assert_int_equal(config_category(cfg, NULL), -ENOENT);
	assert_int_equal(config_backend(cfg, "osaka-1"), 2);
	assert_int_equal(config_backend(cfg, "personal"), -ENOENT);
}

static void test_full_config(void **state)
{
	struct geo_config *cfg = parse_ok(full);

	assert_string_equal(errbuf, "");
	check_full(cfg);
	config_free(cfg);
}

/* The same config with CRLF line endings, a BOM and no final newline. */
static void test_crlf_bom_no_newline(void **state)
{
	char *text = malloc(2 * sizeof(full) + 4), *o = text;
	struct geo_config *cfg;

	o += sprintf(o, "\xef\xbb\xbf");
	for (const char *s = full; *s; s++) {
		if (*s == '\n')
			*o++ = '\r';
		*o++ = *s;
	}
	o[-2] = '\0';			/* drop the last CRLF */
	cfg = parse_ok(text);
	check_full(cfg);
	config_free(cfg);
	free(text);
}

/* [data] pad: padme (the default) or off, any case, like the other
 * choices. */
static void test_pad(void **state)
{
	static const struct { const char *val; bool pad; } cases[] = {
		{ "padme", true }, { "off", false }, { "OFF", false }, { "Padme", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		struct geo_config *cfg;

		snprintf(text, sizeof(text), "%s[data]\npad = %s\n", base, cases[i].val);
		cfg = parse_ok(text);
		assert_int_equal(cfg->pad, cases[i].pad);
		config_free(cfg);
	}
}

static void test_defaults(void **state)
{
	struct geo_config *cfg = parse_ok(base);

	assert_string_equal(country_code(cfg->meta_country), "JP");
	assert_string_equal(cfg->meta_path, FILE_DIR "/meta");
	assert_string_equal(cfg->keyring_path, FILE_DIR "/keys/site.keyring");
	assert_null(cfg->audit_path);
	assert_int_equal(cfg->audit_sync_ms, 1000);
	assert_null(cfg->metrics_path);
	assert_int_equal(cfg->shard_size, 1024 * 1024);
	assert_true(cfg->compress);
	assert_true(cfg->pad);			/* padded objects by default */
	assert_int_equal(cfg->cache_size, 256ull << 20);
	assert_int_equal(cfg->dirty_size, 256ull << 20);
	assert_true(cfg->durable_close);
	assert_int_equal(cfg->backends[0].weight, 1);
	assert_false(cfg->backends[0].drain);
	assert_int_equal(cfg->cats[0].replicas, 1);
	assert_true(cfg->cats[0].compress);
	assert_int_equal(cfg->default_category, 0);
	assert_string_equal(country_code(cfg->default_origin), "JP");
	assert_string_equal(cfg->admin_group, "");
	config_free(cfg);
}

/* [data] compress applies to categories declared before it too. */
static void test_category_compress_follows_data(void **state)
{
	char *text = with("[category media]\nstore_in = *\naccess_from = *\ncompress = lz4\n"
			  "[data]\ncompress = off\n");
	struct geo_config *cfg = parse_ok(text);

	assert_false(cfg->cats[0].compress);
	assert_true(cfg->cats[1].compress);
	config_free(cfg);
	free(text);
}

/* `site` resolves to the site country even when [site] comes last. */
static void test_site_resolved_late(void **state)
{
	struct geo_config *cfg = parse_ok(
		"[category local]\nstore_in = site\naccess_from = site, KR\n"
		"[defaults]\norigin = site\n"
		"[backend b]\npath = /b\ncountry = DE\n"
		"[meta]\npath = /m\n[keys]\nkeyring = /k\n"
		"[site]\nname = s\ncountry = DE\n");
	int de = country_index("DE");

	assert_true(cset_has(&cfg->cats[0].store_in.set, de));
	assert_int_equal(cset_count(&cfg->cats[0].store_in.set), 1);
	assert_int_equal(cset_count(&cfg->cats[0].access_from.set), 2);
	assert_int_equal(cfg->default_origin, de);
	assert_int_equal(cfg->meta_country, de);
	config_free(cfg);
}

/* Without [defaults] category: fewest storage countries for the default
 * origin, then fewest access countries, then declaration order. */
static void test_most_restrictive_default(void **state)
{
	char *text = with(
		"[backend seoul]\npath = /s\ncountry = KR\n"
		"[category public]\nstore_in = *\naccess_from = *\n"
		"[category media]\nstore_in = origin, KR\naccess_from = *\n"
		"[category wide]\nstore_in = origin\naccess_from = *\n"
		"[category strict]\nstore_in = origin\naccess_from = origin\n"
		"[category strict2]\nstore_in = origin\naccess_from = origin\n");
	struct geo_config *cfg = parse_ok(text);

	/* personal (base) and strict tie on both counts: personal is first */
	assert_string_equal(cfg->cats[cfg->default_category].name, "personal");
	config_free(cfg);
	free(text);

	text = with("[category narrow]\nstore_in = JP\naccess_from = JP\n"
		    "[defaults]\norigin = KR\n[backend s]\npath = /s\ncountry = KR\n");
	cfg = parse_ok(text);
	/* for origin KR both allow one country and one site country: first wins */
	assert_string_equal(cfg->cats[cfg->default_category].name, "personal");
	config_free(cfg);
	free(text);

	cfg = parse_ok("[site]\nname = s\ncountry = JP\n[meta]\npath = /m\n[keys]\nkeyring = /k\n"
		       "[backend b]\npath = /b\ncountry = JP\n"
		       "[category a]\nstore_in = *\naccess_from = origin\n"
		       "[category b]\nstore_in = origin, KR\naccess_from = *\n"
		       "[category c]\nstore_in = origin, KR\naccess_from = JP, KR, CN\n");
	assert_string_equal(cfg->cats[cfg->default_category].name, "c");
	config_free(cfg);
}

static void test_comments_and_spacing(void **state)
{
	char *text = with("# comment = not a key\n"
			  "   ; another [comment]\n"
			  "\t\n"
			  "  [ backend\t spaced ]  \n"
			  "\tpath\t=\t/srv/with # hash ; and semicolon\t\n"
			  "country=JP\n");
	struct geo_config *cfg = parse_ok(text);

	assert_string_equal(cfg->backends[1].name, "spaced");
	assert_string_equal(cfg->backends[1].path, "/srv/with # hash ; and semicolon");
	config_free(cfg);
	free(text);
}

static void test_relative_paths(void **state)
{
	char *text = with("[audit]\npath = ../../log/a\n[backend b]\npath = ./b\ncountry = JP\n"
			  "[status]\nmetrics_path = ./././x/../m.prom\n");
	struct geo_config *cfg = parse_ok(text);

	assert_string_equal(cfg->audit_path, "/log/a");
	assert_string_equal(cfg->backends[1].path, FILE_DIR "/b");
	/* only leading ./ and ../ are folded; the rest is kept as written */
	assert_string_equal(cfg->metrics_path, FILE_DIR "/x/../m.prom");
	config_free(cfg);
	free(text);
}

static void test_bool_words(void **state)
{
	static const char *const words[] = { "yes", "no", "true", "false", "on", "off", "YES", "Off" };
	static const bool want[] = { true, false, true, false, true, false, true, false };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char extra[128];
		char *text;
		struct geo_config *cfg;

		snprintf(extra, sizeof(extra), "[backend b]\npath = /b\ncountry = JP\ndrain = %s\n", words[i]);
		text = with(extra);
		cfg = parse_ok(text);
		assert_int_equal(cfg->backends[1].drain, want[i]);
		config_free(cfg);
		free(text);
	}
}

static void test_shard_size_bounds(void **state)
{
	char *lo = with("[data]\nshard_size = 64K\n"), *hi = with("[data]\nshard_size = 16M\n");
	struct geo_config *cfg = parse_ok(lo);

	assert_int_equal(cfg->shard_size, CFG_SHARD_MIN);
	config_free(cfg);
	cfg = parse_ok(hi);
	assert_int_equal(cfg->shard_size, CFG_SHARD_MAX);
	config_free(cfg);
	free(lo);
	free(hi);
}

/* replicas may exceed what the default origin has if another origin has
 * enough backends: the check is over every possible origin. */
static void test_replicas_feasible_for_some_origin(void **state)
{
	char *text = with("[backend s1]\npath = /s1\ncountry = KR\n"
			  "[backend s2]\npath = /s2\ncountry = KR\n"
			  "[category two]\nstore_in = origin\naccess_from = *\nreplicas = 2\n"
			  "[category three]\nstore_in = origin, JP\naccess_from = *\nreplicas = 3\n");
	struct geo_config *cfg = parse_ok(text);

	config_free(cfg);
	free(text);
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "1048576", 1048576 }, { "64K", 65536 }, { "64k", 65536 },
		{ "1M", 1u << 20 }, { "3G", 3ull << 30 }, { "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ull << 30 },
	};
	static const char *const bad[] = {
		"", "K", "1.5M", "-1", "+1", " 1M", "1M ", "1MB", "1T", "1 M", "0x10",
		"18446744073709551616", "17179869184G", "99999999999999999999999",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(config_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(config_parse_size(NULL, &v), -EINVAL);
}

/* ---- config_load ----------------------------------------------------------- */

/* The directory without symlinks, as config_load() resolves it. */
static const char *real_dir(const char *dir)
{
	static char buf[PATH_MAX];

	assert_non_null(realpath(dir, buf));
	return buf;
}

static void test_load_file(void **state)
{
	char *dir = tu_tmpdir(), *file, *want, err[CFG_ERR_MAX];
	struct geo_config *cfg;
	FILE *f;

	assert_non_null(dir);
	assert_true(asprintf(&file, "%s/site.conf", dir) > 0);
	assert_true(asprintf(&want, "%s/meta", real_dir(dir)) > 0);
	assert_non_null(f = fopen(file, "w"));
	fputs(base, f);
	fclose(f);
	assert_int_equal(config_load(file, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->meta_path, want);
	config_free(cfg);
	unlink(file);

	assert_int_equal(config_load(file, &cfg, err, sizeof(err)), -ENOENT);
	assert_null(cfg);
	free(want);
	assert_true(asprintf(&want, "%s: %s\n", file, strerror(ENOENT)) > 0);
	assert_string_equal(err, want);

	assert_int_equal(config_load(dir, &cfg, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, strerror(EISDIR)));

	assert_non_null(f = fopen(file, "w"));		/* over 4 MiB: refused */
	for (int i = 0; i < 4 * 1024 + 1; i++)
		fprintf(f, "#%1022s\n", "");
	fclose(f);
	assert_int_equal(config_load(file, &cfg, err, sizeof(err)), -EFBIG);
	assert_null(cfg);
	assert_non_null(strstr(err, "at most 4 MiB"));
	unlink(file);
	rmdir(dir);
	free(want);
	free(file);
	free(dir);
}

/* A config named by a relative path still yields absolute paths. */
static void test_load_relative_name(void **state)
{
	char *dir = tu_tmpdir(), cwd[PATH_MAX], err[CFG_ERR_MAX], *want;
	struct geo_config *cfg;
	FILE *f;

	assert_non_null(dir);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("etc", 0700), 0);
	assert_non_null(f = fopen("etc/x.conf", "w"));
	fputs(base, f);
	fclose(f);
	assert_int_equal(config_load("./etc/x.conf", &cfg, err, sizeof(err)), 0);
	assert_true(asprintf(&want, "%s/etc/keys/site.keyring", real_dir(dir)) > 0);
	assert_string_equal(cfg->keyring_path, want);
	assert_string_equal(cfg->file, "./etc/x.conf");
	config_free(cfg);
	unlink("etc/x.conf");
	rmdir("etc");
	assert_int_equal(chdir(cwd), 0);
	rmdir(dir);
	free(want);
	free(dir);
}

/* ---- every error message --------------------------------------------------- */

struct err_case {
	const char *extra;	/* appended to base; or the whole text if full */
	int line;		/* relative to the end of base when appended */
	const char *phrase;
	bool full;
};

#define APPEND(extra, line, phrase) { extra, line, phrase, false }
#define WHOLE(text, line, phrase)   { text, line, phrase, true }

#define SITE "[site]\nname = s\ncountry = JP\n"
#define MKB  "[meta]\npath = /m\n[keys]\nkeyring = /k\n"
#define BACK "[backend b]\npath = /b\ncountry = JP\n"
#define CAT  "[category c]\nstore_in = origin\naccess_from = *\n"
#define CODE_EXPECT "expected an ISO 3166-1 alpha-2 code such as JP"

static const struct err_case err_cases[] = {
	/* structure */
	APPEND("[weird]\n", 1, "unknown section [weird]; expected [site], [meta]"),
	APPEND("[weird]\nkey = 1\n", 1, "unknown section [weird]"),
	APPEND("[data]\ncolour = red\n", 2,
	       "unknown key 'colour' in [data]; expected one of: shard_size, compress, pad, cache_size, dirty_size, durability"),
	APPEND(BACK "speed = 9\n", 4,
	       "unknown key 'speed' in [backend b]; expected one of: path, country, weight, drain"),
	APPEND("[site]\n", 1, "duplicate section [site], first declared at line 1"),
	APPEND("[backend tokyo-1]\n", 1, "duplicate section [backend tokyo-1], first declared at line 8"),
	APPEND("[category personal]\n", 1, "duplicate section [category personal], first declared at line 11"),
	APPEND("[data]\ncompress = lz4\ncompress = off\n", 3,
	       "duplicate key 'compress' in [data], first set at line 15; expected each key once"),
	APPEND("just words\n", 1, "'just words' is neither a [section] header nor key = value"),
	APPEND("= value\n", 1, "neither a [section] header nor key = value"),
	APPEND("[data\n", 1, "section header '[data' does not end with ]"),
	APPEND("[data] # note\n", 1, "does not end with ]"),
	APPEND("[backend]\n", 1, "bad section name '' in [backend]; expected [backend NAME]"),
	APPEND("[backend two words]\n", 1, "bad section name 'two words'"),
	APPEND("[category a/b]\n", 1, "bad section name 'a/b' in [category]"),
	APPEND("[backend " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "]\n", 1,
	       "bad section name"),
	APPEND("[data extra]\n", 1, "section [data] takes no name; expected [data]"),
	WHOLE("x = 1\n" SITE MKB BACK CAT, 1, "key 'x' outside any section; expected a [section] header first"),
	/* required */
	WHOLE("[site]\nname = s\n" MKB BACK CAT, 1, "missing key 'country' in [site]; expected country = " "an ISO"),
	WHOLE(SITE "[meta]\ncountry = JP\n[keys]\nkeyring = /k\n" BACK CAT, 4, "missing key 'path' in [meta]"),
	WHOLE(SITE "[meta]\npath = /m\n" BACK CAT, 0, "missing section [keys]; expected a [keys] section setting keyring"),
	WHOLE(MKB BACK CAT, 0, "missing section [site]"),
	WHOLE(SITE MKB CAT, 0, "missing section [backend NAME]; expected at least one [backend NAME] section setting path, country"),
	WHOLE(SITE MKB BACK, 0, "missing section [category NAME]; expected at least one"),
	WHOLE("", 0, "missing section [site]"),
	APPEND("[backend b]\npath = /b\n", 1, "missing key 'country' in [backend b]"),
	APPEND("[category c]\nstore_in = *\n", 1, "missing key 'access_from' in [category c]"),
	APPEND("[keys]\n", 1, "duplicate section [keys]"),
	/* values */
	APPEND("[backend b]\npath = /b\ncountry = XX\n", 3, "bad country 'XX': not an ISO 3166-1 alpha-2 code; " CODE_EXPECT),
	APPEND("[backend b]\npath = /b\ncountry = jp\n", 3, "bad country 'jp': country codes are written in upper case; " CODE_EXPECT),
	APPEND("[backend b]\npath = /b\ncountry = JPN\n", 3, "bad country 'JPN'"),
	APPEND("[meta]\n", 1, "duplicate section [meta]"),
	APPEND("[category c]\nstore_in = origin, XX\naccess_from = *\n", 2, "bad country 'XX' in store_in: not an ISO"),
	APPEND("[category c]\nstore_in = kr\naccess_from = *\n", 2, "bad country 'kr' in store_in: country codes are written in upper case; " CODE_EXPECT),
	APPEND("[data]\nshard_size = big\n", 2, "bad shard_size 'big': not a size; expected a size from 64K to 16M"),
	APPEND("[data]\nshard_size = 32K\n", 2, "bad shard_size '32K': out of range; expected a size from 64K to 16M"),
	APPEND("[data]\nshard_size = 17M\n", 2, "bad shard_size '17M': out of range"),
	APPEND("[data]\nshard_size = 99999999999999999999999\n", 2, "bad shard_size"),
	APPEND("[data]\ncache_size = 12Q\n", 2, "bad cache_size '12Q': not a size; expected a size such as 256M"),
	APPEND("[data]\ncompress = gzip\n", 2, "bad compress 'gzip'; expected lz4 or off"),
	APPEND("[data]\npad = yes\n", 2, "bad pad 'yes'; expected padme or off"),
	APPEND("[data]\n\npad = padme\npad = off\n", 4, "duplicate key 'pad'"),
	APPEND("[data]\ndurability = sometimes\n", 2, "bad durability 'sometimes'; expected close or fsync"),
	APPEND("[audit]\nsync_ms = 60001\n", 2, "bad sync_ms '60001': out of range; expected milliseconds from 0 to 60000"),
	APPEND("[audit]\nsync_ms = 1s\n", 2, "bad sync_ms '1s': not a number"),
	APPEND(BACK "drain = maybe\n", 4, "bad drain 'maybe'; expected yes or no"),
	APPEND(BACK "weight = ten\n", 4, "bad weight 'ten': not a number; expected a number from 1 to 1000"),
	APPEND(BACK "weight = 0\n", 4, "bad weight '0': out of range; expected a number from 1 to 1000"),
	APPEND(BACK "weight = 1001\n", 4, "bad weight '1001': out of range"),
	APPEND(BACK "weight = -1\n", 4, "bad weight '-1': not a number"),
	APPEND(BACK "weight = 99999999999999999999999\n", 4, "bad weight"),
	APPEND(CAT "replicas = 0\n", 4, "bad replicas '0': out of range; expected a number from 1 to 4"),
	APPEND(CAT "replicas = 5\n", 4, "bad replicas '5': out of range"),
	APPEND(CAT "compress = zstd\n", 4, "bad compress 'zstd'; expected lz4 or off"),
	APPEND(CAT "replicas = two\n", 4, "bad replicas 'two': not a number; expected a number from 1 to 4"),
	APPEND(BACK "path = /c\n", 4, "duplicate key 'path' in [backend b], first set at line 15"),
	APPEND("[backend b]\npath =\ncountry = JP\n", 2, "path is empty; expected a directory path"),
	/* lists */
	APPEND("[category c]\nstore_in = *, JP\naccess_from = *\n", 2,
	       "'*' cannot be combined with other items in store_in"),
	APPEND("[category c]\nstore_in = origin\naccess_from = origin, *\n", 3,
	       "'*' cannot be combined with other items in access_from"),
	APPEND("[category c]\nstore_in =\naccess_from = *\n", 2, "store_in is empty; expected a comma-separated list"),
	APPEND("[category c]\nstore_in = ,\naccess_from = *\n", 2, "empty item in store_in"),
	APPEND("[category c]\nstore_in = JP,,KR\naccess_from = *\n", 2, "empty item in store_in"),
	APPEND("[category c]\nstore_in = JP,\naccess_from = *\n", 2, "empty item in store_in"),
	APPEND("[category c]\nstore_in = origin, mars\naccess_from = *\n", 2,
	       "unknown item 'mars' in store_in; expected a comma-separated list of ISO 3166-1 alpha-2 codes"),
	APPEND("[category c]\nstore_in = JP KR\naccess_from = *\n", 2, "unknown item 'JP KR' in store_in"),
	APPEND("[category c]\nstore_in = Origin\naccess_from = *\n", 2, "unknown item 'Origin'"),
	/* whole-file */
	APPEND("[backend b]\npath = /srv/tokyo-1/\ncountry = KR\n", 2,
	       "backend b uses the same path as backend tokyo-1 (line 9); expected a distinct directory per backend"),
	APPEND("[backend b]\npath = ../etc/meta\ncountry = KR\n[backend c]\npath = meta\ncountry = KR\n", 5,
	       "backend c uses the same path as backend b"),
	/* names and keys never inside a backend, no backend in the meta root */
	APPEND("[backend kr]\npath = .\ncountry = KR\n", 2,
	       "meta root " FILE_DIR "/meta lies inside backend kr " FILE_DIR " (line 15)"),
	APPEND("[backend kr]\npath = /srv/kr\ncountry = KR\n[audit]\npath = /srv/kr/log/audit.log\n", 5,
	       "audit log /srv/kr/log/audit.log lies inside backend kr /srv/kr (line 15)"),
	APPEND("[backend kr]\npath = keys\ncountry = KR\n", 2,
	       "keyring " FILE_DIR "/keys/site.keyring lies inside backend kr " FILE_DIR "/keys (line 15)"),
	APPEND("[backend kr]\npath = meta/objects\ncountry = KR\n", 2,
	       "backend kr " FILE_DIR "/meta/objects lies inside meta root " FILE_DIR "/meta (line 5)"),
	APPEND("[backend kr]\npath = /srv/tokyo-1/kr\ncountry = KR\n", 2,
	       "backend kr /srv/tokyo-1/kr lies inside backend tokyo-1 /srv/tokyo-1 (line 9)"),
	APPEND("[defaults]\ncategory = nope\n", 2, "unknown category 'nope' in [defaults]; expected one of: personal"),
	APPEND("[defaults]\norigin = Mars\n", 2, "bad country 'Mars' in origin: not an ISO 3166-1 alpha-2 code; "
	       CODE_EXPECT ", or site"),
	APPEND("[defaults]\norigin = jp\n", 2, "bad country 'jp' in origin: country codes are written in upper case"),
	APPEND("[defaults]\nadmin_group = a b\n", 2, "bad admin_group 'a b'; expected a group name"),
	APPEND("[category med]\nstore_in = origin\naccess_from = origin\nreplicas = 2\n", 4,
	       "category med wants 2 replicas but at most 1 non-draining backend could ever qualify (store_in: origin); expected replicas <= 1"),
	APPEND("[category fr]\nstore_in = FR\naccess_from = *\n", 1,
	       "category fr wants 1 replica but at most 0 non-draining backends could ever qualify (store_in: FR)"),
	APPEND("[backend fr]\npath = /fr\ncountry = FR\ndrain = yes\n[category fr]\nstore_in = FR, DE\naccess_from = *\n", 5,
	       "at most 0 non-draining backends could ever qualify"),
	APPEND("[backend k]\npath = /k\ncountry = KR\n[category c]\nstore_in = origin, JP\naccess_from = *\nreplicas = 3\n", 7,
	       "wants 3 replicas but at most 2 non-draining backends"),
	APPEND("[site]\nname = x\n", 1, "duplicate section [site]"),
};

static void test_error_case(void **state)
{
	const struct err_case *c = *state;
	char *text = c->full ? strdup(c->extra) : with(c->extra);

	expect_error(text, c->full ? c->line : BASE_LINES + c->line, c->phrase);
	free(text);
}

static void test_site_name_errors(void **state)
{
	expect_error("[site]\nname = tokyo app\ncountry = JP\n" MKB BACK CAT, 2,
		     "bad name 'tokyo app'; expected 1..63 characters");
	expect_error("[site]\nname = s\ncountry = JP\n[site]\nname = t\n" MKB BACK CAT, 4,
		     "duplicate section [site]");
}

/* Every problem is reported, in line order, not just the first. */
static void test_all_errors_listed(void **state)
{
	char *text = with("[data]\ncompress = gzip\n[weird]\n[backend b]\npath = /b\ncountry = jp\n"
			  "[defaults]\ncategory = nope\n");
	const char *a, *b, *c, *d;

	expect_error(text, BASE_LINES + 2, "bad compress");
	assert_true(has_error(errbuf, BASE_LINES + 3, "unknown section"));
	assert_true(has_error(errbuf, BASE_LINES + 6, "upper case"));
	assert_true(has_error(errbuf, BASE_LINES + 8, "unknown category"));
	a = strstr(errbuf, "bad compress");
	b = strstr(errbuf, "unknown section");
	c = strstr(errbuf, "upper case");
	d = strstr(errbuf, "unknown category");
	assert_true(a < b && b < c && c < d);
	free(text);
}

static void test_too_many_backends(void **state)
{
	size_t cap = (CFG_MAX_BACKENDS + 2) * 64 + sizeof(base);
	char *text = malloc(cap), *o = text;

	o += sprintf(o, "%s", base);
	for (int i = 0; i < CFG_MAX_BACKENDS; i++)
		o += sprintf(o, "[backend b%d]\npath = /b%d\ncountry = JP\n", i, i);
	expect_error(text, BASE_LINES + 3 * (CFG_MAX_BACKENDS - 1) + 1,
		     "too many [backend] sections; expected at most 64");
	free(text);
}

/* ---- hostile input ----------------------------------------------------- */

static void test_empty_and_null(void **state)
{
	struct geo_config *cfg;

	assert_int_equal(parse_n("", 0, &cfg), -EINVAL);
	assert_true(has_error(errbuf, 0, "missing section [site]"));
	assert_int_equal(config_parse(FILE_NAME, NULL, 0, &cfg, errbuf, sizeof(errbuf)), -EINVAL);
	assert_int_equal(config_parse(NULL, base, strlen(base), &cfg, NULL, 0), 0);
	config_free(cfg);
	config_free(NULL);
}

static void test_long_line(void **state)
{
	size_t n = 100 * 1024;
	char *text = malloc(sizeof(base) + n + 16);

	strcpy(text, base);
	strcat(text, "[data]\n");
	memset(text + strlen(text), 'a', n);
	strcpy(text + sizeof(base) - 1 + 7 + n, "\n");
	expect_error(text, BASE_LINES + 2, "line is 102400 bytes long; expected at most");
	free(text);
}

static void test_long_value_is_echoed_briefly(void **state)
{
	char *text = malloc(8000), *o = text;

	o += sprintf(o, "%s[data]\ncompress = ", base);
	memset(o, 'z', 7000);
	strcpy(o + 7000, "\n");
	expect_error(text, BASE_LINES + 2, "bad compress 'zzzzzzzz");
	assert_true(strlen(errbuf) < 300);
	free(text);
}

static void test_nul_bytes(void **state)
{
	static const char text[] = "[site]\nname = s\0x\ncountry = JP\n";
	struct geo_config *cfg;

	assert_int_equal(parse_n(text, sizeof(text) - 1, &cfg), -EINVAL);
	assert_true(has_error(errbuf, 2, "line contains a NUL byte"));
	assert_true(has_error(errbuf, 1, "missing key 'name' in [site]"));
}

static void test_control_chars_not_echoed(void **state)
{
	char *text = with("[data]\ncompress = \x1b[31mred\x07\n");

	expect_error(text, BASE_LINES + 2, "bad compress '?[31mred?'");
	free(text);
}

static void test_binary_garbage(void **state)
{
	size_t n = 256 * 1024;
	char *buf = malloc(n);
	struct geo_config *cfg;

	for (uint64_t seed = 1; seed <= 8; seed++) {
		tu_fill(buf, n, seed);
		assert_int_equal(parse_n(buf, n, &cfg), -EINVAL);
		assert_null(cfg);
		assert_true(strlen(errbuf) < sizeof(errbuf));
	}
	free(buf);
}

/* Many errors into a small buffer: whole lines only, then it stops. */
static void test_error_buffer_bounds(void **state)
{
	char *text = malloc(20000), *o = text, small[200];
	struct geo_config *cfg;

	for (int i = 0; i < 2000; i++)
		o += sprintf(o, "junk\n");
	assert_int_equal(config_parse(FILE_NAME, text, strlen(text), &cfg, small, sizeof(small)), -EINVAL);
	assert_true(strlen(small) > 0 && strlen(small) < sizeof(small));
	assert_int_equal(small[strlen(small) - 1], '\n');
	assert_int_equal(config_parse(FILE_NAME, text, strlen(text), &cfg, small, 1), -EINVAL);
	assert_string_equal(small, "");
	assert_int_equal(config_parse(FILE_NAME, text, strlen(text), &cfg, NULL, 0), -EINVAL);
	free(text);
}

/* Random byte edits of a valid config: any outcome but a crash or leak. */
static void test_mutations(void **state)
{
	size_t n = strlen(full);
	char *buf = malloc(n);
	uint8_t rnd[4];
	struct geo_config *cfg;

	for (uint64_t seed = 1; seed <= 3000; seed++) {
		memcpy(buf, full, n);
		for (int k = 0; k < 1 + (int)(seed % 4); k++) {
			tu_fill(rnd, sizeof(rnd), seed * 7 + (uint64_t)k);
			buf[(rnd[0] | rnd[1] << 8) % n] = (char)rnd[2];
		}
		if (parse_n(buf, n, &cfg) == 0)
			config_free(cfg);
		else
			assert_null(cfg);
	}
	free(buf);
}

int main(void)
{
	struct CMUnitTest tests[64 + sizeof(err_cases) / sizeof(err_cases[0])];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_crlf_bom_no_newline),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_category_compress_follows_data),
		cmocka_unit_test(test_site_resolved_late),
		cmocka_unit_test(test_most_restrictive_default),
		cmocka_unit_test(test_comments_and_spacing),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_bool_words),
		cmocka_unit_test(test_shard_size_bounds),
		cmocka_unit_test(test_replicas_feasible_for_some_origin),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_relative_name),
		cmocka_unit_test(test_site_name_errors),
		cmocka_unit_test(test_all_errors_listed),
		cmocka_unit_test(test_too_many_backends),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_long_value_is_echoed_briefly),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_control_chars_not_echoed),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_error_buffer_bounds),
		cmocka_unit_test(test_mutations),
	};
	static char names[sizeof(err_cases) / sizeof(err_cases[0])][96];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		snprintf(names[i], sizeof(names[i]), "error: %.80s", err_cases[i].phrase);
		tests[n++] = (struct CMUnitTest){ names[i], test_error_case, NULL, NULL,
						  (void *)&err_cases[i] };
	}
	return _cmocka_run_group_tests("test_config", tests, n, NULL, NULL);
}
