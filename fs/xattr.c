/*
 * xattr.c — extended attributes on the mount: the user.geo.* interface
 * (xattrs.h) with its validation and tag rules, and plain user.* attributes
 * kept on the entry in the meta root.
 *
 * Tag rules: a value must be exactly a declared category / an ISO 3166-1
 * alpha-2 code, byte for byte (else EINVAL). The entry's owner may tighten (new store and access
 * sets each a subset of the old, same origin); anything else needs root or
 * the admin group (else EPERM). A retag never moves data: shards left
 * where the new tags forbid make the file misplaced until it is migrated
 * (where no compliant placement exists, migration and new writes fail
 * with EACCES).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core.h"
#include "gfile.h"
#include "info_text.h"
#include "log.h"
#include "policy.h"
#include "xattrs.h"

#define INFO_MAX 8192

/* An entry of the namespace, opened for xattr work. */
struct entry {
	struct stat st;
	int fd;			/* O_RDONLY fd for regular files and dirs, else -1 */
	char *dir;		/* parent directory path (malloc'ed) */
};

static int entry_open(struct core *c, const char *path, struct entry *e)
{
	const char *name;
	int dfd, rc;

	if (meta_reserved(path))
		return -ENOENT;
	rc = meta_parent(c->meta, path, &dfd, &name);
	if (rc)
		return rc;
	e->fd = -1;
	e->dir = NULL;
	rc = fstatat(dfd, name, &e->st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (!rc && (S_ISREG(e->st.st_mode) || S_ISDIR(e->st.st_mode))) {
		e->fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (e->fd < 0)
			rc = -errno;
	}
	meta_put_dir(c->meta, dfd);
	if (!rc && !(e->dir = core_dirname_dup(path)))
		rc = -ENOMEM;
	if (rc && e->fd >= 0) {
		close(e->fd);
		e->fd = -1;
	}
	return rc;
}

static void entry_close(struct entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->dir);
}

/* Returns the value in the getxattr convention (size 0: length only). */
static long reply(const char *val, size_t len, char *buf, size_t size)
{
	if (size == 0)
		return (long)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, val, len);
	return (long)len;
}

static int dir_info(struct core *c, const struct geo_tags *t, char *buf, size_t len)
{
	struct info_text it = { .is_file = false };

	info_text_tags(&it, c->cfg, t);
	return (int)info_text_format(&it, buf, len);
}

/* Tags of an entry: a file's own, a directory's effective defaults. */
static int entry_tags(struct core *c, struct entry *e, const char *path, struct geo_tags *t)
{
	if (S_ISDIR(e->st.st_mode))
		return core_dirfd_tags(c, e->fd, path, t);
	if (S_ISREG(e->st.st_mode)) {
		struct gfile *gf;
		int rc = gfile_get_meta(&c->eng, e->fd, &gf);
		if (rc)
			return rc;
		gfile_tags(gf, t);
		gfile_put(&c->eng, gf);
		return 0;
	}
	return -ENODATA;
}

/* The read-only per-file attributes: placement, status, info. */
static long file_attr(struct core *c, struct entry *e, const char *name, char *buf, size_t size)
{
	struct gfile *gf;
	char *val = malloc(INFO_MAX);
	long rc;

	if (!val)
		return -ENOMEM;
	rc = gfile_get_meta(&c->eng, e->fd, &gf);
	if (rc)
		goto out;
	if (strcmp(name, XA_PLACEMENT) == 0)
		gfile_placement(&c->eng, gf, val, INFO_MAX);
	else if (strcmp(name, XA_STATUS) == 0)
		gfile_status(&c->eng, gf, val, INFO_MAX);
	else
		gfile_info(&c->eng, gf, val, INFO_MAX);
	gfile_put(&c->eng, gf);
	rc = reply(val, strlen(val), buf, size);
out:
	free(val);
	return rc;
}

