/*
 * core.c — a geofs instance: wiring config, keyring, meta root, backends,
 * audit log and caches together; tag resolution for directories; the
 * access, placement and admin checks every operation shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "gfile.h"
#include "log.h"
#include "policy.h"

int core_open(const char *config_path, struct core **out, char *err, size_t errlen)
{
	struct core *c = calloc(1, sizeof(*c));
	struct group *gr;
	int rc;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->ns_lock, NULL);
	rc = config_load(config_path, &c->cfg, err, errlen);
	if (!rc)
		rc = keyring_load(c->cfg->keyring_path, &c->keys, err, errlen);
	if (!rc)
		rc = meta_open(c->cfg->meta_path, false, &c->meta, err, errlen);
	if (!rc)
		rc = store_open(c->cfg, false, &c->store, err, errlen);
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
	if (!c->cache || !c->files) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (c->cfg->admin_group[0]) {
		gr = getgrnam(c->cfg->admin_group);
		if (gr) {
			c->have_admin_gid = true;
			c->admin_gid = gr->gr_gid;
		} else {
			log_warn("admin_group '%s' does not exist: only root may loosen tags",
				 c->cfg->admin_group);
		}
	}
	*out = c;
	return 0;
fail:
	core_close(c);
	return rc;
}

int core_start(struct core *c, char *err, size_t errlen)
{
	return audit_open(c->cfg->audit_path, c->cfg->site_name, c->cfg->audit_sync_ms, &c->audit,
			  err, errlen);
}

void core_close(struct core *c)
{
	if (!c)
		return;
	audit_close(c->audit);
	gtable_free(c->files);
	scache_free(c->cache);
	store_close(c->store);
	meta_close(c->meta);
	keyring_free(c->keys);
	config_free(c->cfg);
	pthread_mutex_destroy(&c->ns_lock);
	free(c);
}

void core_dirname(const char *path, char *buf, size_t len)
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

int core_dirfd_tags(struct core *c, int dirfd, const char *dirpath, struct geo_tags *t)
{
	char parent[4096];
	int rc = stored_tags(c, dirfd, t);

	if (rc != -ENODATA)
		return rc;
	if (strcmp(dirpath, "/") == 0) {
		default_tags(c, t);
		return 0;
	}
	core_dirname(dirpath, parent, sizeof(parent));
	rc = core_dir_tags(c, parent, t);
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
	int idx[CFG_MAX_BACKENDS];
	int n = policy_qualified(c->cfg, t->cat, t->origin, idx, CFG_MAX_BACKENDS);

	if (n >= c->cfg->cats[t->cat].replicas)
		return 0;
	policy_explain(c->cfg, t->cat, t->origin, why, len);
	return -EACCES;
}
