/*
 * gcommit.c — a file's durability points: publishing its manifest.
 *
 * A commit (fsync, a close with durability = close, a retag or migration)
 * first stores the file's dirty shards, then, under an exclusive flock(2)
 * of the stub (which another mount and geoctl's key rotation take too):
 * lays this mount's changes over a manifest another mount committed
 * meanwhile (gmerge.c); makes every object the file put since its last
 * durable commit durable; and only then publishes the new manifest, on
 * the stub (a small file's, meta.h) or as a manifest file (temp, fdatasync,
 * rename, fsync of the directory). The stub's fsync ends it. Objects the
 * new manifest no longer names are deleted after it is published, unless
 * the manifest of another mount still names them. docs/guarantees.md has
 * the same steps for users.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "gfile_int.h"
#include "log.h"

/* Deletes superseded objects unless `keep` (the manifest another mount
 * committed meanwhile) still references them. */
void gf_delete_superseded(struct engine *e, struct gfile *gf, const struct manifest *keep)
{
	for (size_t i = 0; i < gf->nold; i++) {
		const char *bname = gf->mf->bnames[gf->old[i].backend];
		int b = config_backend(e->cfg, bname);
		if (b < 0 || (keep && gf_references(keep, bname, &gf->old[i].oid)))
			continue;
		store_delete(e->store, b, &gf->old[i].oid);
	}
	gf->nold = 0;
}

/* Makes every object this file put since its last durable commit durable:
 * one by one while they are few (small files: no syncfs that would also
 * wait for every other writer on the filesystem), else whole backends. */
static int sync_backends(struct engine *e, struct gfile *gf)
{
	int rc = 0;

	if (!gf->recent_full) {
		for (int i = 0; !rc && i < gf->nrecent; i++) {
			int b = gf->recent[i].b;
			rc = store_sync_object(e->store, b, &gf->recent[i].oid);
			/* Gone is fine only if superseded (a later put holds
			 * its shard), not if the manifest still names it. */
			if (rc == -ENOENT && !gf_references(gf->mf, e->cfg->backends[b].name,
							  &gf->recent[i].oid))
				rc = 0;
			else if (rc == -ENOENT)
				rc = -EIO;
		}
	} else {
		for (int b = 0; !rc && b < e->cfg->nbackends; b++)
			if (gf->put_mask & (UINT64_C(1) << b))
				rc = store_sync(e->store, b);
	}
	if (!rc) {
		gf->put_mask = 0;
		gf->nrecent = 0;
		gf->recent_full = false;
	}
	return rc;
}

/* Another mount may have committed since we loaded: lays our changes over
 * its manifest (gmerge.c) so neither loses shards it wrote, and follows it
 * if it moved the manifest from the stub to a file. Stub locked. */
static int merge_disk(struct engine *e, struct gfile *gf)
{
	struct manifest *disk = NULL;
	bool disk_on_stub;

	if (meta_manifest_load_stub(e->meta, gf->stubfd, &gf->id, &disk, &disk_on_stub) != 0)
		return 0;	/* none or damaged: ours replaces it */
	gf->in_stub = disk_on_stub;
	if (disk->generation == gf->disk_gen) {
		manifest_free(disk);
		return 0;
	}
	return gf_merge_disk(e, gf, disk);
}

/* Publishes gf->mf as the file's manifest file. It is written before the
 * backends are flushed, and published only after every object it names
 * is durable: where meta root and backends share a filesystem, one flush
 * covers both. Stub locked. */
static int install_file(struct engine *e, struct gfile *gf, bool durable)
{
	struct meta_staged st;
	int rc = meta_manifest_stage(e->meta, gf->mf, &st);

	if (!rc && durable)
		rc = sync_backends(e, gf);
	if (rc)
		meta_manifest_abort(e->meta, &st);
	else
		rc = meta_manifest_install(e->meta, &st, durable);
	return rc;
}

/* Makes the manifest already published durable: the stub's own, or the
 * manifest file and its directory, then the stub (size, times, and a new
 * stub's name). Callers have made its objects durable first. */
