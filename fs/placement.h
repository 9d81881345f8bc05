/*
 * placement.h — the placement decisions of the engine (placement.c): is
 * storing feasible for a file's tags, where do the replicas of a shard go,
 * and the one place a refusal is counted and audited. The pure policy
 * (which backends qualify) is policy.h; this adds the backends' state and
 * the store. Engine-internal parts (struct placed, gf_store_copies) are in
 * gfile_int.h.
 */
#ifndef GEOFS_PLACEMENT_H
#define GEOFS_PLACEMENT_H

#include "engine.h"

/* 0 if placement for t is feasible now (enough allowed backends, enough
 * of them reachable), else -EACCES with a reason in why. The caller
 * counts and audits a refusal (placement_refused). core_check_placement()
 * is the same for the front end. */
int placement_check(struct engine *e, const struct geo_tags *t, char *why, size_t len);

/* Counts a refused placement (user.geo.stats placement_refused) and audits
 * it as placement-refused with result rc. r: the caller (NULL: the daemon
 * itself, e.g. a worker); intent and path may be NULL; fid: the file's id
 * for the detail (NULL: none yet); why: the reason (NULL: the policy's own
 * explanation for t). */
void placement_refused(struct engine *e, const struct geo_req *r, const char *intent,
		       const char *path, const struct geo_id *fid, const struct geo_tags *t,
		       int rc, const char *why);

#endif
