/*
 * fileio.c — full reads and writes (see fileio.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

int fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long fileio_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

/* A pipe or the like, to end of file: the buffer doubles up to max + 1. */
static int read_stream(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap ? (cap <= max / 2 ? 2 * cap : max + 1) : (max < 4096 ? max + 1 : 4096);
			if (!(nb = realloc(buf, cap + 1))) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			free(buf);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int fileio_read_whole(int fd, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	long n;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return read_stream(fd, max, out, len);
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	if (!(buf = malloc((size_t)st.st_size + 1)))
		return -ENOMEM;
	n = fileio_pread_full(fd, buf, (size_t)st.st_size, 0);
	if (n != (long)st.st_size) {
		free(buf);
		return n < 0 ? (int)n : -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int fileio_flock(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}