static long geo_get(struct core *c, struct entry *e, const char *path, const char *name,
		    char *buf, size_t size)
{
	struct geo_tags t;
	char info[1024];
	long rc;

	if (strcmp(name, XA_CATEGORY) == 0 || strcmp(name, XA_ORIGIN) == 0) {
		rc = entry_tags(c, e, path, &t);
		if (rc)
			return rc;
		const char *v = strcmp(name, XA_CATEGORY) == 0 ? c->cfg->cats[t.cat].name
							     : country_code(t.origin);
		return reply(v, strlen(v), buf, size);
	}
	if (S_ISREG(e->st.st_mode) && (strcmp(name, XA_PLACEMENT) == 0 ||
				       strcmp(name, XA_STATUS) == 0 || strcmp(name, XA_INFO) == 0))
		return file_attr(c, e, name, buf, size);
	if (S_ISDIR(e->st.st_mode) && strcmp(name, XA_INFO) == 0) {
		rc = core_dirfd_tags(c, e->fd, path, &t);
		if (rc)
			return rc;
		int n = dir_info(c, &t, info, sizeof(info));
		return reply(info, (size_t)n, buf, size);
	}
	return -ENODATA;
}

long core_getxattr(struct core *c, const struct geo_req *r, const char *path, const char *name,
		   char *buf, size_t size)
{
	struct entry e;
	long rc;

	/* Only user.* exists here; the kernel asks for security.capability
	 * before every write, so answer that without touching the meta root. */
	if (strncmp(name, XA_RESERVED, strlen(XA_RESERVED)) == 0 || strncmp(name, "user.", 5) != 0)
		return -ENODATA;
	rc = entry_open(c, path, &e);
	if (rc)
		return rc;
	if (strncmp(name, XA_PREFIX, strlen(XA_PREFIX)) == 0) {
		rc = geo_get(c, &e, path, name, buf, size);
	} else if (strncmp(name, "user.", 5) == 0 && e.fd >= 0) {
		ssize_t n = fgetxattr(e.fd, name, buf, size);
		rc = n < 0 ? -errno : n;
	} else {
		rc = -ENODATA;
	}
	entry_close(&e);
	return rc;
}

/* Takes a tag value as exactly the bytes given: the caller's name of a
 * declared category or an upper-case country code, nothing added (no
 * trailing NUL or newline, no blanks, no case folding), so that what is
 * stored, audited and reported is what was asked for (docs/guarantees.md). */
static int tag_value(const char *value, size_t size, char *out, size_t outlen)
{
	if (size == 0 || size >= outlen || memchr(value, '\0', size))
		return -EINVAL;
	memcpy(out, value, size);
	out[size] = '\0';
	return 0;
}

/* Applies the tighten/loosen rules for a change of t0 to t1. */
static int may_retag(struct core *c, const struct geo_req *r, const struct entry *e,
		     const struct geo_tags *t0, const struct geo_tags *t1)
{
	if (core_is_admin(c, r))
		return 0;
	if (r->uid != e->st.st_uid)
		return -EPERM;
	if (t0->origin != t1->origin)
		return -EPERM;
	return policy_is_tightening(c->cfg, t0->cat, t0->origin, t1->cat, t1->origin) ? 0 : -EPERM;
}

/* Sets the tags of an entry to t1 (files: rewrap; dirs: new defaults). */
static int apply_tags(struct core *c, struct entry *e, const struct geo_tags *t1)
{
	if (S_ISDIR(e->st.st_mode))
		return tags_dir_set(c->cfg, e->fd, t1);
	struct gfile *gf;
	int rc = gfile_get_meta(&c->eng, e->fd, &gf);

	if (rc)
		return rc;
	rc = gfile_retag(&c->eng, gf, t1);
	gfile_put(&c->eng, gf);
	return rc;
}

