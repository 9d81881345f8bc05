/*
 * store.c — shard objects on directory backends (see store.h).
 *
 * Each backend is opened once as a directory fd. An object is written in
 * place, under its final random name in objects/ab/, with O_EXCL: nothing
 * refers to it until the manifest naming it is committed, which is after
 * the put returns, so no reader can meet it half-written, and a crash
 * mid-put leaves an orphan that fsck collects. (A temp file and a rename
 * would add a second directory update to every put, and small files are
 * mostly puts.) Durability is per backend: store_sync() issues one syncfs()
 * for everything put since the last one that covers it (group commit).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "country.h"
#include "crypto.h"
#include "fileio.h"
#include "log.h"
#include "marker.h"
#include "store.h"

struct backend {
	int fd;			/* O_DIRECTORY fd of the backend root, -1 if unusable */
	uint64_t put_seq;	/* objects put so far (counts completed puts) */
	uint64_t synced_seq;	/* put_seq as it was when a syncfs that completed began */
	bool failed;		/* an I/O error since the last refresh */
	struct backend_state st;
	time_t checked;		/* last refresh of st */
	int64_t nobj, nbytes;	/* objects/bytes: puts minus deletes, plus the last count */
	bool counted;		/* store_count() has run */
};

struct store {
	const struct geo_config *cfg;	/* not used by store_count() or the last store_close() */
	int n;			/* cfg->nbackends */
	int refs;		/* store_hold() + 1; atomic */
	pthread_mutex_t lock;	/* guards every struct backend field but fd */
	struct backend b[CFG_MAX_BACKENDS];
};

void store_relpath(const struct geo_id *oid, char out[STORE_RELPATH_MAX])
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(oid, hex);
	snprintf(out, STORE_RELPATH_MAX, "objects/%.2s/%s", hex, hex);
}

static int mkdir_at(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* mkdir -p: parents 0755, the last component `mode`. */
static int mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *sl = strchr(p + 1, '/'); sl && !rc; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		*sl = '/';
	}
	if (!rc && mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

int store_init_backend(const struct cfg_backend *cb, unsigned flags, char *err, size_t errlen)
{
	struct marker m;
	int fd, rc;

	if ((flags & STORE_INIT_CREATE) && (rc = mkdir_p(cb->path, 0700)) < 0) {
		snprintf(err, errlen, "backend %s: cannot create %s: %s", cb->name, cb->path,
			 strerror(-rc));
		return rc;
	}
	fd = open(cb->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "backend %s: %s: %s%s", cb->name, cb->path, strerror(errno),
			 rc == -ENOENT ? " (mount its storage there, or create it with --create)" : "");
		return rc;
	}
	rc = marker_read(fd, &m);
	if (rc == 0 && strcmp(m.name, cb->name) == 0 &&
	    strcmp(m.country, country_code(cb->country)) == 0) {
		rc = 1;		/* already this backend's */
	} else if (rc == 0 && !(flags & STORE_INIT_FORCE)) {
		snprintf(err, errlen, "backend %s: %s is marked as backend %s in %s, not %s in %s; "
			 "not changing it without --force", cb->name, cb->path, m.name, m.country,
			 cb->name, country_code(cb->country));
		rc = -EMEDIUMTYPE;
		goto out;
	} else if (rc != 0 && rc != -ENOENT && rc != -EINVAL) {
		snprintf(err, errlen, "backend %s: %s/%s: %s", cb->name, cb->path, STORE_MARKER,
			 strerror(-rc));
		goto out;
	} else {
		rc = marker_write(fd, cb);
		if (rc) {
			snprintf(err, errlen, "backend %s: cannot write %s/%s: %s", cb->name,
				 cb->path, STORE_MARKER, strerror(-rc));
			goto out;
		}
	}
	int mrc = mkdir_at(fd, "objects");
	if (!mrc)
		mrc = mkdir_at(fd, "tmp");
	if (mrc) {
		rc = mrc;
		snprintf(err, errlen, "backend %s: %s: cannot create objects/ or tmp/: %s",
			 cb->name, cb->path, strerror(-rc));
	}
out:
	close(fd);
	return rc;
}

