/*
 * store_dir.c — the `dir` backend kind: objects as files in a directory
 * (store_kind.h; the layout is in store.h).
 *
 * Each backend is opened once as a directory fd. An object is written in
 * place, under its final random name in objects/ab/, with O_EXCL: nothing
 * refers to it until the manifest naming it is committed, which is after
 * the put returns, so no reader can meet it half-written, and a crash
 * mid-put leaves an orphan that fsck collects. (A temp file and a rename
 * would add a second directory update to every put, and small files are
 * mostly puts.) Durability: sync is one syncfs() of the backend's
 * filesystem (the front groups concurrent callers), sync_object an
 * fdatasync of the object and an fsync of its fan-out directory.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "marker.h"
#include "mkdirs.h"
#include "store.h"
#include "store_kind.h"

/* The handle is the directory fd, boxed. */
struct dir_backend {
	int fd;
	char path[PATH_MAX];		/* the configured directory, for messages */
	char last_error[PATH_MAX + 128];	/* why the last health check failed */
};

static int fd_of(void *h)
{
	return ((struct dir_backend *)h)->fd;
}

static int dir_open(const struct cfg_backend *cb, const char *cfgfile, bool create, void **h,
		    char *err, size_t errlen)
{
	struct dir_backend *d;
	int fd, rc;

	if (create && (rc = mkdir_p(cb->path, 0755, 0700)) < 0) {
		snprintf(err, errlen, "backend %s: cannot create %s: %s", cb->name, cb->path,
			 strerror(-rc));
		return rc;
	}
	fd = open(cb->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(err, errlen, "backend %s: %s does not exist: mount its storage "
				 "there, or for a local directory run: geoctl backend init -c %s "
				 "--create %s", cb->name, cb->path, cfgfile, cb->name);
		else
			snprintf(err, errlen, "backend %s: %s: %s", cb->name, cb->path,
				 strerror(-rc));
		return rc;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->fd = fd;
	snprintf(d->path, sizeof(d->path), "%s", cb->path);
	d->last_error[0] = '\0';
	*h = d;
	return 0;
}

static void dir_close(void *h)
{
	if (h) {
		close(fd_of(h));
		free(h);
	}
}

static long dir_marker_read(void *h, char *buf, size_t cap)
{
	return marker_read_file(fd_of(h), buf, cap);
}

static int dir_marker_write(void *h, const char *text, size_t len)
{
	return marker_write_file(fd_of(h), text, len);
}

static int dir_prepare(void *h)
{
	int rc = mkdir_at(fd_of(h), "objects", 0700);

	return rc ? rc : mkdir_at(fd_of(h), "tmp", 0700);
}

/* Opens the directory that holds rel ("objects/ab/<hex>", "tmp/<name>")
 * beneath the backend root fd, following no symlink on the way: a fan-out
 * or tmp directory swapped for a symlink must not lead a put, read or
 * delete outside the backend. Returns an O_PATH directory fd (for the *at
 * calls) with *base at rel's last component, or -errno (-ELOOP: symlink). */
static int open_parent(int fd, const char *rel, const char **base)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *slash = strrchr(rel, '/');
	char dir[STORE_RELPATH_MAX + 256];
	long pfd;

	if (!slash || (size_t)(slash - rel) >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, rel, (size_t)(slash - rel));
	dir[slash - rel] = '\0';
	*base = slash + 1;
	pfd = syscall(SYS_openat2, fd, dir, &how, sizeof(how));
	return pfd < 0 ? -errno : (int)pfd;
}

/* Opens objects/ab for an object's relpath, creating it if missing. */
static int open_fanout(int fd, const char *rel, const char **base)
{
	int pfd = open_parent(fd, rel, base);

	if (pfd == -ENOENT) {
		char dir[STORE_RELPATH_MAX];
		const char *sub;
		size_t n = sizeof("objects/ab") - 1;
		int ofd;

		memcpy(dir, rel, n);
		dir[n] = '\0';
		ofd = open_parent(fd, dir, &sub);
		if (ofd < 0)
			return ofd;
		int rc = mkdir_at(ofd, sub, 0700);
		close(ofd);
		if (rc)
			return rc;
		pfd = open_parent(fd, rel, base);
	}
	return pfd;
}

/* "objects/ab/<hex>": 256 fan-out directories, so none grows without bound. */
static void dir_object_relpath(const struct geo_id *oid, char out[STORE_RELPATH_MAX])
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(oid, hex);
	snprintf(out, STORE_RELPATH_MAX, "objects/%.2s/%s", hex, hex);
}

static int dir_put(void *h, const struct geo_id *oid, const void *obj, size_t len)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int pfd, ofd, rc;

	dir_object_relpath(oid, rel);
	pfd = open_fanout(fd_of(h), rel, &base);
	if (pfd < 0)
		return pfd;
	ofd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ofd < 0) {
		rc = -errno;
		close(pfd);
		return rc;
	}
	rc = fileio_write_all(ofd, obj, len);
	if (close(ofd) < 0 && !rc)
		rc = -errno;
	if (rc)
		unlinkat(pfd, base, 0);
	close(pfd);
	return rc;
}

/* Opens the fan-out directory holding object oid; *base is the object's
 * name in it. Close the result. */
static int object_dir(void *h, const struct geo_id *oid, char rel[STORE_RELPATH_MAX],
		      const char **base)
{
	dir_object_relpath(oid, rel);
	return open_parent(fd_of(h), rel, base);
}

static int open_object(void *h, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int pfd = object_dir(h, oid, rel, &base), ofd;

	if (pfd < 0)
		return pfd;
	ofd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ofd = ofd < 0 ? -errno : ofd;
	close(pfd);
	return ofd;
}

