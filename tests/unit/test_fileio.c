/*
 * test_fileio.c — fileio_flock() reports a lock that cannot be had as
 * -errno (the commit path and key rotation fail on it rather than go on
 * unlocked): a descriptor that cannot be locked (EBADF, what NFS gives for
 * LOCK_EX on a file open read-only), a lock held through another open
 * (EWOULDBLOCK with LOCK_NB), and the meta root's lock held the other way
 * (meta_hold: EBUSY). fileio_read_whole() reads a regular file and a pipe
 * whole, NUL-terminated, and refuses one byte over its limit with -EFBIG.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "meta.h"
#include "testutil.h"

static void flock_failures_are_errors(void **state)
{
	char *dir = tu_tmpdir(), path[512];
	int a, b, p;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/stub", dir);
	a = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	b = open(path, O_RDWR | O_CLOEXEC);
	p = open(path, O_PATH | O_CLOEXEC);
	assert_true(a >= 0 && b >= 0 && p >= 0);
	assert_int_equal(fileio_flock(p, LOCK_EX), -EBADF);
	assert_int_equal(fileio_flock(a, LOCK_EX), 0);
	assert_int_equal(fileio_flock(b, LOCK_EX | LOCK_NB), -EWOULDBLOCK);
	assert_int_equal(fileio_flock(a, LOCK_UN), 0);
	assert_int_equal(fileio_flock(b, LOCK_EX | LOCK_NB), 0);
	close(p);
	close(b);
	close(a);
	assert_int_equal(tu_rmtree(dir), 0);
}

static void meta_hold_refuses_the_other_kind(void **state)
{
	char *dir = tu_tmpdir(), path[512], err[512];
	struct meta *m1, *m2;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/meta", dir);
	assert_int_equal(meta_open(path, true, &m1, err, sizeof(err)), 0);
	assert_int_equal(meta_open(path, false, &m2, err, sizeof(err)), 0);
	assert_int_equal(meta_hold(m1, false), 0);	/* a mounted daemon */
	assert_int_equal(meta_hold(m2, true), -EBUSY);	/* fsck --repair */
	meta_close(m1);
	assert_int_equal(meta_hold(m2, true), 0);
	meta_close(m2);
	assert_int_equal(tu_rmtree(dir), 0);
}

static void read_whole_regular_file(void **state)
{
	char *dir = tu_tmpdir(), path[512], *buf, data[10000];
	size_t len;
	int fd;

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_read_whole(fd, 0, &buf, &len), 0);	/* empty */
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	assert_int_equal(fileio_write_all(fd, data, sizeof(data)), 0);
	/* From offset 0, whatever the position. */
	assert_int_equal(fileio_read_whole(fd, sizeof(data), &buf, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	assert_int_equal(buf[len], '\0');
	free(buf);
	buf = (char *)1;
	assert_int_equal(fileio_read_whole(fd, sizeof(data) - 1, &buf, &len), -EFBIG);
	assert_null(buf);
	close(fd);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* A pipe has no size: it is read to end of file, growing the buffer. */
static void read_whole_pipe(void **state)
{
	char data[20000], *buf;
	size_t len;
	int p[2];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	for (int limit = 0; limit < 2; limit++) {
		assert_int_equal(pipe(p), 0);
		assert_int_equal(fileio_write_all(p[1], data, sizeof(data)), 0);
		close(p[1]);
		if (limit) {
			assert_int_equal(fileio_read_whole(p[0], sizeof(data) - 1, &buf, &len), -EFBIG);
		} else {
			assert_int_equal(fileio_read_whole(p[0], sizeof(data), &buf, &len), 0);
			assert_int_equal(len, sizeof(data));
			assert_memory_equal(buf, data, sizeof(data));
			assert_int_equal(buf[len], '\0');
			free(buf);
		}
		close(p[0]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flock_failures_are_errors),
		cmocka_unit_test(meta_hold_refuses_the_other_kind),
		cmocka_unit_test(read_whole_regular_file),
		cmocka_unit_test(read_whole_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
