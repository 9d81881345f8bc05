/*
 * gfile.c — a file's life in the engine: getting (loading its manifest
 * and key) and putting (the last put commits or destroys), creation,
 * deletion, retagging, rebinding after a reload. The table and the rest
 * of the bookkeeping are gstate.c's, the commit protocol gcommit.c's,
 * content I/O shardio.c's, status and migration compliance.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "gfile_int.h"
#include "log.h"

/* Gets the key of the manifest's domain at its version. -EACCES without. */
static int manifest_domain_key(struct engine *e, const struct manifest *mf, uint8_t dkey[AEAD_KEY_LEN])
{
	char dom[KEYS_DOMAIN_MAX];

	tags_manifest_domain(mf, dom);
	int rc = keyring_domain_key(e->keys, dom, mf->key_version, dkey);
	return rc == -ENOKEY ? -EACCES : rc;
}

/* Unwraps the file key (first use needing content). Caller holds gf->lock
 * or owns gf exclusively. -EACCES without the domain key. */
static int unwrap_key(struct engine *e, struct gfile *gf)
{
	uint8_t dkey[AEAD_KEY_LEN];
	char dom[KEYS_DOMAIN_MAX];
	int rc;

	if (gf->have_key)
		return 0;
	rc = manifest_domain_key(e, gf->mf, dkey);
	if (rc)
		return rc;
	tags_manifest_domain(gf->mf, dom);
	rc = keys_unwrap(dkey, &gf->id, dom, gf->mf->key_version, gf->mf->wrapped_key, gf->key);
	crypto_wipe(dkey, sizeof(dkey));
	if (rc) {
		log_err("file key of manifest in domain %s does not authenticate", dom);
		return -EIO;
	}
	gf->have_key = true;
	return 0;
}

static int load(struct engine *e, struct gfile *gf)
{
	struct manifest *disk;
	bool in_stub;
	int rc = meta_manifest_load_stub(e->meta, gf->stubfd, &gf->id, &disk, &in_stub);

	if (rc)
		return rc == -ENOENT || rc == -EINVAL ? -EIO : rc;
	gf_adopt(e, gf, disk, in_stub);
	gf->fresh = true;
	return 0;
}

/* Finds or loads the file of stubfd, without its key. */
static int get_loaded(struct engine *e, int stubfd, struct gfile **out)
{
	struct gfile *gf, *other;
	struct geo_id id;
	struct stat st;
	int rc;

	if (fstat(stubfd, &st) < 0)
		return -errno;
	gf = gfile_find_ino(e, st.st_dev, st.st_ino);
	if (gf) {
		*out = gf;
		return 0;
	}
	rc = meta_stub_id(stubfd, &id);
	if (rc)
		return rc == -ENODATA || rc == -EINVAL ? -EIO : rc;
	gf = gf_alloc(stubfd);
	if (!gf)
		return -ENOMEM;
	gf->id = id;
	rc = load(e, gf);
	if (rc) {
		gf_free(gf);
		return rc;
	}
	/* Somebody may have loaded it meanwhile: keep theirs. */
	gtable_lock(e->files);
	other = gtable_find_ino(e->files, gf->dev, gf->ino);
	if (!other)
		other = gtable_find_id(e->files, &gf->id);
	if (other) {
		other->refs++;
		gtable_unlock(e->files);
		gf_free(gf);
		*out = other;
		return 0;
	}
	gtable_insert(e->files, gf);
	gtable_unlock(e->files);
	*out = gf;
	return 0;
}

int gfile_get_meta(struct engine *e, int stubfd, struct gfile **out)
{
	return get_loaded(e, stubfd, out);
}

int gfile_get(struct engine *e, int stubfd, struct gfile **out)
{
	struct gfile *gf;
	int rc = get_loaded(e, stubfd, &gf);

	if (rc)
		return rc;
	pthread_mutex_lock(&gf->lock);
	rc = unwrap_key(e, gf);
	pthread_mutex_unlock(&gf->lock);
	if (rc) {
		gfile_put(e, gf);
		return rc;
	}
	*out = gf;
	return 0;
}

/* Wraps gf->key under the domain of tags t into mf. */
static int wrap_key(struct engine *e, struct gfile *gf, struct manifest *mf, const struct geo_tags *t)
{
	char dom[KEYS_DOMAIN_MAX];
	uint8_t dkey[AEAD_KEY_LEN], wrapped[KEYS_WRAPPED_LEN];
	uint32_t ver;
	int rc;

	tags_domain(e->cfg, t, dom);
	ver = keyring_current(e->keys, dom);
	rc = keyring_domain_key(e->keys, dom, ver, dkey);
	if (rc)
		return rc == -ENOKEY ? -EACCES : rc;
	rc = keys_wrap(dkey, &gf->id, dom, ver, gf->key, wrapped);
	crypto_wipe(dkey, sizeof(dkey));
	if (rc)
		return rc;
	memcpy(mf->wrapped_key, wrapped, sizeof(wrapped));
	mf->key_version = ver;
	tags_to_manifest(e->cfg, t, mf);
	return 0;
}

