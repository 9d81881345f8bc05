/*
 * ops.c — the FUSE front end: each callback unpacks the request, makes one
 * core call, and returns its result. No policy lives here.
 */
#include <errno.h>
#include <fuse.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "ops.h"

#define ROOT_FLAG (UINT64_C(1) << 32)

static struct core *C(void)
{
	return fuse_get_context()->private_data;
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

static void *geo_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;
	/* Names may be cached briefly; attributes not at all: the high-level
	 * API gives each name of a hard-linked file its own kernel inode, and
	 * other mounts of the meta root change sizes, so the size must come
	 * from here whenever the kernel asks (it does so on stat and on reads
	 * that reach past the size it knows). */
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	return fuse_get_context()->private_data;
}

static int geo_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (fi && fi->fh)
		return core_fgetattr(C(), H(fi), st);
	return core_getattr(C(), path, st);
}

static int geo_readlink(const char *path, char *buf, size_t size)
{
	return core_readlink(C(), path, buf, size);
}

static int geo_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct geo_req r = req(false);
	return core_mknod(C(), &r, path, mode, rdev);
}

static int geo_mkdir(const char *path, mode_t mode)
{
	struct geo_req r = req(false);
	return core_mkdir(C(), &r, path, mode);
}

static int geo_unlink(const char *path)
{
	struct geo_req r = req(false);
	return core_unlink(C(), &r, path);
}

static int geo_rmdir(const char *path)
{
	struct geo_req r = req(false);
	return core_rmdir(C(), &r, path);
}

static int geo_symlink(const char *target, const char *path)
{
	struct geo_req r = req(false);
	return core_symlink(C(), &r, target, path);
}

static int geo_rename(const char *from, const char *to, unsigned int flags)
{
	struct geo_req r = req(false);
	return core_rename(C(), &r, from, to, flags);
}

static int geo_link(const char *from, const char *to)
{
	struct geo_req r = req(false);
	return core_link(C(), &r, from, to);
}

static int geo_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return core_chmod(C(), path, mode);
}

static int geo_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return core_chown(C(), path, uid, gid);
}

static int geo_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);

	if (fi && fi->fh)
		return core_ftruncate(C(), H(fi), size);
	return core_truncate(C(), &r, path, size);
}

static int geo_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return core_utimens(C(), path, tv);
}

static int geo_open(const char *path, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);
	struct geo_handle *h;
	bool keep = false;
	int rc = core_open_file(C(), &r, path, fi->flags, &h, &keep);

	if (rc)
		return rc;
	fi->fh = (uintptr_t)h;
	fi->keep_cache = keep;
	return 0;
}

static int geo_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct geo_req r = req(false);
	struct geo_handle *h;
	int rc = core_create(C(), &r, path, mode, fi->flags, &h);

	if (rc)
		return rc;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int geo_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	return (int)core_read(C(), H(fi), buf, size, off);
}

static int geo_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	return (int)core_write(C(), H(fi), buf, size, off);
}

static int geo_statfs(const char *path, struct statvfs *st)
{
	return core_statfs(C(), st);
}

static int geo_flush(const char *path, struct fuse_file_info *fi)
{
	return core_flush(C(), H(fi));
}

static int geo_release(const char *path, struct fuse_file_info *fi)
{
	return core_release(C(), H(fi));
}

static int geo_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return core_fsync(C(), H(fi), datasync);
}

static int geo_setxattr(const char *path, const char *name, const char *value, size_t size,
			int flags)
{
	struct geo_req r = req(true);
	return core_setxattr(C(), &r, path, name, value, size, flags);
}

static int geo_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct geo_req r = req(false);
	return (int)core_getxattr(C(), &r, path, name, value, size);
}

static int geo_listxattr(const char *path, char *list, size_t size)
{
	return (int)core_listxattr(C(), path, list, size);
}

static int geo_removexattr(const char *path, const char *name)
{
	struct geo_req r = req(true);
	return core_removexattr(C(), &r, path, name);
}

static int geo_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = core_opendir(C(), path);

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

	return core_readdir(C(), (int)(fi->fh & 0xffffffff), fi->fh & ROOT_FLAG, fill_one, &f);
}

static int geo_releasedir(const char *path, struct fuse_file_info *fi)
{
	core_closedir(C(), (int)(fi->fh & 0xffffffff));
	return 0;
}

static int geo_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	return fsync((int)(fi->fh & 0xffffffff)) < 0 ? -errno : 0;
}

static int geo_access(const char *path, int mask)
{
	struct stat st;
	/* default_permissions makes the kernel check modes; existence here. */
	return core_getattr(C(), path, &st);
}

static int geo_fallocate(const char *path, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	return core_fallocate(C(), H(fi), mode, off, len);
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
