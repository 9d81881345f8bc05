/*
 * stats.c — status tracking for a running geofs: the misplaced-file set,
 * reload outcomes, rate samples, the background thread that counts backend
 * objects and writes the metrics file, and snapshots (see stats.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/limits.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "stats.h"

#define MIS_BUCKETS 4096

struct mis_node {
	struct geo_id id;
	struct mis_node *next;
};

/* Counter values at one instant, for rates. */
struct sample {
	struct timespec t;	/* CLOCK_MONOTONIC */
	uint64_t ops, rbytes, wbytes;
};

struct stats {
	pthread_mutex_t lock;		/* guards everything below */
	struct mis_node *mis[MIS_BUCKETS];
	uint64_t nmis;
	uint64_t reloads, reload_failures;
	struct timespec last_reload;
	int last_reload_rc;
	struct timespec started;	/* CLOCK_REALTIME */
	struct sample older, newer;	/* the two latest samples */
	pthread_cond_t wake;		/* CLOCK_MONOTONIC */
	pthread_t thread;
	bool running, stop;		/* stop is also read by store_count */
};

struct stats *stats_new(void)
{
	struct stats *st = calloc(1, sizeof(*st));
	pthread_condattr_t ca;

	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wake, &ca);
	pthread_condattr_destroy(&ca);
	clock_gettime(CLOCK_REALTIME, &st->started);
	return st;
}

