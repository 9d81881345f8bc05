/*
 * store.h — shard objects on backends of any kind (a directory, an S3
 * bucket: store_kind.h), behind one API; callers never know the kind.
 *
 * Layout of a backend directory (kind = dir):
 *   BACKEND/geofs-backend          marker naming the backend and its country
 *                                  (marker.h; see store_init_backend)
 *   BACKEND/objects/ab/<32 hex>    one object per file, named by a random
 *                                  128-bit object id (fan-out 256: a
 *                                  million objects are ~4,000 per directory)
 *   BACKEND/tmp/                   reserved for temporary files (fsck
 *                                  collects leftovers there)
 * Layout of an S3 backend (kind = s3), keys under the optional prefix P:
 *   P/geofs-backend                the marker, same text as above
 *   P/objects/<32 hex>             one object per shard copy (no fan-out:
 *                                  a bucket is no directory)
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

struct backend_state;		/* policy.h: what store_state() fills */

#define STORE_MARKER      "geofs-backend"
#define STORE_RELPATH_MAX (sizeof("objects/ab/") + GEO_HEX_LEN)

struct store;

/* Opens every backend of cfg. A backend is usable only if its directory or
 * bucket exists and carries its marker (marker.h). An unusable backend is kept but
 * marked unhealthy (reads and writes skip it, and it is retried later) and
 * a warning names it, unless its bit is set in `strict` (STORE_STRICT_ALL:
 * every backend): then -ENOENT/-EINVAL/-EMEDIUMTYPE/-errno with a message
 * naming the backend, its path and the command that fixes it.
 * The store keeps a pointer to cfg, which must outlive every call but
 * store_count() and the last store_close(). */
#define STORE_STRICT_ALL UINT64_MAX
int store_open(const struct geo_config *cfg, uint64_t strict, struct store **out,
	       char *err, size_t errlen);
/* Takes a reference: the store stays allocated until the matching
 * store_close(), even after its opener closed it (a reload). */
struct store *store_hold(struct store *s);
void store_close(struct store *s);		/* drops a reference; NULL ok */

/* Writes obj as a new object on backend b (in place, O_EXCL) and returns
 * its fresh random id in *oid. Not durable until store_sync(). 0 or -errno
 * (-ENOSPC, -EIO, -EROFS, ...). */
int store_put(struct store *s, int b, const void *obj, size_t len, struct geo_id *oid);

/* Reads an object. Returns its length, -ENOENT if absent, -EFBIG if larger
 * than cap, other -errno. */
long store_get(struct store *s, int b, const struct geo_id *oid, void *buf, size_t cap);

/* Asks the kernel to start reading object oid into its page cache
 * (POSIX_FADV_WILLNEED) and returns without waiting: a later store_get
 * then finds it there. Best effort: errors are ignored. */
void store_willneed(struct store *s, int b, const struct geo_id *oid);

/* Size of an object, or -ENOENT / -errno. */
long store_size(struct store *s, int b, const struct geo_id *oid);

/* Removes an object; -ENOENT if it was not there. */
int store_delete(struct store *s, int b, const struct geo_id *oid);

/* Makes every object put on b so far durable (syncfs on a directory
 * backend; no-op when nothing was written since the last sync, and always
 * for S3, where a put is durable when it returns). 0 or -errno. */
int store_sync(struct store *s, int b);

/* Makes one object durable: fdatasync of it, then fsync of its fan-out
 * directory (S3: nothing to do). Cheaper than store_sync() for a few small objects, and it does
 * not wait for other writers' data on the same filesystem. -ENOENT if the
 * object is gone (deleted as superseded: nothing needs it durable). */
int store_sync_object(struct store *s, int b, const struct geo_id *oid);

/* Health and free space per backend (cached for up to a second), written to
 * out[0..cfg->nbackends-1]. */
void store_state(struct store *s, struct backend_state *out);

