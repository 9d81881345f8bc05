/*
 * gfile.c — per-inode state: the table of loaded files, loading a file's
 * manifest and key, creation, deletion, retagging. The commit protocol is
 * gcommit.c, content I/O shardio.c, status and migration placement.c.
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
#include "policy.h"
#include "stats.h"

#define NBUCKETS 256

struct gtable {
	pthread_mutex_t lock;
	struct gfile *by_id[NBUCKETS];
	struct gfile *by_ino[NBUCKETS];
};

struct gtable *gtable_new(void)
{
	struct gtable *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

void gtable_free(struct gtable *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static unsigned id_bucket(const struct geo_id *id)
{
	return id->b[0] % NBUCKETS;
}

static unsigned ino_bucket(dev_t dev, ino_t ino)
{
	return (unsigned)((ino * 2654435761u) ^ dev) % NBUCKETS;
}

static void table_insert(struct gtable *t, struct gfile *gf)
{
	unsigned a = id_bucket(&gf->id), b = ino_bucket(gf->dev, gf->ino);

	gf->next_id = t->by_id[a];
	t->by_id[a] = gf;
	gf->next_ino = t->by_ino[b];
	t->by_ino[b] = gf;
}

static void table_remove(struct gtable *t, struct gfile *gf)
{
	struct gfile **pp;

	for (pp = &t->by_id[id_bucket(&gf->id)]; *pp; pp = &(*pp)->next_id)
		if (*pp == gf) {
			*pp = gf->next_id;
			break;
		}
	for (pp = &t->by_ino[ino_bucket(gf->dev, gf->ino)]; *pp; pp = &(*pp)->next_ino)
		if (*pp == gf) {
			*pp = gf->next_ino;
			break;
		}
}

static struct gfile *table_find_ino(struct gtable *t, dev_t dev, ino_t ino)
{
	for (struct gfile *gf = t->by_ino[ino_bucket(dev, ino)]; gf; gf = gf->next_ino)
		if (gf->dev == dev && gf->ino == ino)
			return gf;
	return NULL;
}

static struct gfile *table_find_id(struct gtable *t, const struct geo_id *id)
{
	for (struct gfile *gf = t->by_id[id_bucket(id)]; gf; gf = gf->next_id)
		if (geoid_equal(&gf->id, id))
			return gf;
	return NULL;
}

struct gfile *gfile_find_ino(struct core *c, dev_t dev, ino_t ino)
{
	struct gfile *gf;

	pthread_mutex_lock(&c->files->lock);
	gf = table_find_ino(c->files, dev, ino);
	if (gf)
		gf->refs++;
	pthread_mutex_unlock(&c->files->lock);
	return gf;
}

int gf_backend(struct core *c, const struct manifest *mf, int local)
{
	if (local < 0 || local >= mf->nbackends)
		return -1;
	int b = config_backend(c->cfg, mf->bnames[local]);
	return b < 0 ? -1 : b;
}

static void gfile_free(struct gfile *gf)
{
	if (!gf)
		return;
	for (int i = 0; i < gf->ndirty; i++)
		free(gf->dirty[i].buf);
	free(gf->dirty);
	free(gf->old);
	free(gf->touched);
	free(gf->path);
	manifest_free(gf->mf);
	keys_secret_free(gf->key, AEAD_KEY_LEN);
	if (gf->stubfd >= 0)
		close(gf->stubfd);
	pthread_cond_destroy(&gf->cond);
	pthread_mutex_destroy(&gf->lock);
	free(gf);
}

static struct gfile *gfile_alloc(int stubfd)
{
	struct gfile *gf = calloc(1, sizeof(*gf));
	struct stat st;

	if (!gf)
		return NULL;
	pthread_mutex_init(&gf->lock, NULL);
	pthread_cond_init(&gf->cond, NULL);
	/* Our own read-write descriptor, whatever mode the caller's has. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", stubfd);
	gf->stubfd = open(proc, O_RDWR | O_CLOEXEC);
	gf->key = keys_secret_alloc(AEAD_KEY_LEN);
	if (gf->stubfd < 0 || !gf->key || fstat(gf->stubfd, &st) < 0) {
		gfile_free(gf);
		return NULL;
	}
	gf->dev = st.st_dev;
	gf->ino = st.st_ino;
	gf->refs = 1;
	return gf;
}

/* Resolves a manifest's tags against the config. A category the config no
 * longer declares falls back to the default category (fail closed). */
