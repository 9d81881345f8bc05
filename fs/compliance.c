/*
 * compliance.c — where a file's shards are versus where the policy allows
 * them: user.geo.placement / status / info, and migration to a compliant
 * placement (user.geo.migrate, geoctl rebalance). The top of the engine
 * (gfile_int.h); where a new replica goes is placement.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "gfile_int.h"
#include "log.h"
#include "policy.h"
#include "stats.h"

#define PL(n) ((n) == 1 ? "" : "s")

/* Appends printf output to buf at *pos without overflowing. */
static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n < len - *pos ? (size_t)n : len - *pos - 1;
}

/* Is a replica on config backend b acceptable for the file's tags? */
static bool rep_allowed(struct core *c, struct gfile *gf, int b, const struct cset *allowed)
{
	return b >= 0 && cset_has(allowed, c->cfg->backends[b].country) &&
	       !c->cfg->backends[b].drain;
}

struct status_counts {
	uint64_t offshore, unknown, under, none, missing, draining;
	struct cset where;	/* countries holding misplaced shards */
};

static void count_status(struct core *c, struct gfile *gf, struct status_counts *s)
{
	struct cset allowed;
	int want = c->cfg->cats[gf->tags.cat].replicas;

	memset(s, 0, sizeof(*s));
	policy_store_set(c->cfg, gf->tags.cat, gf->tags.origin, &allowed);
	for (uint64_t i = 0; i < gf->mf->nshards; i++) {
		const struct shard_ref *r = &gf->mf->shards[i];
		int good = 0;

		if (r->nrep == 0)
			continue;
		for (int k = 0; k < r->nrep; k++) {
			int b = gf_backend(c, gf->mf, r->rep[k].backend);
			if (b < 0) {
				s->unknown++;
				continue;
			}
			if (!cset_has(&allowed, c->cfg->backends[b].country)) {
				s->offshore++;
				cset_add(&s->where, c->cfg->backends[b].country);
			} else if (c->cfg->backends[b].drain) {
				s->draining++;
			} else if (store_size(c->store, b, &r->rep[k].oid) < 0) {
				s->missing++;
			} else {
				good++;
			}
		}
		if (good == 0)
			s->none++;
		else if (good < want)
			s->under++;
	}
}

static void status_locked(struct core *c, struct gfile *gf, char *buf, size_t len)
{
	struct status_counts s;
	char where[256], allowed_txt[256];
	struct cset allowed;
	size_t pos = 0;

	count_status(c, gf, &s);
	bool ok = !s.offshore && !s.unknown && !s.under && !s.none && !s.missing && !s.draining;
	stats_note_status(c, &gf->id, !ok);	/* for geoctl status */
	if (ok) {
		snprintf(buf, len, "ok");
		return;
	}
	policy_store_set(c->cfg, gf->tags.cat, gf->tags.origin, &allowed);
	cset_format(&allowed, allowed_txt, sizeof(allowed_txt));
	cset_format(&s.where, where, sizeof(where));
	/* Each part is "COUNT what" with a fixed wording per kind (singular
	 * for a count of 1), so geoctl verify can group files by reason. */
	appendf(buf, len, &pos, "misplaced");
	if (s.offshore)
		appendf(buf, len, &pos, " %llu replica%s in %s, allowed %s;",
			(unsigned long long)s.offshore, PL(s.offshore), where, allowed_txt);
	if (s.unknown)
		appendf(buf, len, &pos, " %llu replica%s on backends not in the config;",
			(unsigned long long)s.unknown, PL(s.unknown));
	if (s.draining)
		appendf(buf, len, &pos, " %llu replica%s on draining backends;",
			(unsigned long long)s.draining, PL(s.draining));
	if (s.missing)
		appendf(buf, len, &pos, " %llu object%s missing;", (unsigned long long)s.missing,
			PL(s.missing));
	if (s.none)
		appendf(buf, len, &pos, " %llu shard%s with no good replica in an allowed country;",
			(unsigned long long)s.none, PL(s.none));
	if (s.under) {
		int want = c->cfg->cats[gf->tags.cat].replicas;

		appendf(buf, len, &pos, " %llu shard%s with fewer than %d good replica%s;",
			(unsigned long long)s.under, PL(s.under), want, PL(want));
	}
	if (pos && buf[pos - 1] == ';')
		buf[pos - 1] = '\0';
}

