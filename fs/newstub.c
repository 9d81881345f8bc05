/*
 * newstub.c — a new file's stub: unnamed (O_TMPFILE) or named under
 * .geofs/tmp, then linked to its final name. See newstub.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "newstub.h"

/* True for the errors with which a filesystem (or an old kernel) says it
 * has no O_TMPFILE: CephFS and NFS give EOPNOTSUPP, older kernels EISDIR,
 * some EINVAL. */
static bool no_tmpfile(int err)
{
	return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

static int make_unnamed(int dfd)
{
	int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

static int make_named(int tmpdir, char *name, size_t len)
{
	struct geo_id nonce;
	char hex[GEO_HEX_LEN + 1];
	int rc = crypto_random(nonce.b, sizeof(nonce.b));

	if (rc)
		return rc;
	geoid_hex(&nonce, hex);
	snprintf(name, len, "%s%s", hex, NEWFILE_SUFFIX);
	rc = openat(tmpdir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rc < 0) {
		rc = -errno;
		name[0] = '\0';
	}
	return rc;
}

/* Makes the file descriptor in the way *how says (switching AUTO to NAMED
 * where O_TMPFILE is refused). */
static int make_fd(int dfd, int tmpdir, int *how, struct newstub *ns)
{
	int mode = __atomic_load_n(how, __ATOMIC_RELAXED);
	int fd;

	if (mode != NEWFILE_NAMED) {
		fd = make_unnamed(dfd);
		if (fd >= 0 || mode == NEWFILE_TMPFILE || !no_tmpfile(-fd))
			return fd;
		int was = NEWFILE_AUTO;
		if (__atomic_compare_exchange_n(how, &was, NEWFILE_NAMED, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			log_info("the meta root refuses O_TMPFILE (%s): new files are made "
				 "under .geofs/tmp and linked into place", strerror(-fd));
	}
	return make_named(tmpdir, ns->tmpname, sizeof(ns->tmpname));
}

int newstub_make(int dfd, int tmpdir, int *how, uid_t uid, gid_t gid, mode_t mode,
		 struct newstub *ns)
{
	struct stat pst;
	int rc;

	ns->tmpdir = tmpdir;
	ns->tmpname[0] = '\0';
	ns->fd = make_fd(dfd, tmpdir, how, ns);
	if (ns->fd < 0)
		return ns->fd;
	if (fstat(dfd, &pst) == 0 && (pst.st_mode & S_ISGID))
		gid = pst.st_gid;
	if (fchown(ns->fd, uid, gid) < 0 || fchmod(ns->fd, mode & 07777) < 0) {
		rc = -errno;
		newstub_done(ns);
		return rc;
	}
	return 0;
}

int newstub_link(struct newstub *ns, int dfd, const char *name)
{
	char proc[64];

	if (ns->tmpname[0])
		return linkat(ns->tmpdir, ns->tmpname, dfd, name, 0) < 0 ? -errno : 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ns->fd);
	return linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

int newstub_done(struct newstub *ns)
{
	int rc = 0;

	if (ns->tmpname[0] && unlinkat(ns->tmpdir, ns->tmpname, 0) < 0) {
		rc = -errno;
		log_warn("removing the temporary name .geofs/tmp/%s of a new file: %s "
			 "(geoctl fsck --repair removes it)", ns->tmpname, strerror(errno));
	}
	ns->tmpname[0] = '\0';
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
	return rc;
}