void gf_manifest_tags(struct core *c, const struct manifest *mf, struct geo_tags *t)
{
	t->cat = config_category(c->cfg, mf->category);
	if (t->cat < 0) {
		log_warn("a file uses undeclared category '%s'; treating it as '%s'",
			 mf->category, c->cfg->cats[c->cfg->default_category].name);
		t->cat = c->cfg->default_category;
	}
	t->origin = country_index(mf->origin);
	if (t->origin < 0)
		t->origin = c->cfg->default_origin;
	t->flags = mf->flags & (MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET);
}

static void tags_domain(struct core *c, const struct geo_tags *t, char dom[KEYS_DOMAIN_MAX])
{
	keys_domain(dom, country_code(t->origin), c->cfg->cats[t->cat].name);
}

/* Gets the key of the manifest's domain at its version. -EACCES without. */
static int manifest_domain_key(struct core *c, const struct manifest *mf, uint8_t dkey[AEAD_KEY_LEN])
{
	char dom[KEYS_DOMAIN_MAX];

	keys_domain(dom, mf->origin, mf->category);
	int rc = keyring_domain_key(c->keys, dom, mf->key_version, dkey);
	return rc == -ENOKEY ? -EACCES : rc;
}

/* Unwraps the file key (first use needing content). Caller holds gf->lock
 * or owns gf exclusively. -EACCES without the domain key. */
static int unwrap_key(struct core *c, struct gfile *gf)
{
	uint8_t dkey[AEAD_KEY_LEN];
	char dom[KEYS_DOMAIN_MAX];
	int rc;

	if (gf->have_key)
		return 0;
	rc = manifest_domain_key(c, gf->mf, dkey);
	if (rc)
		return rc;
	keys_domain(dom, gf->mf->origin, gf->mf->category);
	rc = keys_unwrap(dkey, &gf->id, dom, gf->mf->key_version, gf->mf->wrapped_key, gf->key);
	crypto_wipe(dkey, sizeof(dkey));
	if (rc) {
		log_err("file key of manifest in domain %s does not authenticate", dom);
		return -EIO;
	}
	gf->have_key = true;
	return 0;
}

void gf_adopt(struct core *c, struct gfile *gf, struct manifest *disk, bool in_stub)
{
	manifest_free(gf->mf);
	gf->mf = disk;
	gf->disk_gen = disk->generation;
	gf->in_stub = in_stub;
	gf_manifest_tags(c, disk, &gf->tags);
	gf->put_mask = 0;
	gf->nrecent = 0;
	gf->recent_full = false;
	gf->unsynced = false;
	/* With durability = fsync, a close before this may have left the
	 * manifest and its objects in the page cache only: the next fsync()
	 * makes them durable, as a local filesystem's fsync would. */
	if (!c->cfg->durable_close) {
		gf->unsynced = true;
		for (uint64_t i = 0; i < disk->nshards; i++)
			for (int k = 0; k < disk->shards[i].nrep; k++) {
				int b = gf_backend(c, disk, disk->shards[i].rep[k].backend);
				if (b >= 0)
					gf_note_put(gf, b, &disk->shards[i].rep[k].oid);
			}
	}
	/* A crash between a write and its commit can leave the stub's size
	 * (the hint stat uses) ahead of the manifest: the manifest wins. */
	gf_sync_stub_size(gf);
}

