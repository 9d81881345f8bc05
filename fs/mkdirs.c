/*
 * mkdirs.c — directories that may already exist (see mkdirs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mkdirs.h"

int mkdir_at(int dirfd, const char *name, mode_t mode)
{
	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int mkdir_p(const char *path, mode_t parents, mode_t mode)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *sl = strchr(p + 1, '/'); sl && !rc; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		rc = mkdir_at(AT_FDCWD, p, parents);
		*sl = '/';
	}
	if (!rc)
		rc = mkdir_at(AT_FDCWD, p, mode);
	free(p);
	return rc;
}
