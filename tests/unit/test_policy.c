/*
 * test_policy.c — policy.c over one parsed config: store and access sets
 * (origin, site, *), which retags tighten, which backends qualify, the
 * weighted choice of backends for a shard (with a deterministic random
 * source) and its EACCES / ENOSPC distinction, and policy_explain's text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

static const char conf[] =
	"[site]\nname = tokyo\ncountry = JP\n"
	"[meta]\npath = /m\n[keys]\nkeyring = /k\n"
	"[backend jp1]\npath = /b/jp1\ncountry = JP\n"			/* 0 */
	"[backend jp2]\npath = /b/jp2\ncountry = JP\nweight = 3\n"	/* 1 */
	"[backend kr1]\npath = /b/kr1\ncountry = KR\n"			/* 2 */
	"[backend fr1]\npath = /b/fr1\ncountry = FR\n"			/* 3 */
	"[backend fr2]\npath = /b/fr2\ncountry = FR\ndrain = yes\n"	/* 4 */
	"[backend de1]\npath = /b/de1\ncountry = DE\ndrain = yes\n"	/* 5 */
	"[category personal]\nstore_in = origin\naccess_from = origin\n"
	"[category media]\nstore_in = origin, KR\naccess_from = *\n"
	"[category public]\nstore_in = *\naccess_from = *\n"
	"[category local]\nstore_in = site\naccess_from = site\n"
	"[category pair]\nstore_in = origin\naccess_from = origin\nreplicas = 2\n"
	"[category eu]\nstore_in = FR, DE\naccess_from = FR, DE, site\n";

enum { JP1, JP2, KR1, FR1, FR2, DE1, NB };
enum { PERSONAL, MEDIA, PUBLIC, LOCAL, PAIR, EU };

static struct geo_config *cfg;
static int JP, KR, FR, DE, US;

