/*
 * shardio.c — a file's content through its shards: reading (dirty and
 * in-flight buffers, the shard cache, then replicas in turn, each
 * authenticated), writing into per-file dirty shard buffers, truncation,
 * and handing full shards to the worker pool, which encodes them and stores
 * the replicas on allowed backends while the writer goes on. Sequential
 * readers get the next shards decoded ahead into the cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "crypto.h"
#include "gfile_int.h"
#include "log.h"
#include "placement.h"
#include "workers.h"

/* Per file: shards in flight at once, and shards decoded ahead. Dirty
 * shards are bounded per mount by [data] dirty_size (e->dirty_bytes).
 * With a remote backend every shard waits a round trip on top of its
 * codec work, so the windows are deeper (REMOTE_*): an object store
 * serves several requests at once, and one at a time leaves it idle. */
#define INFLIGHT_BYTES         (8u << 20)
#define READAHEAD_BYTES        (4u << 20)
#ifndef REMOTE_INFLIGHT_BYTES
#define REMOTE_INFLIGHT_BYTES  (16u << 20)
#endif
#ifndef REMOTE_READAHEAD_BYTES
#define REMOTE_READAHEAD_BYTES (16u << 20)
#endif
/* Beyond the decoded read-ahead, sequential readers have the kernel fetch
 * the objects of this many more bytes into its page cache: two workers
 * alone keep too few reads in flight to keep a disk busy. Page cache, not
 * daemon memory. */
#define HINT_BYTES      (16u << 20)

static size_t per_bytes(const struct gfile *gf, size_t bytes, size_t min)
{
	size_t n = bytes / gf_shard_size(gf);
	return n < min ? min : n;
}

static size_t inflight_bytes(struct engine *e)
{
	return store_remote(e->store) ? REMOTE_INFLIGHT_BYTES : INFLIGHT_BYTES;
}

static size_t readahead_bytes(struct engine *e)
{
	return store_remote(e->store) ? REMOTE_READAHEAD_BYTES : READAHEAD_BYTES;
}

/* Bytes of shard idx that lie inside the logical size. */
static size_t shard_len(const struct gfile *gf, uint64_t idx)
{
	uint64_t start = idx * gf_shard_size(gf);

	if (start >= gf->mf->size)
		return 0;
	uint64_t left = gf->mf->size - start;
	return left < gf_shard_size(gf) ? (size_t)left : gf_shard_size(gf);
}

static struct shard_ref *ref_of(struct gfile *gf, uint64_t idx)
{
	return idx < gf->mf->nshards ? &gf->mf->shards[idx] : NULL;
}

/* A consistent copy of what is needed to read one shard without the lock. */
struct shard_snap {
	struct shard_addr addr;
	char *path;		/* the file's path for audit records (may be NULL) */
	struct shard_ref ref;
	int b[CFG_MAX_REPLICAS];	/* config backend per replica, -1 unknown */
	uint32_t shard_size;
	uint8_t key[AEAD_KEY_LEN];
};

static void snap_shard(struct engine *e, struct gfile *gf, uint64_t idx, struct shard_snap *s)
{
	s->path = gf->path ? strdup(gf->path) : NULL;
	s->addr.file = gf->id;
	s->addr.index = idx;
	s->ref = gf->mf->shards[idx];
	s->addr.gen = s->ref.gen;
	s->shard_size = gf_shard_size(gf);
	memcpy(s->key, gf->key, sizeof(s->key));
	for (int k = 0; k < s->ref.nrep; k++)
		s->b[k] = gf_backend(e, gf->mf, s->ref.rep[k].backend);
}

static void snap_done(struct shard_snap *s)
{
	crypto_wipe(s->key, sizeof(s->key));
	free(s->path);
	s->path = NULL;
}

/* Audits an integrity failure of shard s: the file's path, the backend
 * (and its country) and the object, so an operator can act on them; b < 0
 * when no replica was readable at all. */
