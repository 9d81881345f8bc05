/*
 * gfile_int.h — struct gfile and the helpers shared by the files of the
 * open-file engine. Not for use outside them. The engine stands in floors,
 * each file calling only those below it (no call cycle):
 *
 *   compliance.c  status/placement/info text, migration        (top)
 *   gfile.c       lifecycle: get/put, create, destroy, retag, rebind
 *   gcommit.c     the commit protocol (durability points)
 *   shardio.c     content I/O: read, write, truncate, flush, read-ahead
 *   placement.c   feasibility, choosing/storing replicas, refusals
 *   gmerge.c      folding another mount's manifest in, refresh, discard
 *   gstate.c      bookkeeping: table, adopt, accessors, puts, dirty budget
 *                                                               (bottom)
 * The engine sees only its context (engine.h), never struct core; above it
 * stand core.c, fileops.c, ns.c, xattr.c, reload.c, stats.c, instance.c.
 * Below it: manifest, meta, store, codec, policy, scache, workers, keys.
 * The declarations below follow the same order, bottom first.
 *
 * Lock order (the only one; docs/architecture.md has it too):
 *   reload_lock (core_enter, shared) -> ns_lock -> table lock
 *     -> a gfile's lock -> the stub's flock(2) (commit)
 * A worker job takes only its gfile's lock. Never take a lock to the left
 * while holding one to its right. gfile_put takes the table lock and the
 * gfile lock one after the other, never nested the wrong way.
 */
#ifndef GEOFS_GFILE_INT_H
#define GEOFS_GFILE_INT_H

#include <pthread.h>
#include <time.h>

#include "gfile.h"
#include "manifest.h"

/* A shard being modified in memory: always shard_size bytes; bytes past
 * the logical size are kept zero. */
struct dshard {
	uint64_t index;
	uint64_t used;		/* LRU tick */
	uint8_t *buf;
};

/* An object the in-memory manifest no longer references; deleted after
 * the next commit. */
struct oldobj {
	uint8_t backend;	/* manifest-local backend index */
	struct geo_id oid;
};

/* Jobs (flushjob, prefetch) hold no reference on their gfile: a gfile is
 * freed only after its last reference is dropped AND gf_wait_inflight()
 * saw no job left, so a job never outlives it. */

/* A shard being encoded and stored by a worker. Its buffer stays readable
 * (reads copy from it) until the worker installs the new ref. */
struct flushjob {
	struct engine *e;
	struct gfile *gf;
	uint64_t index;
	uint8_t *buf;
	size_t len;
	struct geo_tags tags;		/* snapshot at submission */
	struct flushjob *next;
};

#define GF_PREFETCH_MAX 16	/* prefetch jobs per file at once */
#define GF_RECENT_MAX   8	/* objects synced one by one at a durable commit */

struct gfile {
	struct geo_id id;
	dev_t dev;
	ino_t ino;
	int refs;		/* guarded by the table lock */
	bool unlinked;		/* guarded by the table lock */
	nlink_t gone_nlink;	/* stub's link count when marked unlinked; table lock */
	bool closing;		/* a last gfile_put is at work; table lock */
	struct gfile *next_id, *next_ino;	/* table chains */

