/*
 * store.c — shard objects on directory backends (see store.h).
 *
 * Each backend is opened once as a directory fd; objects are written to
 * tmp/ and renamed into objects/ab/cd/ so a reader never sees a partial
 * object. Durability is per backend: store_sync() issues one syncfs() for
 * everything put since the previous sync, which is what a commit needs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "store.h"

struct backend {
	int fd;			/* O_DIRECTORY fd of the backend root, -1 if unusable */
	bool dirty;		/* objects put since the last sync */
	bool failed;		/* an I/O error since the last refresh */
	struct backend_state st;
	time_t checked;		/* last refresh of st */
};

struct store {
	const struct geo_config *cfg;
	pthread_mutex_t lock;	/* guards every struct backend field but fd */
	struct backend b[CFG_MAX_BACKENDS];
};

void store_relpath(const struct geo_id *oid, char out[STORE_RELPATH_MAX])
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(oid, hex);
	snprintf(out, STORE_RELPATH_MAX, "objects/%.2s/%.2s/%s", hex, hex + 2, hex);
}

static int mkdir_at(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int store_init_backend(const char *path, char *err, size_t errlen)
{
	int fd, mfd, rc;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create backend directory: %s", path, strerror(errno));
		return rc;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	rc = mkdir_at(fd, "objects");
	if (!rc)
		rc = mkdir_at(fd, "tmp");
	if (!rc) {
		mfd = openat(fd, STORE_MARKER, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (mfd < 0)
			rc = -errno;
		else
			close(mfd);
	}
	if (rc)
		snprintf(err, errlen, "%s: cannot initialise backend: %s", path, strerror(-rc));
	close(fd);
	return rc;
}

static int backend_open(const struct cfg_backend *cb, char *err, size_t errlen)
{
	int fd = open(cb->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "backend %s: %s: %s", cb->name, cb->path, strerror(errno));
		return rc;
	}
	/* objects/ and tmp/ are created on first use of a fresh directory. */
	if (mkdir_at(fd, "objects") < 0 || mkdir_at(fd, "tmp") < 0) {
		int rc = -errno;
		snprintf(err, errlen, "backend %s: %s: cannot create objects/ or tmp/: %s",
			 cb->name, cb->path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int store_open(const struct geo_config *cfg, bool strict, struct store **out,
	       char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < cfg->nbackends; i++) {
		char msg[512];
		int fd = backend_open(&cfg->backends[i], msg, sizeof(msg));

		if (fd < 0 && strict) {
			snprintf(err, errlen, "%s", msg);
			s->b[i].fd = -1;
			for (int j = 0; j < i; j++)
				close(s->b[j].fd);
			free(s);
			return fd;
		}
		if (fd < 0)
			log_warn("%s (backend unusable until it appears)", msg);
		s->b[i].fd = fd;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->cfg->nbackends; i++)
		if (s->b[i].fd >= 0)
			close(s->b[i].fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Retries opening a backend that was missing at mount time. */
static int backend_fd(struct store *s, int b)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	fd = s->b[b].fd;
	if (fd < 0) {
		char msg[512];
		fd = backend_open(&s->cfg->backends[b], msg, sizeof(msg));
		if (fd >= 0) {
			log_info("backend %s is now available", s->cfg->backends[b].name);
			s->b[b].fd = fd;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return fd < 0 ? -ENOENT : fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates objects/ab/cd for an object id if it is missing. */
static int make_fanout(int fd, const char *rel)
{
	char dir[STORE_RELPATH_MAX];
	int rc;

	memcpy(dir, rel, sizeof("objects/ab") - 1);
	dir[sizeof("objects/ab") - 1] = '\0';
	rc = mkdir_at(fd, dir);
	if (rc)
		return rc;
	memcpy(dir, rel, sizeof("objects/ab/cd") - 1);
	dir[sizeof("objects/ab/cd") - 1] = '\0';
	return mkdir_at(fd, dir);
}

int store_put(struct store *s, int b, const void *obj, size_t len, struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX], tmp[sizeof("tmp/") + GEO_HEX_LEN + sizeof(".tmp")];
	char hex[GEO_HEX_LEN + 1];
	int fd = backend_fd(s, b), ofd, rc;

	if (fd < 0)
		return fd;
	rc = crypto_random(oid->b, sizeof(oid->b));
	if (rc)
		return rc;
	geoid_hex(oid, hex);
	snprintf(tmp, sizeof(tmp), "tmp/%s.tmp", hex);
	store_relpath(oid, rel);

	ofd = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ofd < 0 && errno == ENOENT && mkdir_at(fd, "tmp") == 0)
		ofd = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ofd < 0)
		return -errno;
	rc = write_all(ofd, obj, len);
	if (close(ofd) < 0 && !rc)
		rc = -errno;
	if (!rc) {
		if (renameat(fd, tmp, fd, rel) < 0) {
			rc = -errno;
			if (rc == -ENOENT) {
				rc = make_fanout(fd, rel);
				if (!rc && renameat(fd, tmp, fd, rel) < 0)
					rc = -errno;
			}
		}
	}
	if (rc) {
		unlinkat(fd, tmp, 0);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	s->b[b].dirty = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int open_object(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	int fd = backend_fd(s, b), ofd;

	if (fd < 0)
		return fd;
	store_relpath(oid, rel);
	ofd = openat(fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return ofd < 0 ? -errno : ofd;
}

long store_get(struct store *s, int b, const struct geo_id *oid, void *buf, size_t cap)
{
	struct stat st;
	size_t done = 0;
	int fd = open_object(s, b, oid);
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
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, (char *)buf + done, (size_t)st.st_size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	rc = (long)done;
out:
	close(fd);
	return rc;
}

long store_size(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	struct stat st;
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	store_relpath(oid, rel);
	if (fstatat(fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st.st_mode) ? (long)st.st_size : -EIO;
}

int store_delete(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	store_relpath(oid, rel);
	return unlinkat(fd, rel, 0) < 0 ? -errno : 0;
}

int store_sync(struct store *s, int b)
{
	bool dirty;
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	pthread_mutex_lock(&s->lock);
	dirty = s->b[b].dirty;
	s->b[b].dirty = false;
	pthread_mutex_unlock(&s->lock);
	if (!dirty)
		return 0;
	if (syncfs(fd) < 0) {
		int rc = -errno;
		pthread_mutex_lock(&s->lock);
		s->b[b].dirty = true;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	return 0;
}

/* Refreshes one backend's health and free space. Caller holds s->lock. */
static void refresh(struct store *s, int b, time_t now)
{
	struct backend *be = &s->b[b];
	struct statvfs sv;

	be->checked = now;
	be->st.healthy = false;
	be->st.avail = 0;
	if (be->fd < 0) {
		char msg[512];
		be->fd = backend_open(&s->cfg->backends[b], msg, sizeof(msg));
		if (be->fd < 0)
			return;
	}
	if (fstatvfs(be->fd, &sv) < 0 || faccessat(be->fd, "objects", W_OK | X_OK, AT_EACCESS) < 0)
		return;
	be->failed = false;
	be->st.healthy = true;
	be->st.avail = (uint64_t)sv.f_bavail * sv.f_frsize;
}

void store_state(struct store *s, struct backend_state *out)
{
	time_t now = time(NULL);

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->cfg->nbackends; i++) {
		struct backend *be = &s->b[i];
		if (be->checked != now || be->failed)
			refresh(s, i, now);
		out[i] = be->st;
	}
	pthread_mutex_unlock(&s->lock);
}

void store_mark_failed(struct store *s, int b)
{
	pthread_mutex_lock(&s->lock);
	s->b[b].failed = true;
	s->b[b].st.healthy = false;
	pthread_mutex_unlock(&s->lock);
}

int store_statfs(struct store *s, struct statvfs *out)
{
	dev_t seen[CFG_MAX_BACKENDS];
	int nseen = 0, rc = -EIO;

	memset(out, 0, sizeof(*out));
	out->f_bsize = out->f_frsize = 4096;
	out->f_namemax = 255;
	for (int i = 0; i < s->cfg->nbackends; i++) {
		struct statvfs sv;
		struct stat st;
		int fd = backend_fd(s, i), k;

		if (fd < 0 || fstatvfs(fd, &sv) < 0 || fstat(fd, &st) < 0)
			continue;
		rc = 0;
		/* Backends sharing one filesystem count once. */
		for (k = 0; k < nseen && seen[k] != st.st_dev; k++)
			;
		if (k < nseen)
			continue;
		seen[nseen++] = st.st_dev;
		out->f_blocks += sv.f_blocks * sv.f_frsize / out->f_frsize;
		out->f_bfree += sv.f_bfree * sv.f_frsize / out->f_frsize;
		out->f_bavail += sv.f_bavail * sv.f_frsize / out->f_frsize;
		out->f_files += sv.f_files;
		out->f_ffree += sv.f_ffree;
		out->f_favail += sv.f_favail;
	}
	return rc;
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

typedef int (*walk_fn)(const struct geo_id *, const char *, uint64_t, void *);

/* Calls fn for each entry of directory rel under fd; depth 0 are object
 * files, depth > 0 fan-out directories. */
static int walk_dir(int fd, const char *rel, int depth, walk_fn fn, void *arg)
{
	int dfd = openat(fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
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
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		if (depth > 0) {
			if (hexname(de->d_name, 2))
				rc = walk_dir(fd, sub, depth - 1, fn, arg);
			continue;
		}
		if (fstatat(fd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		struct geo_id oid;
		if (hexname(de->d_name, GEO_HEX_LEN) && geoid_parse(de->d_name, &oid) == 0 &&
		    strncmp(rel, "objects/", 8) == 0)
			rc = fn(&oid, sub, (uint64_t)st.st_size, arg);
		else
			rc = fn(NULL, sub, (uint64_t)st.st_size, arg);
	}
	closedir(d);
	return rc;
}

int store_walk(struct store *s, int b, walk_fn fn, void *arg)
{
	int fd = backend_fd(s, b), rc;

	if (fd < 0)
		return fd;
	rc = walk_dir(fd, "objects", 2, fn, arg);
	if (!rc)
		rc = walk_dir(fd, "tmp", 0, fn, arg);
	return rc;
}

int store_remove_relpath(struct store *s, int b, const char *relpath)
{
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	if (strstr(relpath, "..") || relpath[0] == '/')
		return -EINVAL;
	return unlinkat(fd, relpath, 0) < 0 ? -errno : 0;
}
