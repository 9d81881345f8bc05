/*
 * newstub.c — a new file's stub: unnamed (O_TMPFILE) or named under
 * .geofs/tmp, then linked to its final name. See newstub.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* The process's umask, read once from /proc/self/status (umask(2) would
 * change it for a moment under the other threads); 077 when unknown,
 * which only means that newstub_make always calls fchmod. */
static mode_t process_umask(void)
{
	static int cached = -1;
	int u = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	char line[128];
	FILE *f;

	if (u >= 0)
		return (mode_t)u;
	u = 077;
	f = fopen("/proc/self/status", "re");
	if (f) {
		unsigned v;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Umask: %o", &v) == 1) {
				u = (int)(v & 0777);
				break;
			}
		fclose(f);
	}
	__atomic_store_n(&cached, u, __ATOMIC_RELAXED);
	return (mode_t)u;
}

/* The daemon's own uid and gid, who the kernel makes new inodes for: read
 * once (they do not change while it runs), not a syscall per create. */
static uid_t my_euid;
static gid_t my_egid;
static pthread_once_t ids_once = PTHREAD_ONCE_INIT;

static void read_ids(void)
{
	my_euid = geteuid();
	my_egid = getegid();
}

static int make_unnamed(int dfd, mode_t perm)
{
	int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, perm);

	return fd < 0 ? -errno : fd;
}

static int make_named(int tmpdir, char *name, size_t len, mode_t perm)
{
	struct geo_id nonce;
	char hex[GEO_HEX_LEN + 1];
	int rc = crypto_random(nonce.b, sizeof(nonce.b));

	if (rc)
		return rc;
	geoid_hex(&nonce, hex);
	snprintf(name, len, "%s%s", hex, NEWFILE_SUFFIX);
	rc = openat(tmpdir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
	if (rc < 0) {
		rc = -errno;
		name[0] = '\0';
	}
	return rc;
}

/* Makes the file descriptor in the way *how says (switching AUTO to NAMED
 * where O_TMPFILE is refused), with permission bits perm (less the umask). */
static int make_fd(int dfd, int tmpdir, int *how, mode_t perm, struct newstub *ns)
{
	int mode = __atomic_load_n(how, __ATOMIC_RELAXED);
	int fd;

	if (mode != NEWFILE_NAMED) {
		fd = make_unnamed(dfd, perm);
		if (fd >= 0 || mode == NEWFILE_TMPFILE || !no_tmpfile(-fd))
			return fd;
		int was = NEWFILE_AUTO;
		if (__atomic_compare_exchange_n(how, &was, NEWFILE_NAMED, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			log_info("the meta root refuses O_TMPFILE (%s): new files are made "
				 "under .geofs/tmp and linked into place", strerror(-fd));
	}
	return make_named(tmpdir, ns->tmpname, sizeof(ns->tmpname), perm);
}

int newstub_make(int dfd, int tmpdir, int *how, uid_t uid, gid_t gid, mode_t mode,
		 struct newstub *ns)
{
	struct stat pst;
	int rc;

	/* Made with its permission bits where the umask lets them through
	 * (the daemon's is 0), and owned by the caller already when the caller
	 * is who the kernel makes it for (the daemon's uid, and its gid or that
	 * of the setgid directory an unnamed stub is made in): then neither
	 * fchown nor fchmod is needed. A chown clears set-id bits, so those
	 * are always set after it. */
	mode_t perm = mode & 0777, umask_now = process_umask();
	bool setgid_dir = fstat(dfd, &pst) == 0 && (pst.st_mode & S_ISGID);

	ns->tmpdir = tmpdir;
	ns->tmpname[0] = '\0';
	ns->fd = make_fd(dfd, tmpdir, how, perm, ns);
	if (ns->fd < 0)
		return ns->fd;
	if (setgid_dir)
		gid = pst.st_gid;
	pthread_once(&ids_once, read_ids);
	bool owned = !ns->tmpname[0] && uid == my_euid &&
		     gid == (setgid_dir ? pst.st_gid : my_egid);
	rc = 0;
	if (!owned && fchown(ns->fd, uid, gid) < 0)
		rc = -errno;
	if (!rc && ((mode & 07000) || (perm & umask_now)) && fchmod(ns->fd, mode & 07777) < 0)
		rc = -errno;
	if (rc) {
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