/* Opens a backend directory that carries its marker. */
static int backend_open(const struct geo_config *cfg, int b, char *err, size_t errlen)
{
	const struct cfg_backend *cb = &cfg->backends[b];
	int fd = marker_open(cb, cfg->file, NULL, err, errlen), rc;

	if (fd < 0)
		return fd;
	/* objects/ and tmp/ are created on first use of a fresh directory. */
	rc = mkdir_at(fd, "objects");
	if (!rc)
		rc = mkdir_at(fd, "tmp");
	if (rc) {
		snprintf(err, errlen, "backend %s: %s: cannot create objects/ or tmp/: %s",
			 cb->name, cb->path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

/* Tells log.h what was just found out about backend b's health. */
static void report(const struct geo_config *cfg, int b, bool up, const char *why)
{
	log_backend(cfg->backends[b].name, country_code(cfg->backends[b].country), up, why);
}

int store_open(const struct geo_config *cfg, uint64_t strict, struct store **out,
	       char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	size_t pos = 0;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->n = cfg->nbackends;
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < cfg->nbackends; i++) {
		char msg[1024];
		int fd = backend_open(cfg, i, msg, sizeof(msg));

		s->b[i].fd = fd;
		if (fd >= 0)
			continue;
		if (!(strict & (UINT64_C(1) << i))) {
			report(cfg, i, false, msg);
			continue;
		}
		/* Strict: report every unusable backend, one per line. */
		if (!rc)
			rc = fd;
		if (pos < errlen) {
			int n = snprintf(err + pos, errlen - pos, "%s%s", pos ? "\n" : "", msg);
			pos += n > 0 ? (size_t)n : 0;
		}
	}
	if (rc) {
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

struct store *store_hold(struct store *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void store_close(struct store *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < s->n; i++)
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
		char msg[1024];
		fd = backend_open(s->cfg, b, msg, sizeof(msg));
		if (fd >= 0) {
			report(s->cfg, b, true, "its directory is usable now");
			s->b[b].fd = fd;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return fd < 0 ? -ENOENT : fd;
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
		int rc = mkdir_at(ofd, sub);
		close(ofd);
		if (rc)
			return rc;
		pfd = open_parent(fd, rel, base);
	}
	return pfd;
}

int store_put(struct store *s, int b, const void *obj, size_t len, struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int fd = backend_fd(s, b), pfd, ofd, rc;

	if (fd < 0)
		return fd;
	/* A fresh random 128-bit name: O_EXCL fails only if something else
	 * (never geofs) put a file there, which is then left alone. */
	rc = crypto_random(oid->b, sizeof(oid->b));
	if (rc)
		return rc;
	store_relpath(oid, rel);
	pfd = open_fanout(fd, rel, &base);
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
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->b[b].put_seq++;
	s->b[b].nobj++;
	s->b[b].nbytes += (int64_t)len;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Opens the fan-out directory holding object oid on backend b; *base is
 * the object's name in it. Close the result. */
static int object_dir(struct store *s, int b, const struct geo_id *oid,
		      char rel[STORE_RELPATH_MAX], const char **base)
{
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	store_relpath(oid, rel);
	return open_parent(fd, rel, base);
}

static int open_object(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int pfd = object_dir(s, b, oid, rel, &base), ofd;

	if (pfd < 0)
		return pfd;
	ofd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ofd = ofd < 0 ? -errno : ofd;
	close(pfd);
	return ofd;
}

long store_get(struct store *s, int b, const struct geo_id *oid, void *buf, size_t cap)
{
	struct stat st;
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
	rc = fileio_pread_full(fd, buf, (size_t)st.st_size, 0);
out:
	close(fd);
	return rc;
}

void store_willneed(struct store *s, int b, const struct geo_id *oid)
{
	int fd = open_object(s, b, oid);

	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

long store_size(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	struct stat st;
	int pfd = object_dir(s, b, oid, rel, &base);
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

int store_delete(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	struct stat st;
	int pfd = object_dir(s, b, oid, rel, &base), rc;

	if (pfd < 0)
		return pfd;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		st.st_size = 0;
	rc = unlinkat(pfd, base, 0) < 0 ? -errno : 0;
	close(pfd);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->b[b].nobj--;
	s->b[b].nbytes -= (int64_t)st.st_size;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int store_sync(struct store *s, int b)
{
	uint64_t target;
	int fd = backend_fd(s, b);

	if (fd < 0)
		return fd;
	/* Every put completed before this call must be durable on return. A
	 * syncfs that began after the last of them covers them, whoever ran
	 * it: concurrent closes share one (group commit). One that began
	 * earlier does not, so a caller never trusts a sync still running. */
	pthread_mutex_lock(&s->lock);
	target = s->b[b].put_seq;
	bool covered = s->b[b].synced_seq >= target;
	pthread_mutex_unlock(&s->lock);
	if (covered)
		return 0;
	if (syncfs(fd) < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	if (s->b[b].synced_seq < target)
		s->b[b].synced_seq = target;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int store_sync_object(struct store *s, int b, const struct geo_id *oid)
{
	char rel[STORE_RELPATH_MAX];
	const char *base;
	int pfd = object_dir(s, b, oid, rel, &base), ofd, rc = 0;

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

/* Refreshes one backend's health and free space. Caller holds s->lock. */
static void refresh(struct store *s, int b, time_t now)
{
	struct backend *be = &s->b[b];
	struct statvfs sv;
	char msg[1024];

	be->checked = now;
	be->st.healthy = false;
	be->st.avail = 0;
	if (be->fd < 0) {
		be->fd = backend_open(s->cfg, b, msg, sizeof(msg));
		if (be->fd < 0)
			goto out;
	}
	if (fstatvfs(be->fd, &sv) < 0 || faccessat(be->fd, "objects", W_OK | X_OK, AT_EACCESS) < 0) {
		snprintf(msg, sizeof(msg), "%s/objects: %s", s->cfg->backends[b].path,
			 strerror(errno));
		goto out;
	}
	be->failed = false;
	be->st.healthy = true;
	be->st.avail = (uint64_t)sv.f_bavail * sv.f_frsize;
out:
	report(s->cfg, b, be->st.healthy, be->st.healthy ? NULL : msg);
}

void store_state(struct store *s, struct backend_state *out)
{
	time_t now = time(NULL);

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++) {
		struct backend *be = &s->b[i];
		if (be->checked != now || be->failed)
			refresh(s, i, now);
		out[i] = be->st;
	}
	pthread_mutex_unlock(&s->lock);
}

void store_mark_failed(struct store *s, int b)
{
	report(s->cfg, b, false, "an I/O error (retried within a second)");
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
	for (int i = 0; i < s->n; i++) {
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
 * files, depth > 0 fan-out directories. Under objects/, whatever is not a
 * fan-out directory or a regular file with an object name is passed with
 * oid NULL too (misnamed: fsck reports it); dot-names are skipped (NFS
 * silly-renames and the like belong to the filesystem). */
static int walk_dir(int fd, const char *rel, int depth, walk_fn fn, void *arg)
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

int store_walk(struct store *s, int b, walk_fn fn, void *arg)
{
	int fd = backend_fd(s, b), rc;

	if (fd < 0)
		return fd;
	rc = walk_dir(fd, "objects", 1, fn, arg);
	if (!rc)
		rc = walk_dir(fd, "tmp", 0, fn, arg);
	return rc;
}

int store_remove_relpath(struct store *s, int b, const char *relpath)
{
	int fd = backend_fd(s, b), pfd, rc;
	const char *base;

	if (fd < 0)
		return fd;
	if (strstr(relpath, "..") || relpath[0] == '/')
		return -EINVAL;
	pfd = open_parent(fd, relpath, &base);
	if (pfd < 0)
		return pfd;
	rc = unlinkat(pfd, base, 0) < 0 ? -errno : 0;
	close(pfd);
	return rc;
}

void store_usage(struct store *s, int b, struct store_usage *u)
{
	pthread_mutex_lock(&s->lock);
	u->objects = s->b[b].nobj > 0 ? (uint64_t)s->b[b].nobj : 0;
	u->bytes = s->b[b].nbytes > 0 ? (uint64_t)s->b[b].nbytes : 0;
	u->counted = s->b[b].counted;
	pthread_mutex_unlock(&s->lock);
}

struct tally {
	int64_t nobj, nbytes;
	const bool *stop;
};

static int tally_one(const struct geo_id *oid, const char *relpath, uint64_t size, void *arg)
{
	struct tally *t = arg;

	if (oid) {
		t->nobj++;
		t->nbytes += (int64_t)size;
	}
	return t->stop && __atomic_load_n(t->stop, __ATOMIC_RELAXED) ? -ECANCELED : 0;
}

int store_count(struct store *s, int b, const bool *stop)
{
	struct tally t = { 0, 0, stop };
	int64_t n0, b0;
	int fd, rc;

	pthread_mutex_lock(&s->lock);
	fd = s->b[b].fd >= 0 ? fcntl(s->b[b].fd, F_DUPFD_CLOEXEC, 0) : -1;
	n0 = s->b[b].nobj;
	b0 = s->b[b].nbytes;
	pthread_mutex_unlock(&s->lock);
	if (fd < 0)
		return -ENOENT;
	rc = walk_dir(fd, "objects", 1, tally_one, &t);
	close(fd);
	if (rc)
		return rc;
	/* Puts and deletes made during the walk stay counted on top. */
	pthread_mutex_lock(&s->lock);
	s->b[b].nobj = t.nobj + (s->b[b].nobj - n0);
	s->b[b].nbytes = t.nbytes + (s->b[b].nbytes - b0);
	s->b[b].counted = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void store_adopt_usage(struct store *s, struct store *old)
{
	pthread_mutex_lock(&old->lock);
	for (int i = 0; i < s->n; i++) {
		const struct cfg_backend *cb = &s->cfg->backends[i];
		int j = config_backend(old->cfg, cb->name);

		if (j < 0 || strcmp(old->cfg->backends[j].path, cb->path) != 0 ||
		    !old->b[j].counted)
			continue;
		s->b[i].nobj = old->b[j].nobj;
		s->b[i].nbytes = old->b[j].nbytes;
		s->b[i].counted = true;
	}
	pthread_mutex_unlock(&old->lock);
}