static int setup(void **state)
{
	char err[CFG_ERR_MAX];

	if (config_parse("policy.conf", conf, sizeof(conf) - 1, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s", err);
		return -1;
	}
	JP = country_index("JP");
	KR = country_index("KR");
	FR = country_index("FR");
	DE = country_index("DE");
	US = country_index("US");
	return 0;
}

static int teardown(void **state)
{
	config_free(cfg);
	return 0;
}

/* xorshift32: a fixed, reproducible sequence. */
static uint32_t xrnd(void *arg)
{
	uint32_t *x = arg;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void all_healthy(struct backend_state *st, uint64_t avail)
{
	for (int i = 0; i < NB; i++)
		st[i] = (struct backend_state){ .healthy = true, .avail = avail };
}

static const char *fmt(const struct cset *s)
{
	static char buf[1024];

	cset_format(s, buf, sizeof(buf));
	return buf;
}

/* ---- sets ------------------------------------------------------------------ */

static void test_store_sets(void **state)
{
	struct cset s;

	policy_store_set(cfg, PERSONAL, KR, &s);
	assert_string_equal(fmt(&s), "KR");
	policy_store_set(cfg, PERSONAL, JP, &s);
	assert_string_equal(fmt(&s), "JP");
	policy_store_set(cfg, MEDIA, JP, &s);
	assert_string_equal(fmt(&s), "JP,KR");
	policy_store_set(cfg, MEDIA, KR, &s);
	assert_string_equal(fmt(&s), "KR");
	policy_store_set(cfg, PUBLIC, US, &s);
	assert_true(cset_full(&s));
	policy_store_set(cfg, LOCAL, US, &s);		/* site = JP, whatever the origin */
	assert_string_equal(fmt(&s), "JP");
	policy_store_set(cfg, EU, JP, &s);
	assert_string_equal(fmt(&s), "DE,FR");
	policy_store_set(cfg, 99, JP, &s);		/* undeclared category: nothing */
	assert_true(cset_empty(&s));
	policy_store_set(cfg, PERSONAL, -1, &s);	/* no valid origin: nothing */
	assert_true(cset_empty(&s));
}

static void test_access_sets(void **state)
{
	struct cset s;

	policy_access_set(cfg, PERSONAL, FR, &s);
	assert_string_equal(fmt(&s), "FR");
	policy_access_set(cfg, MEDIA, FR, &s);
	assert_true(cset_full(&s));
	policy_access_set(cfg, EU, US, &s);
	assert_string_equal(fmt(&s), "DE,FR,JP");
	policy_access_set(cfg, -1, US, &s);
	assert_true(cset_empty(&s));
}

static void test_site_may_access(void **state)
{
	assert_true(policy_site_may_access(cfg, PERSONAL, JP));
	assert_false(policy_site_may_access(cfg, PERSONAL, KR));
	assert_true(policy_site_may_access(cfg, MEDIA, KR));
	assert_true(policy_site_may_access(cfg, LOCAL, US));
	assert_true(policy_site_may_access(cfg, EU, FR));
	assert_false(policy_site_may_access(cfg, PAIR, FR));
	assert_false(policy_site_may_access(cfg, 42, JP));
}

/* ---- tightening --------------------------------------------------------- */

static void test_tightening(void **state)
{
	/* equal sets count as tightening */
	assert_true(policy_is_tightening(cfg, PERSONAL, JP, PERSONAL, JP));
	assert_true(policy_is_tightening(cfg, PERSONAL, JP, PAIR, JP));
	/* strict subset: media stores in JP,KR and opens anywhere; personal JP only */
	assert_true(policy_is_tightening(cfg, MEDIA, JP, PERSONAL, JP));
	assert_true(policy_is_tightening(cfg, PUBLIC, JP, LOCAL, JP));
	assert_true(policy_is_tightening(cfg, PUBLIC, FR, EU, FR));
	/* loosening */
	assert_false(policy_is_tightening(cfg, PERSONAL, JP, MEDIA, JP));
	assert_false(policy_is_tightening(cfg, PERSONAL, JP, PUBLIC, JP));
	assert_false(policy_is_tightening(cfg, LOCAL, JP, PUBLIC, JP));
	/* store narrower but access wider is not tightening */
	assert_false(policy_is_tightening(cfg, PERSONAL, FR, EU, FR));
	/* disjoint */
	assert_false(policy_is_tightening(cfg, EU, FR, LOCAL, FR));
	/* an origin change never tightens, even to a smaller set */
	assert_false(policy_is_tightening(cfg, PERSONAL, JP, PERSONAL, KR));
	assert_false(policy_is_tightening(cfg, PUBLIC, JP, PUBLIC, KR));
	assert_false(policy_is_tightening(cfg, MEDIA, JP, PERSONAL, KR));
	/* undeclared categories */
	assert_false(policy_is_tightening(cfg, -1, JP, PERSONAL, JP));
	assert_false(policy_is_tightening(cfg, PERSONAL, JP, 77, JP));
}

/* The directory rule: store and access sets within the parent's; unlike
 * tightening, origins may differ (the sets are what counts). */
static void test_within(void **state)
{
	assert_true(policy_within(cfg, PERSONAL, JP, PERSONAL, JP));
	assert_true(policy_within(cfg, PERSONAL, JP, MEDIA, JP));
	assert_true(policy_within(cfg, LOCAL, JP, PUBLIC, JP));
	assert_false(policy_within(cfg, MEDIA, JP, PERSONAL, JP));
	assert_false(policy_within(cfg, PUBLIC, JP, PERSONAL, JP));
	/* access wider than the parent's is not within it */
	assert_false(policy_within(cfg, EU, FR, PERSONAL, FR));
	/* other origin: personal/KR stores in KR, outside personal/JP's JP */
	assert_false(policy_within(cfg, PERSONAL, KR, PERSONAL, JP));
	assert_true(policy_within(cfg, PERSONAL, KR, PUBLIC, JP));
	/* tightening is within with the same origin */
	assert_true(policy_is_tightening(cfg, MEDIA, JP, PERSONAL, JP) ==
		    policy_within(cfg, PERSONAL, JP, MEDIA, JP));
	assert_false(policy_within(cfg, -1, JP, PERSONAL, JP));
	assert_false(policy_within(cfg, PERSONAL, JP, 77, JP));
}

/* ---- qualified backends --------------------------------------------------- */

static void expect_qualified(int cat, int origin, const int *want, int n)
{
	int idx[CFG_MAX_BACKENDS];

	assert_int_equal(policy_qualified(cfg, cat, origin, idx, CFG_MAX_BACKENDS), n);
	for (int i = 0; i < n; i++)
		assert_int_equal(idx[i], want[i]);
}

static void test_qualified(void **state)
{
	int idx[2];

	expect_qualified(PERSONAL, JP, (int[]){ JP1, JP2 }, 2);
	expect_qualified(PERSONAL, FR, (int[]){ FR1 }, 1);	/* fr2 drains */
	expect_qualified(PERSONAL, DE, NULL, 0);		/* de1 drains */
	expect_qualified(PERSONAL, US, NULL, 0);
	expect_qualified(MEDIA, JP, (int[]){ JP1, JP2, KR1 }, 3);
	expect_qualified(PUBLIC, US, (int[]){ JP1, JP2, KR1, FR1 }, 4);
	expect_qualified(LOCAL, KR, (int[]){ JP1, JP2 }, 2);
	expect_qualified(EU, JP, (int[]){ FR1 }, 1);
	/* max bounds what is written and returned; NULL idx just counts */
	assert_int_equal(policy_qualified(cfg, PUBLIC, JP, idx, 2), 2);
	assert_int_equal(idx[0], JP1);
	assert_int_equal(idx[1], JP2);
	assert_int_equal(policy_qualified(cfg, PUBLIC, JP, NULL, 0), 4);
	assert_int_equal(policy_qualified(cfg, 99, JP, NULL, 0), 0);
}

/* ---- choosing backends ------------------------------------------------------ */

static int choose(int cat, int origin, const struct backend_state *st, uint64_t need,
		  uint64_t exclude, int want, int *out, uint32_t *seed)
{
	return policy_choose(cfg, cat, origin, st, need, exclude, want, out, xrnd, seed);
}

static void test_choose_distinct(void **state)
{
	struct backend_state st[NB];
	uint32_t seed = 12345;
	int out[4];

	all_healthy(st, 1 << 30);
	for (int round = 0; round < 1000; round++) {
		int seen = 0;

		assert_int_equal(choose(MEDIA, JP, st, 4096, 0, 3, out, &seed), 3);
		for (int i = 0; i < 3; i++) {
			assert_true(out[i] == JP1 || out[i] == JP2 || out[i] == KR1);
			assert_false(seen & 1 << out[i]);
			seen |= 1 << out[i];
		}
	}
}

/* Counts how often each backend is chosen first over n draws. */
static void draw(int cat, int origin, const struct backend_state *st, int n, int *count)
{
	uint32_t seed = 0x9e3779b9;
	int out[1];

	memset(count, 0, NB * sizeof(*count));
	for (int i = 0; i < n; i++) {
		assert_int_equal(choose(cat, origin, st, 1, 0, 1, out, &seed), 1);
		count[out[0]]++;
	}
}

static void assert_share(int count, int n, double want)
{
	double got = (double)count / n;

	if (got < want - 0.02 || got > want + 0.02)
		fail_msg("share %.3f, expected %.3f", got, want);
}

static void test_choose_weights(void **state)
{
	struct backend_state st[NB];
	int count[NB], n = 100000;

	all_healthy(st, 1 << 30);
	draw(PERSONAL, JP, st, n, count);		/* weight 1 vs 3 */
	assert_share(count[JP1], n, 0.25);
	assert_share(count[JP2], n, 0.75);
	st[JP1].avail = 3ull << 40;			/* weight x avail: 3 vs 3 (scaled) */
	st[JP2].avail = 1ull << 40;
	draw(PERSONAL, JP, st, n, count);
	assert_share(count[JP1], n, 0.5);
	all_healthy(st, 1 << 30);
	draw(PUBLIC, US, st, n, count);			/* 1:3:1:1 */
	assert_share(count[JP2], n, 0.5);
	assert_share(count[KR1], n, 1.0 / 6);
	assert_int_equal(count[FR2] + count[DE1], 0);	/* draining: never */
}

static void test_choose_deterministic(void **state)
{
	struct backend_state st[NB];
	uint32_t s1 = 777, s2 = 777;
	int a[2], b[2];

	all_healthy(st, 1 << 20);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(choose(PUBLIC, JP, st, 1, 0, 2, a, &s1), 2);
		assert_int_equal(choose(PUBLIC, JP, st, 1, 0, 2, b, &s2), 2);
		assert_memory_equal(a, b, sizeof(a));
	}
}

static void test_choose_skips_unusable(void **state)
{
	struct backend_state st[NB];
	uint32_t seed = 1;
	int out[2];

	all_healthy(st, 1 << 20);
	st[JP1].healthy = false;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(choose(PERSONAL, JP, st, 4096, 0, 1, out, &seed), 1);
		assert_int_equal(out[0], JP2);
	}
	all_healthy(st, 1 << 20);
	st[JP2].avail = 4095;				/* full for this shard */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(choose(PERSONAL, JP, st, 4096, 0, 1, out, &seed), 1);
		assert_int_equal(out[0], JP1);
	}
	st[JP2].avail = 4096;				/* exactly enough */
	assert_int_equal(choose(PAIR, JP, st, 4096, 0, 2, out, &seed), 2);
	st[JP1].avail = 0;				/* zero free space but need 0 */
	assert_int_equal(choose(PERSONAL, JP, st, 0, 0, 1, out, &seed), 1);
}