static long dir_get(void *h, const struct geo_id *oid, void *buf, size_t cap)
{
	struct stat st;
	int fd = open_object(h, oid);
	long rc;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EIO;
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		rc = -EFBIG;
		goto out;
	}
	rc = fileio_pread_full(fd, buf, (size_t)st.st_size, 0);
out:
	close(fd);
	return rc;
}

static void dir_willneed(void *h, const struct geo_id *oid)
{
	int fd = open_object(h, oid);

	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

static long dir_size(void *h, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	struct stat st;
	int pfd = object_dir(h, oid, rel, &base);
	long rc;

	if (pfd < 0)
		return pfd;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else
		rc = S_ISREG(st.st_mode) ? (long)st.st_size : -EIO;
	close(pfd);
	return rc;
}

static int dir_remove(void *h, const struct geo_id *oid, uint64_t *size)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	struct stat st;
	int pfd = object_dir(h, oid, rel, &base), rc;

	if (pfd < 0)
		return pfd;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		st.st_size = 0;
	rc = unlinkat(pfd, base, 0) < 0 ? -errno : 0;
	close(pfd);
	*size = (uint64_t)st.st_size;
	return rc;
}

static int dir_sync(void *h)
{
	return syncfs(fd_of(h)) < 0 ? -errno : 0;
}

static int dir_sync_object(void *h, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int pfd = object_dir(h, oid, rel, &base), ofd, rc = 0;

	if (pfd < 0)
		return pfd;
	/* pfd is O_PATH, which fsync refuses: open the directory itself. */
	int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ofd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0 || dfd < 0 || fdatasync(ofd) < 0 || fsync(dfd) < 0)
		rc = -errno;
	if (ofd >= 0)
		close(ofd);
	if (dfd >= 0)
		close(dfd);
	close(pfd);
	return rc;
}

static int dir_health(void *h, uint64_t *avail)
{
	struct dir_backend *db = h;
	struct statvfs sv;

	if (fstatvfs(db->fd, &sv) < 0 ||
	    faccessat(db->fd, "objects", W_OK | X_OK, AT_EACCESS) < 0) {
		int rc = -errno;

		snprintf(db->last_error, sizeof(db->last_error), "%s/objects: %s",
			 db->path, strerror(-rc));
		return rc;
	}
	db->last_error[0] = '\0';
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

static void dir_last_error(void *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((struct dir_backend *)h)->last_error);
}

static int dir_statfs(void *h, struct statvfs *sv, dev_t *dev)
{
	struct stat st;

	if (fstatvfs(fd_of(h), sv) < 0 || fstat(fd_of(h), &st) < 0)
		return -errno;
	*dev = st.st_dev;
	return 0;
}

static bool hexname(const char *name, size_t len)
{
	if (strlen(name) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Calls fn for each entry of directory rel under fd; depth 0 are object
 * files, depth > 0 fan-out directories. Under objects/, whatever is not a
 * fan-out directory or a regular file with an object name is passed with
 * oid NULL too (misnamed: fsck reports it); dot-names are skipped (NFS
 * silly-renames and the like belong to the filesystem). */
static int walk_dir(int fd, const char *rel, int depth, store_walk_fn fn, void *arg)
{
	int dfd = openat(fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
	bool in_objects = strncmp(rel, "objects", 7) == 0;
	struct dirent *de;
	DIR *d;

	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while (!rc && (de = readdir(d))) {
		char sub[STORE_RELPATH_MAX + 256];
		struct geo_id oid;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		if (fstatat(fd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (depth > 0 && S_ISDIR(st.st_mode) && hexname(de->d_name, 2))
			rc = walk_dir(fd, sub, depth - 1, fn, arg);
		else if (depth == 0 && S_ISREG(st.st_mode) && in_objects &&
			 hexname(de->d_name, GEO_HEX_LEN) && geoid_parse(de->d_name, &oid) == 0)
			rc = fn(&oid, sub, (uint64_t)st.st_size, arg);
		else if (S_ISREG(st.st_mode) || in_objects)
			rc = fn(NULL, sub, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, arg);
	}
	closedir(d);
	return rc;
}

static int dir_walk(void *h, store_walk_fn fn, void *arg)
{
	int rc = walk_dir(fd_of(h), "objects", 1, fn, arg);

	return rc ? rc : walk_dir(fd_of(h), "tmp", 0, fn, arg);
}

static int dir_remove_relpath(void *h, const char *relpath)
{
	const char *base;
	int pfd, rc;

	if (strstr(relpath, "..") || relpath[0] == '/')
		return -EINVAL;
	pfd = open_parent(fd_of(h), relpath, &base);
	if (pfd < 0)
		return pfd;
	rc = unlinkat(pfd, base, 0) < 0 ? -errno : 0;
	close(pfd);
	return rc;
}

const struct store_kind store_kind_dir = {
	.name = "dir",
	.open = dir_open,
	.close = dir_close,
	.marker_read = dir_marker_read,
	.marker_write = dir_marker_write,
	.prepare = dir_prepare,
	.put = dir_put,
	.get = dir_get,
	.willneed = dir_willneed,
	.size = dir_size,
	.remove = dir_remove,
	.sync = dir_sync,
	.sync_object = dir_sync_object,
	.health = dir_health,
	.statfs = dir_statfs,
	.walk = dir_walk,
	.remove_relpath = dir_remove_relpath,
	.object_relpath = dir_object_relpath,
	.last_error = dir_last_error,
};
