/*
 * ops.c — the FUSE front end: each callback unpacks the request, makes one
 * core call between in() and done() (core_enter/core_leave, so a config
 * reload never swaps the policy under a running call), and returns its
 * result. No policy lives here.
 */
#include <errno.h>
#include <fuse.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "ops.h"
#include "reload.h"
#include "stats.h"
#include "xattrs.h"

#define ROOT_FLAG (UINT64_C(1) << 32)

static struct core *C(void)
{
	return fuse_get_context()->private_data;
}

/* The core, entered for the duration of one callback; pair with done(). */
static struct core *in(void)
{
	struct core *c = C();

	core_enter(c);
	return c;
}

/* Leaves the core entered by in(), and at -o loglevel=debug logs one line
 * per call: what, on which path, for whom, and how it ended (a count, or
 * the errno's name). */
static int done(struct core *c, const char *op, const char *path, long rc)
{
	core_leave(c);
	if (log_enabled(LOG_LVL_DEBUG)) {
		struct fuse_context *ctx = fuse_get_context();
		char epath[1024], res[32];
		const char *en = rc < 0 ? strerrorname_np((int)-rc) : NULL;

		if (en)
			snprintf(res, sizeof(res), "%s", en);
		else
			snprintf(res, sizeof(res), "%ld", rc);
		log_event(LOG_LVL_DEBUG, op, path, NULL, "op %s %s (uid %u pid %d): %s", op,
			  path ? log_escape(path, epath, sizeof(epath)) : "-", (unsigned)ctx->uid,
			  (int)ctx->pid, res);
	}
	return (int)rc;
}

/* user.geo.stats / user.geo.reload: only on the mount root. */
static bool root_attr(const char *path, const char *name, const char *which)
{
	return strcmp(path, "/") == 0 && strcmp(name, which) == 0;
}

static struct geo_req req(bool groups)
{
	struct fuse_context *ctx = fuse_get_context();
	struct geo_req r = { .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid, .ngroups = -1 };

	if (groups) {
		int n = fuse_getgroups(GEO_MAX_GROUPS, r.groups);
		r.ngroups = n < 0 ? 0 : (n > GEO_MAX_GROUPS ? GEO_MAX_GROUPS : n);
	}
	return r;
}

static struct geo_handle *H(struct fuse_file_info *fi)
{
	return (struct geo_handle *)(uintptr_t)fi->fh;
}

/* The core's hook to drop the kernel's cache of one path (see links.h). */
static void inval_path(void *arg, const char *path)
{
	fuse_invalidate_path(arg, path);
}

static void *geo_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;
	struct core *c = fuse_get_context()->private_data;

	/* The kernel caches names and attributes for -o attr_cache seconds
	 * (default 1; other mounts of the meta root rename, remove and resize
	 * files meanwhile), and what could go stale is dropped explicitly: a
	 * file's attributes at each open (close-to-open), and every other name
	 * of a hard-linked file when it changes through one (links.h; the
	 * high-level API gives each name its own kernel inode). 0 turns the
	 * attribute cache off. Negative lookups are never cached, so a file
	 * created on another mount is seen at once. */
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = c->attr_cache;
	cfg->negative_timeout = 0;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	/* Page caches are dropped at open (close-to-open coherence); asking
	 * for the size before every read would double the requests. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	c->inval_arg = fuse_get_context()->fuse;
	c->inval_path = inval_path;
	return c;
}

static int geo_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct core *c = in();

	if (fi && fi->fh)
		return done(c, "getattr", path, core_fgetattr(c, H(fi), st));
	return done(c, "getattr", path, core_getattr(c, path, st));
}

static int geo_readlink(const char *path, char *buf, size_t size)
{
	struct core *c = in();
	return done(c, "readlink", path, core_readlink(c, path, buf, size));
}

static int geo_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "mknod", path, core_mknod(c, &r, path, mode, rdev));
}

static int geo_mkdir(const char *path, mode_t mode)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "mkdir", path, core_mkdir(c, &r, path, mode));
}

static int geo_unlink(const char *path)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "unlink", path, core_unlink(c, &r, path));
}

static int geo_rmdir(const char *path)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "rmdir", path, core_rmdir(c, &r, path));
}

static int geo_symlink(const char *target, const char *path)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "symlink", path, core_symlink(c, &r, target, path));
}

static int geo_rename(const char *from, const char *to, unsigned int flags)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "rename", from, core_rename(c, &r, from, to, flags));
}

static int geo_link(const char *from, const char *to)
{
	struct geo_req r = req(false);
	struct core *c = in();
	return done(c, "link", from, core_link(c, &r, from, to));
}

static int geo_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "chmod", path, core_chmod(c, path, mode));
}

static int geo_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "chown", path, core_chown(c, path, uid, gid));
}

static int geo_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);
	struct core *c = in();

	if (fi && fi->fh)
		return done(c, "truncate", path, core_ftruncate(c, H(fi), size));
	return done(c, "truncate", path, core_truncate(c, &r, path, size));
}

static int geo_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "utimens", path, core_utimens(c, path, tv));
}

static int geo_open(const char *path, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);
	struct geo_handle *h;
	bool keep = false;
	struct core *c = in();
	int rc = done(c, "open", path, core_open_file(c, &r, path, fi->flags, &h, &keep));

	if (rc)
		return rc;
	fi->fh = (uintptr_t)h;
	fi->keep_cache = keep;
	/* Close-to-open: what the kernel cached of this file may predate a
	 * change made by another mount; have it ask again. */
	if (c->attr_cache > 0)
		inval_path(c->inval_arg, path);
	return 0;
}