	pthread_mutex_t lock;	/* guards everything below */
	int stubfd;
	char *path;		/* a path it was last opened or renamed as, for
				 * audit records (NULL: not known) */
	struct manifest *mf;	/* live state, ahead of disk when changed */
	uint64_t disk_gen;	/* generation this mount last loaded/wrote */
	bool fresh;		/* just loaded: the next gfile_refresh has nothing to do */
	struct geo_tags tags;
	uint8_t *key;		/* AEAD_KEY_LEN bytes from keys_secret_alloc */
	bool have_key;		/* key unwrapped (content may be used) */
	struct dshard *dirty;
	int ndirty, dcap;
	uint64_t tick;
	struct oldobj *old;
	size_t nold, oldcap;
	bool changed;		/* manifest differs from disk */
	bool in_stub;		/* its manifest is the stub's, no file (meta.h) */
	bool no_stub;		/* ... and must move to a file (gfile_unstub) */
	bool unsynced;		/* its manifest on disk is not durable yet: a new
				 * file's first, or one committed by a close with
				 * durability = fsync; the next fsync makes it so */
	uint64_t put_mask;	/* backends written since the last durable commit */
	/* The objects written since then, while there are few: a durable
	 * commit syncs just those rather than whole backends (syncfs). */
	struct { int b; struct geo_id oid; } recent[GF_RECENT_MAX];
	int nrecent;
	bool recent_full;	/* more than GF_RECENT_MAX: sync by put_mask */
	struct timespec touched_at;	/* coarse time the stub's mtime was last set */
	time_t writable_at;	/* second placement was last found feasible; 0: recheck */
	struct flushjob *inflight;	/* shards being written by workers */
	int ninflight;
	int async_err;		/* first error of a worker, reported at commit */
	pthread_cond_t cond;	/* signalled when an inflight job ends */
	uint64_t ra_next;	/* next shard index to prefetch */
	uint64_t hint_next;	/* next shard whose object to hint (store_willneed) */
	uint64_t last_read;	/* shard of the previous read + 1 */
	unsigned seq_run;	/* shards read in order since the last seek */
	int nprefetch;		/* prefetch jobs not yet finished */
	uint64_t pf[GF_PREFETCH_MAX];	/* shard index of each of them */
	uint64_t *touched;	/* bitmap: shards changed since disk_gen (gmerge.c) */
	uint64_t ntouched;	/* words in touched */
	bool size_changed;	/* size changed since disk_gen */
	bool tags_changed;	/* tags changed since disk_gen */
};

/* ==== gstate.c: bookkeeping (calls nothing else of the engine) ==== */

/* The table of loaded files (the struct is gstate.c's). lock/unlock guard
 * refs, unlinked, gone_nlink, closing and the chains. */
void gtable_lock(struct gtable *t);
void gtable_unlock(struct gtable *t);
/* A new, empty table (NULL on ENOMEM), and freeing an empty one (NULL ok):
 * engine_init / engine_fini. */
struct gtable *gtable_new(void);
void gtable_free(struct gtable *t);
/* Table lock held for the rest. */
void gtable_insert(struct gtable *t, struct gfile *gf);
void gtable_remove(struct gtable *t, struct gfile *gf);
struct gfile *gtable_find_ino(struct gtable *t, dev_t dev, ino_t ino);
struct gfile *gtable_find_id(struct gtable *t, const struct geo_id *id);

/* A gfile holding its own O_RDWR dup of stubfd and a locked key buffer,
 * one reference, in no table; NULL on failure. gf_free: NULL ok. */
struct gfile *gf_alloc(int stubfd);
void gf_free(struct gfile *gf);

/* The file's shard size (its manifest's: a file keeps the size it was
 * created with, whatever the config says now). Shard counts for a size:
 * manifest_shards_for(gf->mf, size). gf->lock held. */
static inline uint32_t gf_shard_size(const struct gfile *gf)
{
	return gf->mf->shard_size;
}

/* Config index of a manifest-local backend, or -1 if not configured. */
int gf_backend(struct engine *e, const struct manifest *mf, int local);

/* Makes disk (consumed) the file's state as last committed: its manifest,
 * generation, tags and where the manifest lives; what was put before no
 * longer needs syncing (with durability = fsync, everything disk names is
 * noted unsynced instead). Sets the stub's size. Owned or gf->lock held. */
void gf_adopt(struct engine *e, struct gfile *gf, struct manifest *disk, bool in_stub);

/* Stub size follows the logical size (gf->mf->size), so stat needs no
 * manifest: sets it if it differs. */
void gf_sync_stub_size(struct gfile *gf);

/* After a write or truncate: the stub takes the new size (resized) or
 * just the new mtime/ctime, so stat shows them at once. gf->lock held. */
void gf_stub_touch(struct gfile *gf, bool resized);

/* Records that object oid was put on backend b (config index) since the
 * last durable commit, for the next one to make durable. */
void gf_note_put(struct gfile *gf, int b, const struct geo_id *oid);

/* Queues the replicas of a shard ref for deletion after commit and makes
 * the ref a hole. */
int gf_supersede(struct gfile *gf, struct shard_ref *ref);

/* True if mf (NULL: false) references object oid on backend bname. */
bool gf_references(const struct manifest *mf, const char *bname, const struct geo_id *oid);