/* Changes one tag. value NULL: back to the parent directory's value. */
static int set_tag(struct core *c, const struct geo_req *r, struct entry *e, const char *path,
		   const char *name, const char *value, size_t size)
{
	bool is_cat = strcmp(name, XA_CATEGORY) == 0;
	unsigned bit = is_cat ? MANIFEST_CAT_SET : MANIFEST_ORIGIN_SET;
	struct geo_tags t0, t1, parent;
	char v[CFG_NAME_MAX];
	int rc;

	if (!S_ISREG(e->st.st_mode) && !S_ISDIR(e->st.st_mode))
		return -EPERM;
	rc = entry_tags(c, e, path, &t0);
	if (rc)
		return rc;
	t1 = t0;
	if (value) {
		if (tag_value(value, size, v, sizeof(v)))
			return -EINVAL;
		int idx = is_cat ? config_category(c->cfg, v) : country_index(v);
		if (idx < 0)
			return -EINVAL;
		*(is_cat ? &t1.cat : &t1.origin) = idx;
		t1.flags |= bit;
	} else {
		if (strcmp(path, "/") == 0) {
			parent.cat = c->cfg->default_category;
			parent.origin = c->cfg->default_origin;
		} else if ((rc = core_dir_tags(c, e->dir, &parent))) {
			return rc;
		}
		*(is_cat ? &t1.cat : &t1.origin) = is_cat ? parent.cat : parent.origin;
		t1.flags &= ~bit;
	}
	rc = may_retag(c, r, e, &t0, &t1);
	if (!rc)
		rc = apply_tags(c, e, &t1);
	if (!rc)	/* refusals: tag_refused() */
		core_audit_retag(c, r, path, &t0, &t1, rc, value ? NULL : "reset to parent");
	return rc;
}

/* The log line of a refused user.geo.* change (info: it answers "why did
 * my setfattr fail", and is an event for the journal). */
static void log_refused(const char *event, const char *path, int rc, const char *detail)
{
	char epath[1024];
	const char *en = strerrorname_np(-rc);

	log_event(LOG_LVL_INFO, event, path, NULL, "setxattr on %s refused (%s): %s",
		  log_escape(path, epath, sizeof(epath)), en ? en : "error", detail);
}

/* Why set_tag() refused: from its errno and the attempted value. */
static void refusal_reason(struct core *c, const struct geo_req *r, const struct entry *e,
			   bool is_cat, const char *value, size_t size, int rc,
			   char *why, size_t len)
{
	char v[CFG_NAME_MAX], ev[4 * CFG_NAME_MAX];

	if (rc == -EINVAL && value && tag_value(value, size, v, sizeof(v)) != 0) {
		snprintf(why, len, "the value is empty, longer than %d bytes or holds a NUL byte",
			 CFG_NAME_MAX - 1);
	} else if (rc == -EINVAL && value && is_cat && config_category(c->cfg, v) < 0) {
		int n = snprintf(why, len, "'%s' is not a declared category (declared:",
				 log_escape(v, ev, sizeof(ev)));
		for (int i = 0; i < c->cfg->ncats && n > 0 && (size_t)n < len; i++)
			n += snprintf(why + n, len - (size_t)n, " %s", c->cfg->cats[i].name);
		if (n > 0 && (size_t)n < len)
			snprintf(why + n, len - (size_t)n, ")");
	} else if (rc == -EINVAL && value && !is_cat && country_index(v) < 0) {
		snprintf(why, len, "'%s' is not an ISO 3166-1 alpha-2 country code",
			 log_escape(v, ev, sizeof(ev)));
	} else if (rc == -EPERM && !S_ISREG(e->st.st_mode) && !S_ISDIR(e->st.st_mode)) {
		snprintf(why, len, "only files and directories carry tags");
	} else if (rc == -EPERM && r->uid != e->st.st_uid) {
		snprintf(why, len, "only the owner (tightening), root or the admin group may "
			 "change the tags");
	} else if (rc == -EPERM) {
		snprintf(why, len, "loosening the tags or changing the origin needs root or the "
			 "admin group; the owner may only tighten them");
	} else if (rc == -EACCES) {
		snprintf(why, len, "this site cannot hold the file under the new tags (its keyring "
			 "lacks their key domain, or no allowed backend is usable)");
	} else {
		snprintf(why, len, "%s", strerror(-rc));
	}
}

