/*
 * scan.h — the mount verbs' common loop: walk each PATH argument and hand
 * every regular file and directory to the verb with its parsed
 * user.geo.info and the info of the directory it is in.
 *
 * Symlinks and special files below a root are passed over (the kernel
 * serves no user.* xattrs on them). Every path that fails (not on geofs,
 * unreadable, malformed info) is reported on stderr, naming the path, and
 * counted; the scan goes on.
 */
#ifndef GEOCTL_SCAN_H
#define GEOCTL_SCAN_H

#include <stdbool.h>
#include <sys/stat.h>

#include "info.h"

struct scan_item {
	const char *path;
	const struct stat *st;
	const struct geo_info *gi;
	/* The directory containing path: its info during a recursive walk,
	 * loaded from the parent path for a root argument when the verb asks
	 * (SCAN_PARENT). NULL if unknown or not on geofs. */
	const struct geo_info *dir;
	const char *dir_path;
	int depth;			/* 0 for a PATH argument */
};

#define SCAN_RECURSE 0x1		/* walk everything below each PATH */
#define SCAN_PARENT  0x2		/* load the parent dir info of root arguments */

/* Returns 0 to go on, or -errno to stop the scan. */
typedef int (*scan_fn)(const struct scan_item *it, void *arg);

/* Returns the number of paths that could not be scanned (0: all were), or
 * the negative errno fn stopped with (-EINTR when walk_stop was set). */
int scan_paths(char *const *paths, int npaths, unsigned flags, scan_fn fn, void *arg);

/* Checks that every PATH argument is on a mounted geofs, naming each that
 * is not (or cannot be read) on stderr. Returns how many failed: a verb
 * then prints nothing else, rather than an empty report about them. */
int scan_check_roots(char *const *paths, int npaths);

#endif
