/*
 * marker.c — reading, checking and writing backend markers (see marker.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "marker.h"

#define MARKER_MAGIC "geofs-backend 1"

long marker_read_file(int dirfd, char *buf, size_t cap)
{
	int fd = openat(dirfd, MARKER_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	long n = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size >= cap) {
		rc = -EINVAL;
		goto out;
	}
	n = fileio_pread_full(fd, buf, cap - 1, 0);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	buf[n] = '\0';
out:
	close(fd);
	return rc ? rc : n;
}

/* Copies the value of "key value" line into out; false if too long. */
static bool take_value(const char *val, char *out, size_t len)
{
	size_t n = strlen(val);

	if (n == 0 || n >= len)
		return false;
	memcpy(out, val, n + 1);
	return true;
}

int marker_parse(char *buf, size_t len, struct marker *m)
{
	char *save = NULL, *line;
	bool first = true;

	memset(m, 0, sizeof(*m));
	if (memchr(buf, '\0', len))
		return -EINVAL;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp;

		if (first) {
			if (strcmp(line, MARKER_MAGIC) != 0)
				return -EINVAL;
			first = false;
			continue;
		}
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		if (strcmp(line, "name") == 0 && !take_value(sp + 1, m->name, sizeof(m->name)))
			return -EINVAL;
		if (strcmp(line, "country") == 0 &&
		    !take_value(sp + 1, m->country, sizeof(m->country)))
			return -EINVAL;
	}
	if (first || !m->name[0] || country_index(m->country) < 0)
		return -EINVAL;
	return 0;
}

int marker_read(int dirfd, struct marker *m)
{
	char buf[MARKER_MAX];
	long n = marker_read_file(dirfd, buf, sizeof(buf));

	return n < 0 ? (int)n : marker_parse(buf, (size_t)n, m);
}

int marker_check(int dirfd, const struct cfg_backend *cb, const char *cfgfile,
		 char *err, size_t errlen)
{
	struct marker m;

	return marker_judge(marker_read(dirfd, &m), &m, cb, cfgfile, err, errlen);
}

int marker_judge(int rc, const struct marker *mk, const struct cfg_backend *cb,
		 const char *cfgfile, char *err, size_t errlen)
{
	const char *want = country_code(cb->country);
	const char *where = cb->where ? cb->where : cb->path;
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		snprintf(err, errlen,
			 "backend %s: %s has no %s marker, so it may not be the storage the config "
			 "means (an unmounted share?); if it is, mark it with: geoctl backend init "
			 "-c %s %s", cb->name, where, MARKER_FILE, cfgfile, cb->name);
		return rc;
	case -EINVAL:
		snprintf(err, errlen,
			 "backend %s: %s/%s is not a valid marker (expected \"%s\", name and "
			 "country lines); rewrite it with: geoctl backend init -c %s %s",
			 cb->name, where, MARKER_FILE, MARKER_MAGIC, cfgfile, cb->name);
		return rc;
	default:
		snprintf(err, errlen, "backend %s: %s/%s: %s", cb->name, where, MARKER_FILE,
			 strerror(-rc));
		return rc;
	}
	if (strcmp(mk->country, want) == 0 && strcmp(mk->name, cb->name) == 0)
		return 0;
	snprintf(err, errlen,
		 "backend %s: %s is marked as backend %s in %s, but the config wants backend %s "
		 "in %s: refusing to use it. Fix the %s in %s, or if this %s really is "
		 "%s in %s now, re-mark it with: geoctl backend init -c %s --force %s",
		 cb->name, where, mk->name, mk->country, cb->name, want, cb->path ? "path" : "bucket or prefix",
		 cfgfile, cb->path ? "directory" : "bucket", cb->name, want, cfgfile, cb->name);
	return -EMEDIUMTYPE;
}

int marker_format(const struct cfg_backend *cb, char *buf, size_t cap)
{
	return snprintf(buf, cap, "%s\nname %s\ncountry %s\n", MARKER_MAGIC, cb->name,
			country_code(cb->country));
}

int marker_write(int dirfd, const struct cfg_backend *cb)
{
	char text[MARKER_MAX];
	int n = marker_format(cb, text, sizeof(text));

	return marker_write_file(dirfd, text, (size_t)n);
}

int marker_write_file(int dirfd, const char *text, size_t n)
{
	static const char tmp[] = MARKER_FILE ".tmp";
	int fd, rc = 0;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		rc = errno ? -errno : -EIO;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(dirfd, tmp, dirfd, MARKER_FILE) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	return fsync(dirfd) < 0 ? -errno : 0;
}
