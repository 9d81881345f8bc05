/*
 * gstate.c — the bottom of the open-file engine: the bookkeeping behind
 * struct gfile that every other engine file shares. The table of loaded
 * files (by id and by stub inode), allocating and freeing a gfile, the
 * backend and tag accessors, adopting a manifest as the committed state,
 * the stub's size and times, put tracking for the next durable commit,
 * superseded objects, the dirty-shard budget and the wait for worker jobs.
 * Calls nothing else of the engine (see gfile_int.h for the order).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gfile_int.h"

#define NBUCKETS 256

struct gtable {
	pthread_mutex_t lock;
	struct gfile *by_id[NBUCKETS];
	struct gfile *by_ino[NBUCKETS];
};

void gtable_lock(struct gtable *t)
{
	pthread_mutex_lock(&t->lock);
}

void gtable_unlock(struct gtable *t)
{
	pthread_mutex_unlock(&t->lock);
}

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


void gtable_insert(struct gtable *t, struct gfile *gf)
{
	unsigned a = id_bucket(&gf->id), b = ino_bucket(gf->dev, gf->ino);

	gf->next_id = t->by_id[a];
	t->by_id[a] = gf;
	gf->next_ino = t->by_ino[b];
	t->by_ino[b] = gf;
}


void gtable_remove(struct gtable *t, struct gfile *gf)
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


struct gfile *gtable_find_ino(struct gtable *t, dev_t dev, ino_t ino)
{
	for (struct gfile *gf = t->by_ino[ino_bucket(dev, ino)]; gf; gf = gf->next_ino)
		if (gf->dev == dev && gf->ino == ino)
			return gf;
	return NULL;
}


struct gfile *gtable_find_id(struct gtable *t, const struct geo_id *id)
{
	for (struct gfile *gf = t->by_id[id_bucket(id)]; gf; gf = gf->next_id)
		if (geoid_equal(&gf->id, id))
			return gf;
	return NULL;
}


struct gfile *gfile_find_ino(struct engine *e, dev_t dev, ino_t ino)
{
	struct gfile *gf;

	pthread_mutex_lock(&e->files->lock);
	gf = gtable_find_ino(e->files, dev, ino);
	if (gf)
		gf->refs++;
	pthread_mutex_unlock(&e->files->lock);
	return gf;
}


int gf_backend(struct engine *e, const struct manifest *mf, int local)
{
	if (local < 0 || local >= mf->nbackends)
		return -1;
	int b = config_backend(e->cfg, mf->bnames[local]);
	return b < 0 ? -1 : b;
}


void gf_free(struct gfile *gf)
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


struct gfile *gf_alloc(int stubfd)
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
		gf_free(gf);
		return NULL;
	}
	gf->dev = st.st_dev;
	gf->ino = st.st_ino;
	gf->refs = 1;
	return gf;
}



void gf_adopt(struct engine *e, struct gfile *gf, struct manifest *disk, bool in_stub)
{
	manifest_free(gf->mf);
	gf->mf = disk;
	gf->disk_gen = disk->generation;
	gf->in_stub = in_stub;
	tags_from_manifest(e->cfg, disk, &gf->tags);
	gf->put_mask = 0;
	gf->nrecent = 0;
	gf->recent_full = false;
	gf->unsynced = false;
	/* With durability = fsync, a close before this may have left the
	 * manifest and its objects in the page cache only: the next fsync()
	 * makes them durable, as a local filesystem's fsync would. */
	if (!e->cfg->durable_close) {
		gf->unsynced = true;
		for (uint64_t i = 0; i < disk->nshards; i++)
			for (int k = 0; k < disk->shards[i].nrep; k++) {
				int b = gf_backend(e, disk, disk->shards[i].rep[k].backend);
				if (b >= 0)
					gf_note_put(gf, b, &disk->shards[i].rep[k].oid);
			}
	}
	/* A crash between a write and its commit can leave the stub's size
	 * (the hint stat uses) ahead of the manifest: the manifest wins. */
	gf_sync_stub_size(gf);
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


void gtable_foreach(struct gtable *t, void (*fn)(struct gfile *gf, void *arg), void *arg)
{
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < NBUCKETS; i++)
		for (struct gfile *gf = t->by_id[i]; gf; gf = gf->next_id)
			fn(gf, arg);
	pthread_mutex_unlock(&t->lock);
}


