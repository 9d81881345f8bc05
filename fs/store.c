/*
 * store.c — the store front (see store.h): one table of backend kinds
 * (store_kind.h: dir in store_dir.c, s3 in store_s3.c) looked up by the
 * config's `kind`, and what is the same for every kind: a backend is used
 * only once its marker says it is the one the config means; health and
 * free space are sampled at most once a second (or at once after a
 * failure), outside the lock, so a slow remote backend never holds up the
 * others; durability points group concurrent callers; usage counts.
 * Nothing above this file knows which kind a backend is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "country.h"
#include "crypto.h"
#include "log.h"
#include "marker.h"
#include "policy.h"
#include "store.h"
#include "store_kind.h"

static const struct store_kind *const kinds[] = { &store_kind_dir, &store_kind_s3 };

static const struct store_kind *kind_of(const struct cfg_backend *cb)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i]->name, cb->kind))
			return kinds[i];
	return &store_kind_dir;		/* config.c accepts only the names above */
}

struct backend {
	const struct store_kind *k;
	void *h;		/* the kind's handle once open and marked; NULL before.
				 * Set once (under lock), freed only by the last close */
	bool opening;		/* an attach or refresh runs outside the lock */
	time_t tried;		/* last attach attempt */
	uint64_t put_seq;	/* objects put so far (counts completed puts) */
	uint64_t synced_seq;	/* put_seq as it was when a sync that completed began */
	bool failed;		/* an I/O error since the last refresh */
	struct backend_state st;
	time_t checked;		/* last refresh of st */
	int64_t nobj, nbytes;	/* objects/bytes: puts minus deletes, plus the last count */
	bool counted;		/* store_count() has run */
};

struct store {
	const struct geo_config *cfg;	/* not used by store_count() or the last store_close() */
	int n;			/* cfg->nbackends */
	int refs;		/* store_hold() + 1; atomic */
	pthread_mutex_t lock;	/* guards every struct backend field */
	struct backend b[CFG_MAX_BACKENDS];
};

/* Health and free space of an attached backend, asked of its kind now. */
static struct backend_state health_of(const struct backend *be)
{
	struct backend_state st = { false, 0 };
	uint64_t avail = 0;

	if (be->k->health(be->h, &avail) == 0) {
		st.healthy = true;
		st.avail = avail;
	}
	return st;
}

/* Reads and judges the marker of an open backend (marker.h). */
static int check_marker(const struct store_kind *k, void *h, const struct cfg_backend *cb,
			const char *cfgfile, struct marker *m, char *err, size_t errlen)
{
	char text[MARKER_MAX];
	long n = k->marker_read(h, text, sizeof(text));
	int rc = n < 0 ? (int)n : marker_parse(text, (size_t)n, m);

	return marker_judge(rc, m, cb, cfgfile, err, errlen);
}

static const char *where_of(const struct cfg_backend *cb)
{
	return cb->where ? cb->where : cb->path ? cb->path : "?";
}

int store_init_backend(const struct cfg_backend *cb, const char *cfgfile, unsigned flags,
		       char *err, size_t errlen)
{
	const struct store_kind *k = kind_of(cb);
	char msg[1024], text[MARKER_MAX];
	struct marker m;
	void *h = NULL;
	int rc;

	rc = k->open(cb, cfgfile, flags & STORE_INIT_CREATE, &h, err, errlen);
	if (rc)
		return rc;
	rc = check_marker(k, h, cb, cfgfile, &m, msg, sizeof(msg));
	if (rc == 0) {
		rc = 1;		/* already this backend's */
	} else if (rc == -EMEDIUMTYPE && !(flags & STORE_INIT_FORCE)) {
		snprintf(err, errlen, "backend %s: %s is marked as backend %s in %s, not %s in %s; "
			 "not changing it without --force", cb->name, where_of(cb), m.name, m.country,
			 cb->name, country_code(cb->country));
		goto out;
	} else if (rc != -EMEDIUMTYPE && rc != -ENOENT && rc != -EINVAL) {
		snprintf(err, errlen, "%s", msg);
		goto out;
	} else {
		int n = marker_format(cb, text, sizeof(text));

		rc = k->marker_write(h, text, (size_t)n);
		if (rc) {
			snprintf(err, errlen, "backend %s: cannot write %s/%s: %s", cb->name,
				 where_of(cb), STORE_MARKER, strerror(-rc));
			goto out;
		}
	}
	int prc = k->prepare ? k->prepare(h) : 0;
	if (prc) {
		rc = prc;
		snprintf(err, errlen, "backend %s: %s: cannot create objects/ or tmp/: %s",
			 cb->name, where_of(cb), strerror(-rc));
	}
out:
	k->close(h);
	return rc;
}

