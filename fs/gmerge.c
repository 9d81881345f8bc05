/*
 * gmerge.c — several mounts of one meta root: folding the manifest another
 * mount committed into this mount's in-memory state.
 *
 * Each mount records which shards it changed since it last loaded or wrote
 * the manifest (gf->touched), and whether it changed the size or the tags.
 * When the manifest on disk turns out newer (at commit, or when a read finds
 * an object gone because the other mount replaced it), the result is the
 * disk's manifest with this mount's own changes laid over it: per shard the
 * last writer wins, and no manifest ever points at an object that its
 * writer's commit superseded and deleted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gfile_int.h"
#include "log.h"

int gf_touch(struct gfile *gf, uint64_t idx)
{
	uint64_t word = idx / 64;

	if (word >= gf->ntouched) {
		uint64_t n = gf->ntouched ? gf->ntouched : 4;
		while (n <= word)
			n *= 2;
		uint64_t *t = realloc(gf->touched, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + gf->ntouched, 0, (n - gf->ntouched) * sizeof(*t));
		gf->touched = t;
		gf->ntouched = n;
	}
	gf->touched[word] |= UINT64_C(1) << (idx % 64);
	return 0;
}

static bool touched(const struct gfile *gf, uint64_t idx)
{
	return idx / 64 < gf->ntouched && (gf->touched[idx / 64] >> (idx % 64)) & 1;
}

void gf_untouch_all(struct gfile *gf)
{
	if (gf->touched)
		memset(gf->touched, 0, gf->ntouched * sizeof(*gf->touched));
	gf->size_changed = gf->tags_changed = false;
}

/* Copies our ref into m at idx, renaming backends into m's table. */
static int put_ref(struct manifest *m, const struct manifest *ours, uint64_t idx)
{
	struct shard_ref r = idx < ours->nshards ? ours->shards[idx] : (struct shard_ref){ 0 };
	int rc = manifest_reserve(m, idx + 1);

	for (int k = 0; !rc && k < r.nrep; k++) {
		int local = manifest_backend(m, ours->bnames[r.rep[k].backend]);
		if (local < 0)
			return local;
		r.rep[k].backend = (uint8_t)local;
	}
	if (!rc)
		m->shards[idx] = r;
	return rc;
}

/* Queues disk's replicas of shard idx for deletion, naming backends in
 * our table (the objects are ours to drop once our change is committed). */
static int drop_disk_ref(struct gfile *gf, const struct manifest *disk, uint64_t idx)
{
	struct shard_ref r = disk->shards[idx];

	for (int k = 0; k < r.nrep; k++) {
		int local = manifest_backend(gf->mf, disk->bnames[r.rep[k].backend]);
		if (local < 0)
			return local;
		r.rep[k].backend = (uint8_t)local;
	}
	return gf_supersede(gf, &r);
}

int gf_merge_disk(struct engine *e, struct gfile *gf, struct manifest *disk)
{
	struct manifest *ours = gf->mf;
	uint64_t keep = disk->nshards;
	int rc = 0;

	if (gf->size_changed) {
		disk->size = ours->size;
		keep = manifest_shards_for(disk, ours->size);
		if (keep > disk->nshards)
			keep = disk->nshards;
	}
	/* Disk's shards that our change replaces or cuts off become garbage. */
	for (uint64_t i = 0; !rc && i < disk->nshards; i++)
		if ((i >= keep || touched(gf, i)) && disk->shards[i].nrep)
			rc = drop_disk_ref(gf, disk, i);
	if (!rc && disk->nshards > keep)
		disk->nshards = keep;
	uint64_t covering = manifest_shards_for(disk, disk->size);
	for (uint64_t i = 0; !rc && i < gf->ntouched * 64 && i < covering; i++)
		if (touched(gf, i))
			rc = put_ref(disk, ours, i);
	if (!rc && gf->tags_changed) {
		memcpy(disk->category, ours->category, sizeof(disk->category));
		memcpy(disk->origin, ours->origin, sizeof(disk->origin));
		disk->flags = ours->flags;
		disk->key_version = ours->key_version;
		memcpy(disk->wrapped_key, ours->wrapped_key, sizeof(disk->wrapped_key));
	}
	if (rc) {
		manifest_free(disk);
		return rc;
	}
	/* Superseded entries name backends by our table: carry names over. */
	for (size_t i = 0; i < gf->nold; i++) {
		int local = manifest_backend(disk, ours->bnames[gf->old[i].backend]);
		if (local < 0) {
			manifest_free(disk);
			return local;
		}
		gf->old[i].backend = (uint8_t)local;
	}
	if (disk->generation < ours->generation)
		disk->generation = ours->generation;
	gf->disk_gen = disk->generation;
	gf->mf = disk;
	manifest_free(ours);
	if (!gf->tags_changed) {
		struct geo_tags t;
		tags_from_manifest(e->cfg, disk, &t);
		gf->tags = t;
		gf->writable_at = 0;
	}
	return 0;
}