int gfile_create(struct engine *e, int stubfd, const struct geo_tags *t, struct gfile **out)
{
	struct gfile *gf = gf_alloc(stubfd);
	int rc;

	if (!gf)
		return -ENOMEM;
	gf->mf = manifest_new();
	rc = gf->mf ? 0 : -ENOMEM;
	if (!rc)
		rc = crypto_random(gf->id.b, sizeof(gf->id.b));
	if (!rc)
		rc = crypto_random(gf->key, AEAD_KEY_LEN);
	if (rc)
		goto fail;
	gf->have_key = true;
	gf->mf->id = gf->id;
	gf->mf->shard_size = e->cfg->shard_size;
	gf->mf->generation = 1;
	gf->tags = *t;
	rc = wrap_key(e, gf, gf->mf, t);
	/* The manifest goes on the unlinked stub itself (meta.h): no
	 * manifest file (an inode, a rename) while the file stays small. */
	if (!rc)
		rc = meta_stub_manifest_set(gf->stubfd, gf->mf);
	if (!rc)
		rc = meta_set_stub_id(gf->stubfd, &gf->id);
	if (rc)
		goto fail;
	gf->in_stub = true;
	gf->unsynced = true;
	gf->disk_gen = gf->mf->generation;
	gtable_lock(e->files);
	gtable_insert(e->files, gf);
	gtable_unlock(e->files);
	*out = gf;
	return 0;
fail:
	gf_free(gf);
	return rc;
}

int gfile_reopen_stub(struct gfile *gf, int dfd, const char *name)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != gf->dev || st.st_ino != gf->ino) {
		close(fd);
		return -ESTALE;
	}
	pthread_mutex_lock(&gf->lock);
	close(gf->stubfd);
	gf->stubfd = fd;
	pthread_mutex_unlock(&gf->lock);
	return 0;
}

/* Deletes every object a manifest references (best effort). */
static void delete_objects(struct engine *e, const struct manifest *mf)
{
	for (uint64_t i = 0; i < mf->nshards; i++) {
		const struct shard_ref *r = &mf->shards[i];
		for (int k = 0; k < r->nrep; k++) {
			int b = gf_backend(e, mf, r->rep[k].backend);
			if (b >= 0)
				store_delete(e->store, b, &r->rep[k].oid);
		}
	}
}

/* Deletes the content of a file that lost its last name, as described by
 * mf: its manifest file first, so that a second caller (another mount)
 * finds nothing and deletes nothing (a manifest on the stub goes with the
 * stub's inode), then every object mf references. 0 if it was deleted
 * here, else -errno (-ENOENT: somebody else did). */
static int destroy(struct engine *e, const struct geo_id *id, const struct manifest *mf,
		   bool in_stub)
{
	int rc = in_stub ? 0 : meta_manifest_delete(e->meta, id);

	if (!rc) {
		gf_note_status(e, id, false);	/* gone */
		delete_objects(e, mf);
	}
	return rc;
}

int gfile_destroy(struct engine *e, const struct geo_id *id, const struct manifest *mf,
		  bool in_stub)
{
	int rc = destroy(e, id, mf, in_stub);

	return rc == -ENOENT ? 0 : rc;
}

void gfile_mark_unlinked(struct engine *e, struct gfile *gf)
{
	struct stat st;
	/* The count the stub shows now that its last name is gone: 0, or 1
	 * where an NFS client silly-renamed it because it is open here. */
	nlink_t left = fstat(gf->stubfd, &st) == 0 ? st.st_nlink : 0;

	gtable_lock(e->files);
	gf->unlinked = true;
	gf->gone_nlink = left;
	gtable_unlock(e->files);
}

/* True once the file has lost its last name (an unlink or a rename over it
 * here marked it); a link made since by another name (more links than when
 * it was marked) clears the mark. */
static bool lost_last_name(struct engine *e, struct gfile *gf)
{
	struct stat st;
	bool unlinked;

	gtable_lock(e->files);
	unlinked = gf->unlinked;
	gtable_unlock(e->files);
	if (unlinked && fstat(gf->stubfd, &st) == 0 && st.st_nlink > gf->gone_nlink) {
		gtable_lock(e->files);
		gf->unlinked = false;
		gtable_unlock(e->files);
		unlinked = false;
	}
	return unlinked;
}

