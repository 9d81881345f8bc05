/*
 * compliance.c — where a file's shards are versus where the policy allows
 * them: user.geo.placement / status / info, and migration to a compliant
 * placement (user.geo.migrate, geoctl rebalance). The top of the engine
 * (gfile_int.h); where a new replica goes is placement.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appendf.h"
#include "codec.h"
#include "gfile_int.h"
#include "info_text.h"
#include "policy.h"

#define PL(n) ((n) == 1 ? "" : "s")

/* Is a replica on config backend b acceptable for the file's tags? */
static bool rep_allowed(struct engine *e, struct gfile *gf, int b, const struct cset *allowed)
{
	return b >= 0 && cset_has(allowed, e->cfg->backends[b].country) &&
	       !e->cfg->backends[b].drain;
}

struct status_counts {
	uint64_t offshore, unknown, under, none, missing, draining;
	struct cset where;	/* countries holding misplaced shards */
};

static void count_status(struct engine *e, struct gfile *gf, struct status_counts *s)
{
	struct cset allowed;
	int want = e->cfg->cats[gf->tags.cat].replicas;

	memset(s, 0, sizeof(*s));
	policy_store_set(e->cfg, gf->tags.cat, gf->tags.origin, &allowed);
	for (uint64_t i = 0; i < gf->mf->nshards; i++) {
		const struct shard_ref *r = &gf->mf->shards[i];
		int good = 0;

		if (r->nrep == 0)
			continue;
		for (int k = 0; k < r->nrep; k++) {
			int b = gf_backend(e, gf->mf, r->rep[k].backend);
			if (b < 0) {
				s->unknown++;
				continue;
			}
			if (!cset_has(&allowed, e->cfg->backends[b].country)) {
				s->offshore++;
				cset_add(&s->where, e->cfg->backends[b].country);
			} else if (e->cfg->backends[b].drain) {
				s->draining++;
			} else if (store_size(e->store, b, &r->rep[k].oid) < 0) {
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

static void status_locked(struct engine *e, struct gfile *gf, char *buf, size_t len)
{
	struct status_counts s;
	char where[256], allowed_txt[256];
	struct cset allowed;
	size_t pos = 0;

	count_status(e, gf, &s);
	bool ok = !s.offshore && !s.unknown && !s.under && !s.none && !s.missing && !s.draining;
	gf_note_status(e, &gf->id, !ok);	/* for geoctl status */
	if (ok) {
		snprintf(buf, len, "ok");
		return;
	}
	policy_store_set(e->cfg, gf->tags.cat, gf->tags.origin, &allowed);
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
		int want = e->cfg->cats[gf->tags.cat].replicas;

		appendf(buf, len, &pos, " %llu shard%s with fewer than %d good replica%s;",
			(unsigned long long)s.under, PL(s.under), want, PL(want));
	}
	if (pos && pos < len && buf[pos - 1] == ';')
		buf[pos - 1] = '\0';
}

void gfile_status(struct engine *e, struct gfile *gf, char *buf, size_t len)
{
	pthread_mutex_lock(&gf->lock);
	status_locked(e, gf, buf, len);
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

static void placement_locked(struct engine *e, struct gfile *gf, char *buf, size_t len)
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
		int b = gf_backend(e, gf->mf, i);
		snprintf(items[n], sizeof(items[n]), "%s/%s",
			 b < 0 ? "??" : country_code(e->cfg->backends[b].country), gf->mf->bnames[i]);
		sorted[n] = items[n];
		n++;
	}
	qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_str);
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		appendf(buf, len, &pos, "%s%s", i ? "," : "", sorted[i]);
}

void gfile_placement(struct engine *e, struct gfile *gf, char *buf, size_t len)
{
	pthread_mutex_lock(&gf->lock);
	placement_locked(e, gf, buf, len);
	pthread_mutex_unlock(&gf->lock);
}

int gfile_info(struct engine *e, struct gfile *gf, char *buf, size_t len)
{
	uint64_t bytes[MANIFEST_MAX_BACKENDS];
	char place[2048], status[512], per_backend[4096] = "";
	struct info_text it = { .is_file = true };
	size_t pos = 0;

	pthread_mutex_lock(&gf->lock);
	info_text_tags(&it, e->cfg, &gf->tags);
	placement_locked(e, gf, place, sizeof(place));
	status_locked(e, gf, status, sizeof(status));
	for (uint64_t i = 0; i < gf->mf->nshards; i++)
		it.shards += gf->mf->shards[i].nrep > 0;
	backend_usage(gf->mf, bytes);
	for (int i = 0; i < gf->mf->nbackends; i++)
		if (bytes[i])
			appendf(per_backend, sizeof(per_backend), &pos, "%s%s:%llu", pos ? "," : "",
				gf->mf->bnames[i], (unsigned long long)bytes[i]);
	it.size = gf->mf->size;
	it.stored = manifest_stored_bytes(gf->mf);
	it.placement = place;
	it.backend_bytes = per_backend;
	it.status = status;
	pos = info_text_format(&it, buf, len);
	pthread_mutex_unlock(&gf->lock);
	return (int)pos;
}

/* Re-places shard idx: keeps compliant replicas (none with spread), adds
 * new ones up to the required count. Returns 1 if it moved anything. */
static int migrate_shard(struct engine *e, struct gfile *gf, uint64_t idx, bool spread,
			 const struct cset *allowed, uint8_t *obj, size_t cap, uint8_t *scratch)
{
	struct shard_ref *r = &gf->mf->shards[idx], nref, drop;
	int want = e->cfg->cats[gf->tags.cat].replicas, rc;
	uint64_t keep_mask = 0;
	long n;

	memset(&nref, 0, sizeof(nref));
	memset(&drop, 0, sizeof(drop));
	nref.gen = r->gen;
	nref.objlen = r->objlen;
	for (int k = 0; k < r->nrep; k++) {
		int b = gf_backend(e, gf->mf, r->rep[k].backend);
		bool keep = !spread && nref.nrep < want && rep_allowed(e, gf, b, allowed) &&
			    !(keep_mask & (UINT64_C(1) << b)) &&
			    store_size(e->store, b, &r->rep[k].oid) >= 0;
		if (keep) {
			nref.rep[nref.nrep++] = r->rep[k];
			keep_mask |= UINT64_C(1) << b;
		} else {
			drop.rep[drop.nrep++] = r->rep[k];
		}
	}
	if (nref.nrep == want && drop.nrep == 0)
		return 0;
	n = gf_fetch_object(e, gf, idx, obj, cap, scratch);
	if (n < 0)
		return (int)n;
	nref.objlen = (uint32_t)n;
	struct placed p = { .gen = nref.gen, .objlen = nref.objlen };
	rc = gf_store_copies(e, &gf->tags, obj, (size_t)n, want - nref.nrep, keep_mask, &p);
	if (!rc)
		rc = gf_install(e, gf, &p, &nref);
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

int gfile_migrate(struct engine *e, struct gfile *gf, bool spread)
{
	size_t cap;
	uint8_t *obj = NULL, *scratch = NULL;
	struct cset allowed;
	int rc, moved = 0;

	pthread_mutex_lock(&gf->lock);
	rc = gf_check_writable(e, gf);
	if (!rc)
		rc = gf_flush_dirty(e, gf);
	if (rc)
		goto out;
	cap = codec_max_object(gf->mf->shard_size);
	obj = malloc(cap);
	scratch = malloc(gf->mf->shard_size);
	if (!obj || !scratch) {
		rc = -ENOMEM;
		goto out;
	}
	policy_store_set(e->cfg, gf->tags.cat, gf->tags.origin, &allowed);
	for (uint64_t i = 0; i < gf->mf->nshards; i++) {
		if (gf->mf->shards[i].nrep == 0)
			continue;
		rc = migrate_shard(e, gf, i, spread, &allowed, obj, cap, scratch);
		if (rc < 0)
			break;
		moved += rc;
		rc = 0;
	}
	/* Commit what moved even after a failure: each shard is consistent. */
	if (moved || gf->changed) {
		int crc = gf_commit_locked(e, gf, true);
		if (!rc)
			rc = crc;
	}
	if (!rc)
		gf_note_status(e, &gf->id, false);	/* compliant now */
out:
	pthread_mutex_unlock(&gf->lock);
	free(obj);
	free(scratch);
	return rc;
}
