/*
 * gfile.h — the per-inode content state of a regular file.
 *
 * One struct gfile exists per file (per file id) while any handle of this
 * mount has it open or an operation works on it; every handle shares it, so
 * two descriptors (or threads) see each other's writes. It holds the
 * in-memory manifest, the file's data key, and the dirty shard buffers,
 * under its own mutex. Committing writes pending shards as objects, then
 * the manifest atomically, then deletes objects the new manifest no longer
 * references (never one the on-disk manifest still references, which
 * covers a commit by another mount in between).
 *
 * Every call takes the engine's context (engine.h), never struct core.
 * Lock order: table lock, then a gfile's lock, then (commit) the stub's
 * flock; never the reverse. The whole order, from the instance's reload
 * lock down, is in gfile_int.h and docs/architecture.md.
 */
#ifndef GEOFS_GFILE_H
#define GEOFS_GFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "engine.h"
#include "manifest.h"

struct gfile;

/* Takes a reference on the file whose stub is open as stubfd (O_RDWR; the
 * gfile keeps its own dup). Loads manifest and key on first use.
 * -EIO if the stub has no id or the manifest is missing/damaged, -EACCES if
 * the keyring lacks the file's key domain. Release with gfile_put(). */
int gfile_get(struct engine *e, int stubfd, struct gfile **out);

/* Like gfile_get but without unwrapping the key: for tags, placement and
 * status, which a site may see even for content it cannot open. Content
 * calls (read, write, truncate, migrate) on such a gfile unwrap on demand
 * and fail with -EACCES where the keyring lacks the domain. */
int gfile_get_meta(struct engine *e, int stubfd, struct gfile **out);

/* Creates a new file's id, data key and manifest (stored before returning)
 * for stubfd, which must not be linked into the namespace yet. */
int gfile_create(struct engine *e, int stubfd, const struct geo_tags *t, struct gfile **out);

/* Makes gf hold its stub through the name dfd/name (which must be the
 * same inode) instead of the descriptor it was created with: so that a
 * stub made under a temporary name (newstub.h) holds no dentry of that
 * name, which an NFS client would otherwise silly-rename (a second link)
 * when the name is dropped. 0, -ESTALE if the name is another inode. */
int gfile_reopen_stub(struct gfile *gf, int dfd, const char *name);

/* The gfile already loaded for stub inode (dev, ino), with a reference, or
 * NULL. Used by getattr to report sizes of files being written. */
struct gfile *gfile_find_ino(struct engine *e, dev_t dev, ino_t ino);

/* Takes the manifest another mount committed since this mount last
 * loaded or wrote it, with this mount's uncommitted changes (dirty shards,
 * size, tags) laid over it as a commit would (gmerge.c): so that an open
 * sees the last manifest committed by any mount even while the file is
 * held open here. 0 (also when nothing changed, or the manifest is gone:
 * another mount deleted the file), -EIO for a damaged one, -errno.
 * stubfd: a descriptor of the stub opened just now, through which a small
 * file's manifest (an xattr) is read: an NFS client may serve a held
 * descriptor's xattrs from its cache for seconds, a new open revalidates. */
int gfile_refresh(struct engine *e, struct gfile *gf, int stubfd);

/* Drops a reference. The last one commits pending changes (errors are
 * logged: callers wanting them call gfile_commit first) and, if the file
 * was unlinked meanwhile, deletes its manifest and objects. */
void gfile_put(struct engine *e, struct gfile *gf);

long gfile_read(struct engine *e, struct gfile *gf, char *buf, size_t size, uint64_t off);
/* append: write at the current end of file, whatever off says. */
long gfile_write(struct engine *e, struct gfile *gf, const char *buf, size_t size, uint64_t off,
		 bool append);
int gfile_truncate(struct engine *e, struct gfile *gf, uint64_t size);

/* Writes pending shards and the manifest. durable: also syncs objects,
 * manifest and directory so a power cut cannot lose them. */
int gfile_commit(struct engine *e, struct gfile *gf, bool durable);

uint64_t gfile_size(struct gfile *gf);
/* Puts the live size, and the times of uncommitted writes, into st. */
void gfile_stat(struct gfile *gf, struct stat *st);
void gfile_tags(struct gfile *gf, struct geo_tags *t);
int gfile_stubfd(struct gfile *gf);
/* Notes path (inside the mount) as the file's name for its audit records:
 * at open and create, and after a rename. Best effort (kept on ENOMEM). */
void gfile_set_path(struct gfile *gf, const char *path);

/* Changes the file's tags: rewraps its key under the new domain and
 * commits. Shards stay where they are (status may become misplaced).
 * -EACCES if this keyring lacks the new domain. */
int gfile_retag(struct engine *e, struct gfile *gf, const struct geo_tags *t);

/* Moves shards that sit where the policy forbids (or all, with spread) to
 * compliant backends, verifying each copy, then commits durably and deletes
 * the old objects. -EACCES if no compliant placement exists. */
int gfile_migrate(struct engine *e, struct gfile *gf, bool spread);

/* "ok" or "misplaced <reason>" into buf. */
void gfile_status(struct engine *e, struct gfile *gf, char *buf, size_t len);

/* user.geo.placement text, and the full user.geo.info text (see xattrs.h). */
void gfile_placement(struct engine *e, struct gfile *gf, char *buf, size_t len);
int gfile_info(struct engine *e, struct gfile *gf, char *buf, size_t len);

/* Marks the file as having lost its last name: the last put deletes it
 * (unless a link made meanwhile raised the stub's link count above what
 * it was when marked). Call after the name is gone. */
void gfile_mark_unlinked(struct engine *e, struct gfile *gf);

/* Deletes the manifest (a manifest file; one on the stub goes with the
 * stub) and every object of a file that is not open here and has lost its
 * last name, as mf (loaded before the name went) describes it. 0 also if
 * another mount deleted it first, else -errno. */
int gfile_destroy(struct engine *e, const struct geo_id *id, const struct manifest *mf,
		  bool in_stub);

/* Moves a small file's manifest from its stub's xattrs to a manifest file
 * (durably), to give the application's own xattrs that room back. 1 if
 * it moved, 0 if it was not on the stub, or -errno. */
int gfile_unstub(struct engine *e, struct gfile *gf);

/* Calls fn for every loaded file, under the table lock (fn may take the
 * file's lock, nothing else of the table). */
void gtable_foreach(struct gtable *t, void (*fn)(struct gfile *gf, void *arg), void *arg);

/* Waits until no worker job of the file runs (jobs read e->cfg and
 * e->store): a reload calls it for every file, holding the instance
 * exclusively (so no new job starts), before it swaps the config. */
void gfile_quiesce(struct gfile *gf);

/* After a reload swapped e->cfg (old is the previous config, still
 * allocated): re-resolves the file's tags against the new categories and
 * renumbers the backends it wrote since its last durable commit. Caller
 * holds the instance exclusively, after gfile_quiesce() and engine_bind(). */
void gfile_rebind(struct engine *e, struct gfile *gf, const struct geo_config *old);

#endif