static int sync_published(struct engine *e, struct gfile *gf)
{
	int rc = gf->in_stub ? 0 : meta_manifest_sync(e->meta, &gf->id);

	if (!rc && fsync(gf->stubfd) < 0)
		rc = -errno;
	if (!rc)
		gf->unsynced = false;
	return rc;
}

/* Drops the commit lock. If that fails the lock stays until the stub is
 * closed, and other mounts' commits wait: say so loudly. */
static void unlock_stub(struct gfile *gf)
{
	int rc = fileio_flock(gf->stubfd, LOCK_UN);

	if (rc)
		log_err("unlocking a file's stub after its commit failed: %s; other mounts "
			"cannot commit it until it is closed here", strerror(-rc));
}

int gf_commit_locked(struct engine *e, struct gfile *gf, bool durable)
{
	int rc = gf_flush_dirty(e, gf);

	if (rc)
		return rc;
	/* Writes keep the stub's size current (gf_stub_touch); a merge with
	 * another mount's manifest may have changed it since. */
	if (!gf->changed) {
		gf_sync_stub_size(gf);
		if (!durable)
			return 0;
		rc = sync_backends(e, gf);
		if (!rc && gf->unsynced)
			rc = sync_published(e, gf);
		return rc;
	}
	/* Without the lock another mount's commit could interleave with ours
	 * and one of the two would be lost: a failed lock fails the commit. */
	rc = fileio_flock(gf->stubfd, LOCK_EX);
	if (rc) {
		log_err("locking a file's stub to commit it failed: %s; not committed",
			strerror(-rc));
		return rc;
	}
	rc = merge_disk(e, gf);
	if (rc) {
		unlock_stub(gf);
		return rc;
	}
	gf->mf->generation++;
	bool on_stub = false;
	if (gf->in_stub && !gf->no_stub) {
		rc = durable ? sync_backends(e, gf) : 0;
		if (!rc)
			rc = meta_stub_manifest_set(gf->stubfd, gf->mf);
		on_stub = rc == 0;
		if (rc == -E2BIG || rc == -ENOSPC)
			rc = 0;		/* outgrown the stub: a manifest file */
	}
	if (!rc && !on_stub)
		rc = install_file(e, gf, durable);
	unlock_stub(gf);
	if (rc) {
		gf->mf->generation--;
		return rc;
	}
	gf->disk_gen = gf->mf->generation;
	gf->changed = false;
	if (gf->in_stub && !on_stub) {
		meta_stub_manifest_clear(gf->stubfd);	/* if not: the file wins */
		gf->in_stub = false;
	}
	gf_untouch_all(gf);
	gf_sync_stub_size(gf);
	/* For a manifest on the stub this is the commit's durability point
	 * (the new manifest and the size); otherwise the size's. */
	if (durable && fsync(gf->stubfd) < 0 && on_stub)
		rc = -errno;	/* published, but maybe not durably: report it */
	gf->unsynced = !durable || rc;
	gf_delete_superseded(e, gf, gf->mf);
	return rc;
}

int gfile_commit(struct engine *e, struct gfile *gf, bool durable)
{
	struct stat st;
	bool was;

	pthread_mutex_lock(&gf->lock);
	was = gf->changed || gf->ndirty || gf->ninflight;
	int rc = gf_commit_locked(e, gf, durable);
	pthread_mutex_unlock(&gf->lock);
	/* Other names of a hard-linked file show a stale size until told;
	 * outside gf->lock, since the kernel may write back pages to us. */
	if (!rc && was && fstat(gf->stubfd, &st) == 0 && st.st_nlink > 1)
		gf_inval_links(e, gf->ino);
	return rc;
}

int gfile_unstub(struct engine *e, struct gfile *gf)
{
	int rc = 0;

	pthread_mutex_lock(&gf->lock);
	if (gf->in_stub) {
		gf->no_stub = true;
		gf->changed = true;	/* a commit writes the manifest file */
		rc = gf_commit_locked(e, gf, true);
		if (!rc)
			rc = gf->in_stub ? -EIO : 1;
	}
	pthread_mutex_unlock(&gf->lock);
	return rc;
}
