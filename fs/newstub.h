/*
 * newstub.h — making a new file's stub so that it only ever appears in the
 * namespace complete (with its id and manifest), on any filesystem that
 * can hold a meta root.
 *
 * Two ways, same result:
 *   unnamed  O_TMPFILE in the target directory, then linkat() of
 *            /proc/self/fd/N to the final name (local filesystems);
 *   named    a fresh name under META/.geofs/tmp ("<32 hex>.stub"), then
 *            link(2) to the final name (EEXIST is atomic on every
 *            filesystem), then the temporary name is dropped: for CephFS
 *            and NFS, which have no O_TMPFILE.
 * NEWFILE_AUTO tries O_TMPFILE and, the first time the meta root refuses
 * it (EOPNOTSUPP, EISDIR, EINVAL), switches *how to NEWFILE_NAMED for good
 * and logs it once. A crash between the named steps leaves a name under
 * .geofs/tmp: alone (the stub of a create that never happened) or a second
 * name of a created file; `geoctl fsck` reports both (META-TEMP) and
 * --repair drops the name.
 *
 * Depends on log only. Functions return 0 or -errno.
 */
#ifndef GEOFS_NEWSTUB_H
#define GEOFS_NEWSTUB_H

#include <sys/types.h>

#include "geoid.h"

enum newstub_how { NEWFILE_AUTO = 0, NEWFILE_TMPFILE, NEWFILE_NAMED };

/* Suffix of a named stub under .geofs/tmp (a manifest temp ends ".tmp"). */
#define NEWFILE_SUFFIX ".stub"

struct newstub {
	int fd;				/* the stub, O_RDWR; -1 when done */
	int tmpdir;			/* .geofs/tmp (not owned) */
	char tmpname[GEO_HEX_LEN + sizeof(NEWFILE_SUFFIX)];	/* "" if unnamed */
};

/* Makes a stub for a file that will be linked into directory dfd, owned
 * by uid and gid (the group of dfd instead if dfd is setgid), with mode's
 * permission bits. tmpdir is the meta root's .geofs/tmp. *how (shared by
 * the mount's threads, read and written atomically) picks the way: AUTO
 * falls back to NAMED on the errors above and stays there; TMPFILE and
 * NAMED never fall back (TMPFILE's error is returned). */
int newstub_make(int dfd, int tmpdir, int *how, uid_t uid, gid_t gid, mode_t mode,
		 struct newstub *ns);

/* Gives the stub its final name dfd/name: -EEXIST (atomically) if taken. */
int newstub_link(struct newstub *ns, int dfd, const char *name);

/* Ends the making: drops the temporary name (if any; whether linked or
 * not) and closes ns->fd. Callers keep their own descriptor (a dup) if
 * they still need the stub. 0 or the -errno of the unlink. */
int newstub_done(struct newstub *ns);

#endif