/* The one reporting point of a refused tag change: the log (info) and
 * the audit log (op "settag-refused", with the current tags, the attempted
 * value and the reason in detail). */
static void tag_refused(struct core *c, const struct geo_req *r, struct entry *e,
			const char *path, const char *name, const char *value, size_t size,
			int rc)
{
	bool is_cat = strcmp(name, XA_CATEGORY) == 0;
	char why[1024], detail[1536], ev[4 * CFG_NAME_MAX], raw[CFG_NAME_MAX];
	struct geo_tags t0;
	bool have = entry_tags(c, e, path, &t0) == 0;

	refusal_reason(c, r, e, is_cat, value, size, rc, why, sizeof(why));
	if (value) {
		size_t n = size < sizeof(raw) - 1 ? size : sizeof(raw) - 1;
		memcpy(raw, value, n);
		raw[n] = '\0';		/* a NUL inside ends it: the reason says so */
		snprintf(detail, sizeof(detail), "%s=%s: %s", name, log_escape(raw, ev, sizeof(ev)),
			 why);
	} else {
		snprintf(detail, sizeof(detail), "%s reset to the parent's: %s", name, why);
	}
	log_refused("settag-refused", path, rc, detail);
	core_audit(c, r, "settag-refused", NULL, path, NULL, have ? &t0 : NULL, rc, NULL, detail);
}

static int migrate(struct core *c, const struct geo_req *r, struct entry *e, const char *path,
		   const char *value, size_t size)
{
	struct geo_tags t;
	struct gfile *gf;
	bool spread = size == 6 && memcmp(value, "spread", 6) == 0;
	int rc;

	if (!S_ISREG(e->st.st_mode))
		return S_ISDIR(e->st.st_mode) ? -EISDIR : -EPERM;
	if (!core_is_admin(c, r) && r->uid != e->st.st_uid)
		return -EPERM;
	rc = gfile_get(&c->eng, e->fd, &gf);
	if (rc) {
		core_audit(c, r, "migrate", NULL, path, NULL, NULL, rc, NULL,
			   rc == -EACCES ? "this site's keyring lacks the file's key domain" : NULL);
		return rc;
	}
	rc = gfile_migrate(&c->eng, gf, spread);
	gfile_tags(gf, &t);
	gfile_put(&c->eng, gf);
	core_audit(c, r, "migrate", NULL, path, NULL, &t, rc, NULL, spread ? "spread" : NULL);
	return rc;
}

/* An application's own xattr, on the stub. A small file's manifest takes
 * up to META_INLINE_MAX bytes of the stub's xattr space: when that is what
 * leaves no room, the manifest moves to a manifest file and the call is
 * tried again, so the application keeps the space it would have natively. */
static int set_user_xattr(struct core *c, struct entry *e, const char *name,
			  const char *value, size_t size, int flags)
{
	struct gfile *gf;
	int rc = fsetxattr(e->fd, name, value, size, flags) < 0 ? -errno : 0;

	if (rc != -ENOSPC || !S_ISREG(e->st.st_mode) || gfile_get_meta(&c->eng, e->fd, &gf) != 0)
		return rc;
	if (gfile_unstub(&c->eng, gf) == 1)
		rc = fsetxattr(e->fd, name, value, size, flags) < 0 ? -errno : 0;
	gfile_put(&c->eng, gf);
	return rc;
}

