/*
 * store.h — shard objects on directory backends.
 *
 * Layout of a backend directory:
 *   BACKEND/geofs-backend          marker (see store_init_backend)
 *   BACKEND/objects/ab/cd/<32 hex> one object per file, named by a random
 *                                  128-bit object id (fan-out 256 x 256)
 *   BACKEND/tmp/<32 hex>.tmp       objects being written (temp + rename)
 * Nothing else is ever written to a backend.
 *
 * Backends are addressed by their index in the config. All functions are
 * thread safe. Directory fds are opened once at store_open() and every
 * access is relative to them (openat & co).
 */
#ifndef GEOFS_STORE_H
#define GEOFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "config.h"
#include "geoid.h"
#include "policy.h"

#define STORE_MARKER      "geofs-backend"
#define STORE_RELPATH_MAX (sizeof("objects/ab/cd/") + GEO_HEX_LEN)

struct store;

/* Opens every backend of cfg. A backend whose directory is missing or
 * unusable is kept but marked unhealthy (reads and writes skip it) and a
 * warning names it, unless `strict` (then -ENOENT/-errno with a message). */
int store_open(const struct geo_config *cfg, bool strict, struct store **out,
	       char *err, size_t errlen);
void store_close(struct store *s);		/* NULL ok */

/* Writes obj as a new object on backend b (temp file + rename) and returns
 * its fresh random id in *oid. Not durable until store_sync(). 0 or -errno
 * (-ENOSPC, -EIO, -EROFS, ...). */
int store_put(struct store *s, int b, const void *obj, size_t len, struct geo_id *oid);

/* Reads an object. Returns its length, -ENOENT if absent, -EFBIG if larger
 * than cap, other -errno. */
long store_get(struct store *s, int b, const struct geo_id *oid, void *buf, size_t cap);

/* Size of an object, or -ENOENT / -errno. */
long store_size(struct store *s, int b, const struct geo_id *oid);

/* Removes an object; -ENOENT if it was not there. */
int store_delete(struct store *s, int b, const struct geo_id *oid);

/* Makes every object put on b so far durable (syncfs on the backend; no-op
 * when nothing was written since the last sync). 0 or -errno. */
int store_sync(struct store *s, int b);

/* Health and free space per backend (cached for up to a second), written to
 * out[0..cfg->nbackends-1]. */
void store_state(struct store *s, struct backend_state *out);

/* Marks a backend unhealthy after an I/O error (until the next refresh
 * finds its directory usable again). */
void store_mark_failed(struct store *s, int b);

/* Sum of total/free space over healthy backends, in statvfs form. */
int store_statfs(struct store *s, struct statvfs *out);

/* Calls fn for every object (oid) and every leftover temp file (oid NULL,
 * name given) on backend b. fn returns 0 to go on, nonzero to stop (that
 * value is returned). */
int store_walk(struct store *s, int b,
	       int (*fn)(const struct geo_id *oid, const char *relpath, uint64_t size, void *arg),
	       void *arg);

/* Removes a leftover temp file named by store_walk. */
int store_remove_relpath(struct store *s, int b, const char *relpath);

/* "objects/ab/cd/<hex>" for an object id. */
void store_relpath(const struct geo_id *oid, char out[STORE_RELPATH_MAX]);

/* Creates BACKEND/geofs-backend, objects/ and tmp/ if missing. 0/-errno. */
int store_init_backend(const char *path, char *err, size_t errlen);

#endif
