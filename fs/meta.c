/*
 * meta.c — the meta root: path resolution beneath the root, stub ids,
 * directory tags, and atomic manifest files (see meta.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crypto.h"
#include "fileio.h"
#include "mkdirs.h"
#include "log.h"
#include "meta.h"

#define META_FORMAT "geofs-meta 1\n"
#define MANIFEST_FILE_MAX ((size_t)1 << 30)	/* larger is not a manifest */

struct meta {
	int root;		/* the namespace root */
	int mdir;		/* .geofs/manifests */
	int tmp;		/* .geofs/tmp */
	int lock;		/* .geofs/lock while held, else -1 */
	uint64_t max_size;	/* meta_max_size(), 0 until probed (atomic) */
};

static int open_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_format(int gfd)
{
	int fd = openat(gfd, "format", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	if (write(fd, META_FORMAT, sizeof(META_FORMAT) - 1) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return close(fd) < 0 ? -errno : 0;
}

int meta_open(const char *path, bool create, struct meta **out, char *err, size_t errlen)
{
	struct meta *m = calloc(1, sizeof(*m));
	int gfd = -1, rc;

	if (!m)
		return -ENOMEM;
	m->root = m->mdir = m->tmp = m->lock = -1;
	if (create && (rc = mkdir_at(AT_FDCWD, path, 0755)) < 0) {
		snprintf(err, errlen, "meta root %s: %s", path, strerror(-rc));
		goto fail;
	}
	m->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->root < 0) {
		rc = -errno;
		snprintf(err, errlen, "meta root %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = mkdir_at(m->root, META_DIR, 0700);
	if (!rc)
		rc = gfd = open_dir_at(m->root, META_DIR);
	if (rc >= 0)
		rc = mkdir_at(gfd, "manifests", 0700);
	if (!rc)
		rc = mkdir_at(gfd, "tmp", 0700);
	if (!rc)
		rc = write_format(gfd);
	if (!rc)
		rc = m->mdir = open_dir_at(gfd, "manifests");
	if (rc >= 0)
		rc = m->tmp = open_dir_at(gfd, "tmp");
	if (rc < 0) {
		snprintf(err, errlen, "meta root %s: cannot set up %s/: %s", path, META_DIR,
			 strerror(-rc));
		goto fail;
	}
	close(gfd);
	*out = m;
	return 0;
fail:
	if (gfd >= 0)
		close(gfd);
	meta_close(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	if (m->root >= 0)
		close(m->root);
	if (m->mdir >= 0)
		close(m->mdir);
	if (m->tmp >= 0)
		close(m->tmp);
	if (m->lock >= 0)
		close(m->lock);
	free(m);
}

int meta_rootfd(const struct meta *m)
{
	return m->root;
}

int meta_tmpdir(const struct meta *m)
{
	return m->tmp;
}

/* The largest size ftruncate accepts on a scratch file in dirfd (a
 * binary search: about 63 calls), or INT64_MAX if it cannot tell. */
static uint64_t probe_max_size(int dirfd)
{
	char name[64];
	uint64_t lo = 0, hi = (uint64_t)INT64_MAX;
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(name, sizeof(name), "maxsize-%d.probe", (int)getpid());
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return hi;
	} else {
		name[0] = '\0';
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if (ftruncate(fd, (off_t)mid) == 0) {
			lo = mid;
		} else if (errno == EFBIG || errno == EINVAL) {
			hi = mid - 1;
		} else {
			lo = (uint64_t)INT64_MAX;	/* cannot tell: no limit of ours */
			break;
		}
	}
	(void)ftruncate(fd, 0);
	close(fd);
	if (name[0])
		unlinkat(dirfd, name, 0);
	return lo;
}

uint64_t meta_max_size(struct meta *m)
{
	uint64_t v = __atomic_load_n(&m->max_size, __ATOMIC_ACQUIRE);

	if (!v) {
		v = probe_max_size(m->tmp);
		__atomic_store_n(&m->max_size, v, __ATOMIC_RELEASE);
	}
	return v;
}

int meta_hold(struct meta *m, bool exclusive)
{
	int fd;

	if (m->lock >= 0)
		return 0;
	fd = openat(m->root, META_DIR "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fileio_flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	if (rc) {
		close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	m->lock = fd;
	return 0;
}

void meta_inode_counts(const struct statvfs *ms, struct statvfs *out)
{
	const uint64_t huge = UINT64_C(1) << 63;
	uint64_t files = ms->f_files, ffree = ms->f_ffree, favail = ms->f_favail;

	if (ffree >= huge || files >= huge) {
		/* No limit: CephFS gives the inodes used as f_files, -1 free. */
		uint64_t used = files < META_INODES_NOLIMIT ? files : 0;
		files = META_INODES_NOLIMIT;
		ffree = favail = files - used;
	}
	if (files && ffree > files)
		ffree = files;
	if (favail > ffree)
		favail = ffree;
	out->f_files = files;
	out->f_ffree = ffree;
	out->f_favail = favail;
}

bool meta_silly_name(const char *name)
{
	if (strncmp(name, ".nfs", 4) != 0 || strlen(name) != 4 + 24)
		return false;
	for (const char *p = name + 4; *p; p++)
		if (geo_hexval(*p) < 0)
			return false;
	return true;
}

bool meta_reserved(const char *path)
{
	size_t n = strlen(META_DIR);
	const char *last = strrchr(path, '/');

	if (path[0] == '/' && strncmp(path + 1, META_DIR, n) == 0 &&
	    (path[n + 1] == '\0' || path[n + 1] == '/'))
		return true;
	return meta_silly_name(last ? last + 1 : path);
}

static int openat2_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Opens the directory `rel` (length len, no leading '/') beneath the root,
 * in chunks shorter than PATH_MAX so any depth works. */
static int open_beneath(struct meta *m, const char *rel, size_t len)
{
	char chunk[PATH_MAX];
	int fd = m->root;

	while (len) {
		size_t n = len;

		if (n >= sizeof(chunk)) {
			/* Cut at the last '/' that fits. */
			n = sizeof(chunk) - 1;
			while (n && rel[n] != '/')
				n--;
			if (!n) {
				if (fd != m->root)
					close(fd);
				return -ENAMETOOLONG;
			}
		}
		memcpy(chunk, rel, n);
		chunk[n] = '\0';
		int nfd = openat2_beneath(fd, chunk);
		if (fd != m->root)
			close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
		rel += n;
		len -= n;
		while (len && *rel == '/') {
			rel++;
			len--;
		}
	}
	return fd;
}

int meta_parent(struct meta *m, const char *path, int *dirfd, const char **name)
{
	const char *slash;
	int fd;

	if (path[0] != '/')
		return -EINVAL;
	if (path[1] == '\0') {
		*dirfd = m->root;
		*name = ".";
		return 0;
	}
	slash = strrchr(path, '/');
	if (strlen(slash + 1) > NAME_MAX)
		return -ENAMETOOLONG;
	*name = slash + 1;
	if (slash == path) {
		*dirfd = m->root;
		return 0;
	}
	fd = open_beneath(m, path + 1, (size_t)(slash - path - 1));
	if (fd < 0)
		return fd;
	*dirfd = fd;
	return 0;
}

void meta_put_dir(struct meta *m, int dirfd)
{
	if (dirfd >= 0 && dirfd != m->root)
		close(dirfd);
}

int meta_open_dir(struct meta *m, const char *path)
{
	const char *name;
	int dfd, fd, rc = meta_parent(m, path, &dfd, &name);

	if (rc)
		return rc;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : fd;
	meta_put_dir(m, dfd);
	return rc;
}

int meta_stub_id(int fd, struct geo_id *id)
{
	char hex[GEO_HEX_LEN + 1];
	ssize_t n = fgetxattr(fd, META_XA_ID, hex, GEO_HEX_LEN);

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? -ENODATA : -errno;
	if (n != GEO_HEX_LEN)
		return -EINVAL;
	hex[n] = '\0';
	return geoid_parse(hex, id);
}

int meta_set_stub_id(int fd, const struct geo_id *id)
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(id, hex);
	return fsetxattr(fd, META_XA_ID, hex, GEO_HEX_LEN, 0) < 0 ? -errno : 0;
}

/* "ab/<hex>" for a manifest id. */
static void manifest_relpath(const struct geo_id *id, char out[3 + GEO_HEX_LEN + 1])
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(id, hex);
	snprintf(out, 3 + GEO_HEX_LEN + 1, "%.2s/%s", hex, hex);
}

/* Opens the fan-out directory "ab" of a manifest path "ab/<hex>" without
 * following a symlink (one planted there must not lead manifests to be
 * read, written or deleted outside the meta root), creating it if asked.
 * A directory fd, or -errno (-ELOOP for a symlink). */
static int manifest_subdir(struct meta *m, const char *rel, bool create)
{
	char sub[3] = { rel[0], rel[1], '\0' };
	int fd = open_dir_at(m->mdir, sub);

	if (fd == -ENOENT && create) {
		int rc = mkdir_at(m->mdir, sub, 0700);

		if (rc)
			return rc;
		fd = open_dir_at(m->mdir, sub);
	}
	return fd;
}

/* The fan-out directory of file id's manifest (not created), with the
 * manifest's path "ab/<hex>" in rel (its name is rel + 3). */
static int manifest_dir(struct meta *m, const struct geo_id *id, char rel[3 + GEO_HEX_LEN + 1])
{
	manifest_relpath(id, rel);
	return manifest_subdir(m, rel, false);
}

/* Parses a manifest read from `what` (for messages) that must be file
 * id's. 0, or -EINVAL (logged) when malformed or another file's. */
static int parse_for(const uint8_t *buf, size_t len, const struct geo_id *id,
		     const char *what, struct manifest **out)
{
	char why[128] = "";

	if (manifest_parse(buf, len, out, why, sizeof(why)) != 0) {
		log_err("%s is damaged: %s", what, why);
		return -EINVAL;
	}
	if (!geoid_equal(&(*out)->id, id)) {
		log_err("%s holds the id of another file", what);
		manifest_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

int meta_manifest_load(struct meta *m, const struct geo_id *id, struct manifest **out)
{
	char rel[3 + GEO_HEX_LEN + 1], what[sizeof("manifest ") + GEO_HEX_LEN];
	char *buf = NULL;
	size_t len = 0;
	int fd, sfd = manifest_dir(m, id, rel), rc;

	if (sfd < 0)
		return sfd;
	fd = openat(sfd, rel + 3, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : 0;
	close(sfd);
	if (rc)
		return rc;
	rc = fileio_read_whole(fd, MANIFEST_FILE_MAX, &buf, &len);
	close(fd);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "manifest %s", rel + 3);
	rc = parse_for((const uint8_t *)buf, len, id, what, out);
	free(buf);
	return rc;
}

int meta_manifest_stage(struct meta *m, const struct manifest *mf, struct meta_staged *st)
{
	struct geo_id nonce;
	uint8_t *buf;
	size_t len;
	int rc;

	st->fd = -1;
	rc = manifest_serialize(mf, &buf, &len);
	if (rc)
		return rc;
	manifest_relpath(&mf->id, st->rel);
	crypto_random(nonce.b, sizeof(nonce.b));
	geoid_hex(&nonce, st->tmp);
	strcat(st->tmp, ".tmp");
	st->fd = openat(m->tmp, st->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (st->fd < 0)
		rc = -errno;
	else
		rc = fileio_write_all(st->fd, buf, len);
	free(buf);
	if (rc && st->fd >= 0)
		meta_manifest_abort(m, st);
	return rc;
}

void meta_manifest_abort(struct meta *m, struct meta_staged *st)
{
	if (st->fd < 0)
		return;
	close(st->fd);
	st->fd = -1;
	unlinkat(m->tmp, st->tmp, 0);
}

int meta_manifest_install(struct meta *m, struct meta_staged *st, bool durable)
{
	int sfd, rc = 0;

	if (durable && fdatasync(st->fd) < 0)
		rc = -errno;
	if (close(st->fd) < 0 && !rc)
		rc = -errno;
	st->fd = -1;
	sfd = rc ? -1 : manifest_subdir(m, st->rel, true);
	if (!rc && sfd < 0)
		rc = sfd;
	if (!rc && renameat(m->tmp, st->tmp, sfd, st->rel + 3) < 0)
		rc = -errno;
	else if (!rc && durable && fsync(sfd) < 0)
		rc = -errno;	/* published, but maybe not durably: report it */
	if (sfd >= 0)
		close(sfd);
	if (rc)
		unlinkat(m->tmp, st->tmp, 0);	/* ENOENT once renamed */
	return rc;
}

int meta_manifest_store(struct meta *m, const struct manifest *mf, bool durable)
{
	struct meta_staged st;
	int rc = meta_manifest_stage(m, mf, &st);

	return rc ? rc : meta_manifest_install(m, &st, durable);
}

int meta_stub_manifest_set(int stubfd, const struct manifest *mf)
{
	uint8_t *buf;
	size_t len;
	int rc = manifest_serialize(mf, &buf, &len);

	if (rc)
		return rc;
	if (len > META_INLINE_MAX)
		rc = -E2BIG;
	else if (fsetxattr(stubfd, META_XA_MANIFEST, buf, len, 0) < 0)
		rc = -errno;
	free(buf);
	return rc;
}

int meta_stub_manifest_clear(int stubfd)
{
	if (fremovexattr(stubfd, META_XA_MANIFEST) < 0 && errno != ENODATA)
		return -errno;
	return 0;
}

/* The stub's own manifest. -ENOENT without one. */
static int stub_manifest_load(int stubfd, const struct geo_id *id, struct manifest **out)
{
	uint8_t buf[4096];
	ssize_t n = fgetxattr(stubfd, META_XA_MANIFEST, buf, sizeof(buf));

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? -ENOENT : -errno;
	return parse_for(buf, (size_t)n, id, "a stub's manifest (" META_XA_MANIFEST ")", out);
}

int meta_manifest_load_stub(struct meta *m, int stubfd, const struct geo_id *id,
			    struct manifest **out, bool *from_stub)
{
	int rc = meta_manifest_load(m, id, out);

	*from_stub = false;
	if (rc != -ENOENT)
		return rc;
	rc = stub_manifest_load(stubfd, id, out);
	if (rc != -ENOENT) {
		*from_stub = rc == 0;
		return rc;
	}
	/* Another mount may have moved it from the stub to a manifest file
	 * (installed, then removed from the stub) between the two reads. */
	return meta_manifest_load(m, id, out);
}

int meta_manifest_delete(struct meta *m, const struct geo_id *id)
{
	char rel[3 + GEO_HEX_LEN + 1];
	int sfd = manifest_dir(m, id, rel), rc;

	if (sfd < 0)
		return sfd;
	rc = unlinkat(sfd, rel + 3, 0) < 0 ? -errno : 0;
	close(sfd);
	return rc;
}

int meta_manifest_sync(struct meta *m, const struct geo_id *id)
{
	char rel[3 + GEO_HEX_LEN + 1];
	int sfd = manifest_dir(m, id, rel), fd, rc = 0;

	if (sfd < 0)
		return sfd;
	fd = openat(sfd, rel + 3, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fdatasync(fd) < 0 || fsync(sfd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	close(sfd);
	return rc;
}

int meta_walk_manifests(struct meta *m, int (*fn)(const struct geo_id *id, void *arg),
			int (*misnamed)(const char *relpath, void *arg), void *arg)
{
	int dfd = dup(m->mdir), rc = 0;
	struct dirent *de;
	DIR *d;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	rewinddir(d);
	while (!rc && (de = readdir(d))) {
		int sfd = -1;
		DIR *sd;
		struct dirent *se;

		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) == 2)
			sfd = open_dir_at(m->mdir, de->d_name);
		if (sfd < 0) {
			if (misnamed)
				rc = misnamed(de->d_name, arg);
			continue;
		}
		sd = fdopendir(sfd);
		if (!sd) {
			close(sfd);
			continue;
		}
		while (!rc && (se = readdir(sd))) {
			char hex[GEO_HEX_LEN + 1], rel[256 + 4];
			struct geo_id id;

			if (se->d_name[0] == '.')
				continue;
			/* only the name manifest_relpath() gives is a manifest */
			if (geoid_parse(se->d_name, &id) == 0) {
				geoid_hex(&id, hex);
				if (strcmp(hex, se->d_name) == 0 &&
				    memcmp(hex, de->d_name, 2) == 0) {
					rc = fn(&id, arg);
					continue;
				}
			}
			snprintf(rel, sizeof(rel), "%s/%s", de->d_name, se->d_name);
			if (misnamed)
				rc = misnamed(rel, arg);
		}
		closedir(sd);
	}
	closedir(d);
	return rc;
}

static int get_str_xattr(int fd, const char *name, char *buf, size_t len)
{
	ssize_t n = fgetxattr(fd, name, buf, len - 1);

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? -ENODATA : -errno;
	buf[n] = '\0';
	return 0;
}

int meta_dir_tags_get(int dirfd, char cat[CFG_NAME_MAX], char origin[3], unsigned *flags)
{
	char set[8];
	int rc = get_str_xattr(dirfd, META_XA_CAT, cat, CFG_NAME_MAX);

	if (!rc)
		rc = get_str_xattr(dirfd, META_XA_ORIGIN, origin, 3);
	if (rc)
		return rc;
	*flags = 0;
	if (get_str_xattr(dirfd, META_XA_TAGSET, set, sizeof(set)) == 0) {
		if (strchr(set, 'c'))
			*flags |= MANIFEST_CAT_SET;
		if (strchr(set, 'o'))
			*flags |= MANIFEST_ORIGIN_SET;
	}
	return 0;
}

int meta_dir_tags_set(int dirfd, const char *cat, const char *origin, unsigned flags)
{
	char set[3] = "";
	int n = 0;

	if (flags & MANIFEST_CAT_SET)
		set[n++] = 'c';
	if (flags & MANIFEST_ORIGIN_SET)
		set[n++] = 'o';
	set[n] = '\0';
	if (fsetxattr(dirfd, META_XA_CAT, cat, strlen(cat), 0) < 0 ||
	    fsetxattr(dirfd, META_XA_ORIGIN, origin, strlen(origin), 0) < 0 ||
	    fsetxattr(dirfd, META_XA_TAGSET, set, (size_t)n, 0) < 0)
		return -errno;
	return 0;
}