int store_check_backend(const struct cfg_backend *cb, const char *cfgfile, char *err,
			size_t errlen)
{
	const struct store_kind *k = kind_of(cb);
	struct marker m;
	void *h = NULL;
	int rc = k->open(cb, cfgfile, false, &h, err, errlen);

	if (rc)
		return rc;
	rc = check_marker(k, h, cb, cfgfile, &m, err, errlen);
	k->close(h);
	return rc;
}

/* Tells log.h what was just found out about backend b's health. */
static void report(const struct geo_config *cfg, int b, bool up, const char *why)
{
	log_backend(cfg->backends[b].name, country_code(cfg->backends[b].country), up, why);
}

/* Opens backend b and checks its marker: the kind's handle, or NULL with
 * a message in err. */
static void *attach(const struct geo_config *cfg, int b, char *err, size_t errlen, int *why)
{
	const struct cfg_backend *cb = &cfg->backends[b];
	const struct store_kind *k = kind_of(cb);
	struct marker m;
	void *h = NULL;
	int rc = k->open(cb, cfg->file, false, &h, err, errlen);

	*why = rc;
	if (rc)
		return NULL;
	rc = check_marker(k, h, cb, cfg->file, &m, err, errlen);
	if (!rc && k->prepare && (rc = k->prepare(h)) != 0)
		snprintf(err, errlen, "backend %s: %s: cannot create objects/ or tmp/: %s",
			 cb->name, where_of(cb), strerror(-rc));
	if (rc) {
		k->close(h);
		h = NULL;
	}
	*why = rc;
	return h;
}