int core_setxattr(struct core *c, const struct geo_req *r, const char *path, const char *name,
		  const char *value, size_t size, int flags)
{
	struct entry e;
	int rc;

	if (strncmp(name, XA_RESERVED, strlen(XA_RESERVED)) == 0)
		return -EPERM;
	rc = entry_open(c, path, &e);
	if (rc)
		return rc;
	if (strcmp(name, XA_CATEGORY) == 0 || strcmp(name, XA_ORIGIN) == 0) {
		rc = set_tag(c, r, &e, path, name, value, size);
		if (rc)
			tag_refused(c, r, &e, path, name, value, size, rc);
	} else if (strcmp(name, XA_MIGRATE) == 0) {
		rc = migrate(c, r, &e, path, value, size);
		if (rc)
			log_refused("migrate-refused", path, rc,
				    rc == -EACCES ? "user.geo.migrate: no compliant placement for "
				    "the file's tags is usable, or this site lacks its key domain" :
				    rc == -EPERM ? "user.geo.migrate: only the owner, root or the "
				    "admin group may migrate" : "user.geo.migrate failed");
	} else if (strncmp(name, XA_PREFIX, strlen(XA_PREFIX)) == 0) {
		rc = -EPERM;	/* placement, status, info are read-only */
		log_refused("setxattr-refused", path, rc, "user.geo.placement, status and info "
			    "are read-only");
	} else if (strncmp(name, "user.", 5) == 0 && e.fd >= 0) {
		rc = set_user_xattr(c, &e, name, value, size, flags);
	} else {
		rc = -EOPNOTSUPP;
	}
	entry_close(&e);
	return rc;
}

int core_removexattr(struct core *c, const struct geo_req *r, const char *path, const char *name)
{
	struct entry e;
	int rc;

	if (strncmp(name, XA_RESERVED, strlen(XA_RESERVED)) == 0)
		return -ENODATA;
	rc = entry_open(c, path, &e);
	if (rc)
		return rc;
	if (strcmp(name, XA_CATEGORY) == 0 || strcmp(name, XA_ORIGIN) == 0) {
		rc = set_tag(c, r, &e, path, name, NULL, 0);
		if (rc)
			tag_refused(c, r, &e, path, name, NULL, 0, rc);
	} else if (strncmp(name, XA_PREFIX, strlen(XA_PREFIX)) == 0) {
		rc = -EPERM;
	} else if (strncmp(name, "user.", 5) == 0 && e.fd >= 0) {
		rc = fremovexattr(e.fd, name) < 0 ? -errno : 0;
	} else {
		rc = -ENODATA;
	}
	entry_close(&e);
	return rc;
}

/* Appends a NUL-terminated name to the list (size 0: counts only). */
static long add_name(char *buf, size_t size, size_t *pos, const char *name)
{
	size_t n = strlen(name) + 1;

	if (size && *pos + n > size)
		return -ERANGE;
	if (size)
		memcpy(buf + *pos, name, n);
	*pos += n;
	return 0;
}

long core_listxattr(struct core *c, const char *path, char *buf, size_t size)
{
	static const char *const file_names[] = { XA_CATEGORY, XA_ORIGIN, XA_PLACEMENT, XA_STATUS,
						  XA_INFO };
	static const char *const dir_names[] = { XA_CATEGORY, XA_ORIGIN, XA_INFO };
	struct entry e;
	size_t pos = 0;
	long rc = entry_open(c, path, &e);

	if (rc)
		return rc;
	if (e.fd < 0)
		goto out;
	bool dir = S_ISDIR(e.st.st_mode);
	const char *const *names = dir ? dir_names : file_names;
	size_t n = dir ? 3 : 5;
	for (size_t i = 0; i < n && !rc; i++)
		rc = add_name(buf, size, &pos, names[i]);
	/* Plain user.* attributes, without geofs's own bookkeeping. */
	char *raw = NULL;
	ssize_t len = flistxattr(e.fd, NULL, 0);
	if (!rc && len > 0 && (raw = malloc((size_t)len))) {
		len = flistxattr(e.fd, raw, (size_t)len);
		for (ssize_t i = 0; !rc && i < len; i += (ssize_t)strlen(raw + i) + 1)
			if (strncmp(raw + i, "user.", 5) == 0 &&
			    strncmp(raw + i, XA_RESERVED, strlen(XA_RESERVED)) != 0)
				rc = add_name(buf, size, &pos, raw + i);
	}
	free(raw);
out:
	entry_close(&e);
	return rc ? rc : (long)pos;
}
