/*
 * core.c — what every operation of a geofs instance shares: the reload
 * bracket (core_enter/core_leave), tag resolution for directories, the
 * access and admin checks, and the audit helpers. Building and tearing
 * down an instance is instance.c's; placement checks are placement.c's.
 * Calls nothing of the open-file engine (gfile*.c), which stands above it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "links.h"
#include "placement.h"
#include "policy.h"
#include "preflight.h"

void core_resolve_admin(const struct geo_config *cfg, bool *have, gid_t *gid)
{
	int rc = preflight_admin_gid(cfg, gid);

	*have = rc == 0;
	if (rc == -ENOENT)
		log_warn("admin_group '%s' does not exist: only root may loosen tags",
			 cfg->admin_group);
}

void core_enter(struct core *c)
{
	pthread_rwlock_rdlock(&c->reload_lock);
}

void core_leave(struct core *c)
{
	pthread_rwlock_unlock(&c->reload_lock);
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
	int rc = tags_dir_get(c->cfg, dirfd, t);

	if (rc != -ENODATA)
		return rc;
	if (strcmp(dirpath, "/") == 0) {
		tags_default(c->cfg, t);
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
		rc = tags_dir_get(c->cfg, fd, t);
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

void core_audit_event(struct core *c, const struct audit_event *ev)
{
	if (ev->result == -EACCES || ev->result == -EPERM)
		__atomic_add_fetch(&c->stats.denied, 1, __ATOMIC_RELAXED);
	audit_record(c->audit, ev);
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

	core_audit_event(c, &ev);
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

	core_audit_event(c, &ev);
}

int core_check_access(struct core *c, const struct geo_tags *t)
{
	return policy_site_may_access(c->cfg, t->cat, t->origin) ? 0 : -EACCES;
}

int core_check_placement(struct core *c, const struct geo_tags *t, char *why, size_t len)
{
	return placement_check(&c->eng, t, why, len);
}
