/*
 * core.c — a geofs instance: wiring config, keyring, meta root, backends,
 * audit log and caches together; tag resolution for directories; the
 * access, placement and admin checks every operation shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "gfile.h"
#include "log.h"
#include "policy.h"
#include "preflight.h"
#include "stats.h"
#include "links.h"
#include "workers.h"

void core_resolve_admin(const struct geo_config *cfg, bool *have, gid_t *gid)
{
	int rc = preflight_admin_gid(cfg, gid);

	*have = rc == 0;
	if (rc == -ENOENT)
		log_warn("admin_group '%s' does not exist: only root may loosen tags",
			 cfg->admin_group);
}

/* Writers first: a waiting reload stops new calls from overtaking it. */
static void init_reload_lock(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

void core_enter(struct core *c)
{
	pthread_rwlock_rdlock(&c->reload_lock);
}

void core_leave(struct core *c)
{
	pthread_rwlock_unlock(&c->reload_lock);
}

/* Everything the mount needs, checked at once (shared with geoctl check):
 * every problem goes to err, one per line. 0 or -EINVAL. */
static int preflight(const struct geo_config *cfg, char *err, size_t errlen)
{
	struct preflight pf = { .errors = err, .errors_len = errlen };

	return preflight_run(cfg, &pf) ? -EINVAL : 0;
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
	c->cache = scache_new(c->cfg->cache_size);
	c->files = gtable_new();
	c->mon = stats_new();
	c->links = links_new();
	if (!c->cache || !c->files || !c->mon || !c->links) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
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
	c->workers = workers_new((int)n);
	if (!c->workers) {
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
	workers_free(c->workers);
	audit_close(c->audit);
	gtable_free(c->files);
	scache_free(c->cache);
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

void core_inval_links(struct core *c, ino_t ino)
{
	if (c->inval_path && c->links && c->attr_cache > 0)
		links_each(c->links, ino, c->inval_path, c->inval_arg);
}

/* Parent directory path of path into buf ("/" for "/x"). */
static void dirname_into(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0) {
		snprintf(buf, len, "/");
		return;
	}
	if (n >= len)
		n = len - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
}

static void default_tags(struct core *c, struct geo_tags *t)
{
	t->cat = c->cfg->default_category;
	t->origin = c->cfg->default_origin;
	t->flags = 0;
}

/* Tags stored on an open directory; -ENODATA if it has none. */
static int stored_tags(struct core *c, int dirfd, struct geo_tags *t)
{
	char cat[CFG_NAME_MAX], origin[3];
	unsigned flags;
	int rc = meta_dir_tags_get(dirfd, cat, origin, &flags);

	if (rc)
		return rc;
	t->cat = config_category(c->cfg, cat);
	t->origin = country_index(origin);
	t->flags = flags;
	if (t->cat < 0) {
		log_warn("a directory uses undeclared category '%s'; treating it as '%s'", cat,
			 c->cfg->cats[c->cfg->default_category].name);
		t->cat = c->cfg->default_category;
	}
	if (t->origin < 0)
		t->origin = c->cfg->default_origin;
	return 0;
}

char *core_dirname_dup(const char *path)
{
	size_t n = strlen(path) + 1;
	char *dir = malloc(n);

	if (dir)
		dirname_into(path, dir, n);
	return dir;
}

int core_dirfd_tags(struct core *c, int dirfd, const char *dirpath, struct geo_tags *t)
{
	char *parent;
	int rc = stored_tags(c, dirfd, t);

	if (rc != -ENODATA)
		return rc;
	if (strcmp(dirpath, "/") == 0) {
		default_tags(c, t);
		return 0;
	}
	parent = core_dirname_dup(dirpath);
	if (!parent)
		return -ENOMEM;
	rc = core_dir_tags(c, parent, t);
	free(parent);
	t->flags = 0;		/* inherited, whatever the parent's were */
	return rc;
}

int core_dir_tags(struct core *c, const char *dirpath, struct geo_tags *t)
{
	int fd = meta_open_dir(c->meta, dirpath), rc;

	if (fd < 0)
		return fd;
	rc = core_dirfd_tags(c, fd, dirpath, t);
	close(fd);
	return rc;
}

int core_dir_tags_set(struct core *c, const char *dirpath, struct geo_tags *t)
{
	char *path = strdup(dirpath), *up;
	int fd, rc = -ENOMEM;

	while (path) {
		fd = meta_open_dir(c->meta, path);
		if (fd < 0) {
			rc = fd;
			break;
		}
		rc = stored_tags(c, fd, t);
		close(fd);
		/* A directory may store tags it only inherited (flags 0). */
		if (rc == 0 && !(t->flags & (MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET)))
			rc = -ENODATA;
		if (rc != -ENODATA || strcmp(path, "/") == 0)
			break;
		up = core_dirname_dup(path);
		free(path);
		path = up;
		rc = -ENOMEM;
	}
	free(path);
	return rc;
}

bool core_is_admin(struct core *c, const struct geo_req *r)
{
	if (r->uid == 0)
		return true;
	if (!c->have_admin_gid)
		return false;
	if (r->gid == c->admin_gid)
		return true;
	for (int i = 0; i < r->ngroups; i++)
		if (r->groups[i] == c->admin_gid)
			return true;
	return false;
}

void core_audit_retag(struct core *c, const struct geo_req *r, const char *path,
		      const struct geo_tags *t0, const struct geo_tags *t1, int result,
		      const char *detail)
{
	struct audit_event ev = {
		.op = "settag", .path = path,
		.category = c->cfg->cats[t1->cat].name, .origin = country_code(t1->origin),
		.old_category = c->cfg->cats[t0->cat].name,
		.old_origin = country_code(t0->origin),
		.result = result, .detail = detail, .uid = r->uid, .gid = r->gid, .pid = r->pid,
	};

	if (result == -EACCES || result == -EPERM)
		__atomic_add_fetch(&c->stats.denied, 1, __ATOMIC_RELAXED);
	audit_record(c->audit, &ev);
}

void core_audit(struct core *c, const struct geo_req *r, const char *op, const char *intent,
		const char *path, const char *path2, const struct geo_tags *t, int result,
		const char *countries, const char *detail)
{
	struct audit_event ev = {
		.op = op, .intent = intent, .path = path, .path2 = path2,
		.category = t ? c->cfg->cats[t->cat].name : NULL,
		.origin = t ? country_code(t->origin) : NULL,
		.result = result, .countries = countries, .detail = detail,
		.uid = r->uid, .gid = r->gid, .pid = r->pid,
	};

	if (result == -EACCES || result == -EPERM)
		__atomic_add_fetch(&c->stats.denied, 1, __ATOMIC_RELAXED);
	audit_record(c->audit, &ev);
}

int core_check_access(struct core *c, const struct geo_tags *t)
{
	return policy_site_may_access(c->cfg, t->cat, t->origin) ? 0 : -EACCES;
}

int core_check_placement(struct core *c, const struct geo_tags *t, char *why, size_t len)
{
	struct backend_state st[CFG_MAX_BACKENDS];
	int idx[CFG_MAX_BACKENDS], healthy = 0, want = c->cfg->cats[t->cat].replicas;
	int n = policy_qualified(c->cfg, t->cat, t->origin, idx, CFG_MAX_BACKENDS);

	/* Refuse early, on the call that would store: not only where nothing
	 * is configured, but also where too few allowed backends are up. */
	if (n >= want) {
		store_state(c->store, st);
		for (int i = 0; i < n; i++)
			healthy += st[idx[i]].healthy;
		if (healthy >= want)
			return 0;
	}
	int w = policy_explain(c->cfg, t->cat, t->origin, why, len);
	if (n >= want && w >= 0 && (size_t)w < len)
		snprintf(why + w, len - (size_t)w, "; only %d of them %s reachable now", healthy,
			 healthy == 1 ? "is" : "are");
	return -EACCES;
}