void gfile_status(struct core *c, struct gfile *gf, char *buf, size_t len)
{
	pthread_mutex_lock(&gf->lock);
	status_locked(c, gf, buf, len);
	pthread_mutex_unlock(&gf->lock);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Per manifest backend: bytes stored there (all shards). */
static void backend_usage(const struct manifest *mf, uint64_t bytes[MANIFEST_MAX_BACKENDS])
{
	memset(bytes, 0, sizeof(uint64_t) * MANIFEST_MAX_BACKENDS);
	for (uint64_t i = 0; i < mf->nshards; i++)
		for (int k = 0; k < mf->shards[i].nrep; k++)
			bytes[mf->shards[i].rep[k].backend] += mf->shards[i].objlen;
}

static void placement_locked(struct core *c, struct gfile *gf, char *buf, size_t len)
{
	uint64_t bytes[MANIFEST_MAX_BACKENDS];
	char items[MANIFEST_MAX_BACKENDS][CFG_NAME_MAX + 4];
	char *sorted[MANIFEST_MAX_BACKENDS];
	size_t pos = 0;
	int n = 0;

	backend_usage(gf->mf, bytes);
	for (int i = 0; i < gf->mf->nbackends; i++) {
		if (!bytes[i])
			continue;
		int b = gf_backend(c, gf->mf, i);
		snprintf(items[n], sizeof(items[n]), "%s/%s",
			 b < 0 ? "??" : country_code(c->cfg->backends[b].country), gf->mf->bnames[i]);
		sorted[n] = items[n];
		n++;
	}
	qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_str);
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		appendf(buf, len, &pos, "%s%s", i ? "," : "", sorted[i]);
}

void gfile_placement(struct core *c, struct gfile *gf, char *buf, size_t len)
{
	pthread_mutex_lock(&gf->lock);
	placement_locked(c, gf, buf, len);
	pthread_mutex_unlock(&gf->lock);
}

int gfile_info(struct core *c, struct gfile *gf, char *buf, size_t len)
{
	uint64_t bytes[MANIFEST_MAX_BACKENDS], shards = 0;
	char store_txt[512], access_txt[512], place[2048], status[512];
	struct cset set;
	size_t pos = 0;

	pthread_mutex_lock(&gf->lock);
	policy_store_set(c->cfg, gf->tags.cat, gf->tags.origin, &set);
	cset_format(&set, store_txt, sizeof(store_txt));
	policy_access_set(c->cfg, gf->tags.cat, gf->tags.origin, &set);
	cset_format(&set, access_txt, sizeof(access_txt));
	placement_locked(c, gf, place, sizeof(place));
	status_locked(c, gf, status, sizeof(status));
	for (uint64_t i = 0; i < gf->mf->nshards; i++)
		shards += gf->mf->shards[i].nrep > 0;
	appendf(buf, len, &pos,
		"type=file\ncategory=%s\ncategory_src=%s\norigin=%s\norigin_src=%s\n"
		"store_in=%s\naccess_from=%s\nreplicas=%d\nsize=%llu\nstored=%llu\nshards=%llu\n"
		"placement=%s\nbackend_bytes=",
		c->cfg->cats[gf->tags.cat].name,
		gf->tags.flags & MANIFEST_CAT_SET ? "set" : "inherited",
		country_code(gf->tags.origin),
		gf->tags.flags & MANIFEST_ORIGIN_SET ? "set" : "inherited",
		store_txt, access_txt, c->cfg->cats[gf->tags.cat].replicas,
		(unsigned long long)gf->mf->size,
		(unsigned long long)manifest_stored_bytes(gf->mf), (unsigned long long)shards, place);
	backend_usage(gf->mf, bytes);
	for (int i = 0, first = 1; i < gf->mf->nbackends; i++) {
		if (!bytes[i])
			continue;
		appendf(buf, len, &pos, "%s%s:%llu", first ? "" : ",", gf->mf->bnames[i],
			(unsigned long long)bytes[i]);
		first = 0;
	}
	appendf(buf, len, &pos, "\nstatus=%s\n", status);
	pthread_mutex_unlock(&gf->lock);
	return (int)pos;
}

