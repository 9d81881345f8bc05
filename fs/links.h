/*
 * links.h — the names of hard-linked files this mount has seen, so the
 * kernel's cached attributes of every name can be dropped when one changes.
 *
 * The FUSE high-level API gives each name its own kernel inode, so after a
 * write, link or unlink through one name the others would show a stale
 * size or link count until their attributes time out. The core records
 * the paths of regular files with more than one link as it meets them
 * (getattr, link, rename) and calls the front end's invalidation hook for
 * all of them when the file changes. Bounded: a few names per file, a few
 * thousand files; beyond that the attribute timeout (1 s) is the bound.
 * Thread safe.
 */
#ifndef GEOFS_LINKS_H
#define GEOFS_LINKS_H

#include <sys/types.h>

struct links;

struct links *links_new(void);
void links_free(struct links *l);		/* NULL ok */

/* Records that inode ino is reachable as path. */
void links_note(struct links *l, ino_t ino, const char *path);

/* Forgets one name (unlinked or renamed away). */
void links_forget(struct links *l, ino_t ino, const char *path);

/* Calls fn(arg, path) for every recorded name of ino. */
void links_each(struct links *l, ino_t ino, void (*fn)(void *arg, const char *path), void *arg);

#endif