static int geo_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);
	struct geo_handle *h;
	struct core *c = in();
	int rc = done(c, "create", path, core_create(c, &r, path, mode, fi->flags, &h));

	if (rc)
		return rc;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int geo_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "read", path, core_read(c, H(fi), buf, size, off));
}

static int geo_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct core *c = in();
	/* Page writeback (mmap) writes in place even on an O_APPEND handle. */
	return done(c, "write", path, core_write(c, H(fi), buf, size, off, fi->writepage));
}

static int geo_statfs(const char *path, struct statvfs *st)
{
	struct core *c = in();
	return done(c, "statfs", path, core_statfs(c, st));
}

static int geo_flush(const char *path, struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "flush", path, core_flush(c, H(fi)));
}

static int geo_release(const char *path, struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "release", path, core_release(c, H(fi)));
}

static int geo_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "fsync", path, core_fsync(c, H(fi), datasync));
}

static int geo_setxattr(const char *path, const char *name, const char *value, size_t size,
			int flags)
{
	struct geo_req r = req(true);
	struct core *c;

	/* A reload takes the core exclusively itself: never entered here. */
	if (root_attr(path, name, XA_RELOAD))
		return core_reload_xattr(C(), &r);
	c = in();
	return done(c, "setxattr", path, core_setxattr(c, &r, path, name, value, size, flags));
}

static int geo_getxattr(const char *path, const char *name, char *value, size_t size)
{
	bool stats = root_attr(path, name, XA_STATS);
	struct geo_req r = req(stats);
	struct core *c = in();

	if (stats)
		return done(c, "getxattr", path, core_stats_xattr(c, &r, value, size));
	return done(c, "getxattr", path, core_getxattr(c, &r, path, name, value, size));
}

static int geo_listxattr(const char *path, char *list, size_t size)
{
	struct core *c = in();
	return done(c, "listxattr", path, core_listxattr(c, path, list, size));
}

static int geo_removexattr(const char *path, const char *name)
{
	struct geo_req r = req(true);
	struct core *c = in();
	return done(c, "removexattr", path, core_removexattr(c, &r, path, name));
}

static int geo_opendir(const char *path, struct fuse_file_info *fi)
{
	struct core *c = in();
	int fd = done(c, "opendir", path, core_opendir(c, path));

	if (fd < 0)
		return fd;
	/* Bit 32 marks the root, whose listing hides the reserved .geofs. */
	fi->fh = (uint64_t)fd | (strcmp(path, "/") == 0 ? ROOT_FLAG : 0);
	return 0;
}

struct fill_ctx {
	fuse_fill_dir_t fill;
	void *buf;
};

static int fill_one(void *arg, const char *name, const struct stat *st)
{
	struct fill_ctx *f = arg;
	return f->fill(f->buf, name, st, 0, 0);
}

static int geo_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fill_ctx f = { filler, buf };
	struct core *c = in();

	return done(c, "readdir", path, core_readdir(c, (int)(fi->fh & 0xffffffff), fi->fh & ROOT_FLAG, fill_one, &f));
}

static int geo_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct core *c = in();

	core_closedir(c, (int)(fi->fh & 0xffffffff));
	return done(c, "releasedir", path, 0);
}

static int geo_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	return fsync((int)(fi->fh & 0xffffffff)) < 0 ? -errno : 0;
}

static int geo_access(const char *path, int mask)
{
	struct stat st;
	struct core *c = in();

	/* default_permissions makes the kernel check modes; existence here. */
	return done(c, "access", path, core_getattr(c, path, &st));
}

static int geo_fallocate(const char *path, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct core *c = in();
	return done(c, "fallocate", path, core_fallocate(c, H(fi), mode, off, len));
}

const struct fuse_operations geo_ops = {
	.init = geo_init,
	.getattr = geo_getattr,
	.readlink = geo_readlink,
	.mknod = geo_mknod,
	.mkdir = geo_mkdir,
	.unlink = geo_unlink,
	.rmdir = geo_rmdir,
	.symlink = geo_symlink,
	.rename = geo_rename,
	.link = geo_link,
	.chmod = geo_chmod,
	.chown = geo_chown,
	.truncate = geo_truncate,
	.open = geo_open,
	.read = geo_read,
	.write = geo_write,
	.statfs = geo_statfs,
	.flush = geo_flush,
	.release = geo_release,
	.fsync = geo_fsync,
	.setxattr = geo_setxattr,
	.getxattr = geo_getxattr,
	.listxattr = geo_listxattr,
	.removexattr = geo_removexattr,
	.opendir = geo_opendir,
	.readdir = geo_readdir,
	.releasedir = geo_releasedir,
	.fsyncdir = geo_fsyncdir,
	.access = geo_access,
	.create = geo_create,
	.utimens = geo_utimens,
	.fallocate = geo_fallocate,
};