static int load(struct core *c, struct gfile *gf)
{
	struct manifest *disk;
	bool in_stub;
	int rc = meta_manifest_load_stub(c->meta, gf->stubfd, &gf->id, &disk, &in_stub);

	if (rc)
		return rc == -ENOENT || rc == -EINVAL ? -EIO : rc;
	gf_adopt(c, gf, disk, in_stub);
	gf->fresh = true;
	return 0;
}

/* Finds or loads the file of stubfd, without its key. */
static int get_loaded(struct core *c, int stubfd, struct gfile **out)
{
	struct gfile *gf, *other;
	struct geo_id id;
	struct stat st;
	int rc;

	if (fstat(stubfd, &st) < 0)
		return -errno;
	gf = gfile_find_ino(c, st.st_dev, st.st_ino);
	if (gf) {
		*out = gf;
		return 0;
	}
	rc = meta_stub_id(stubfd, &id);
	if (rc)
		return rc == -ENODATA || rc == -EINVAL ? -EIO : rc;
	gf = gfile_alloc(stubfd);
	if (!gf)
		return -ENOMEM;
	gf->id = id;
	rc = load(c, gf);
	if (rc) {
		gfile_free(gf);
		return rc;
	}
	/* Somebody may have loaded it meanwhile: keep theirs. */
	pthread_mutex_lock(&c->files->lock);
	other = table_find_ino(c->files, gf->dev, gf->ino);
	if (!other)
		other = table_find_id(c->files, &gf->id);
	if (other) {
		other->refs++;
		pthread_mutex_unlock(&c->files->lock);
		gfile_free(gf);
		*out = other;
		return 0;
	}
	table_insert(c->files, gf);
	pthread_mutex_unlock(&c->files->lock);
	*out = gf;
	return 0;
}

int gfile_get_meta(struct core *c, int stubfd, struct gfile **out)
{
	return get_loaded(c, stubfd, out);
}

int gfile_get(struct core *c, int stubfd, struct gfile **out)
{
	struct gfile *gf;
	int rc = get_loaded(c, stubfd, &gf);

	if (rc)
		return rc;
	pthread_mutex_lock(&gf->lock);
	rc = unwrap_key(c, gf);
	pthread_mutex_unlock(&gf->lock);
	if (rc) {
		gfile_put(c, gf);
		return rc;
	}
	*out = gf;
	return 0;
}

/* Wraps gf->key under the domain of tags t into mf. */
static int wrap_key(struct core *c, struct gfile *gf, struct manifest *mf, const struct geo_tags *t)
{
	char dom[KEYS_DOMAIN_MAX];
	uint8_t dkey[AEAD_KEY_LEN], wrapped[KEYS_WRAPPED_LEN];
	uint32_t ver;
	int rc;

	tags_domain(c, t, dom);
	ver = keyring_current(c->keys, dom);
	rc = keyring_domain_key(c->keys, dom, ver, dkey);
	if (rc)
		return rc == -ENOKEY ? -EACCES : rc;
	rc = keys_wrap(dkey, &gf->id, dom, ver, gf->key, wrapped);
	crypto_wipe(dkey, sizeof(dkey));
	if (rc)
		return rc;
	memcpy(mf->wrapped_key, wrapped, sizeof(wrapped));
	mf->key_version = ver;
	snprintf(mf->category, sizeof(mf->category), "%s", c->cfg->cats[t->cat].name);
	memcpy(mf->origin, country_code(t->origin), 3);
	mf->flags = (uint8_t)t->flags;
	return 0;
}

