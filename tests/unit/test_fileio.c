/*
 * test_fileio.c — fileio_flock() reports a lock that cannot be had as
 * -errno (the commit path and key rotation fail on it rather than go on
 * unlocked): a descriptor that cannot be locked (EBADF, what NFS gives for
 * LOCK_EX on a file open read-only), a lock held through another open
 * (EWOULDBLOCK with LOCK_NB), and the meta root's lock held the other way
 * (meta_hold: EBUSY).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flock_failures_are_errors),
		cmocka_unit_test(meta_hold_refuses_the_other_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
