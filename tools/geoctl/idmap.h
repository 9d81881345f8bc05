/*
 * idmap.h — a hash map from (tag, 128-bit id) to a pointer, for fsck's
 * bookkeeping: file ids seen in the namespace (tag 0), object ids
 * referenced by manifests (tag = backend index). Ids are random, so their
 * first bytes are the hash.
 */
#ifndef GEOCTL_IDMAP_H
#define GEOCTL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "geoid.h"

struct idmap;

struct idmap *idmap_new(void);			/* NULL on ENOMEM */

/* Frees the map; free_val (may be NULL) is called on every value. */
void idmap_free(struct idmap *m, void (*free_val)(void *));

/* Adds (tag, id) -> val. 1 if added, 0 if the key was already there (the
 * old value is kept), -ENOMEM. */
int idmap_put(struct idmap *m, uint32_t tag, const struct geo_id *id, void *val);

/* The value for (tag, id), or NULL if absent (or stored as NULL: use
 * idmap_has to tell). */
void *idmap_get(const struct idmap *m, uint32_t tag, const struct geo_id *id);
int idmap_has(const struct idmap *m, uint32_t tag, const struct geo_id *id);

size_t idmap_count(const struct idmap *m);

#endif