/* destroy() for a loaded file, once its writes in flight have landed; the
 * objects its changes superseded go too. */
static void destroy_loaded(struct engine *e, struct gfile *gf)
{
	pthread_mutex_lock(&gf->lock);
	gf_wait_inflight(gf);
	pthread_mutex_unlock(&gf->lock);
	if (destroy(e, &gf->id, gf->mf, gf->in_stub) == 0)
		gf_delete_superseded(e, gf, NULL);
}

void gfile_put(struct engine *e, struct gfile *gf)
{
	bool last;

	/* The thread that drops the last reference closes the file. Another may
	 * take and drop a reference meanwhile (getattr finds it by inode, an
	 * unlink marks it): it sees `closing` and leaves the work to the first,
	 * which therefore looks at the unlink mark again after its commit. */
	gtable_lock(e->files);
	last = --gf->refs == 0 && !gf->closing;
	if (last)
		gf->closing = true;
	gtable_unlock(e->files);
	if (!last)
		return;
	for (bool destroyed = false;;) {
		if (lost_last_name(e, gf)) {
			destroy_loaded(e, gf);
			destroyed = true;
		} else {
			int rc = gfile_commit(e, gf, e->cfg->durable_close);

			if (rc) {
				log_err("writing back a file on last close failed: %s; its "
					"unsaved changes are dropped", strerror(-rc));
				gf_discard_uncommitted(e, gf);
			}
		}
		/* Decided under the same lock as the removal below, so that an
		 * unlink marking the file now is either seen here or finds the
		 * file gone from the table (and destroys it itself). */
		gtable_lock(e->files);
		if (destroyed || !gf->unlinked || gf->refs > 0)
			break;
		gtable_unlock(e->files);
	}
	if (gf->refs == 0) {
		gtable_remove(e->files, gf);
		gtable_unlock(e->files);
		/* Dirty data left (unlinked, or a failed write-back) goes now. */
		gf_drop_dirty(e, gf);
		gf_free(gf);
		return;
	}
	gf->closing = false;	/* reopened meanwhile: its last put closes it */
	gtable_unlock(e->files);
}

void gfile_stat(struct gfile *gf, struct stat *st)
{
	pthread_mutex_lock(&gf->lock);
	st->st_size = (off_t)gf->mf->size;
	pthread_mutex_unlock(&gf->lock);
}

uint64_t gfile_size(struct gfile *gf)
{
	pthread_mutex_lock(&gf->lock);
	uint64_t size = gf->mf->size;
	pthread_mutex_unlock(&gf->lock);
	return size;
}

void gfile_tags(struct gfile *gf, struct geo_tags *t)
{
	pthread_mutex_lock(&gf->lock);
	*t = gf->tags;
	pthread_mutex_unlock(&gf->lock);
}

int gfile_stubfd(struct gfile *gf)
{
	return gf->stubfd;
}

void gfile_set_path(struct gfile *gf, const char *path)
{
	char *p = strdup(path);

	if (!p)
		return;
	pthread_mutex_lock(&gf->lock);
	free(gf->path);
	gf->path = p;
	pthread_mutex_unlock(&gf->lock);
}

int gfile_retag(struct engine *e, struct gfile *gf, const struct geo_tags *t)
{
	int rc;

	pthread_mutex_lock(&gf->lock);
	rc = unwrap_key(e, gf);
	if (!rc)
		rc = wrap_key(e, gf, gf->mf, t);
	if (!rc) {
		gf->tags = *t;
		gf->tags_changed = true;
		gf->writable_at = 0;
		gf->changed = true;
		rc = gf_commit_locked(e, gf, true);
	}
	pthread_mutex_unlock(&gf->lock);
	return rc;
}

void gfile_quiesce(struct gfile *gf)
{
	pthread_mutex_lock(&gf->lock);
	gf_wait_inflight(gf);
	pthread_mutex_unlock(&gf->lock);
}

void gfile_rebind(struct engine *e, struct gfile *gf, const struct geo_config *old)
{
	uint64_t mask = 0;

	pthread_mutex_lock(&gf->lock);
	tags_from_manifest(e->cfg, gf->mf, &gf->tags);
	gf->writable_at = 0;		/* new policy: check placement again */
	for (int b = 0; b < old->nbackends; b++) {
		int nb = config_backend(e->cfg, old->backends[b].name);
		if ((gf->put_mask & (UINT64_C(1) << b)) && nb >= 0)
			mask |= UINT64_C(1) << nb;
	}
	gf->put_mask = mask;
	if (gf->nrecent)	/* backend indices may have moved: sync by mask */
		gf->recent_full = true;
	pthread_mutex_unlock(&gf->lock);
}
