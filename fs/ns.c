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
#include "crypto.h"
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

/* What an open file of this mount has that its stub may not yet show
 * (size, times of uncommitted writes), over st of a regular file. */
static void open_overlay(struct core *c, struct stat *st)
{
	struct gfile *gf = gfile_find_ino(&c->eng, st->st_dev, st->st_ino);

	if (gf) {
		gfile_stat(gf, st);
		gfile_put(&c->eng, gf);
	}
	st->st_blocks = (st->st_size + 511) / 512;
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
	open_overlay(c, st);
	return 0;
}

int core_getattrat(struct core *c, int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st->st_mode))
		open_overlay(c, st);
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

int core_getattr_ino(struct core *c, dev_t dev, ino_t ino, struct stat *st)
{
	struct gfile *gf = gfile_find_ino(&c->eng, dev, ino);
	int rc = 0;

	if (!gf)
		return -ENOENT;
	if (fstat(gfile_stubfd(gf), st) < 0)
		rc = -errno;
	else
		gfile_stat(gf, st);
	gfile_put(&c->eng, gf);
	st->st_blocks = (st->st_size + 511) / 512;
	return rc;
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
	t.flags = 0;		/* inherited: stored as the parent's, not set */
	rc = fd < 0 ? -errno : tags_dir_set(c->cfg, fd, &t);
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

/* A regular file whose name an unlink or a rename over it is about to
 * remove, looked at BEFORE the call: on NFS a file held open across the
 * call is silly-renamed (a name .nfs..., link count 1 afterwards), so the
 * count after the call cannot say whether the last name went. Nothing is
 * held open across the call. */
struct doomed {
	bool reg;		/* a regular file */
	bool last;		/* the call removes its last name: its content goes */
	dev_t dev;
	ino_t ino;
	nlink_t nlink;		/* before the call */
	struct geo_id id;
	struct manifest *mf;	/* when last: its manifest as it was */
	bool in_stub;
};

/* Looks at dirfd/name (not following a symlink). A name that is gone or
 * not a regular file leaves d->reg false, and the call itself reports. */
static void doomed_look(struct core *c, int dirfd, const char *name, struct doomed *d)
{
	struct stat st;
	int fd;

	memset(d, 0, sizeof(*d));
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return;
	d->reg = true;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->nlink = st.st_nlink;
	if (st.st_nlink != 1)
		return;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Not a geofs file (no id), or no manifest: nothing to delete. */
	if (fstat(fd, &st) == 0 && st.st_ino == d->ino && meta_stub_id(fd, &d->id) == 0 &&
	    meta_manifest_load_stub(c->meta, fd, &d->id, &d->mf, &d->in_stub) == 0)
		d->last = true;
	close(fd);
}

/* After the call removed the name: the content of a file that lost its
 * last name goes now, or at its last close if it is open here. Needs no
 * ns_lock: nothing can give a file without a name a new one (link(2)
 * needs a name), so the decision taken under the lock stands. */
static void doomed_drop(struct core *c, struct doomed *d)
{
	struct gfile *gf;

	if (!d->last)
		return;
	gf = gfile_find_ino(&c->eng, d->dev, d->ino);
	if (gf) {
		gfile_mark_unlinked(&c->eng, gf);
		gfile_put(&c->eng, gf);
		return;
	}
	int rc = gfile_destroy(&c->eng, &d->id, d->mf, d->in_stub);
	if (rc)
		log_warn("deleting the content of a removed file failed: %s (geoctl fsck "
			 "collects it)", strerror(-rc));
}

static void doomed_free(struct doomed *d)
{
	manifest_free(d->mf);
	d->mf = NULL;
}

/* Opens the stub at dirfd/name if it is a regular file, else returns -1. */
static int open_stub_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

/* The record of a hard-linked file's names after a name of inode ino
 * went (gone) or came (added), nlink being its link count now; has the
 * kernel drop what it cached for the names that remain (their link count,
 * and maybe their size, changed). Call without ns_lock. */
static void names_changed_ino(struct core *c, ino_t ino, nlink_t nlink, const char *gone,
			      const char *added)
{
	if (gone)
		links_forget(c->links, ino, gone);
	if (added && nlink > 1)
		links_note(c->links, ino, added);
	if (nlink >= 1)
		core_inval_links(c, ino);
}

/* names_changed_ino for the stub open as sfd (-1: none). */
static void names_changed(struct core *c, int sfd, const char *gone, const char *added)
{
	struct stat st;

	if (sfd < 0 || fstat(sfd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	names_changed_ino(c, st.st_ino, st.st_nlink, gone, added);
}

/* Takes ns_lock for a decision about dirfd/name. When another thread holds
 * it, first reads what doomed_look will read (the stub's inode and
 * manifest): under the lock they then come from the cache, and parallel
 * unlinks wait for each other's decisions, not for each other's disk
 * reads. Uncontended, nothing is read twice. */
static void ns_lock_for(struct core *c, int dirfd, const char *name)
{
	struct doomed warm;

	if (pthread_mutex_trylock(&c->ns_lock) == 0)
		return;
	doomed_look(c, dirfd, name, &warm);
	doomed_free(&warm);
	pthread_mutex_lock(&c->ns_lock);
}

int core_unlink(struct core *c, const struct geo_req *r, const char *path)
{
	struct doomed d;
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	ns_lock_for(c, dfd, name);
	doomed_look(c, dfd, name, &d);
	rc = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	pthread_mutex_unlock(&c->ns_lock);
	/* The objects go outside the lock: deleting them is disk work that
	 * other unlinks need not wait for. */
	if (!rc)
		doomed_drop(c, &d);
	if (!rc && d.reg)
		names_changed_ino(c, d.ino, d.nlink - 1, path, NULL);
	doomed_free(&d);
	meta_put_dir(c->meta, dfd);
	core_audit(c, r, "unlink", NULL, path, NULL, NULL, rc, NULL, NULL);
	return rc;
}

/* Moves the NFS client's silly-renamed names out of directory pdfd/name
 * (under .geofs/tmp, where fsck collects them once no mount runs), if they
 * are all it holds, so that an rmdir can succeed as it would locally: the
 * files stay usable by whoever holds them open. 1 if it moved any, 0 if
 * the directory holds something else (or nothing), -errno. */
static int move_silly_names(struct core *c, int pdfd, const char *name)
{
	int fd = openat(pdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), moved = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !meta_silly_name(de->d_name))
			goto out;	/* not empty: rmdir says so */
	rewinddir(d);
	while ((de = readdir(d))) {
		struct geo_id nonce;
		char to[GEO_HEX_LEN + sizeof(META_SILLY_SUFFIX)];

		if (!meta_silly_name(de->d_name) || crypto_random(nonce.b, sizeof(nonce.b)))
			continue;
		geoid_hex(&nonce, to);
		strcat(to, META_SILLY_SUFFIX);
		if (renameat(dirfd(d), de->d_name, meta_tmpdir(c->meta), to) == 0)
			moved = 1;
	}
out:
	closedir(d);
	return moved;
}

int core_rmdir(struct core *c, const struct geo_req *r, const char *path)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	if (rc == -ENOTEMPTY && move_silly_names(c, dfd, name) == 1)
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
	rc = gfile_get(&c->eng, sfd, &gf);
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
		rc = gfile_retag(&c->eng, gf, &nt);
	if (!rc) {
		gfile_status(&c->eng, gf, status, sizeof(status));
		if (strcmp(status, "ok") != 0)
			rc = gfile_migrate(&c->eng, gf, false);
	}
	core_audit(c, r, "settag", NULL, from, to, &nt, rc, NULL,
		   "moved under a stricter directory");
out:
	gfile_put(&c->eng, gf);
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
	gf = gfile_find_ino(&c->eng, st.st_dev, st.st_ino);
	if (gf) {
		gfile_set_path(gf, path);
		gfile_put(&c->eng, gf);
	}
}

/* RENAME_NOREPLACE where the meta root's filesystem refuses the flag
 * (CephFS, NFS: EINVAL): link(2) to the new name (EEXIST, atomically, if
 * it is taken), then unlink of the old one. Not for directories (they
 * cannot be linked): EINVAL, as the kernel answers for a filesystem
 * without the flag. A crash between the two steps leaves both names on
 * the file; an unlink that fails takes the new name back. */
static int noreplace_by_link(int odfd, const char *oname, int ndfd, const char *nname)
{
	struct stat st;
	int rc;

	if (fstatat(odfd, oname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EINVAL;
	if (linkat(odfd, oname, ndfd, nname, 0) < 0)
		return -errno;
	if (unlinkat(odfd, oname, 0) < 0) {
		rc = -errno;
		unlinkat(ndfd, nname, 0);
		return rc;
	}
	return 0;
}

/* renameat2(), 0 or -errno. Where the meta root's filesystem refuses the
 * flags (EINVAL): RENAME_NOREPLACE is emulated for non-directories
 * (noreplace_by_link); RENAME_EXCHANGE cannot be made atomic from outside
 * and stays EINVAL, as on any filesystem without it (docs/several-servers.md).
 * Caller holds ns_lock, which keeps this mount's own renames out of the
 * emulation's window. */
static int rename_at(int odfd, const char *oname, int ndfd, const char *nname, unsigned flags)
{
	if (renameat2(odfd, oname, ndfd, nname, flags) == 0)
		return 0;
	if (errno != EINVAL || flags != RENAME_NOREPLACE)
		return -errno;
	return noreplace_by_link(odfd, oname, ndfd, nname);
}

int core_rename(struct core *c, const struct geo_req *r, const char *from, const char *to,
		unsigned flags)
{
	const char *oname, *nname;
	int odfd = -1, ndfd = -1, ssfd = -1, rc;
	struct doomed d = { .reg = false };
	struct stat sst;

	rc = resolve(c, from, &odfd, &oname);
	if (!rc)
		rc = resolve_new(c, to, &ndfd, &nname);
	if (rc)
		goto out;
	ns_lock_for(c, ndfd, nname);
	ssfd = open_stub_at(odfd, oname);
	rc = stricter_rule(c, r, odfd, oname, ndfd, nname, ssfd, from, to,
			   flags & RENAME_EXCHANGE);
	if (!rc && !(flags & RENAME_EXCHANGE))
		doomed_look(c, ndfd, nname, &d);
	/* Renaming a name onto another name of the same inode is a no-op. */
	if (!rc && d.reg && ssfd >= 0 && fstat(ssfd, &sst) == 0 && sst.st_ino == d.ino)
		doomed_free(&d), d.reg = d.last = false;
	if (!rc)
		rc = rename_at(odfd, oname, ndfd, nname, flags);
	if (!rc)
		doomed_drop(c, &d);
	pthread_mutex_unlock(&c->ns_lock);
	if (!rc && !(flags & RENAME_EXCHANGE)) {
		names_changed(c, ssfd, from, to);
		if (d.reg)
			names_changed_ino(c, d.ino, d.nlink - 1, to, NULL);
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
	doomed_free(&d);
	if (ssfd >= 0)
		close(ssfd);
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

/* Applies what a sets to the entry name of directory dfd, or to the open
 * descriptor dfd itself when name is NULL. NOFOLLOW: a symlink planted in
 * the meta root must not lead the daemon (root) to change something
 * outside it; chmod of a symlink is EOPNOTSUPP, as on Linux. */
static int apply_attrs(int dfd, const char *name, const struct core_attrs *a)
{
	int rc;

	if (a->set & CORE_ATTR_MODE) {
		rc = name ? fchmodat(dfd, name, a->mode & 07777, AT_SYMLINK_NOFOLLOW)
			  : fchmod(dfd, a->mode & 07777);
		if (rc < 0)
			return -errno;
	}
	if (a->set & CORE_ATTR_OWNER) {
		rc = name ? fchownat(dfd, name, a->uid, a->gid, AT_SYMLINK_NOFOLLOW)
			  : fchown(dfd, a->uid, a->gid);
		if (rc < 0)
			return -errno;
	}
	if (a->set & CORE_ATTR_TIMES) {
		rc = name ? utimensat(dfd, name, a->tv, AT_SYMLINK_NOFOLLOW) : futimens(dfd, a->tv);
		if (rc < 0)
			return -errno;
	}
	return 0;
}

int core_setattr(struct core *c, const char *path, const struct core_attrs *a)
{
	const char *name;
	int dfd, rc = resolve(c, path, &dfd, &name);

	if (rc)
		return rc;
	rc = apply_attrs(dfd, name, a);
	meta_put_dir(c->meta, dfd);
	return rc;
}

int core_setattr_ino(struct core *c, dev_t dev, ino_t ino, const struct core_attrs *a)
{
	struct gfile *gf = gfile_find_ino(&c->eng, dev, ino);
	int rc;

	if (!gf)
		return -ENOENT;
	rc = apply_attrs(gfile_stubfd(gf), NULL, a);
	gfile_put(&c->eng, gf);
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
		meta_inode_counts(&ms, st);
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
		if ((is_root && strcmp(de->d_name, META_DIR) == 0) || meta_silly_name(de->d_name))
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