static void test_choose_eacces_vs_enospc(void **state)
{
	struct backend_state st[NB];
	uint32_t seed = 5;
	int out[4];

	all_healthy(st, 1 << 20);
	/* nothing allowed at all, whatever the health */
	assert_int_equal(choose(PERSONAL, US, st, 1, 0, 1, out, &seed), -EACCES);
	/* allowed only where backends drain */
	assert_int_equal(choose(PERSONAL, DE, st, 1, 0, 1, out, &seed), -EACCES);
	/* fewer allowed than wanted: fr2 drains, so only fr1 */
	assert_int_equal(choose(PAIR, FR, st, 1, 0, 2, out, &seed), -EACCES);
	assert_int_equal(choose(MEDIA, JP, st, 1, 0, 4, out, &seed), -EACCES);
	/* EACCES wins even when everything is also down */
	for (int i = 0; i < NB; i++)
		st[i].healthy = false;
	assert_int_equal(choose(PAIR, FR, st, 1, 0, 2, out, &seed), -EACCES);
	/* enough allowed, but down: no allowed healthy backend, EACCES */
	assert_int_equal(choose(PERSONAL, JP, st, 1, 0, 1, out, &seed), -EACCES);
	/* allowed and healthy, but full: ENOSPC */
	all_healthy(st, 100);
	assert_int_equal(choose(PERSONAL, JP, st, 101, 0, 1, out, &seed), -ENOSPC);
	st[JP1].healthy = false;
	assert_int_equal(choose(PAIR, JP, st, 1, 0, 2, out, &seed), -EACCES);
	st[JP1].healthy = true;
	st[JP1].avail = 0;
	assert_int_equal(choose(PAIR, JP, st, 1, 0, 2, out, &seed), -ENOSPC);
}