int gfile_create(struct core *c, int stubfd, const struct geo_tags *t, struct gfile **out)
{
	struct gfile *gf = gfile_alloc(stubfd);
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
	gf->mf->shard_size = c->cfg->shard_size;
	gf->mf->generation = 1;
	gf->tags = *t;
	rc = wrap_key(c, gf, gf->mf, t);
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
	pthread_mutex_lock(&c->files->lock);
	table_insert(c->files, gf);
	pthread_mutex_unlock(&c->files->lock);
	*out = gf;
	return 0;
fail:
	gfile_free(gf);
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
static void delete_objects(struct core *c, const struct manifest *mf)
{
	for (uint64_t i = 0; i < mf->nshards; i++) {
		const struct shard_ref *r = &mf->shards[i];
		for (int k = 0; k < r->nrep; k++) {
			int b = gf_backend(c, mf, r->rep[k].backend);
			if (b >= 0)
				store_delete(c->store, b, &r->rep[k].oid);
		}
	}
}

/* Deletes the content of a file that lost its last name, as described by
 * mf: its manifest file first, so that a second caller (another mount)
 * finds nothing and deletes nothing (a manifest on the stub goes with the
 * stub's inode), then every object mf references. 0 if it was deleted
 * here, else -errno (-ENOENT: somebody else did). */
static int destroy(struct core *c, const struct geo_id *id, const struct manifest *mf,
		   bool in_stub)
{
	int rc = in_stub ? 0 : meta_manifest_delete(c->meta, id);

	if (!rc) {
		stats_note_status(c, id, false);	/* gone */
		delete_objects(c, mf);
	}
	return rc;
}

int gfile_destroy(struct core *c, const struct geo_id *id, const struct manifest *mf,
		  bool in_stub)
{
	int rc = destroy(c, id, mf, in_stub);

	return rc == -ENOENT ? 0 : rc;
}

void gfile_mark_unlinked(struct core *c, struct gfile *gf)
{
	struct stat st;
	/* The count the stub shows now that its last name is gone: 0, or 1
	 * where an NFS client silly-renamed it because it is open here. */
	nlink_t left = fstat(gf->stubfd, &st) == 0 ? st.st_nlink : 0;

	pthread_mutex_lock(&c->files->lock);
	gf->unlinked = true;
	gf->gone_nlink = left;
	pthread_mutex_unlock(&c->files->lock);
}

/* True once the file has lost its last name (an unlink or a rename over it
 * here marked it); a link made since by another name (more links than when
 * it was marked) clears the mark. */
static bool lost_last_name(struct core *c, struct gfile *gf)
{
	struct stat st;
	bool unlinked;

	pthread_mutex_lock(&c->files->lock);
	unlinked = gf->unlinked;
	pthread_mutex_unlock(&c->files->lock);
	if (unlinked && fstat(gf->stubfd, &st) == 0 && st.st_nlink > gf->gone_nlink) {
		pthread_mutex_lock(&c->files->lock);
		gf->unlinked = false;
		pthread_mutex_unlock(&c->files->lock);
		unlinked = false;
	}
	return unlinked;
}

/* destroy() for a loaded file, once its writes in flight have landed; the
 * objects its changes superseded go too. */
static void destroy_loaded(struct core *c, struct gfile *gf)
{
	pthread_mutex_lock(&gf->lock);
	gf_wait_inflight(gf);
	pthread_mutex_unlock(&gf->lock);
	if (destroy(c, &gf->id, gf->mf, gf->in_stub) == 0)
		gf_delete_superseded(c, gf, NULL);
}

void gfile_put(struct core *c, struct gfile *gf)
{
	bool last;

	/* The thread that drops the last reference closes the file. Another may
	 * take and drop a reference meanwhile (getattr finds it by inode, an
	 * unlink marks it): it sees `closing` and leaves the work to the first,
	 * which therefore looks at the unlink mark again after its commit. */
	pthread_mutex_lock(&c->files->lock);
	last = --gf->refs == 0 && !gf->closing;
	if (last)
		gf->closing = true;
	pthread_mutex_unlock(&c->files->lock);
	if (!last)
		return;
	for (bool destroyed = false;;) {
		if (lost_last_name(c, gf)) {
			destroy_loaded(c, gf);
			destroyed = true;
		} else {
			int rc = gfile_commit(c, gf, c->cfg->durable_close);

			if (rc) {
				log_err("writing back a file on last close failed: %s; its "
					"unsaved changes are dropped", strerror(-rc));
				gf_discard_uncommitted(c, gf);
			}
		}
		/* Decided under the same lock as the removal below, so that an
		 * unlink marking the file now is either seen here or finds the
		 * file gone from the table (and destroys it itself). */
		pthread_mutex_lock(&c->files->lock);
		if (destroyed || !gf->unlinked || gf->refs > 0)
			break;
		pthread_mutex_unlock(&c->files->lock);
	}
	if (gf->refs == 0) {
		table_remove(c->files, gf);
		pthread_mutex_unlock(&c->files->lock);
		/* Dirty data left (unlinked, or a failed write-back) goes now. */
		gf_drop_dirty(c, gf);
		gfile_free(gf);
		return;
	}
	gf->closing = false;	/* reopened meanwhile: its last put closes it */
	pthread_mutex_unlock(&c->files->lock);
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

void gf_stub_touch(struct gfile *gf, bool resized)
{
	static const struct timespec now[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };

	struct timespec t;

	/* Either call sets mtime and ctime, as the write itself would have.
	 * Timestamps come from the coarse clock (as ext4's do), so a second
	 * touch within one tick would change nothing: skip the syscall. */
	clock_gettime(CLOCK_REALTIME_COARSE, &t);
	if (resized)
		ftruncate(gf->stubfd, (off_t)gf->mf->size);
	else if (t.tv_sec != gf->touched_at.tv_sec || t.tv_nsec != gf->touched_at.tv_nsec)
		futimens(gf->stubfd, now);
	gf->touched_at = t;
}

void gf_sync_stub_size(struct gfile *gf)
{
	struct stat st;

	if (fstat(gf->stubfd, &st) == 0 && (uint64_t)st.st_size != gf->mf->size)
		ftruncate(gf->stubfd, (off_t)gf->mf->size);
}

int gfile_retag(struct core *c, struct gfile *gf, const struct geo_tags *t)
{
	int rc;

	pthread_mutex_lock(&gf->lock);
	rc = unwrap_key(c, gf);
	if (!rc)
		rc = wrap_key(c, gf, gf->mf, t);
	if (!rc) {
		gf->tags = *t;
		gf->tags_changed = true;
		gf->writable_at = 0;
		gf->changed = true;
		rc = gf_commit_locked(c, gf, true);
	}
	pthread_mutex_unlock(&gf->lock);
	return rc;
}

void gtable_foreach(struct gtable *t, void (*fn)(struct gfile *gf, void *arg), void *arg)
{
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < NBUCKETS; i++)
		for (struct gfile *gf = t->by_id[i]; gf; gf = gf->next_id)
			fn(gf, arg);
	pthread_mutex_unlock(&t->lock);
}

void gfile_quiesce(struct gfile *gf)
{
	pthread_mutex_lock(&gf->lock);
	gf_wait_inflight(gf);
	pthread_mutex_unlock(&gf->lock);
}

void gfile_rebind(struct core *c, struct gfile *gf, const struct geo_config *old)
{
	uint64_t mask = 0;

	pthread_mutex_lock(&gf->lock);
	gf_manifest_tags(c, gf->mf, &gf->tags);
	gf->writable_at = 0;		/* new policy: check placement again */
	for (int b = 0; b < old->nbackends; b++) {
		int nb = config_backend(c->cfg, old->backends[b].name);
		if ((gf->put_mask & (UINT64_C(1) << b)) && nb >= 0)
			mask |= UINT64_C(1) << nb;
	}
	gf->put_mask = mask;
	if (gf->nrecent)	/* backend indices may have moved: sync by mask */
		gf->recent_full = true;
	pthread_mutex_unlock(&gf->lock);
}
