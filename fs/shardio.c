/*
 * shardio.c — a file's content through its shards: reading (cache, then
 * replicas in turn, each authenticated), writing into per-file dirty shard
 * buffers, truncation, and writing shards out as objects on allowed
 * backends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "gfile_int.h"
#include "log.h"
#include "policy.h"

/* Dirty shards kept per file before the least recently used is written
 * out: bounded in bytes, so small shards allow more of them. */
#define DIRTY_BYTES (32u << 20)

static uint32_t ssize(const struct gfile *gf)
{
	return gf->mf->shard_size;
}

static size_t dirty_max(const struct gfile *gf)
{
	size_t n = DIRTY_BYTES / ssize(gf);
	return n < 2 ? 2 : n;
}

/* Bytes of shard idx that lie inside the logical size. */
static size_t shard_len(const struct gfile *gf, uint64_t idx)
{
	uint64_t start = idx * ssize(gf);

	if (start >= gf->mf->size)
		return 0;
	uint64_t left = gf->mf->size - start;
	return left < ssize(gf) ? (size_t)left : ssize(gf);
}

static struct shard_ref *ref_of(struct gfile *gf, uint64_t idx)
{
	return idx < gf->mf->nshards ? &gf->mf->shards[idx] : NULL;
}

static void shard_audit(struct core *c, struct gfile *gf, const char *op, int rc, const char *what)
{
	char hex[GEO_HEX_LEN + 1], detail[160];
	struct geo_req r = { .uid = 0, .gid = 0, .pid = 0, .ngroups = -1 };

	geoid_hex(&gf->id, hex);
	snprintf(detail, sizeof(detail), "file id %s: %s", hex, what);
	core_audit(c, &r, op, NULL, NULL, NULL, &gf->tags, rc, NULL, detail);
}