/* Where one shard's replicas went: config backend indices and ids. */
struct placed {
	uint64_t gen;
	uint32_t objlen;
	int n;
	int b[CFG_MAX_REPLICAS];
	struct geo_id oid[CFG_MAX_REPLICAS];
};

/* Appends p's copies to ref's replicas (manifest-local backend indices)
 * and notes the backends for the next durable commit. gf->lock held. */
int gf_install(struct engine *e, struct gfile *gf, const struct placed *p, struct shard_ref *ref);

/* A dirty shard buffer (gf_shard_size bytes) counted against the mount's
 * dirty_size budget, and its release (len: the size it was taken with;
 * NULL ok). */
uint8_t *gf_buf_alloc(struct engine *e, struct gfile *gf);
void gf_buf_free(struct engine *e, size_t len, uint8_t *b);

/* Frees every dirty shard (their data is dropped) and returns their bytes
 * to the mount's dirty_size budget. gf->lock held, or gf owned. */
void gf_drop_dirty(struct engine *e, struct gfile *gf);

/* Waits (gf->lock held) until no worker job (flush or prefetch) of gf
 * runs. */
void gf_wait_inflight(struct gfile *gf);

/* The engine's hooks (engine.h), each a no-op when unset. */
void gf_note_status(struct engine *e, const struct geo_id *id, bool misplaced);
void gf_inval_links(struct engine *e, ino_t ino);

/* ==== gmerge.c: several mounts of one meta root ==== */

/* Notes that this mount changed shard idx; forgets all notes (after a
 * commit); folds a newer on-disk manifest (consumed) under this mount's
 * changes; and reloads + merges if the disk is newer (returns 1 when it
 * merged, 0 when the disk was not newer, -errno). gf->lock held. */
int gf_touch(struct gfile *gf, uint64_t idx);
void gf_untouch_all(struct gfile *gf);
int gf_merge_disk(struct engine *e, struct gfile *gf, struct manifest *disk);
int gf_reload(struct engine *e, struct gfile *gf);
/* After a last commit failed: deletes the objects of shards this mount
 * wrote that the manifest on disk does not reference (they would be
 * orphans nobody can reach), and puts the file back in its last committed
 * state, so that the next open does not see what was dropped. */
void gf_discard_uncommitted(struct engine *e, struct gfile *gf);

/* ==== placement.c: where replicas go (see placement.h) ==== */

/* Stores `want` more copies of an encoded object for a file tagged t on
 * allowed backends not in exclude (bit per config backend), appending to
 * p. Needs no gfile lock. -EACCES / -ENOSPC / -errno; on failure the
 * copies this call made are removed again. */
int gf_store_copies(struct engine *e, const struct geo_tags *t, const uint8_t *obj, size_t n,
		    int want, uint64_t exclude, struct placed *p);

/* Deletes p's copies from index `from` on, and forgets them. */
void gf_unstore(struct engine *e, struct placed *p, int from);

/* Placement feasibility for the file's current tags (refuse early: counted
 * and audited). A success holds for the rest of the second. gf->lock held. */
int gf_check_writable(struct engine *e, struct gfile *gf);

/* ==== shardio.c: content ==== */

/* Reads and authenticates shard idx into out (shard_size bytes; every byte
 * past the stored length or past the file's end is zero, so a write that
 * extends the file finds zeros there). Tries every replica. -EIO if none
 * is good (audited). */
int gf_fetch(struct engine *e, struct gfile *gf, uint64_t idx, uint8_t *out);

/* Reads one authentic replica of shard idx: the stored object into obj
 * (cap bytes) and its plaintext into plain (shard_size bytes). Returns the
 * object's length; -EIO if none authenticates. Needs gf->lock. */
long gf_fetch_object(struct engine *e, struct gfile *gf, uint64_t idx, uint8_t *obj, size_t cap,
		     uint8_t *plain);

/* Writes every dirty shard out (in index order). gf->lock held. */
int gf_flush_dirty(struct engine *e, struct gfile *gf);

/* ==== gcommit.c: the commit protocol ==== */

/* Deletes the objects queued by gf_supersede unless `keep` (another
 * mount's manifest; may be NULL) still references them. */
void gf_delete_superseded(struct engine *e, struct gfile *gf, const struct manifest *keep);

/* gfile_commit with gf->lock held. */
int gf_commit_locked(struct engine *e, struct gfile *gf, bool durable);

#endif