void stats_free(struct stats *st)
{
	if (!st)
		return;
	for (int i = 0; i < MIS_BUCKETS; i++) {
		while (st->mis[i]) {
			struct mis_node *n = st->mis[i];
			st->mis[i] = n->next;
			free(n);
		}
	}
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- misplaced files and reloads ---- */

void stats_note_status(struct core *c, const struct geo_id *id, bool misplaced)
{
	struct stats *st = c->mon;
	struct mis_node **pp, *n;

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	pp = &st->mis[(id->b[0] | id->b[1] << 8) % MIS_BUCKETS];
	while (*pp && !geoid_equal(&(*pp)->id, id))
		pp = &(*pp)->next;
	if (misplaced && !*pp && (n = malloc(sizeof(*n)))) {
		n->id = *id;
		n->next = NULL;
		*pp = n;
		st->nmis++;
	} else if (!misplaced && *pp) {
		n = *pp;
		*pp = n->next;
		free(n);
		st->nmis--;
	}
	pthread_mutex_unlock(&st->lock);
}

void stats_note_reload(struct core *c, int rc)
{
	struct stats *st = c->mon;

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	if (rc)
		st->reload_failures++;
	else
		st->reloads++;
	clock_gettime(CLOCK_REALTIME, &st->last_reload);
	st->last_reload_rc = rc;
	pthread_mutex_unlock(&st->lock);
}

/* ---- rates ---- */

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void take_sample(struct core *c, struct sample *s)
{
	const struct core_stats *k = &c->stats;

	clock_gettime(CLOCK_MONOTONIC, &s->t);
	s->ops = load(&k->opens) + load(&k->creates) + load(&k->reads) + load(&k->writes);
	s->rbytes = load(&k->bytes_read);
	s->wbytes = load(&k->bytes_written);
}

static double seconds(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Rates over the interval from the latest sample at least a second old
 * (the one before it if the latest is too recent) until now. */
static void rates(struct core *c, struct stats_snap *snap)
{
	struct stats *st = c->mon;
	struct sample now, base;

	take_sample(c, &now);
	pthread_mutex_lock(&st->lock);
	base = seconds(&st->newer.t, &now.t) >= 1.0 ? st->newer : st->older;
	pthread_mutex_unlock(&st->lock);
	if (base.t.tv_sec == 0)
		return;
	snap->window = seconds(&base.t, &now.t);
	if (snap->window <= 0)
		return;
	snap->ops_rate = (double)(now.ops - base.ops) / snap->window;
	snap->read_rate = (double)(now.rbytes - base.rbytes) / snap->window;
	snap->write_rate = (double)(now.wbytes - base.wbytes) / snap->window;
}

/* ---- snapshots ---- */

/* A store_in / access_from list as written: "*", "origin", codes. */
static void spec_text(const struct cfg_cspec *sp, char *buf, size_t len)
{
	char set[STATS_LIST_MAX];

	if (sp->any) {
		snprintf(buf, len, "*");
		return;
	}
	if (cset_empty(&sp->set))
		set[0] = '\0';
	else
		cset_format(&sp->set, set, sizeof(set));
	snprintf(buf, len, "%s%s%s", sp->origin ? "origin" : "", sp->origin && set[0] ? "," : "",
		 set);
}

static const char *backend_state(const struct geo_config *cfg, int b,
				 const struct backend_state *bs)
{
	if (!bs->healthy)
		return "unreachable";
	if (cfg->backends[b].drain)
		return "draining";
	return bs->avail < cfg->shard_size ? "full" : "ok";
}

static void snap_backends(struct core *c, struct stats_snap *s)
{
	const struct geo_config *cfg = c->cfg;
	struct backend_state bs[CFG_MAX_BACKENDS];

	store_state(c->store, bs);
	s->nbackends = cfg->nbackends;
	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *cb = &cfg->backends[i];
		struct stats_backend *b = &s->backends[i];
		struct store_usage u;

		store_usage(c->store, i, &u);
		snprintf(b->name, sizeof(b->name), "%s", cb->name);
		memcpy(b->country, country_code(cb->country), 3);
		b->path = strdup(cb->where);
		b->weight = cb->weight;
		b->drain = cb->drain;
		b->state = backend_state(cfg, i, &bs[i]);
		if (!bs[i].healthy)
			store_last_error(c->store, i, b->error, sizeof(b->error));
		b->counted = u.counted;
		b->objects = u.objects;
		b->bytes = u.bytes;
		b->free = bs[i].avail;
	}
}

int stats_snapshot(struct core *c, struct stats_snap **out)
{
	const struct geo_config *cfg = c->cfg;
	struct stats *st = c->mon;
	struct stats_snap *s = calloc(1, sizeof(*s));
	const struct core_stats *k = &c->stats;

	if (!s)
		return -ENOMEM;
	snprintf(s->site, sizeof(s->site), "%s", cfg->site_name);
	memcpy(s->country, country_code(cfg->site_country), 3);
	s->config = strdup(c->config_path ? c->config_path : cfg->file);
	s->metrics_path = cfg->metrics_path ? strdup(cfg->metrics_path) : NULL;
	s->pid = (long)getpid();
	clock_gettime(CLOCK_REALTIME, &s->now);
	snprintf(s->default_category, sizeof(s->default_category), "%s",
		 cfg->cats[cfg->default_category].name);
	memcpy(s->default_origin, country_code(cfg->default_origin), 3);
	s->ncats = cfg->ncats;
	for (int i = 0; i < cfg->ncats; i++) {
		const struct cfg_category *cc = &cfg->cats[i];
		struct stats_category *sc = &s->cats[i];

		snprintf(sc->name, sizeof(sc->name), "%s", cc->name);
		spec_text(&cc->store_in, sc->store_in, sizeof(sc->store_in));
		spec_text(&cc->access_from, sc->access_from, sizeof(sc->access_from));
		sc->replicas = cc->replicas;
		sc->compress = cc->compress;
	}
	snap_backends(c, s);
	s->ctr.opens = load(&k->opens);
	s->ctr.creates = load(&k->creates);
	s->ctr.reads = load(&k->reads);
	s->ctr.writes = load(&k->writes);
	s->ctr.bytes_read = load(&k->bytes_read);
	s->ctr.bytes_written = load(&k->bytes_written);
	s->ctr.denied = load(&k->denied);
	s->ctr.placement_refused = load(&c->eng.ctr.placement_refused);
	s->ctr.integrity_failures = load(&c->eng.ctr.integrity_failures);
	scache_stats(c->eng.cache, &s->cache_hits, &s->cache_misses);
	rates(c, s);
	pthread_mutex_lock(&st->lock);
	s->started = st->started;
	s->misplaced = st->nmis;
	s->reloads = st->reloads;
	s->reload_failures = st->reload_failures;
	s->last_reload = st->last_reload;
	s->last_reload_rc = st->last_reload_rc;
	pthread_mutex_unlock(&st->lock);
	if (!s->config) {
		stats_snap_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void stats_snap_free(struct stats_snap *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nbackends; i++)
		free(s->backends[i].path);
	free(s->config);
	free(s->metrics_path);
	free(s);
}

long stats_json(struct core *c, char **out)
{
	struct stats_snap *s;
	size_t len = 0;
	FILE *f;
	int rc = stats_snapshot(c, &s);

	if (rc)
		return rc;
	*out = NULL;
	f = open_memstream(out, &len);
	if (!f) {
		stats_snap_free(s);
		return -ENOMEM;
	}
	stats_fmt_json(s, f);
	rc = fclose(f) ? -ENOMEM : 0;
	stats_snap_free(s);
	if (rc) {
		free(*out);
		*out = NULL;
		return rc;
	}
	return (long)len;
}

long core_stats_xattr(struct core *c, const struct geo_req *r, char *buf, size_t size)
{
	char *text;
	long len;

	if (!core_is_admin(c, r))
		return -EACCES;
	len = stats_json(c, &text);
	if (len < 0)
		return len;
	if (len > XATTR_SIZE_MAX)
		len = -E2BIG;
	else if (size && (size_t)len > size)
		len = -ERANGE;
	else if (size)
		memcpy(buf, text, (size_t)len);
	free(text);
	return len;
}

/* ---- the metrics file ---- */

static int write_file(const char *path, const char *text, size_t len)
{
	char *tmp = NULL;
	int fd, rc = 0;

	if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
out:
	free(tmp);
	return rc;
}

int stats_write_metrics(struct core *c)
{
	struct stats_snap *s = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	core_enter(c);
	rc = c->cfg->metrics_path ? stats_snapshot(c, &s) : 0;
	core_leave(c);
	if (rc || !s)
		return rc;
	f = open_memstream(&text, &len);
	if (!f) {
		stats_snap_free(s);
		return -ENOMEM;
	}
	stats_fmt_prom(s, f);
	rc = fclose(f) ? -ENOMEM : write_file(s->metrics_path, text, len);
	if (rc)
		log_warn("writing metrics to %s: %s", s->metrics_path, strerror(-rc));
	free(text);
	stats_snap_free(s);
	return rc;
}

/* ---- the background thread ---- */

/* Counts the objects of every backend not counted yet, without holding
 * the core (a walk may take long; a reload meanwhile is fine: the store
 * stays allocated through our reference, and its counts are adopted or
 * redone). */
static void count_backends(struct core *c)
{
	uint64_t todo = 0;
	struct store *s;
	int n;

	core_enter(c);
	s = store_hold(c->store);
	n = c->cfg->nbackends;
	for (int b = 0; b < n; b++) {
		struct store_usage u;
		store_usage(s, b, &u);
		if (!u.counted)
			todo |= UINT64_C(1) << b;
	}
	core_leave(c);
	for (int b = 0; b < n && !__atomic_load_n(&c->mon->stop, __ATOMIC_RELAXED); b++)
		if (todo & (UINT64_C(1) << b))
			store_count(s, b, &c->mon->stop);
	store_close(s);
}

static void *stats_main(void *arg)
{
	struct core *c = arg;
	struct stats *st = c->mon;
	struct timespec until;

	for (;;) {
		struct sample smp;

		count_backends(c);
		take_sample(c, &smp);
		pthread_mutex_lock(&st->lock);
		st->older = st->newer;
		st->newer = smp;
		pthread_mutex_unlock(&st->lock);
		stats_write_metrics(c);

		pthread_mutex_lock(&st->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += STATS_INTERVAL;
		while (!st->stop && pthread_cond_timedwait(&st->wake, &st->lock, &until) == 0)
			;
		bool stop = st->stop;
		pthread_mutex_unlock(&st->lock);
		if (stop)
			return NULL;
	}
}

int stats_start(struct core *c)
{
	struct stats *st = c->mon;
	int rc = -pthread_create(&st->thread, NULL, stats_main, c);

	st->running = rc == 0;
	return rc;
}

void stats_stop(struct core *c)
{
	struct stats *st = c->mon;

	if (!st || !st->running)
		return;
	pthread_mutex_lock(&st->lock);
	__atomic_store_n(&st->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&st->wake);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	st->running = false;
	stats_write_metrics(c);
}