/* How many of s's backends are of a remote kind (requests that wait on
 * the network, such as S3). */
int store_remote(const struct store *s);

/* Marks a backend unhealthy after an I/O error (until the next refresh
 * finds its directory usable again). */
void store_mark_failed(struct store *s, int b);

/* The last error backend b's storage reported ("" if none since it last
 * worked; never a credential), for status output. */
void store_last_error(struct store *s, int b, char *buf, size_t len);

/* Free space reported for a backend whose kind cannot tell (S3). */
#define STORE_AVAIL_UNKNOWN (UINT64_C(1) << 50)

/* Sum of total/free space over healthy backends, in statvfs form. */
int store_statfs(struct store *s, struct statvfs *out);

/* Calls fn for every object file (oid: a regular file with a 32-hex name
 * in a fan-out directory objects/XX/; relpath says which one, and it need
 * not be store_object_relpath() when the file sits in the wrong fan-out
 * directory), and with oid NULL for every leftover temp file (tmp/NAME)
 * and every other entry under objects/ (a misnamed file, a file or
 * directory at the wrong depth, a symlink; size 0 if not a regular file).
 * fn returns 0 to go on, nonzero to stop (that value is returned). */
int store_walk(struct store *s, int b,
	       int (*fn)(const struct geo_id *oid, const char *relpath, uint64_t size, void *arg),
	       void *arg);

/* Removes a leftover temp file named by store_walk. */
int store_remove_relpath(struct store *s, int b, const char *relpath);

/* Where backend b keeps object oid, as store_walk names it: the fan-out
 * path "objects/ab/<hex>" on a directory, "objects/<hex>" on a kind whose
 * names need no fan-out (S3). fsck compares it with what it found. */
void store_object_relpath(struct store *s, int b, const struct geo_id *oid,
			  char out[STORE_RELPATH_MAX]);

/* Objects and bytes stored on a backend, as far as this store knows: a
 * count made by store_count(), plus the objects put and deleted through
 * this store since (before the count: since the store was opened, and
 * counted is false). Objects another mount writes show at the next count. */
struct store_usage {
	uint64_t objects, bytes;
	bool counted;
};
void store_usage(struct store *s, int b, struct store_usage *u);

/* Counts the objects on backend b by walking its objects, adopting the result
 * (puts and deletes made meanwhile stay counted). Slow on big backends:
 * meant for a background thread holding a store_hold() reference; uses no
 * config. Gives up with -ECANCELED once *stop (if stop) becomes true.
 * 0, -ENOENT if b is unusable, or -errno. */
int store_count(struct store *s, int b, const bool *stop);

/* Copies the counted usage of backends that old has too (same name, kind
 * and place) into s, a store opened for a reloaded config. */
void store_adopt_usage(struct store *s, struct store *old);

/* Makes cb's directory or bucket a backend: writes its marker (marker.h)
 * unless it is already there, and creates objects/ and tmp/ (dir). cfgfile
 * is named in hints. flags: STORE_INIT_CREATE creates the directory (and
 * its parents) or the bucket if missing; STORE_INIT_FORCE
 * replaces a marker naming another backend or country (else -EMEDIUMTYPE).
 * Returns 1 if the marker was already right, 0 if written, or -errno with a
 * message in err. */
/* Opens cb's storage and checks its marker without changing anything (for
 * `geoctl backend check` and `geoctl check`): 0, or -errno with one line in
 * err (-ENOENT no directory/bucket or no marker, -EMEDIUMTYPE another
 * backend's, -ETIMEDOUT / -ECONNREFUSED / -EACCES for an S3 endpoint...). */
int store_check_backend(const struct cfg_backend *cb, const char *cfgfile, char *err,
			size_t errlen);

#define STORE_INIT_CREATE 1u
#define STORE_INIT_FORCE  2u
int store_init_backend(const struct cfg_backend *cb, const char *cfgfile, unsigned flags,
		       char *err, size_t errlen);

#endif
