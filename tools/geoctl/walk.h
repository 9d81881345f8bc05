/*
 * walk.h — depth-first walk of a directory tree by path.
 *
 * Pre-order (a directory before its contents: `tag -R` relies on it so a
 * directory's new defaults are in place before its children are tagged),
 * entries in byte order of their names, symlinks never followed below the
 * root, no descent into another file system (a mount below the tree is
 * skipped). Paths are built as strings from the root argument, so what a
 * verb prints is what the admin typed plus the names below it.
 *
 * Each node can carry the verb's data for its children (n->data, released
 * in ops->leave), e.g. verify keeps a directory's tags there to compare
 * each file with its directory.
 */
#ifndef GEOCTL_WALK_H
#define GEOCTL_WALK_H

#include <stdbool.h>
#include <sys/stat.h>

#define WALK_RECURSE   0x1	/* descend into directories (else: the root only) */
#define WALK_SKIP_META 0x2	/* skip ".geofs" directly below the root (meta roots) */

#define WALK_PRUNE 1		/* visit() result: do not descend into this directory */

struct walk_node {
	const char *path;
	struct stat st;			/* stat() for the root, lstat() below */
	int depth;			/* 0 for the root */
	const struct walk_node *parent;	/* NULL for the root */
	void *data;			/* the verb's, for a directory's children */
};

struct walk_ops {
	/* Every node. 0 to go on, WALK_PRUNE to skip a directory's
	 * contents, or -errno to stop the walk (walk() returns it). */
	int (*visit)(struct walk_node *n, void *arg);
	/* After a visited node (and its contents); frees n->data. May be NULL. */
	void (*leave)(struct walk_node *n, void *arg);
	/* A path could not be stat'ed or a directory read (err = -errno).
	 * 0 to go on, -errno to stop. NULL: print "PATH: reason" and go on. */
	int (*error)(const char *path, int err, void *arg);
};

/* Walks root. Returns the number of errors passed over (0: everything was
 * visited), or the negative errno that stopped the walk. */
int walk(const char *root, unsigned flags, const struct walk_ops *ops, void *arg);

/* Set by a signal handler to stop every walk at the next entry (walk
 * returns -EINTR). */
extern volatile int walk_stop;

#endif