/* Re-places shard idx: keeps compliant replicas (none with spread), adds
 * new ones up to the required count. Returns 1 if it moved anything. */
static int migrate_shard(struct core *c, struct gfile *gf, uint64_t idx, bool spread,
			 const struct cset *allowed, uint8_t *obj, size_t cap, uint8_t *scratch)
{
	struct shard_ref *r = &gf->mf->shards[idx], nref, drop;
	int want = c->cfg->cats[gf->tags.cat].replicas, rc;
	uint64_t keep_mask = 0;
	long n;

	memset(&nref, 0, sizeof(nref));
	memset(&drop, 0, sizeof(drop));
	nref.gen = r->gen;
	nref.objlen = r->objlen;
	for (int k = 0; k < r->nrep; k++) {
		int b = gf_backend(c, gf->mf, r->rep[k].backend);
		bool keep = !spread && nref.nrep < want && rep_allowed(c, gf, b, allowed) &&
			    !(keep_mask & (UINT64_C(1) << b)) &&
			    store_size(c->store, b, &r->rep[k].oid) >= 0;
		if (keep) {
			nref.rep[nref.nrep++] = r->rep[k];
			keep_mask |= UINT64_C(1) << b;
		} else {
			drop.rep[drop.nrep++] = r->rep[k];
		}
	}
	if (nref.nrep == want && drop.nrep == 0)
		return 0;
	n = gf_fetch_object(c, gf, idx, obj, cap, scratch);
	if (n < 0)
		return (int)n;
	nref.objlen = (uint32_t)n;
	struct placed p = { .gen = nref.gen, .objlen = nref.objlen };
	rc = gf_store_copies(c, &gf->tags, obj, (size_t)n, want - nref.nrep, keep_mask, &p);
	if (!rc)
		rc = gf_install(c, gf, &p, &nref);
	if (rc)
		return rc;
	rc = gf_supersede(gf, &drop);
	if (!rc)
		rc = gf_touch(gf, idx);
	if (rc)
		return rc;
	*r = nref;
	gf->changed = true;
	return 1;
}

int gfile_migrate(struct core *c, struct gfile *gf, bool spread)
{
	size_t cap;
	uint8_t *obj = NULL, *scratch = NULL;
	struct cset allowed;
	int rc, moved = 0;

	pthread_mutex_lock(&gf->lock);
	rc = gf_check_writable(c, gf);
	if (!rc)
		rc = gf_flush_dirty(c, gf);
	if (rc)
		goto out;
	cap = codec_max_object(gf->mf->shard_size);
	obj = malloc(cap);
	scratch = malloc(gf->mf->shard_size);
	if (!obj || !scratch) {
		rc = -ENOMEM;
		goto out;
	}
	policy_store_set(c->cfg, gf->tags.cat, gf->tags.origin, &allowed);
	for (uint64_t i = 0; i < gf->mf->nshards; i++) {
		if (gf->mf->shards[i].nrep == 0)
			continue;
		rc = migrate_shard(c, gf, i, spread, &allowed, obj, cap, scratch);
		if (rc < 0)
			break;
		moved += rc;
		rc = 0;
	}
	/* Commit what moved even after a failure: each shard is consistent. */
	if (moved || gf->changed) {
		int crc = gf_commit_locked(c, gf, true);
		if (!rc)
			rc = crc;
	}
	if (!rc)
		stats_note_status(c, &gf->id, false);	/* compliant now */
out:
	pthread_mutex_unlock(&gf->lock);
	free(obj);
	free(scratch);
	return rc;
}