int store_open(const struct geo_config *cfg, uint64_t strict, struct store **out,
	       char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	size_t pos = 0;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->n = cfg->nbackends;
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < cfg->nbackends; i++) {
		char msg[1024] = "";
		int why;

		s->b[i].k = kind_of(&cfg->backends[i]);
		s->b[i].tried = time(NULL);
		s->b[i].h = attach(cfg, i, msg, sizeof(msg), &why);
		if (s->b[i].h) {
			/* Known from the start: a store swapped in by a reload
			 * must not look down to a caller that races the first
			 * refresh (store_state skips a refresh in progress). */
			s->b[i].st = health_of(&s->b[i]);
			s->b[i].checked = time(NULL);
			continue;
		}
		if (!(strict & (UINT64_C(1) << i))) {
			report(cfg, i, false, msg);
			continue;
		}
		/* Strict: report every unusable backend, one per line. */
		if (!rc)
			rc = why;
		if (pos < errlen) {
			int n = snprintf(err + pos, errlen - pos, "%s%s", pos ? "\n" : "", msg);
			pos += n > 0 ? (size_t)n : 0;
		}
	}
	if (rc) {
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

struct store *store_hold(struct store *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void store_close(struct store *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < s->n; i++)
		if (s->b[i].h)
			s->b[i].k->close(s->b[i].h);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The handle of backend b, attaching a backend that was unusable at mount
 * time (at most once a second, one thread at a time, outside the lock);
 * -ENOENT while it stays unusable. */
static void *handle(struct store *s, int b)
{
	struct backend *be = &s->b[b];
	time_t now = time(NULL);
	void *h;

	pthread_mutex_lock(&s->lock);
	h = be->h;
	bool go = !h && !be->opening && be->tried != now;
	if (go) {
		be->opening = true;
		be->tried = now;
	}
	pthread_mutex_unlock(&s->lock);
	if (!go)
		return h;
	char msg[1024];
	int why;
	h = attach(s->cfg, b, msg, sizeof(msg), &why);
	if (h)
		report(s->cfg, b, true, "usable now");
	pthread_mutex_lock(&s->lock);
	be->h = h;
	be->opening = false;
	pthread_mutex_unlock(&s->lock);
	return h;
}

#define HANDLE_OR_RETURN(s, b, h)			\
	void *h = handle((s), (b));			\
	if (!h)						\
		return -ENOENT

static void count_put(struct store *s, int b, int64_t nobj, int64_t nbytes, bool put)
{
	pthread_mutex_lock(&s->lock);
	s->b[b].put_seq += put;
	s->b[b].nobj += nobj;
	s->b[b].nbytes += nbytes;
	pthread_mutex_unlock(&s->lock);
}

int store_put(struct store *s, int b, const void *obj, size_t len, struct geo_id *oid)
{
	HANDLE_OR_RETURN(s, b, h);
	/* A fresh random 128-bit name: the exclusive put fails only if
	 * something else (never geofs) put an object there, which is then
	 * left alone. */
	int rc = crypto_random(oid->b, sizeof(oid->b));

	if (!rc)
		rc = s->b[b].k->put(h, oid, obj, len);
	if (!rc)
		count_put(s, b, 1, (int64_t)len, true);
	return rc;
}

long store_get(struct store *s, int b, const struct geo_id *oid, void *buf, size_t cap)
{
	HANDLE_OR_RETURN(s, b, h);
	return s->b[b].k->get(h, oid, buf, cap);
}

void store_willneed(struct store *s, int b, const struct geo_id *oid)
{
	void *h = s->b[b].k->willneed ? handle(s, b) : NULL;

	if (h)
		s->b[b].k->willneed(h, oid);
}

long store_size(struct store *s, int b, const struct geo_id *oid)
{
	HANDLE_OR_RETURN(s, b, h);
	return s->b[b].k->size(h, oid);
}

int store_delete(struct store *s, int b, const struct geo_id *oid)
{
	HANDLE_OR_RETURN(s, b, h);
	uint64_t size = 0;
	int rc = s->b[b].k->remove(h, oid, &size);

	if (!rc)
		count_put(s, b, -1, -(int64_t)size, false);
	return rc;
}

int store_sync(struct store *s, int b)
{
	HANDLE_OR_RETURN(s, b, h);
	uint64_t target;

	if (!s->b[b].k->sync)
		return 0;	/* a put is durable when it returns */
	/* Every put completed before this call must be durable on return. A
	 * sync that began after the last of them covers them, whoever ran
	 * it: concurrent closes share one (group commit). One that began
	 * earlier does not, so a caller never trusts a sync still running. */
	pthread_mutex_lock(&s->lock);
	target = s->b[b].put_seq;
	bool covered = s->b[b].synced_seq >= target;
	pthread_mutex_unlock(&s->lock);
	if (covered)
		return 0;
	int rc = s->b[b].k->sync(h);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	if (s->b[b].synced_seq < target)
		s->b[b].synced_seq = target;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int store_sync_object(struct store *s, int b, const struct geo_id *oid)
{
	HANDLE_OR_RETURN(s, b, h);
	if (!s->b[b].k->sync_object)
		return 0;	/* durable since its put returned */
	return s->b[b].k->sync_object(h, oid);
}

/* Health and free space of one backend, without the lock held. */
static struct backend_state probe(struct store *s, int b)
{
	struct backend_state down = { false, 0 };

	return handle(s, b) ? health_of(&s->b[b]) : down;
}

/* The log's news of a health probe of backend b (held: it was attached
 * before the probe, so a failure is the kind's own error). */
static void health_news(struct store *s, int b, bool held, bool healthy)
{
	char why[512] = "";

	if (!healthy && held && s->b[b].k->last_error)
		s->b[b].k->last_error(s->b[b].h, why, sizeof(why));
	if (!healthy && !why[0])
		snprintf(why, sizeof(why), "%s is not usable (missing, unmarked, or not writable)",
			 where_of(&s->cfg->backends[b]));
	report(s->cfg, b, healthy, healthy ? NULL : why);
}

int store_remote(const struct store *s)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->b[i].k->remote;
	return n;
}

void store_state(struct store *s, struct backend_state *out)
{
	time_t now = time(NULL);
	uint64_t mine = 0, held = 0;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++) {
		struct backend *be = &s->b[i];

		if ((be->checked != now || be->failed) && !be->opening && be->h) {
			be->opening = true;	/* this thread refreshes it */
			mine |= UINT64_C(1) << i;
			held |= UINT64_C(1) << i;
		} else if (!be->h && be->checked != now) {
			be->checked = now;
			mine |= UINT64_C(1) << i;	/* handle() attaches it */
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n; i++) {
		if (!(mine >> i & 1))
			continue;
		bool mine_held = held >> i & 1;	/* we set opening on it above */
		struct backend_state st;

		st = mine_held ? health_of(&s->b[i]) : probe(s, i);
		health_news(s, i, mine_held, st.healthy);
		pthread_mutex_lock(&s->lock);
		s->b[i].st = st;
		s->b[i].checked = now;
		s->b[i].failed = false;
		if (mine_held)
			s->b[i].opening = false;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++)
		out[i] = s->b[i].st;
	pthread_mutex_unlock(&s->lock);
}

void store_mark_failed(struct store *s, int b)
{
	report(s->cfg, b, false, "an I/O error (retried within a second)");
	pthread_mutex_lock(&s->lock);
	s->b[b].failed = true;
	s->b[b].st.healthy = false;
	pthread_mutex_unlock(&s->lock);
}

void store_last_error(struct store *s, int b, char *buf, size_t len)
{
	void *h;

	buf[0] = '\0';
	pthread_mutex_lock(&s->lock);
	h = s->b[b].h;
	pthread_mutex_unlock(&s->lock);
	if (h && s->b[b].k->last_error)
		s->b[b].k->last_error(h, buf, len);
	else if (!h)
		snprintf(buf, len, "not attached: storage missing, unreachable or unmarked");
}

int store_statfs(struct store *s, struct statvfs *out)
{
	dev_t seen[CFG_MAX_BACKENDS];
	int nseen = 0, rc = -EIO;

	memset(out, 0, sizeof(*out));
	out->f_bsize = out->f_frsize = 4096;
	out->f_namemax = 255;
	for (int i = 0; i < s->n; i++) {
		struct statvfs sv;
		void *h = handle(s, i);
		dev_t dev;
		int k;

		if (h && !s->b[i].k->statfs)
			rc = 0;		/* a kind with no filesystem: nothing to add */
		if (!h || !s->b[i].k->statfs || s->b[i].k->statfs(h, &sv, &dev) < 0)
			continue;
		rc = 0;
		/* Backends sharing one filesystem count once. */
		for (k = 0; k < nseen && seen[k] != dev; k++)
			;
		if (k < nseen)
			continue;
		seen[nseen++] = dev;
		out->f_blocks += sv.f_blocks * sv.f_frsize / out->f_frsize;
		out->f_bfree += sv.f_bfree * sv.f_frsize / out->f_frsize;
		out->f_bavail += sv.f_bavail * sv.f_frsize / out->f_frsize;
		out->f_files += sv.f_files;
		out->f_ffree += sv.f_ffree;
		out->f_favail += sv.f_favail;
	}
	return rc;
}

int store_walk(struct store *s, int b, store_walk_fn fn, void *arg)
{
	HANDLE_OR_RETURN(s, b, h);
	return s->b[b].k->walk(h, fn, arg);
}

void store_object_relpath(struct store *s, int b, const struct geo_id *oid,
			  char out[STORE_RELPATH_MAX])
{
	s->b[b].k->object_relpath(oid, out);
}

int store_remove_relpath(struct store *s, int b, const char *relpath)
{
	HANDLE_OR_RETURN(s, b, h);
	return s->b[b].k->remove_relpath(h, relpath);
}

void store_usage(struct store *s, int b, struct store_usage *u)
{
	pthread_mutex_lock(&s->lock);
	u->objects = s->b[b].nobj > 0 ? (uint64_t)s->b[b].nobj : 0;
	u->bytes = s->b[b].nbytes > 0 ? (uint64_t)s->b[b].nbytes : 0;
	u->counted = s->b[b].counted;
	pthread_mutex_unlock(&s->lock);
}

struct tally {
	int64_t nobj, nbytes;
	const bool *stop;
};

static int tally_one(const struct geo_id *oid, const char *relpath, uint64_t size, void *arg)
{
	struct tally *t = arg;

	if (oid) {
		t->nobj++;
		t->nbytes += (int64_t)size;
	}
	return t->stop && __atomic_load_n(t->stop, __ATOMIC_RELAXED) ? -ECANCELED : 0;
}

int store_count(struct store *s, int b, const bool *stop)
{
	struct tally t = { 0, 0, stop };
	int64_t n0, b0;
	void *h;
	int rc;

	pthread_mutex_lock(&s->lock);
	h = s->b[b].h;
	n0 = s->b[b].nobj;
	b0 = s->b[b].nbytes;
	pthread_mutex_unlock(&s->lock);
	if (!h)
		return -ENOENT;
	rc = s->b[b].k->walk(h, tally_one, &t);
	if (rc)
		return rc;
	/* Puts and deletes made during the walk stay counted on top. */
	pthread_mutex_lock(&s->lock);
	s->b[b].nobj = t.nobj + (s->b[b].nobj - n0);
	s->b[b].nbytes = t.nbytes + (s->b[b].nbytes - b0);
	s->b[b].counted = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void store_adopt_usage(struct store *s, struct store *old)
{
	pthread_mutex_lock(&old->lock);
	for (int i = 0; i < s->n; i++) {
		const struct cfg_backend *cb = &s->cfg->backends[i];
		int j = config_backend(old->cfg, cb->name);

		if (j < 0 || strcmp(old->cfg->backends[j].kind, cb->kind) != 0 ||
		    strcmp(old->cfg->backends[j].where, cb->where) != 0 ||
		    !old->b[j].counted)
			continue;
		s->b[i].nobj = old->b[j].nobj;
		s->b[i].nbytes = old->b[j].nbytes;
		s->b[i].counted = true;
	}
	pthread_mutex_unlock(&old->lock);
}