static void auth_audit(struct engine *e, const struct shard_snap *s, const struct geo_tags *t,
		       int b, const struct geo_id *oid, const char *what)
{
	char fid[GEO_HEX_LEN + 1], obj[GEO_HEX_LEN + 1], detail[400];
	const struct cfg_backend *be = b >= 0 ? &e->cfg->backends[b] : NULL;
	struct audit_event ev = {
		.op = "auth-failure", .path = s->path, .result = -EIO, .detail = detail,
		.category = e->cfg->cats[t->cat].name, .origin = country_code(t->origin),
	};

	geoid_hex(&s->addr.file, fid);
	snprintf(detail, sizeof(detail), "file id %s shard %llu: %s", fid,
		 (unsigned long long)s->addr.index, what);
	if (be) {
		geoid_hex(oid, obj);
		ev.backend = be->name;
		ev.object = obj;
		ev.countries = country_code(be->country);
	}
	engine_audit(e, &ev);
}

/* The one reader of "the first authentic replica": tries s's replicas in
 * turn, reading each object into obj (cap bytes) and decoding it into out
 * (shard_size bytes, tail zeroed); an unreadable replica is logged, one
 * that fails authentication is counted, logged and audited. Returns the
 * plaintext length and sets *objlen; -EIO (audited) if none is good.
 * Needs no gfile lock. */
static int fetch_authentic(struct engine *e, const struct shard_snap *s, const struct geo_tags *t,
			   uint8_t *obj, size_t cap, uint8_t *out, long *objlen)
{
	int len = -EIO;

	for (int k = 0; k < s->ref.nrep; k++) {
		long n;

		if (s->b[k] < 0)
			continue;
		n = store_get(e->store, s->b[k], &s->ref.rep[k].oid, obj, cap);
		if (n < 0) {
			log_warn("shard %llu: replica on backend %s unreadable: %s",
				 (unsigned long long)s->addr.index, e->cfg->backends[s->b[k]].name,
				 strerror((int)-n));
			continue;
		}
		len = codec_decode(s->key, &s->addr, obj, (size_t)n, out, s->shard_size);
		if (len >= 0) {
			*objlen = n;
			break;
		}
		__atomic_add_fetch(&e->ctr.integrity_failures, 1, __ATOMIC_RELAXED);
		log_err("shard %llu: replica on backend %s fails authentication",
			(unsigned long long)s->addr.index, e->cfg->backends[s->b[k]].name);
		auth_audit(e, s, t, s->b[k], &s->ref.rep[k].oid,
			   "stored object fails authentication");
	}
	if (len < 0) {
		auth_audit(e, s, t, -1, NULL, "no replica of the shard is readable and authentic");
		return -EIO;
	}
	memset(out + len, 0, s->shard_size - (size_t)len);
	return len;
}

/* fetch_authentic with an object buffer of its own. */
static int fetch_snap(struct engine *e, const struct shard_snap *s, const struct geo_tags *t,
		      uint8_t *out)
{
	size_t cap = codec_max_object(s->shard_size);
	uint8_t *obj = malloc(cap);
	long objlen;
	int len;

	if (!obj)
		return -ENOMEM;
	len = fetch_authentic(e, s, t, obj, cap, out, &objlen);
	free(obj);
	return len;
}

long gf_fetch_object(struct engine *e, struct gfile *gf, uint64_t idx, uint8_t *obj, size_t cap,
		     uint8_t *plain)
{
	struct shard_snap s;
	long objlen = -EIO;
	int len;

	snap_shard(e, gf, idx, &s);
	len = fetch_authentic(e, &s, &gf->tags, obj, cap, plain, &objlen);
	snap_done(&s);
	return len < 0 ? len : objlen;
}

/* gf_fetch; with !cache for a shard about to be changed (a dirty buffer),
 * whose decoded bytes will never be read again under this generation: it
 * is neither cached nor left in the cache. */