/* gf_reload, reading the stub's manifest through stubfd. */
static int reload_from(struct engine *e, struct gfile *gf, int stubfd)
{
	struct manifest *disk = NULL;
	bool on_stub;
	int rc = meta_manifest_load_stub(e->meta, stubfd, &gf->id, &disk, &on_stub);

	if (rc)
		return rc;
	gf->in_stub = on_stub;
	if (disk->generation == gf->disk_gen) {
		manifest_free(disk);
		return 0;
	}
	log_debug("a file changed on another mount: merging generation %llu",
		  (unsigned long long)disk->generation);
	rc = gf_merge_disk(e, gf, disk);
	return rc ? rc : 1;
}

int gf_reload(struct engine *e, struct gfile *gf)
{
	return reload_from(e, gf, gf->stubfd);
}

int gfile_refresh(struct engine *e, struct gfile *gf, int stubfd)
{
	int rc;

	pthread_mutex_lock(&gf->lock);
	if (gf->fresh) {
		gf->fresh = false;
		pthread_mutex_unlock(&gf->lock);
		return 0;
	}
	gf_wait_inflight(gf);	/* workers install into gf->mf */
	rc = reload_from(e, gf, stubfd);
	if (rc == 1)
		gf_sync_stub_size(gf);
	pthread_mutex_unlock(&gf->lock);
	if (rc == -ENOENT)
		return 0;
	return rc == -EINVAL ? -EIO : rc < 0 ? rc : 0;
}

void gf_discard_uncommitted(struct engine *e, struct gfile *gf)
{
	struct manifest *disk = NULL;
	bool in_stub = false;

	pthread_mutex_lock(&gf->lock);
	gf_wait_inflight(gf);
	if (meta_manifest_load_stub(e->meta, gf->stubfd, &gf->id, &disk, &in_stub) != 0)
		disk = NULL;
	for (uint64_t i = 0; i < gf->mf->nshards && i < gf->ntouched * 64; i++) {
		const struct shard_ref *r = &gf->mf->shards[i];
		if (!touched(gf, i))
			continue;
		for (int k = 0; k < r->nrep; k++) {
			const char *bname = gf->mf->bnames[r->rep[k].backend];
			int b = config_backend(e->cfg, bname);
			if (b >= 0 && !gf_references(disk, bname, &r->rep[k].oid))
				store_delete(e->store, b, &r->rep[k].oid);
		}
	}
	/* Whoever opens the file next (it may be open again already) must
	 * find its last committed state, not the dropped changes nor the
	 * objects just deleted. Superseded objects belong to that state. */
	if (disk) {
		gf_drop_dirty(e, gf);
		gf_adopt(e, gf, disk, in_stub);
		gf->nold = 0;
		gf->async_err = 0;
		gf->changed = false;
		gf->writable_at = 0;
		gf_untouch_all(gf);
	}
	pthread_mutex_unlock(&gf->lock);
}
