/*
 * policy.c — what the config allows for a (category, origin) pair, and the
 * choice of backends for one shard. See policy.h. Pure functions: no I/O,
 * no globals; callers pass backend state and a random source in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "appendf.h"
#include "policy.h"

static bool valid_cat(const struct geo_config *cfg, int cat)
{
	return cfg && cat >= 0 && cat < cfg->ncats;
}

/* Countries a list allows for a file of `origin`. */
static void cspec_resolve(const struct cfg_cspec *spec, int origin, struct cset *out)
{
	if (spec->any) {
		cset_fill(out);
		return;
	}
	*out = spec->set;
	if (spec->origin)
		cset_add(out, origin);	/* ignores an invalid origin */
}

void policy_store_set(const struct geo_config *cfg, int cat, int origin, struct cset *out)
{
	cset_clear(out);
	if (valid_cat(cfg, cat))
		cspec_resolve(&cfg->cats[cat].store_in, origin, out);
}

void policy_access_set(const struct geo_config *cfg, int cat, int origin, struct cset *out)
{
	cset_clear(out);
	if (valid_cat(cfg, cat))
		cspec_resolve(&cfg->cats[cat].access_from, origin, out);
}

bool policy_site_may_access(const struct geo_config *cfg, int cat, int origin)
{
	struct cset access;

	policy_access_set(cfg, cat, origin, &access);
	return cset_has(&access, cfg ? cfg->site_country : -1);
}

bool policy_within(const struct geo_config *cfg, int cat, int origin, int pcat, int porigin)
{
	struct cset s, ps, a, pa;

	if (!valid_cat(cfg, cat) || !valid_cat(cfg, pcat))
		return false;
	policy_store_set(cfg, cat, origin, &s);
	policy_store_set(cfg, pcat, porigin, &ps);
	policy_access_set(cfg, cat, origin, &a);
	policy_access_set(cfg, pcat, porigin, &pa);
	return cset_subset(&s, &ps) && cset_subset(&a, &pa);
}

bool policy_is_tightening(const struct geo_config *cfg, int cat0, int origin0,
			  int cat1, int origin1)
{
	return origin0 == origin1 && policy_within(cfg, cat1, origin1, cat0, origin0);
}

int policy_qualified(const struct geo_config *cfg, int cat, int origin, int *idx, int max)
{
	struct cset store;
	int n = 0;

	policy_store_set(cfg, cat, origin, &store);
	for (int i = 0; cfg && i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];

		if (b->drain || !cset_has(&store, b->country))
			continue;
		if (idx && n >= max)
			break;
		if (idx)
			idx[n] = i;
		n++;
	}
	return n;
}

/* A 64-bit random value from the caller's 32-bit source. */
static uint64_t rnd64(uint32_t (*rnd)(void *), void *arg)
{
	uint64_t hi = rnd(arg);

	return hi << 32 | rnd(arg);
}

/* Weights weight x avail, with avail scaled down so that the sum over all
 * backends fits 64 bits; every candidate keeps a weight of at least 1. */
static void candidate_weights(const struct geo_config *cfg, const struct backend_state *state,
			      const int *cand, int n, uint64_t *w)
{
	uint64_t maxavail = 0;
	int shift = 0;

	for (int i = 0; i < n; i++)
		if (state[cand[i]].avail > maxavail)
			maxavail = state[cand[i]].avail;
	while (shift < 64 && (maxavail >> shift) > UINT32_MAX)
		shift++;
	for (int i = 0; i < n; i++) {
		uint64_t a = state[cand[i]].avail >> shift;

		w[i] = (uint64_t)cfg->backends[cand[i]].weight * (a ? a : 1);
	}
}