int gf_fetch(struct core *c, struct gfile *gf, uint64_t idx, uint8_t *out)
{
	struct shard_ref *ref = ref_of(gf, idx);
	struct shard_addr addr = { .file = gf->id, .index = idx };
	size_t cap;
	uint8_t *obj;
	int failures = 0;

	if (!ref || ref->nrep == 0) {
		memset(out, 0, ssize(gf));
		return 0;
	}
	addr.gen = ref->gen;
	if (scache_read(c->cache, &gf->id, idx, ref->gen, out, 0, ssize(gf)))
		return 0;
	cap = codec_max_object(ssize(gf));
	obj = malloc(cap);
	if (!obj)
		return -ENOMEM;
	for (int k = 0; k < ref->nrep; k++) {
		int b = gf_backend(c, gf->mf, ref->rep[k].backend);
		long n;
		int len;

		if (b < 0)
			continue;
		n = store_get(c->store, b, &ref->rep[k].oid, obj, cap);
		if (n < 0) {
			log_warn("shard %llu: replica on backend %s unreadable: %s",
				 (unsigned long long)idx, c->cfg->backends[b].name, strerror((int)-n));
			failures++;
			continue;
		}
		len = codec_decode(gf->key, &addr, obj, (size_t)n, out, ssize(gf));
		if (len < 0) {
			__atomic_add_fetch(&c->stats.integrity_failures, 1, __ATOMIC_RELAXED);
			log_err("shard %llu: replica on backend %s fails authentication",
				(unsigned long long)idx, c->cfg->backends[b].name);
			shard_audit(c, gf, "auth-failure", -EIO, "object fails authentication");
			failures++;
			continue;
		}
		memset(out + len, 0, ssize(gf) - (size_t)len);
		scache_insert(c->cache, &gf->id, idx, ref->gen, out, (size_t)len);
		free(obj);
		return 0;
	}
	free(obj);
	shard_audit(c, gf, "auth-failure", -EIO, "no replica of a shard is readable and authentic");
	return -EIO;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zeros[4096];

	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		if (memcmp(p, zeros, k) != 0)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/* Undoes the replicas stored so far for a failed placement. */
static void unplace(struct core *c, struct gfile *gf, struct shard_ref *ref)
{
	for (int k = 0; k < ref->nrep; k++) {
		int b = gf_backend(c, gf->mf, ref->rep[k].backend);
		if (b >= 0)
			store_delete(c->store, b, &ref->rep[k].oid);
	}
	ref->nrep = 0;
}

int gf_place_copies(struct core *c, struct gfile *gf, const uint8_t *obj, size_t n,
			struct shard_ref *ref, int want, uint64_t exclude)
{
	struct backend_state st[CFG_MAX_BACKENDS];
	int chosen[CFG_MAX_REPLICAS];

	store_state(c->store, st);
	while (want > 0) {
		int k = policy_choose(c->cfg, gf->tags.cat, gf->tags.origin, st, n, exclude, want,
				      chosen, crypto_random_u32, NULL);
		if (k < 0)
			return k;
		for (int i = 0; i < k; i++) {
			int b = chosen[i];
			struct geo_id oid;
			int rc = store_put(c->store, b, obj, n, &oid);

			exclude |= UINT64_C(1) << b;
			if (rc) {
				log_warn("backend %s refused an object: %s", c->cfg->backends[b].name,
					 strerror(-rc));
				if (rc == -ENOSPC || rc == -EDQUOT)
					st[b].avail = 0;
				else
					store_mark_failed(c->store, b);
				continue;
			}
			int local = manifest_backend(gf->mf, c->cfg->backends[b].name);
			if (local < 0) {
				store_delete(c->store, b, &oid);
				return local;
			}
			ref->rep[ref->nrep].backend = (uint8_t)local;
			ref->rep[ref->nrep].oid = oid;
			ref->nrep++;
			gf->put_mask |= UINT64_C(1) << b;
			want--;
		}
	}
	return 0;
}

int gf_place(struct core *c, struct gfile *gf, uint64_t idx, const uint8_t *data, size_t len,
	     struct shard_ref *ref)
{
	const struct cfg_category *cat = &c->cfg->cats[gf->tags.cat];
	struct shard_addr addr = { .file = gf->id, .index = idx };
	size_t cap = codec_max_object(len);
	uint8_t *obj = malloc(cap);
	int n, rc;

	if (!obj)
		return -ENOMEM;
	memset(ref, 0, sizeof(*ref));
	do {
		rc = crypto_random(&addr.gen, sizeof(addr.gen));
	} while (!rc && addr.gen == 0);
	n = rc ? rc : codec_encode(gf->key, &addr, cat->compress, data, len, obj, cap);
	if (n < 0) {
		free(obj);
		return n;
	}
	ref->gen = addr.gen;
	ref->objlen = (uint32_t)n;
	rc = gf_place_copies(c, gf, obj, (size_t)n, ref, cat->replicas, 0);
	free(obj);
	if (rc) {
		char why[256];
		unplace(c, gf, ref);
		policy_explain(c->cfg, gf->tags.cat, gf->tags.origin, why, sizeof(why));
		__atomic_add_fetch(&c->stats.placement_refused, 1, __ATOMIC_RELAXED);
		shard_audit(c, gf, "placement-refused", rc, why);
	}
	return rc;
}

/* Writes one dirty shard out and forgets the buffer. */
static int flush_one(struct core *c, struct gfile *gf, int i)
{
	struct dshard *d = &gf->dirty[i];
	struct shard_ref nref;
	size_t len = shard_len(gf, d->index);
	int rc = 0;

	if (len == 0 || all_zero(d->buf, len)) {
		memset(&nref, 0, sizeof(nref));		/* a hole stores nothing */
	} else {
		rc = gf_place(c, gf, d->index, d->buf, len, &nref);
		if (rc)
			return rc;
	}
	if (len > 0 || d->index < gf->mf->nshards) {
		rc = manifest_reserve(gf->mf, d->index + 1);
		if (rc) {
			unplace(c, gf, &nref);
			return rc;
		}
		rc = gf_supersede(gf, &gf->mf->shards[d->index]);
		if (rc) {
			unplace(c, gf, &nref);
			return rc;
		}
		gf->mf->shards[d->index] = nref;
	}
	gf->changed = true;
	free(d->buf);
	gf->dirty[i] = gf->dirty[--gf->ndirty];
	return 0;
}

static int cmp_dirty(const void *a, const void *b)
{
	const struct dshard *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

int gf_flush_dirty(struct core *c, struct gfile *gf)
{
	qsort(gf->dirty, (size_t)gf->ndirty, sizeof(*gf->dirty), cmp_dirty);
	while (gf->ndirty > 0) {
		/* Flush from the end so the array shrinks in place. */
		int rc = flush_one(c, gf, gf->ndirty - 1);
		if (rc)
			return rc;
	}
	return 0;
}

static struct dshard *find_dirty(struct gfile *gf, uint64_t idx)
{
	for (int i = 0; i < gf->ndirty; i++)
		if (gf->dirty[i].index == idx)
			return &gf->dirty[i];
	return NULL;
}

/* The dirty buffer for shard idx, creating it (loaded unless `whole`, when
 * the caller overwrites all of it) and evicting the LRU one if full. */
static int get_dirty(struct core *c, struct gfile *gf, uint64_t idx, bool whole, struct dshard **out)
{
	struct dshard *d = find_dirty(gf, idx);
	uint8_t *buf;
	int rc;

	if (d) {
		d->used = ++gf->tick;
		*out = d;
		return 0;
	}
	if ((size_t)gf->ndirty >= dirty_max(gf)) {
		int lru = 0;
		for (int i = 1; i < gf->ndirty; i++)
			if (gf->dirty[i].used < gf->dirty[lru].used)
				lru = i;
		rc = flush_one(c, gf, lru);
		if (rc)
			return rc;
	}
	if (gf->ndirty == gf->dcap) {
		int cap = gf->dcap ? gf->dcap * 2 : 4;
		struct dshard *n = realloc(gf->dirty, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		gf->dirty = n;
		gf->dcap = cap;
	}
	buf = malloc(ssize(gf));
	if (!buf)
		return -ENOMEM;
	if (whole) {
		rc = 0;
	} else {
		rc = gf_fetch(c, gf, idx, buf);
		/* Bytes past EOF must read as zeros after an extension. */
		size_t len = shard_len(gf, idx);
		if (!rc)
			memset(buf + len, 0, ssize(gf) - len);
	}
	if (rc) {
		free(buf);
		return rc;
	}
	d = &gf->dirty[gf->ndirty++];
	d->index = idx;
	d->buf = buf;
	d->used = ++gf->tick;
	*out = d;
	return 0;
}

long gfile_read(struct core *c, struct gfile *gf, char *buf, size_t size, uint64_t off)
{
	size_t done = 0;
	uint8_t *tmp = NULL;
	long rc = 0;

	pthread_mutex_lock(&gf->lock);
	if (off >= gf->mf->size)
		goto out;
	if (size > gf->mf->size - off)
		size = (size_t)(gf->mf->size - off);
	while (done < size) {
		uint64_t pos = off + done, idx = pos / ssize(gf);
		size_t in = (size_t)(pos % ssize(gf)), n = ssize(gf) - in;
		struct dshard *d = find_dirty(gf, idx);
		struct shard_ref *ref = ref_of(gf, idx);

		if (n > size - done)
			n = size - done;
		if (d) {
			memcpy(buf + done, d->buf + in, n);
		} else if (!ref || ref->nrep == 0) {
			memset(buf + done, 0, n);
		} else if (!scache_read(c->cache, &gf->id, idx, ref->gen, buf + done, in, n)) {
			if (!tmp && !(tmp = malloc(ssize(gf)))) {
				rc = -ENOMEM;
				break;
			}
			rc = gf_fetch(c, gf, idx, tmp);
			if (rc)
				break;
			memcpy(buf + done, tmp + in, n);
		}
		done += n;
	}
out:
	pthread_mutex_unlock(&gf->lock);
	free(tmp);
	return done ? (long)done : rc;
}

long gfile_write(struct core *c, struct gfile *gf, const char *buf, size_t size, uint64_t off,
		 bool append)
{
	size_t done = 0;
	long rc = 0;

	pthread_mutex_lock(&gf->lock);
	if (append)
		off = gf->mf->size;
	rc = gf_check_writable(c, gf);
	if (!rc && (off + size < off || off + size > (uint64_t)INT64_MAX))
		rc = -EFBIG;
	while (!rc && done < size) {
		uint64_t pos = off + done, idx = pos / ssize(gf);
		size_t in = (size_t)(pos % ssize(gf)), n = ssize(gf) - in;
		struct dshard *d;

		if (n > size - done)
			n = size - done;
		rc = get_dirty(c, gf, idx, in == 0 && n == ssize(gf), &d);
		if (rc)
			break;
		memcpy(d->buf + in, buf + done, n);
		done += n;
		if (pos + n > gf->mf->size)
			gf->mf->size = pos + n;
		gf->changed = gf->mtime_pending = true;
		/* A shard written up to its end is done for a sequential writer. */
		if (in + n == ssize(gf))
			rc = flush_one(c, gf, (int)(d - gf->dirty));
	}
	pthread_mutex_unlock(&gf->lock);
	return done ? (long)done : rc;
}

static int truncate_locked(struct core *c, struct gfile *gf, uint64_t size)
{
	uint64_t keep = (size + ssize(gf) - 1) / ssize(gf);	/* shards that stay */
	int rc = 0;

	if (size < gf->mf->size) {
		for (int i = gf->ndirty - 1; i >= 0; i--)
			if (gf->dirty[i].index >= keep) {
				free(gf->dirty[i].buf);
				gf->dirty[i] = gf->dirty[--gf->ndirty];
			}
		for (uint64_t i = keep; i < gf->mf->nshards && !rc; i++)
			rc = gf_supersede(gf, &gf->mf->shards[i]);
		if (rc)
			return rc;
		if (gf->mf->nshards > keep)
			gf->mf->nshards = keep;
		/* The cut shard must not keep stale bytes past the new end. */
		if (size % ssize(gf)) {
			struct dshard *d;
			struct shard_ref *ref = ref_of(gf, size / ssize(gf));
			if (find_dirty(gf, size / ssize(gf)) || (ref && ref->nrep)) {
				rc = get_dirty(c, gf, size / ssize(gf), false, &d);
				if (rc)
					return rc;
				memset(d->buf + size % ssize(gf), 0, ssize(gf) - size % ssize(gf));
			}
		}
	}
	if (size != gf->mf->size) {
		gf->mf->size = size;
		gf->changed = gf->mtime_pending = true;
	}
	return 0;
}

int gfile_truncate(struct core *c, struct gfile *gf, uint64_t size)
{
	int rc;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&gf->lock);
	rc = size > gf->mf->size ? gf_check_writable(c, gf) : 0;
	if (!rc)
		rc = truncate_locked(c, gf, size);
	pthread_mutex_unlock(&gf->lock);
	return rc;
}

int gf_check_writable(struct core *c, struct gfile *gf)
{
	char why[256];
	int rc = core_check_placement(c, &gf->tags, why, sizeof(why));

	if (rc) {
		__atomic_add_fetch(&c->stats.placement_refused, 1, __ATOMIC_RELAXED);
		shard_audit(c, gf, "placement-refused", rc, why);
	}
	return rc;
}