static void test_choose_exclude(void **state)
{
	struct backend_state st[NB];
	uint32_t seed = 9;
	int out[3];

	all_healthy(st, 1 << 20);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(choose(MEDIA, JP, st, 1, 1u << JP2, 2, out, &seed), 2);
		assert_true(out[0] != JP2 && out[1] != JP2);
	}
	/* every allowed backend excluded (used or failed): none can take it */
	assert_int_equal(choose(PERSONAL, JP, st, 1, 1u << JP1 | 1u << JP2, 1, out, &seed), -EACCES);
	/* excluding backends that do not qualify changes nothing */
	assert_int_equal(choose(PERSONAL, JP, st, 1, 1u << KR1 | 1u << FR2, 2, out, &seed), 2);
}

static void test_choose_bad_args(void **state)
{
	struct backend_state st[NB];
	uint32_t seed = 3;
	int out[2];

	all_healthy(st, 1 << 20);
	assert_int_equal(choose(PERSONAL, JP, st, 1, 0, 0, out, &seed), -EINVAL);
	assert_int_equal(choose(PERSONAL, JP, st, 1, 0, -1, out, &seed), -EINVAL);
	assert_int_equal(choose(-1, JP, st, 1, 0, 1, out, &seed), -EINVAL);
	assert_int_equal(choose(PERSONAL, JP, NULL, 1, 0, 1, out, &seed), -EINVAL);
	assert_int_equal(choose(PERSONAL, JP, st, 1, 0, 1, NULL, &seed), -EINVAL);
	assert_int_equal(policy_choose(cfg, PERSONAL, JP, st, 1, 0, 1, out, NULL, NULL), -EINVAL);
}

