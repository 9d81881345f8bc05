/*
 * instance.c — the composition root: building a geofs instance (config,
 * keyring, meta root, backends, audit log, caches, the open-file table,
 * status and worker threads) and tearing it down, in reverse order. The
 * only file that knows every part of struct core; nothing calls up into it
 * but the front end (main.c) and geoctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "links.h"
#include "preflight.h"
#include "stats.h"
#include "workers.h"

/* Writers first: a waiting reload stops new calls from overtaking it. */
static void init_reload_lock(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

/* Everything the mount needs, checked at once (shared with geoctl check):
 * every problem goes to err, one per line. 0 or -EINVAL. */
static int preflight(const struct geo_config *cfg, char *err, size_t errlen)
{
	struct preflight pf = { .errors = err, .errors_len = errlen };

	return preflight_run(cfg, &pf) ? -EINVAL : 0;
}

/* The engine's hooks up to this instance. */
static void hook_audit(void *arg, const struct audit_event *ev)
{
	core_audit_event(arg, ev);
}

static void hook_note_status(void *arg, const struct geo_id *id, bool misplaced)
{
	stats_note_status(arg, id, misplaced);
}

static void hook_inval_links(void *arg, ino_t ino)
{
	core_inval_links(arg, ino);
}

/* Gives the engine what it works with: the instance's config, keyring,
 * store and meta root (a reload rebinds the first three), and the hooks. */
static void wire_engine(struct core *c)
{
	engine_bind(&c->eng, c->cfg, c->keys, c->store);
	c->eng.meta = c->meta;
	c->eng.audit = hook_audit;
	c->eng.note_status = hook_note_status;
	c->eng.inval_links = hook_inval_links;
	c->eng.hook_arg = c;
}

int core_open(const char *config_path, struct core **out, char *err, size_t errlen)
{
	struct core *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->ns_lock, NULL);
	pthread_mutex_init(&c->reload_serial, NULL);
	pthread_mutex_init(&c->handles_lock, NULL);
	init_reload_lock(&c->reload_lock);
	rc = config_load(config_path, &c->cfg, err, errlen);
	if (!rc) {
		/* The daemon changes directory: keep a path a reload can use. */
		c->config_path = realpath(config_path, NULL);
		if (!c->config_path)
			c->config_path = strdup(config_path);
		rc = c->config_path ? 0 : -ENOMEM;
	}
	if (!rc)
		rc = preflight(c->cfg, err, errlen);
	if (!rc)
		rc = keyring_load(c->cfg->keyring_path, &c->keys, err, errlen);
	if (!rc)
		rc = meta_open(c->cfg->meta_path, false, &c->meta, err, errlen);
	if (!rc && (rc = meta_hold(c->meta, false)))
		snprintf(err, errlen, "meta root %s is locked for repair (geoctl fsck --repair "
			 "is running?): %s", c->cfg->meta_path, strerror(-rc));
	if (!rc)
		rc = store_open(c->cfg, STORE_STRICT_ALL, &c->store, err, errlen);
	/* The audit log is opened for real by core_start() (after the daemon
	 * forks, since it runs a writer thread); here we only prove it opens. */
	if (!rc)
		rc = audit_open(c->cfg->audit_path, c->cfg->site_name, c->cfg->audit_sync_ms,
				&c->audit, err, errlen);
	if (rc)
		goto fail;
	audit_close(c->audit);
	c->audit = NULL;
	rc = engine_init(&c->eng, c->cfg->cache_size);
	c->mon = stats_new();
	c->links = links_new();
	if (rc || !c->mon || !c->links) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	wire_engine(c);
	core_resolve_admin(c->cfg, &c->have_admin_gid, &c->admin_gid);
	*out = c;
	return 0;
fail:
	core_close(c);
	return rc;
}

/* Workers with a remote backend: the in-flight window of one sequential
 * writer (shardio.c: 8 MiB of 1 MiB shards). */
#define REMOTE_WORKERS 8

int core_start(struct core *c, char *err, size_t errlen)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	/* One worker per core does the codec's CPU work. A worker also carries
	 * its shard's PUT or GET, which on an object store waits on a network
	 * round trip, so with a remote backend more workers keep the pipe full
	 * (the in-flight and read-ahead windows in shardio.c bound the memory). */
	if (n < 2)
		n = 2;
	if (store_remote(c->store) && n < REMOTE_WORKERS)
		n = REMOTE_WORKERS;
	c->eng.workers = workers_new((int)n);
	if (!c->eng.workers) {
		snprintf(err, errlen, "cannot start worker threads");
		return -ENOMEM;
	}
	rc = audit_open(c->cfg->audit_path, c->cfg->site_name, c->cfg->audit_sync_ms, &c->audit,
			err, errlen);
	if (!rc && (rc = stats_start(c)) != 0)
		snprintf(err, errlen, "cannot start the status thread: %s", strerror(-rc));
	return rc;
}

void core_close(struct core *c)
{
	if (!c)
		return;
	stats_stop(c);
	stats_free(c->mon);
	workers_free(c->eng.workers);
	audit_close(c->audit);
	engine_fini(&c->eng);
	links_free(c->links);
	store_close(c->store);
	meta_close(c->meta);
	keyring_free(c->keys);
	config_free(c->cfg);
	free(c->config_path);
	pthread_rwlock_destroy(&c->reload_lock);
	pthread_mutex_destroy(&c->reload_serial);
	pthread_mutex_destroy(&c->ns_lock);
	pthread_mutex_destroy(&c->handles_lock);
	free(c);
}
