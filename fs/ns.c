/*
 * ns.c — the namespace in the meta root: attributes, directories, links,
 * renames, removal, listing. Every call resolves its path beneath the meta
 * root (meta_parent) and works with *at() syscalls on the parent.
 * New entries are created by the daemon (root) and then given to the
 * calling user, with the group of a setgid parent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "gfile.h"
#include "links.h"
#include "log.h"
#include "policy.h"

/* Parent dir + name of path; the reserved .geofs at the root does not exist. */
static int resolve(struct core *c, const char *path, int *dirfd, const char **name)
{
	if (meta_reserved(path))
		return -ENOENT;
	return meta_parent(c->meta, path, dirfd, name);
}

/* Like resolve, for an entry about to be created: the reserved name is
 * refused with EPERM. */
static int resolve_new(struct core *c, const char *path, int *dirfd, const char **name)
{
	if (meta_reserved(path))
		return -EPERM;
	return meta_parent(c->meta, path, dirfd, name);
}

/* Gives a new entry to the caller: uid, and the gid of a setgid parent. */
static int give_to_caller(int dirfd, const char *name, const struct geo_req *r, bool is_dir,
			  mode_t mode, bool symlink)
{
	struct stat pst;
	gid_t gid = r->gid;

	if (fstat(dirfd, &pst) < 0)
		return -errno;
	if (pst.st_mode & S_ISGID) {
		gid = pst.st_gid;
		if (is_dir)
			mode |= S_ISGID;
	}
	if (fchownat(dirfd, name, r->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!symlink && fchmodat(dirfd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int core_getattr(struct core *c, const char *path, struct stat *st)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	if (rc || !S_ISREG(st->st_mode))
		return rc;
	if (st->st_nlink > 1)
		links_note(c->links, st->st_ino, path);
	/* A file open here may be ahead of its stub. */
	struct gfile *gf = gfile_find_ino(c, st->st_dev, st->st_ino);
	if (gf) {
		gfile_stat(gf, st);
		gfile_put(c, gf);
	}
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

int core_fgetattr(struct core *c, struct geo_handle *h, struct stat *st)
{
	if (fstat(gfile_stubfd(h->gf), st) < 0)
		return -errno;
	gfile_stat(h->gf, st);
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

int core_readlink(struct core *c, const char *path, char *buf, size_t size)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);
	ssize_t n;

	if (rc)
		return rc;
	n = readlinkat(dfd, name, buf, size - 1);
	rc = n < 0 ? -errno : 0;
	if (n >= 0)
		buf[n] = '\0';
	meta_put_dir(c->meta, dfd);
	return rc;
}

/* Tags a new child directory inherits from its parent (open dirfd). */
static int parent_tags(struct core *c, const char *path, struct geo_tags *t)
{
	char *dir = core_dirname_dup(path);
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = core_dir_tags(c, dir, t);
	free(dir);
	return rc;
}

int core_mkdir(struct core *c, const struct geo_req *r, const char *path, mode_t mode)
{
	struct geo_tags t;
	const char *name;
	int dfd, fd, rc = resolve_new(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = parent_tags(c, path, &t);
	if (!rc && mkdirat(dfd, name, 0700) < 0)
		rc = -errno;
	if (rc)
		goto out;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : meta_dir_tags_set(fd, c->cfg->cats[t.cat].name,
						   country_code(t.origin), 0);
	if (fd >= 0)
		close(fd);
	if (!rc)
		rc = give_to_caller(dfd, name, r, true, mode, false);
	if (rc)
		unlinkat(dfd, name, AT_REMOVEDIR);
out:
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_mknod(struct core *c, const struct geo_req *r, const char *path, mode_t mode, dev_t rdev)
{
	const char *name;
	int dfd, rc;

	if (S_ISREG(mode)) {
		struct geo_handle *h;
		rc = core_create(c, r, path, mode, O_WRONLY | O_EXCL, &h);
		return rc ? rc : core_release(c, h);
	}
	if ((S_ISCHR(mode) || S_ISBLK(mode)) && r->uid != 0)
		return -EPERM;
	rc = resolve_new(c, path, &dfd, &name);
	if (rc)
		return rc;
	if (mknodat(dfd, name, (mode & S_IFMT) | 0600, rdev) < 0)
		rc = -errno;
	else if ((rc = give_to_caller(dfd, name, r, false, mode, false)))
		unlinkat(dfd, name, 0);
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_symlink(struct core *c, const struct geo_req *r, const char *target, const char *path)
{
	const char *name;
	int dfd, rc = resolve_new(c, path, &dfd, &name);

	if (rc)
		return rc;
	if (symlinkat(target, dfd, name) < 0)
		rc = -errno;
	else if ((rc = give_to_caller(dfd, name, r, false, 0777, true)))
		unlinkat(dfd, name, 0);
	meta_put_dir(c->meta, dfd);
	return rc;
}

/* Removes the content of the regular file whose last name is about to go:
 * now if nobody here has it open, at its last close otherwise.
 * Caller holds ns_lock; stubfd is the file's stub. */
static void drop_content(struct core *c, int stubfd)
{
	struct stat st;
	struct geo_id id;
	struct gfile *gf;

	if (fstat(stubfd, &st) < 0 || st.st_nlink > 0)
		return;
	gf = gfile_find_ino(c, st.st_dev, st.st_ino);
	if (gf) {
		gfile_mark_unlinked(c, gf);
		gfile_put(c, gf);
		return;
	}
	if (meta_stub_id(stubfd, &id) == 0)
		gfile_destroy(c, stubfd, &id);
}

/* Opens the stub at dirfd/name if it is a regular file, else returns -1. */
static int open_stub_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

/* Keeps the record of a hard-linked file's names current and has the
 * kernel drop what it cached for the names that remain (their link count,
 * and maybe their size, changed). Call without ns_lock. */
static void names_changed(struct core *c, int sfd, const char *gone, const char *added)
{
	struct stat st;

	if (sfd < 0 || fstat(sfd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (gone)
		links_forget(c->links, st.st_ino, gone);
	if (added && st.st_nlink > 1)
		links_note(c->links, st.st_ino, added);
	if (st.st_nlink >= 1)
		core_inval_links(c, st.st_ino);
}

int core_unlink(struct core *c, const struct geo_req *r, const char *path)
{
	const char *name;
	int dfd, sfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	pthread_mutex_lock(&c->ns_lock);
	sfd = open_stub_at(dfd, name);
	rc = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (!rc && sfd >= 0)
		drop_content(c, sfd);
	pthread_mutex_unlock(&c->ns_lock);
	if (!rc)
		names_changed(c, sfd, path, NULL);
	if (sfd >= 0)
		close(sfd);
	meta_put_dir(c->meta, dfd);
	core_audit(c, r, "unlink", NULL, path, NULL, NULL, rc, NULL, NULL);
	return rc;
}

int core_rmdir(struct core *c, const struct geo_req *r, const char *path)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	return rc;
}

/* If a regular file moves under a directory whose tags are strictly
 * tighter, it takes that directory's category first, and its shards move
 * if they sit where the new category forbids. */
static int adopt_stricter_tags(struct core *c, const struct geo_req *r, int sfd,
			       const char *from, const char *to)
{
	struct geo_tags ft, dt, nt;
	struct gfile *gf;
	char *fdir = core_dirname_dup(from), *tdir = core_dirname_dup(to), status[512];
	int rc = 0;

	if (!fdir || !tdir) {
		rc = -ENOMEM;
		goto out_free;
	}
	if (strcmp(fdir, tdir) == 0)
		goto out_free;
	rc = core_dir_tags(c, tdir, &dt);
	if (rc)
		goto out_free;
	rc = gfile_get(c, sfd, &gf);
	if (rc)
		goto out_free;
	gfile_tags(gf, &ft);
	nt = ft;
	nt.cat = dt.cat;
	nt.flags &= ~MANIFEST_CAT_SET;
	if (dt.cat == ft.cat ||
	    !policy_is_tightening(c->cfg, ft.cat, ft.origin, nt.cat, nt.origin) ||
	    policy_is_tightening(c->cfg, nt.cat, nt.origin, ft.cat, ft.origin))
		goto out;
	rc = core_check_placement(c, &nt, status, sizeof(status));
	if (!rc)
		rc = gfile_retag(c, gf, &nt);
	if (!rc) {
		gfile_status(c, gf, status, sizeof(status));
		if (strcmp(status, "ok") != 0)
			rc = gfile_migrate(c, gf, false);
	}
	core_audit(c, r, "settag", NULL, from, to, &nt, rc, NULL,
		   "moved under a stricter directory");
out:
	gfile_put(c, gf);
out_free:
	free(fdir);
	free(tdir);
	return rc;
}

/* A directory may move only under a directory whose tags allow at least
 * what its own (effective) tags allow: the files below it carry those
 * tags, and a rename cannot retag a whole subtree atomically. Otherwise
 * -EXDEV, so that mv(1) copies instead and every copy is created with the
 * new directory's tags (docs/guarantees.md). The new parent's tags are
 * those set on it or on its nearest tagged ancestor; [defaults] alone (no
 * directory tagged up to the root) impose nothing. Anything else: 0. */
static int dir_may_move(struct core *c, int dfd, const char *name, const char *from,
			const char *to)
{
	char *fdir = core_dirname_dup(from), *tdir = core_dirname_dup(to);
	struct geo_tags mt, pt;
	struct stat st;
	int rc = 0;

	if (!fdir || !tdir) {
		rc = -ENOMEM;
		goto out;
	}
	if (strcmp(fdir, tdir) == 0 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		goto out;
	rc = core_dir_tags(c, from, &mt);
	if (!rc && (rc = core_dir_tags_set(c, tdir, &pt)) == -ENODATA) {
		rc = 0;
		goto out;
	}
	if (!rc && !policy_within(c->cfg, mt.cat, mt.origin, pt.cat, pt.origin)) {
		log_info("rename %s -> %s: directory tags %s/%s are looser than %s/%s of %s",
			 from, to, c->cfg->cats[mt.cat].name, country_code(mt.origin),
			 c->cfg->cats[pt.cat].name, country_code(pt.origin), tdir);
		rc = -EXDEV;
	}
out:
	free(fdir);
	free(tdir);
	return rc;
}

/* The stricter-directory rule for both sides of a move (one side for a
 * plain rename, two for RENAME_EXCHANGE): directories first, which only
 * check, then files, which adopt (ssfd: the stub at from, or -1). */
static int stricter_rule(struct core *c, const struct geo_req *r, int odfd, const char *oname,
			 int ndfd, const char *nname, int ssfd, const char *from, const char *to,
			 bool exchange)
{
	int xsfd, rc = dir_may_move(c, odfd, oname, from, to);

	if (!rc && exchange)
		rc = dir_may_move(c, ndfd, nname, to, from);
	if (!rc && ssfd >= 0)
		rc = adopt_stricter_tags(c, r, ssfd, from, to);
	if (!rc && exchange && (xsfd = open_stub_at(ndfd, nname)) >= 0) {
		rc = adopt_stricter_tags(c, r, xsfd, to, from);
		close(xsfd);
	}
	return rc;
}

/* A regular file open here now goes by path (for its audit records). */
static void note_path(struct core *c, int sfd, const char *path)
{
	struct stat st;
	struct gfile *gf;

	if (sfd < 0 || fstat(sfd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	gf = gfile_find_ino(c, st.st_dev, st.st_ino);
	if (gf) {
		gfile_set_path(gf, path);
		gfile_put(c, gf);
	}
}

int core_rename(struct core *c, const struct geo_req *r, const char *from, const char *to,
		unsigned flags)
{
	const char *oname, *nname;
	int odfd = -1, ndfd = -1, ssfd = -1, dsfd = -1, rc;
	struct stat sst, dst;

	rc = resolve(c, from, &odfd, &oname);
	if (!rc)
		rc = resolve_new(c, to, &ndfd, &nname);
	if (rc)
		goto out;
	pthread_mutex_lock(&c->ns_lock);
	ssfd = open_stub_at(odfd, oname);
	rc = stricter_rule(c, r, odfd, oname, ndfd, nname, ssfd, from, to,
			   flags & RENAME_EXCHANGE);
	if (!rc && !(flags & RENAME_EXCHANGE))
		dsfd = open_stub_at(ndfd, nname);
	/* Renaming a name onto another name of the same inode is a no-op. */
	if (!rc && dsfd >= 0 && ssfd >= 0 && fstat(ssfd, &sst) == 0 && fstat(dsfd, &dst) == 0 &&
	    sst.st_ino == dst.st_ino) {
		close(dsfd);
		dsfd = -1;
	}
	if (!rc && renameat2(odfd, oname, ndfd, nname, flags) < 0)
		rc = -errno;
	if (!rc && dsfd >= 0)
		drop_content(c, dsfd);
	pthread_mutex_unlock(&c->ns_lock);
	if (!rc && !(flags & RENAME_EXCHANGE)) {
		names_changed(c, ssfd, from, to);
		names_changed(c, dsfd, to, NULL);
	}
	if (!rc) {
		note_path(c, ssfd, to);
		if (flags & RENAME_EXCHANGE) {
			int xsfd = open_stub_at(odfd, oname);

			note_path(c, xsfd, from);
			if (xsfd >= 0)
				close(xsfd);
		}
	}
out:
	if (ssfd >= 0)
		close(ssfd);
	if (dsfd >= 0)
		close(dsfd);
	if (odfd >= 0)
		meta_put_dir(c->meta, odfd);
	if (ndfd >= 0)
		meta_put_dir(c->meta, ndfd);
	core_audit(c, r, "rename", NULL, from, to, NULL, rc, NULL, NULL);
	return rc;
}

int core_link(struct core *c, const struct geo_req *r, const char *from, const char *to)
{
	const char *oname, *nname;
	int odfd = -1, ndfd = -1, rc;

	rc = resolve(c, from, &odfd, &oname);
	if (!rc)
		rc = resolve_new(c, to, &ndfd, &nname);
	if (!rc) {
		/* A new name under a stricter directory: the file (every name
		 * of it) adopts that category, as a rename there would. */
		int osfd = open_stub_at(odfd, oname);

		pthread_mutex_lock(&c->ns_lock);
		if (osfd >= 0)
			rc = adopt_stricter_tags(c, r, osfd, from, to);
		if (!rc)
			rc = linkat(odfd, oname, ndfd, nname, 0) < 0 ? -errno : 0;
		pthread_mutex_unlock(&c->ns_lock);
		if (osfd >= 0)
			close(osfd);
	}
	if (!rc) {
		int sfd = open_stub_at(ndfd, nname);
		struct stat st;
		if (sfd >= 0 && fstat(sfd, &st) == 0)
			links_note(c->links, st.st_ino, from);
		names_changed(c, sfd, NULL, to);
		if (sfd >= 0)
			close(sfd);
	}
	if (odfd >= 0)
		meta_put_dir(c->meta, odfd);
	if (ndfd >= 0)
		meta_put_dir(c->meta, ndfd);
	return rc;
}

int core_chmod(struct core *c, const char *path, mode_t mode)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	/* NOFOLLOW: a symlink planted in the meta root must not lead the
	 * daemon (root) to chmod something outside it; on a symlink this is
	 * EOPNOTSUPP, as chmod of a symlink is on Linux. */
	rc = fchmodat(dfd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_chown(struct core *c, const char *path, uid_t uid, gid_t gid)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_utimens(struct core *c, const char *path, const struct timespec tv[2])
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = utimensat(dfd, name, tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_truncate(struct core *c, const struct geo_req *r, const char *path, off_t size)
{
	struct geo_handle *h;
	int rc = core_open_file(c, r, path, O_WRONLY, &h, NULL);

	if (rc)
		return rc;
	rc = core_ftruncate(c, h, size);
	if (!rc)
		rc = core_flush(c, h);
	core_release(c, h);
	return rc;
}

int core_statfs(struct core *c, struct statvfs *st)
{
	struct statvfs ms;
	int rc = store_statfs(c->store, st);

	/* Inodes live in the meta root: report its counts. */
	if (fstatvfs(meta_rootfd(c->meta), &ms) == 0) {
		st->f_files = ms.f_files;
		st->f_ffree = ms.f_ffree;
		st->f_favail = ms.f_favail;
		st->f_namemax = ms.f_namemax;
	}
	return rc;
}

int core_opendir(struct core *c, const char *path)
{
	if (meta_reserved(path))
		return -ENOENT;
	return meta_open_dir(c->meta, path);
}

int core_readdir(struct core *c, int dirfd, bool is_root,
		 int (*fill)(void *buf, const char *name, const struct stat *st), void *buf)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d))) {
		struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t)DTTOIF(de->d_type) };
		if (is_root && strcmp(de->d_name, META_DIR) == 0)
			continue;
		if (fill(buf, de->d_name, &st))
			break;
	}
	closedir(d);
	return 0;
}

void core_closedir(struct core *c, int dirfd)
{
	close(dirfd);
}