/* ---- explanations --------------------------------------------------------- */

static void expect_explain(int cat, int origin, const char *want)
{
	char buf[512];
	int n = policy_explain(cfg, cat, origin, buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(buf));
	if (!strstr(buf, want))
		fail_msg("explain: \"%s\"\nwanted: \"%s\"", buf, want);
}

static void test_explain(void **state)
{
	expect_explain(PERSONAL, US, "category personal with origin US may be stored in US; "
		       "no backend is configured there; this site's country JP is not in access_from");
	expect_explain(PERSONAL, DE, "category personal with origin DE may be stored in DE; "
		       "every backend there is draining");
	expect_explain(PAIR, FR, "category pair with origin FR may be stored in FR; "
		       "it needs 2 replicas but only 1 backend qualifies (fr1)");
	expect_explain(MEDIA, JP, "category media with origin JP may be stored in JP,KR; "
		       "3 backends qualify for 1 replica (jp1, jp2, kr1), so placement fails only "
		       "when they are unhealthy or full");
	expect_explain(PUBLIC, JP, "category public with origin JP may be stored anywhere; 4 backends qualify");
	expect_explain(EU, JP, "may be stored in DE,FR; 1 backend qualifies for 1 replica (fr1)");
	expect_explain(PERSONAL, -1, "category personal with origin ?? may be stored nowhere; "
		       "no backend is configured there");
	expect_explain(55, JP, "category #55 is not declared");
}

static void test_explain_truncates(void **state)
{
	char buf[16], full[512];
	int n = policy_explain(cfg, MEDIA, JP, full, sizeof(full));

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(policy_explain(cfg, MEDIA, JP, buf, 10), n);
	assert_int_equal(strlen(buf), 9);
	assert_memory_equal(buf, full, 9);
	assert_int_equal(buf[10], 'x');
	assert_int_equal(policy_explain(cfg, MEDIA, JP, NULL, 0), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_sets),
		cmocka_unit_test(test_access_sets),
		cmocka_unit_test(test_site_may_access),
		cmocka_unit_test(test_tightening),
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_qualified),
		cmocka_unit_test(test_choose_distinct),
		cmocka_unit_test(test_choose_weights),
		cmocka_unit_test(test_choose_deterministic),
		cmocka_unit_test(test_choose_skips_unusable),
		cmocka_unit_test(test_choose_eacces_vs_enospc),
		cmocka_unit_test(test_choose_exclude),
		cmocka_unit_test(test_choose_bad_args),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_explain_truncates),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