static int fetch_shard(struct engine *e, struct gfile *gf, uint64_t idx, uint8_t *out, bool cache)
{
	struct shard_ref *ref = ref_of(gf, idx);
	struct shard_snap s;
	size_t keep;
	int len;

	if (!ref || ref->nrep == 0) {
		memset(out, 0, gf_shard_size(gf));
		return 0;
	}
	if (!scache_read(e->cache, &gf->id, idx, ref->gen, out, 0, gf_shard_size(gf))) {
		snap_shard(e, gf, idx, &s);
		len = fetch_snap(e, &s, &gf->tags, out);
		snap_done(&s);
		/* Another mount may have replaced the shard and deleted its
		 * objects: take its newer manifest and try once more. */
		if (len < 0 && gf_reload(e, gf) == 1)
			return fetch_shard(e, gf, idx, out, cache);
		if (len < 0)
			return len;
		if (cache)
			scache_insert(e->cache, &gf->id, idx, s.addr.gen, out, (size_t)len);
	} else if (!cache) {
		scache_drop(e->cache, &gf->id, idx, ref->gen);
	}
	/* A truncate not yet committed leaves bytes past EOF in the stored
	 * shard (and the cache): they read as zeros, here for every caller. */
	keep = shard_len(gf, idx);
	memset(out + keep, 0, gf_shard_size(gf) - keep);
	return 0;
}

