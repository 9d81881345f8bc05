/*
 * policy.h — what the config allows for a (category, origin) pair.
 *
 * Pure functions over a struct geo_config: allowed storage countries,
 * allowed site countries, whether a retag tightens, and the choice of
 * backends for a shard. No I/O: callers pass backend state in.
 */
#ifndef GEOFS_POLICY_H
#define GEOFS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Countries where a file of (cat, origin) may be stored. */
void policy_store_set(const struct geo_config *cfg, int cat, int origin, struct cset *out);

/* Site countries from which a file of (cat, origin) may be opened. */
void policy_access_set(const struct geo_config *cfg, int cat, int origin, struct cset *out);

/* True if the site's country may open a file of (cat, origin). */
bool policy_site_may_access(const struct geo_config *cfg, int cat, int origin);

/* True if retagging (cat0, origin0) -> (cat1, origin1) only tightens: same
 * origin, and the new store set and new access set are each a subset of the
 * old (equal counts as tightening). */
bool policy_is_tightening(const struct geo_config *cfg, int cat0, int origin0,
			  int cat1, int origin1);

/* True if (cat, origin) allows no storage or access country that
 * (pcat, porigin) does not: tags that may sit under a directory with
 * those tags. Origins may differ (the sets are what counts); the same
 * rule as geoctl verify's "looser". */
bool policy_within(const struct geo_config *cfg, int cat, int origin, int pcat, int porigin);

/* Writes into idx[] the indices of backends whose country is allowed for
 * (cat, origin), not draining, up to max. Returns how many qualify. */
int policy_qualified(const struct geo_config *cfg, int cat, int origin, int *idx, int max);

/* State of one backend as seen by the store, for placement. */
struct backend_state {
	bool healthy;		/* directory present and writable */
	uint64_t avail;		/* free bytes */
};

/*
 * Chooses `want` distinct backends for one shard of `need` bytes of a file
 * of (cat, origin): only qualified backends, healthy, with avail >= need,
 * not in `exclude` (bit i = backend i; may be 0). The choice is random,
 * weighted by weight x avail, so usage evens out. `rnd` supplies random
 * 32-bit values (crypto_random is fine; tests pass a fixed sequence).
 *
 * Returns the number chosen (== want) with indices in out[], or
 *   -EACCES  fewer than `want` backends are allowed (and not draining) for
 *            (cat, origin), or fewer than `want` of those are healthy and
 *            not excluded: no allowed, healthy backend can take the shard;
 *   -ENOSPC  enough are allowed and healthy, but too few have `need` bytes.
 */
int policy_choose(const struct geo_config *cfg, int cat, int origin,
		  const struct backend_state *state, uint64_t need, uint64_t exclude,
		  int want, int *out, uint32_t (*rnd)(void *), void *rnd_arg);

/* Describes why (cat, origin) cannot be placed, for audit records and
 * error text: e.g. "category medical with origin FR may be stored in FR;
 * no backend is configured there". Returns snprintf-style length. */
int policy_explain(const struct geo_config *cfg, int cat, int origin, char *buf, size_t len);

#endif
