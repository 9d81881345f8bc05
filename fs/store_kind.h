/*
 * store_kind.h — what a backend kind implements for the store front
 * (store.c); internal to store.c and the kinds (store_dir.c, store_s3.c),
 * not an interface for anything else.
 *
 * A kind stores opaque objects under the names the front gives it (a
 * random 128-bit id) and one small marker object. It knows nothing of
 * shards, files, placement or the config beyond its own [backend] section,
 * which it copies at open: a handle outlives the config it came from (a
 * store held by a background thread across a reload).
 *
 * Every operation is thread safe on one handle and returns 0 / a length /
 * -errno; a failure that means "the backend cannot be reached or used"
 * (as opposed to "no such object") is -EIO, -ETIMEDOUT, -ECONNREFUSED,
 * -EACCES, -ENOSPC and the like.
 */
#ifndef GEOFS_STORE_KIND_H
#define GEOFS_STORE_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "config.h"
#include "geoid.h"

typedef int (*store_walk_fn)(const struct geo_id *oid, const char *relpath, uint64_t size,
			     void *arg);

struct store_kind {
	const char *name;	/* the `kind =` value */
	/* Requests wait on a network round trip rather than on a local disk:
	 * the engine then keeps more of them in flight (store_remote()). */
	bool remote;

	/* Opens cb's storage without looking at its marker. create: make it
	 * first (directory and parents; bucket). -errno with one line in err
	 * naming the backend and what to do. */
	int (*open)(const struct cfg_backend *cb, const char *cfgfile, bool create, void **h,
		    char *err, size_t errlen);
	void (*close)(void *h);		/* NULL ok */

	/* The marker object: its bytes into buf (at most cap - 1, NUL added),
	 * the length, -ENOENT if absent, -EINVAL if it cannot be a marker (too
	 * big, not a regular file), -errno. write replaces it atomically. */
	long (*marker_read)(void *h, char *buf, size_t cap);
	int (*marker_write)(void *h, const char *text, size_t len);
	/* Creates what a marked backend needs besides its marker (dir:
	 * objects/ and tmp/). NULL: nothing. */
	int (*prepare)(void *h);

	/* Writes a new object under oid, never over an existing one: -EEXIST
	 * if the name is taken. Not durable until sync (if the kind has one). */
	int (*put)(void *h, const struct geo_id *oid, const void *obj, size_t len);
	/* The object's length, -ENOENT, -EFBIG if longer than cap, -EIO if
	 * the name holds something that is no object. */
	long (*get)(void *h, const struct geo_id *oid, void *buf, size_t cap);
	void (*willneed)(void *h, const struct geo_id *oid);	/* NULL: no read-ahead */
	long (*size)(void *h, const struct geo_id *oid);
	/* Removes an object, and says how big it was (0 if unknown); -ENOENT
	 * if it was not there. */
	int (*remove)(void *h, const struct geo_id *oid, uint64_t *size);

	/* Durability: sync covers every put so far; sync_object one object.
	 * NULL: a put is durable when it returns (S3). */
	int (*sync)(void *h);
	int (*sync_object)(void *h, const struct geo_id *oid);

	/* 0 if the backend can take writes now, with its free bytes in *avail
	 * (UINT64_MAX if unknown); else -errno. May probe the storage: cheap
	 * for dir, bounded by the timeouts for s3. */
	int (*health)(void *h, uint64_t *avail);
	/* statvfs of the filesystem and its device (to count it once). NULL:
	 * the kind has no filesystem to report. */
	int (*statfs)(void *h, struct statvfs *sv, dev_t *dev);

	/* Every object (oid set) and every leftover that is no object (oid
	 * NULL, relpath names it for remove_relpath), with its size. fn
	 * returns nonzero to stop; that value is returned. */
	int (*walk)(void *h, store_walk_fn fn, void *arg);
	int (*remove_relpath)(void *h, const char *relpath);
	/* The relpath walk gives object oid (dir: a fan-out path
	 * objects/ab/<hex>; s3: objects/<hex>). Required. */
	void (*object_relpath)(const struct geo_id *oid, char out[STORE_RELPATH_MAX]);

	/* The last error the storage reported, for `geoctl status` ("" if
	 * none since it last worked). NULL: the kind keeps none. */
	void (*last_error)(void *h, char *buf, size_t len);
};

extern const struct store_kind store_kind_dir;
extern const struct store_kind store_kind_s3;

#endif
