/*
 * mkdirs.h — making directories that may already exist: one directory at a
 * directory descriptor, or a path with its missing parents (mkdir -p).
 * Depends on nothing else of geofs.
 */
#ifndef GEOFS_MKDIRS_H
#define GEOFS_MKDIRS_H

#include <sys/types.h>

/* mkdirat(dirfd, name, mode); one that exists already (of any type: the
 * open that follows finds out) is success. 0 or -errno. */
int mkdir_at(int dirfd, const char *name, mode_t mode);

/* mkdir -p: every missing directory above path with mode parents, path
 * itself with mode (existing ones are left as they are). 0, -ENOMEM or the
 * -errno of the first mkdir that failed. */
int mkdir_p(const char *path, mode_t parents, mode_t mode);

#endif