void gf_note_put(struct gfile *gf, int b, const struct geo_id *oid)
{
	gf->put_mask |= UINT64_C(1) << b;
	if (gf->nrecent < GF_RECENT_MAX) {
		gf->recent[gf->nrecent].b = b;
		gf->recent[gf->nrecent++].oid = *oid;
	} else {
		gf->recent_full = true;
	}
}


int gf_supersede(struct gfile *gf, struct shard_ref *ref)
{
	if (gf->nold + ref->nrep > gf->oldcap) {
		size_t cap = gf->oldcap ? gf->oldcap * 2 : 16;
		while (cap < gf->nold + ref->nrep)
			cap *= 2;
		struct oldobj *n = realloc(gf->old, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		gf->old = n;
		gf->oldcap = cap;
	}
	for (int k = 0; k < ref->nrep; k++) {
		gf->old[gf->nold].backend = ref->rep[k].backend;
		gf->old[gf->nold].oid = ref->rep[k].oid;
		gf->nold++;
	}
	memset(ref, 0, sizeof(*ref));
	gf->changed = true;
	return 0;
}


/* True if the manifest references object oid on backend name. */
bool gf_references(const struct manifest *mf, const char *bname, const struct geo_id *oid)
{
	for (uint64_t i = 0; mf && i < mf->nshards; i++) {
		const struct shard_ref *r = &mf->shards[i];
		for (int k = 0; k < r->nrep; k++)
			if (geoid_equal(&r->rep[k].oid, oid) &&
			    strcmp(mf->bnames[r->rep[k].backend], bname) == 0)
				return true;
	}
	return false;
}


uint8_t *gf_buf_alloc(struct engine *e, struct gfile *gf)
{
	uint8_t *b = malloc(gf_shard_size(gf));

	if (b)
		__atomic_add_fetch(&e->dirty_bytes, gf_shard_size(gf), __ATOMIC_RELAXED);
	return b;
}


void gf_buf_free(struct engine *e, size_t len, uint8_t *b)
{
	if (b) {
		__atomic_sub_fetch(&e->dirty_bytes, len, __ATOMIC_RELAXED);
		free(b);
	}
}


void gf_drop_dirty(struct engine *e, struct gfile *gf)
{
	for (int i = 0; i < gf->ndirty; i++)
		gf_buf_free(e, gf_shard_size(gf), gf->dirty[i].buf);
	gf->ndirty = 0;
}


void gf_wait_inflight(struct gfile *gf)
{
	while (gf->ninflight > 0 || gf->nprefetch > 0)
		pthread_cond_wait(&gf->cond, &gf->lock);
}


int gf_install(struct engine *e, struct gfile *gf, const struct placed *p, struct shard_ref *ref)
{
	ref->gen = p->gen;
	ref->objlen = p->objlen;
	for (int k = 0; k < p->n; k++) {
		int local = manifest_backend(gf->mf, e->cfg->backends[p->b[k]].name);
		if (local < 0)
			return local;
		if (ref->nrep >= CFG_MAX_REPLICAS)
			return -EINVAL;
		ref->rep[ref->nrep].oid = p->oid[k];
		ref->rep[ref->nrep].backend = (uint8_t)local;
		ref->nrep++;
		gf_note_put(gf, p->b[k], &p->oid[k]);
	}
	return 0;
}

int engine_init(struct engine *e, size_t cache_size)
{
	e->files = gtable_new();
	e->cache = scache_new(cache_size);
	if (!e->files || !e->cache) {
		engine_fini(e);
		return -ENOMEM;
	}
	return 0;
}

void engine_fini(struct engine *e)
{
	gtable_free(e->files);
	scache_free(e->cache);
	e->files = NULL;
	e->cache = NULL;
}

void engine_bind(struct engine *e, struct geo_config *cfg, struct keyring *keys,
		 struct store *store)
{
	e->cfg = cfg;
	e->keys = keys;
	e->store = store;
}

void engine_audit(struct engine *e, const struct audit_event *ev)
{
	if (e->audit)
		e->audit(e->hook_arg, ev);
}

void gf_note_status(struct engine *e, const struct geo_id *id, bool misplaced)
{
	if (e->note_status)
		e->note_status(e->hook_arg, id, misplaced);
}

void gf_inval_links(struct engine *e, ino_t ino)
{
	if (e->inval_links)
		e->inval_links(e->hook_arg, ino);
}