int gf_fetch(struct engine *e, struct gfile *gf, uint64_t idx, uint8_t *out)
{
	return fetch_shard(e, gf, idx, out, true);
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

/* Encodes a shard and stores its replicas: the part of a flush that needs
 * no lock. */
static int encode_store(struct engine *e, const struct geo_id *fid, const uint8_t *key,
			const struct geo_tags *t, uint64_t idx, const uint8_t *data, size_t len,
			struct placed *p)
{
	const struct cfg_category *cat = &e->cfg->cats[t->cat];
	struct shard_addr addr = { .file = *fid, .index = idx };
	size_t cap = codec_max_object(len);
	uint8_t *obj = malloc(cap);
	int n, rc;

	if (!obj)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	do {
		rc = crypto_random(&addr.gen, sizeof(addr.gen));
	} while (!rc && addr.gen == 0);
	n = rc ? rc : codec_encode(key, &addr, cat->compress, e->cfg->pad, data, len, obj,
					 cap);
	if (n >= 0) {
		p->gen = addr.gen;
		p->objlen = (uint32_t)n;
		rc = gf_store_copies(e, t, obj, (size_t)n, cat->replicas, 0, p);
	} else {
		rc = n;
	}
	free(obj);
	if (rc && rc != -ENOMEM)
		placement_refused(e, NULL, NULL, NULL, fid, t, rc, NULL);
	return rc;
}

/* Puts the stored shard (or a hole) in the manifest. gf->lock held. */
static int install_shard(struct engine *e, struct gfile *gf, uint64_t idx, const struct placed *p)
{
	struct shard_ref nref;
	int rc;

	memset(&nref, 0, sizeof(nref));
	if (p && p->n) {
		rc = gf_install(e, gf, p, &nref);
		if (rc)
			return rc;
	}
	if (p && p->n == 0 && idx >= gf->mf->nshards)
		return 0;	/* a hole past the table: nothing to record */
	rc = manifest_reserve(gf->mf, idx + 1);
	if (!rc)
		rc = gf_touch(gf, idx);
	if (!rc)
		rc = gf_supersede(gf, &gf->mf->shards[idx]);
	if (rc)
		return rc;
	gf->mf->shards[idx] = nref;
	gf->changed = true;
	return 0;
}

static struct dshard *find_dirty(struct gfile *gf, uint64_t idx)
{
	for (int i = 0; i < gf->ndirty; i++)
		if (gf->dirty[i].index == idx)
			return &gf->dirty[i];
	return NULL;
}

static struct flushjob *find_inflight(struct gfile *gf, uint64_t idx)
{
	for (struct flushjob *j = gf->inflight; j; j = j->next)
		if (j->index == idx)
			return j;
	return NULL;
}

static int add_dirty(struct gfile *gf, uint64_t idx, uint8_t *buf)
{
	if (gf->ndirty == gf->dcap) {
		int cap = gf->dcap ? gf->dcap * 2 : 4;
		struct dshard *n = realloc(gf->dirty, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		gf->dirty = n;
		gf->dcap = cap;
	}
	gf->dirty[gf->ndirty].index = idx;
	gf->dirty[gf->ndirty].buf = buf;
	gf->dirty[gf->ndirty].used = ++gf->tick;
	gf->ndirty++;
	return 0;
}

static void flush_job(void *arg)
{
	struct flushjob *j = arg, **pp;
	struct gfile *gf = j->gf;
	struct engine *e = j->e;
	struct placed p;
	int rc;

	rc = encode_store(e, &gf->id, gf->key, &j->tags, j->index, j->buf, j->len, &p);
	pthread_mutex_lock(&gf->lock);
	if (!rc) {
		rc = install_shard(e, gf, j->index, &p);
		if (rc)
			gf_unstore(e, &p, 0);
	}
	for (pp = &gf->inflight; *pp != j; pp = &(*pp)->next)
		;
	*pp = j->next;
	gf->ninflight--;
	if (rc) {
		/* Keep the data: it goes out again at the next commit, which
		 * also reports the error to the application. */
		if (!gf->async_err)
			gf->async_err = rc;
		if (add_dirty(gf, j->index, j->buf) == 0)
			j->buf = NULL;
		else
			log_err("lost a shard after a failed write: out of memory");
	}
	pthread_cond_broadcast(&gf->cond);
	uint32_t len = gf_shard_size(gf);
	pthread_mutex_unlock(&gf->lock);
	gf_buf_free(e, len, j->buf);
	free(j);
}

/* Takes dirty shard i out of the dirty set and has a worker write it; with
 * `here`, encodes and stores it in this thread instead (gf->lock dropped
 * meanwhile, as a worker would hold it only at the end): for the last
 * small shard of a commit, a hand-off to another thread and back costs
 * more than the work. */
static int submit_flush(struct engine *e, struct gfile *gf, int i, bool here)
{
	struct dshard d = gf->dirty[i];
	size_t len = shard_len(gf, d.index);
	struct flushjob *j;

	if (len == 0 || all_zero(d.buf, len)) {
		int rc = install_shard(e, gf, d.index, &(struct placed){ .n = 0 });
		if (rc)
			return rc;
		gf_buf_free(e, gf_shard_size(gf), d.buf);
		gf->dirty[i] = gf->dirty[--gf->ndirty];
		return 0;
	}
	while (gf->ninflight >= (int)per_bytes(gf, inflight_bytes(e), 2))
		pthread_cond_wait(&gf->cond, &gf->lock);
	/* The wait may have let the set change: find the shard again. */
	struct dshard *cur = find_dirty(gf, d.index);
	if (!cur)
		return 0;
	i = (int)(cur - gf->dirty);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->e = e;
	j->gf = gf;
	j->index = d.index;
	j->buf = cur->buf;
	j->len = shard_len(gf, d.index);
	j->tags = gf->tags;
	j->next = gf->inflight;
	gf->inflight = j;
	gf->ninflight++;
	gf->dirty[i] = gf->dirty[--gf->ndirty];
	if (here) {
		pthread_mutex_unlock(&gf->lock);
		flush_job(j);
		pthread_mutex_lock(&gf->lock);
	} else {
		workers_submit(e->workers, flush_job, j);
	}
	return 0;
}

static int cmp_dirty(const void *a, const void *b)
{
	const struct dshard *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

int gf_flush_dirty(struct engine *e, struct gfile *gf)
{
	int rc = 0;

	if (gf->ndirty > 1)	/* dirty is NULL before the first write */
		qsort(gf->dirty, (size_t)gf->ndirty, sizeof(*gf->dirty), cmp_dirty);
	/* A lone shard with nothing else in flight (a small file) is encoded
	 * here; more go to the workers, to use both cores. A shard that failed
	 * comes back dirty (flush_job): stop at the first failure rather than
	 * retry it forever. */
	while (!rc && gf->ndirty > 0 && !gf->async_err)
		rc = submit_flush(e, gf, gf->ndirty - 1, gf->ndirty == 1 && gf->ninflight == 0);
	gf_wait_inflight(gf);
	if (!rc && gf->async_err) {
		rc = gf->async_err;
		gf->async_err = 0;
	}
	return rc;
}

/* The dirty buffer for shard idx, creating it (loaded unless `whole`, when
 * the caller overwrites all of it) and handing the LRU one to a worker if
 * there are too many. */
static int get_dirty(struct engine *e, struct gfile *gf, uint64_t idx, bool whole, struct dshard **out)
{
	struct dshard *d;
	uint8_t *buf;
	int rc;

	/* A shard still being written must land before it is changed again. */
	while (find_inflight(gf, idx))
		pthread_cond_wait(&gf->cond, &gf->lock);
	d = find_dirty(gf, idx);
	if (d) {
		d->used = ++gf->tick;
		*out = d;
		return 0;
	}
	if (gf->ndirty >= 2 && __atomic_load_n(&e->dirty_bytes, __ATOMIC_RELAXED) + gf_shard_size(gf) >
				       e->cfg->dirty_size) {
		int lru = 0;
		for (int i = 1; i < gf->ndirty; i++)
			if (gf->dirty[i].used < gf->dirty[lru].used)
				lru = i;
		rc = submit_flush(e, gf, lru, false);
		if (rc)
			return rc;
	}
	buf = gf_buf_alloc(e, gf);
	if (!buf)
		return -ENOMEM;
	if (!whole) {
		rc = fetch_shard(e, gf, idx, buf, false);
		if (rc) {
			gf_buf_free(e, gf_shard_size(gf), buf);
			return rc;
		}
	}
	rc = add_dirty(gf, idx, buf);
	if (rc) {
		gf_buf_free(e, gf_shard_size(gf), buf);
		return rc;
	}
	*out = &gf->dirty[gf->ndirty - 1];
	return 0;
}

struct prefetch {
	struct engine *e;
	struct gfile *gf;
	struct shard_snap s;
	struct geo_tags tags;
};

static void prefetch_job(void *arg)
{
	struct prefetch *p = arg;
	struct gfile *gf = p->gf;
	uint8_t *buf = malloc(p->s.shard_size);

	if (buf) {
		int len = fetch_snap(p->e, &p->s, &p->tags, buf);
		if (len >= 0)
			scache_insert_owned(p->e->cache, &p->s.addr.file, p->s.addr.index,
					    p->s.addr.gen, buf, (size_t)len);
		else
			free(buf);
	}
	snap_done(&p->s);
	pthread_mutex_lock(&gf->lock);
	for (int i = 0; i < gf->nprefetch; i++)
		if (gf->pf[i] == p->s.addr.index) {
			gf->pf[i] = gf->pf[gf->nprefetch - 1];
			break;
		}
	gf->nprefetch--;
	pthread_cond_broadcast(&gf->cond);
	pthread_mutex_unlock(&gf->lock);
	free(p);
}

static bool prefetching(const struct gfile *gf, uint64_t idx)
{
	for (int i = 0; i < gf->nprefetch; i++)
		if (gf->pf[i] == idx)
			return true;
	return false;
}

/* Hints the objects of the shards after `from` (up to HINT_BYTES), each
 * once, at its first readable replica. gf->lock held. */
static void hint_ahead(struct engine *e, struct gfile *gf, uint64_t from)
{
	uint64_t until = from + per_bytes(gf, HINT_BYTES, 4);

	if (gf->hint_next <= from)
		gf->hint_next = from + 1;
	for (; gf->hint_next <= until && gf->hint_next < gf->mf->nshards; gf->hint_next++) {
		const struct shard_ref *ref = &gf->mf->shards[gf->hint_next];

		if (scache_contains(e->cache, &gf->id, gf->hint_next, ref->gen))
			continue;	/* decoded already: its object is not needed */
		for (int k = 0; k < ref->nrep; k++) {
			int b = gf_backend(e, gf->mf, ref->rep[k].backend);
			if (b >= 0) {
				store_willneed(e->store, b, &ref->rep[k].oid);
				break;
			}
		}
	}
}

/* A sequential reader that has reached shard idx is done with the shards
 * more than DROP_LAG behind it (nearer ones may still see late requests
 * of the same stream): their bytes are in the kernel's page cache, and
 * keeping them decoded would only push out what random readers come back
 * to, and hold memory in proportion to the file. Looks back over `span`
 * shards, so that a stream that was briefly taken for a seek leaves none
 * behind. gf->lock held. */
#define DROP_LAG 2
/* Shards read in order before a reader counts as streaming: the kernel's
 * own read-ahead (1 MiB) turns a random read into a short run of in-order
 * requests that may cross a shard boundary or two. */
#define DROP_RUN 4

static void drop_behind(struct engine *e, struct gfile *gf, uint64_t idx, uint64_t span)
{
	if (gf->seq_run < DROP_RUN || idx < DROP_LAG)
		return;
	uint64_t until = idx - DROP_LAG, i = until > span ? until - span : 0;

	for (; i <= until && i < gf->mf->nshards; i++)
		if (gf->mf->shards[i].nrep)
			scache_drop(e->cache, &gf->id, i, gf->mf->shards[i].gen);
}

/* After a read of shard idx that continues the previous one, decodes the
 * next shards into the cache in the background. gf->lock held. */
static void read_ahead(struct engine *e, struct gfile *gf, uint64_t idx)
{
	uint64_t tol = per_bytes(gf, READAHEAD_BYTES, 2), ahead, until;
	/* Several FUSE threads serve one reader's requests, so they arrive a
	 * little out of order: a shard up to `tol` behind or beyond the
	 * furthest one read is still the same stream (resetting on each would
	 * re-hint and re-check the whole window for every request). */
	bool sequential = idx <= gf->last_read + tol && idx + tol >= gf->last_read;

	if (sequential && idx == gf->last_read) {
		gf->seq_run++;		/* moved on to the next shard, in order */
		drop_behind(e, gf, idx, 2 * tol);
	}
	if (!sequential || idx + 1 > gf->last_read)
		gf->last_read = idx + 1;
	if (!sequential) {
		gf->ra_next = idx + 1;		/* random access: no read-ahead */
		gf->hint_next = idx + 1;
		gf->seq_run = 0;
		return;
	}
	/* A remote backend's deeper window opens once the reader has gone on
	 * through two shards in order: a random reader that lands near its
	 * last read must not start 16 GETs. */
	ahead = gf->seq_run >= 2 ? per_bytes(gf, readahead_bytes(e), 2) : tol;
	until = idx + ahead;
	if (gf->ra_next <= idx)
		gf->ra_next = idx + 1;
	for (; gf->ra_next <= until && gf->ra_next < gf->mf->nshards &&
	       gf->nprefetch < GF_PREFETCH_MAX; gf->ra_next++) {
		uint64_t i = gf->ra_next;
		struct shard_ref *ref = &gf->mf->shards[i];
		struct prefetch *p;

		if (ref->nrep == 0 || find_dirty(gf, i) || find_inflight(gf, i) ||
		    scache_contains(e->cache, &gf->id, i, ref->gen))
			continue;
		p = malloc(sizeof(*p));
		if (!p)
			return;
		p->e = e;
		p->gf = gf;
		p->tags = gf->tags;
		snap_shard(e, gf, i, &p->s);
		gf->pf[gf->nprefetch++] = i;
		workers_submit(e->workers, prefetch_job, p);
	}
	/* Object hints cost a syscall each: only for a reader that has gone
	 * on through two shards in order (a random reader that happens to
	 * land near its last read does not qualify). */
	if (gf->seq_run >= 2)
		hint_ahead(e, gf, until);
}

long gfile_read(struct engine *e, struct gfile *gf, char *buf, size_t size, uint64_t off)
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
		uint64_t pos = off + done, idx = pos / gf_shard_size(gf);
		size_t in = (size_t)(pos % gf_shard_size(gf)), n = gf_shard_size(gf) - in;
		struct dshard *d = find_dirty(gf, idx);
		struct flushjob *j = d ? NULL : find_inflight(gf, idx);
		struct shard_ref *ref = ref_of(gf, idx);

		if (n > size - done)
			n = size - done;
		if (d) {
			memcpy(buf + done, d->buf + in, n);
		} else if (j) {
			memcpy(buf + done, j->buf + in, n);
		} else if (!ref || ref->nrep == 0) {
			memset(buf + done, 0, n);
		} else {
			read_ahead(e, gf, idx);
			if (!scache_read(e->cache, &gf->id, idx, ref->gen, buf + done, in, n)) {
				/* A worker is decoding it: wait rather than decode twice. */
				if (prefetching(gf, idx)) {
					while (prefetching(gf, idx))
						pthread_cond_wait(&gf->cond, &gf->lock);
					continue;	/* cached now, or it failed: look again */
				}
				if (!tmp && !(tmp = malloc(gf_shard_size(gf)))) {
					rc = -ENOMEM;
					break;
				}
				rc = gf_fetch(e, gf, idx, tmp);
				if (rc)
					break;
				memcpy(buf + done, tmp + in, n);
			}
		}
		done += n;
	}
out:
	pthread_mutex_unlock(&gf->lock);
	free(tmp);
	/* A request that touches a bad shard fails whole: a short count
	 * would read as end of file (the kernel even shrinks its cached
	 * size), i.e. as a silently truncated file. */
	return rc < 0 ? rc : (long)done;
}

long gfile_write(struct engine *e, struct gfile *gf, const char *buf, size_t size, uint64_t off,
		 bool append)
{
	size_t done = 0;
	long rc = 0;
	uint64_t size0;

	pthread_mutex_lock(&gf->lock);
	size0 = gf->mf->size;
	if (append)
		off = gf->mf->size;
	rc = gf_check_writable(e, gf);
	if (!rc && (off + size < off || off + size > (uint64_t)INT64_MAX))
		rc = -EFBIG;
	if (!rc && gf->async_err) {
		rc = gf->async_err;	/* like a writeback error: reported once */
		gf->async_err = 0;
	}
	while (!rc && done < size) {
		uint64_t pos = off + done, idx = pos / gf_shard_size(gf);
		size_t in = (size_t)(pos % gf_shard_size(gf)), n = gf_shard_size(gf) - in;
		struct dshard *d;

		if (n > size - done)
			n = size - done;
		rc = get_dirty(e, gf, idx, in == 0 && n == gf_shard_size(gf), &d);
		if (rc)
			break;
		memcpy(d->buf + in, buf + done, n);
		done += n;
		if (pos + n > gf->mf->size) {
			gf->mf->size = pos + n;
			gf->size_changed = true;
		}
		gf->changed = true;
		/* A shard written up to its end is done for a sequential writer. */
		if (in + n == gf_shard_size(gf))
			rc = submit_flush(e, gf, (int)(d - gf->dirty), false);
	}
	if (done)
		gf_stub_touch(gf, gf->mf->size != size0);
	pthread_mutex_unlock(&gf->lock);
	return done ? (long)done : rc;
}

static int truncate_locked(struct engine *e, struct gfile *gf, uint64_t size)
{
	uint64_t keep = manifest_shards_for(gf->mf, size);	/* shards that stay */
	int rc = 0;

	gf_wait_inflight(gf);
	if (size < gf->mf->size) {
		for (int i = gf->ndirty - 1; i >= 0; i--)
			if (gf->dirty[i].index >= keep) {
				gf_buf_free(e, gf_shard_size(gf), gf->dirty[i].buf);
				gf->dirty[i] = gf->dirty[--gf->ndirty];
			}
		for (uint64_t i = keep; i < gf->mf->nshards && !rc; i++)
			rc = gf_supersede(gf, &gf->mf->shards[i]);
		if (rc)
			return rc;
		if (gf->mf->nshards > keep)
			gf->mf->nshards = keep;
		/* The cut shard must not keep stale bytes past the new end. */
		uint32_t ss = gf_shard_size(gf), tail = (uint32_t)(size % ss);
		uint64_t cut = size / ss;
		struct shard_ref *ref = ref_of(gf, cut);
		if (tail && (find_dirty(gf, cut) || (ref && ref->nrep))) {
			struct dshard *d;

			rc = get_dirty(e, gf, cut, false, &d);
			if (rc)
				return rc;
			memset(d->buf + tail, 0, ss - tail);
		}
	}
	if (size != gf->mf->size) {
		gf->mf->size = size;
		gf->changed = gf->size_changed = true;
		gf_stub_touch(gf, true);
	}
	return 0;
}

int gfile_truncate(struct engine *e, struct gfile *gf, uint64_t size)
{
	int rc;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&gf->lock);
	rc = size > gf->mf->size ? gf_check_writable(e, gf) : 0;
	if (!rc)
		rc = truncate_locked(e, gf, size);
	pthread_mutex_unlock(&gf->lock);
	return rc;
}