int policy_choose(const struct geo_config *cfg, int cat, int origin,
		  const struct backend_state *state, uint64_t need, uint64_t exclude,
		  int want, int *out, uint32_t (*rnd)(void *), void *rnd_arg)
{
	int qual[CFG_MAX_BACKENDS], cand[CFG_MAX_BACKENDS];
	uint64_t w[CFG_MAX_BACKENDS];
	int nq, n = 0, healthy = 0;

	if (!valid_cat(cfg, cat) || !state || !out || !rnd || want < 1 || want > CFG_MAX_BACKENDS)
		return -EINVAL;
	nq = policy_qualified(cfg, cat, origin, qual, CFG_MAX_BACKENDS);
	if (nq < want)
		return -EACCES;
	for (int i = 0; i < nq; i++) {
		const struct backend_state *st = &state[qual[i]];

		if (!st->healthy || (exclude >> qual[i] & 1))
			continue;
		healthy++;
		if (st->avail >= need)
			cand[n++] = qual[i];
	}
	/* No allowed, healthy backend can take it: EACCES (invariant 1);
	 * enough of them, but full: ENOSPC. */
	if (healthy < want)
		return -EACCES;
	if (n < want)
		return -ENOSPC;
	candidate_weights(cfg, state, cand, n, w);
	for (int k = 0; k < want; k++) {
		uint64_t total = 0, r;
		int i = 0;

		for (int j = 0; j < n; j++)
			total += w[j];
		for (r = rnd64(rnd, rnd_arg) % total; r >= w[i]; i++)
			r -= w[i];
		out[k] = cand[i];
		cand[i] = cand[--n];	/* without replacement */
		w[i] = w[n];
	}
	return want;
}

/* What stands between (cat, origin) and a placement, after "...; ". */
static void explain_missing(const struct geo_config *cfg, int cat, int origin,
			    char *buf, size_t len, size_t *pos)
{
	int qual[CFG_MAX_BACKENDS], nq = policy_qualified(cfg, cat, origin, qual, CFG_MAX_BACKENDS);
	int want = cfg->cats[cat].replicas, in = 0;
	const char *s = nq == 1 ? "" : "s", *ies = nq == 1 ? "ies" : "y";
	struct cset store;

	policy_store_set(cfg, cat, origin, &store);
	for (int i = 0; i < cfg->nbackends; i++)
		in += cset_has(&store, cfg->backends[i].country);
	if (!in)
		appendf(buf, len, pos, "no backend is configured there");
	else if (!nq)
		appendf(buf, len, pos, "every backend there is draining");
	else if (nq < want)
		appendf(buf, len, pos, "it needs %d replicas but only %d backend%s qualif%s (",
			want, nq, s, ies);
	else
		appendf(buf, len, pos, "%d backend%s qualif%s for %d replica%s (",
			nq, s, ies, want, want == 1 ? "" : "s");
	for (int i = 0; i < nq; i++)
		appendf(buf, len, pos, "%s%s", i ? ", " : "", cfg->backends[qual[i]].name);
	if (nq)
		appendf(buf, len, pos, "%s", nq < want ? ")" :
			"), so placement fails only when they are unhealthy or full");
	if (!policy_site_may_access(cfg, cat, origin))
		appendf(buf, len, pos, "; this site's country %s is not in access_from",
			country_code(cfg->site_country));
}

int policy_explain(const struct geo_config *cfg, int cat, int origin, char *buf, size_t len)
{
	char allowed[4 * COUNTRY_MAX];
	struct cset store;
	size_t pos = 0;

	if (!valid_cat(cfg, cat)) {
		appendf(buf, len, &pos, "category #%d is not declared", cat);
		return (int)pos;
	}
	policy_store_set(cfg, cat, origin, &store);
	cset_format(&store, allowed, sizeof(allowed));
	appendf(buf, len, &pos, "category %s with origin %s may be stored %s%s; ",
		cfg->cats[cat].name, country_code(origin),
		cset_full(&store) ? "anywhere" : cset_empty(&store) ? "nowhere" : "in ",
		cset_full(&store) || cset_empty(&store) ? "" : allowed);
	explain_missing(cfg, cat, origin, buf, len, &pos);
	return (int)pos;
}
