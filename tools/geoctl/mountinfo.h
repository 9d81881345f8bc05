/*
 * mountinfo.h — geofs mounts as /proc/self/mountinfo lists them: the file
 * system type is "fuse.geofs" (libfuse's "fuse." + program name).
 */
#ifndef GEOCTL_MOUNTINFO_H
#define GEOCTL_MOUNTINFO_H

#include <stddef.h>

struct mount_entry {
	const char *point;	/* mount point, unescaped */
	const char *fstype;	/* "fuse.geofs" */
	const char *source;	/* the mount source (fsname) */
};

/* Calls fn for every geofs mount until it returns nonzero (returned).
 * 0, or -errno if mountinfo cannot be read. */
int mountinfo_geofs(int (*fn)(const struct mount_entry *m, void *arg), void *arg);

/* The geofs mount point holding path (the longest that contains its real
 * path) into out. 0, -ENOENT if none, or -errno. */
int mountinfo_point_of(const char *path, char *out, size_t len);

#endif
