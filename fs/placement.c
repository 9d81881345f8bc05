/*
 * placement.c — where a shard may go: whether the file's tags can be
 * stored at all right now (enough allowed backends, enough of them up),
 * choosing and writing the replicas of one encoded shard on allowed
 * backends, and refusing: the one place a refusal is counted
 * (placement_refused in user.geo.stats) and audited (placement-refused).
 * Below shard I/O in the engine; the policy itself (which backends a
 * category may use) is policy.c's, pure and without I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "gfile_int.h"
#include "log.h"
#include "placement.h"
#include "policy.h"

int placement_check(struct engine *e, const struct geo_tags *t, char *why, size_t len)
{
	struct backend_state st[CFG_MAX_BACKENDS];
	int idx[CFG_MAX_BACKENDS], healthy = 0, want = e->cfg->cats[t->cat].replicas;
	int n = policy_qualified(e->cfg, t->cat, t->origin, idx, CFG_MAX_BACKENDS);

	/* Refuse early, on the call that would store: not only where nothing
	 * is configured, but also where too few allowed backends are up. */
	if (n >= want) {
		store_state(e->store, st);
		for (int i = 0; i < n; i++)
			healthy += st[idx[i]].healthy;
		if (healthy >= want)
			return 0;
	}
	int w = policy_explain(e->cfg, t->cat, t->origin, why, len);
	if (n >= want && w >= 0 && (size_t)w < len)
		snprintf(why + w, len - (size_t)w, "; only %d of them %s reachable now", healthy,
			 healthy == 1 ? "is" : "are");
	return -EACCES;
}

void placement_refused(struct engine *e, const struct geo_req *r, const char *intent,
		       const char *path, const struct geo_id *fid, const struct geo_tags *t,
		       int rc, const char *why)
{
	static const struct geo_req nobody = { .ngroups = -1 };
	char hex[GEO_HEX_LEN + 1], detail[400];
	char reason[256];

	if (!why) {
		policy_explain(e->cfg, t->cat, t->origin, reason, sizeof(reason));
		why = reason;
	}
	if (fid) {
		geoid_hex(fid, hex);
		snprintf(detail, sizeof(detail), "file id %s: %s", hex, why);
		why = detail;
	}
	if (!r)
		r = &nobody;
	struct audit_event ev = {
		.op = "placement-refused", .intent = intent, .path = path,
		.category = e->cfg->cats[t->cat].name, .origin = country_code(t->origin),
		.result = rc, .detail = why, .uid = r->uid, .gid = r->gid, .pid = r->pid,
	};

	__atomic_add_fetch(&e->ctr.placement_refused, 1, __ATOMIC_RELAXED);
	engine_audit(e, &ev);
}

void gf_unstore(struct engine *e, struct placed *p, int from)
{
	for (int k = from; k < p->n; k++)
		store_delete(e->store, p->b[k], &p->oid[k]);
	p->n = from;
}

int gf_store_copies(struct engine *e, const struct geo_tags *t, const uint8_t *obj, size_t n,
		    int want, uint64_t exclude, struct placed *p)
{
	struct backend_state st[CFG_MAX_BACKENDS];
	int chosen[CFG_MAX_REPLICAS], start = p->n;

	store_state(e->store, st);
	while (want > 0) {
		int k = policy_choose(e->cfg, t->cat, t->origin, st, n, exclude, want, chosen,
				      crypto_random_u32, NULL);
		if (k < 0) {
			gf_unstore(e, p, start);
			return k;
		}
		for (int i = 0; i < k; i++) {
			int b = chosen[i];
			int rc = store_put(e->store, b, obj, n, &p->oid[p->n]);

			if (rc) {
				log_warn("backend %s refused an object: %s", e->cfg->backends[b].name,
					 strerror(-rc));
				/* Full stays a candidate that cannot take it (ENOSPC);
				 * broken is no candidate any more (EACCES if none is left). */
				if (rc == -ENOSPC || rc == -EDQUOT) {
					st[b].avail = 0;
				} else {
					store_mark_failed(e->store, b);
					st[b].healthy = false;
				}
				continue;
			}
			exclude |= UINT64_C(1) << b;
			p->b[p->n++] = b;
			want--;
		}
	}
	return 0;
}

int gf_check_writable(struct engine *e, struct gfile *gf)
{
	char why[256];
	time_t now = time(NULL);
	int rc;

	/* Backend health is itself sampled once a second (store_state), so a
	 * success holds for the rest of that second; refusals are rechecked
	 * and audited every time. Tags or policy changes reset writable_at. */
	if (gf->writable_at == now)
		return 0;
	rc = placement_check(e, &gf->tags, why, sizeof(why));
	if (!rc) {
		gf->writable_at = now;
		return 0;
	}
	placement_refused(e, NULL, NULL, gf->path, &gf->id, &gf->tags, rc, why);
	return rc;
}
