/*
 * test_marker.c — backend markers: marker_write's exact format, marker_read
 * on good, legacy-empty and foreign files, marker_check's errno for each
 * case (with a message naming backend, path and command), and
 * store_init_backend's --create / --force rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "marker.h"
#include "store.h"
#include "testutil.h"

static char *dir;
static int dfd;
static struct cfg_backend tokyo, seoul;

static void put(const char *text)
{
	int fd = openat(dfd, MARKER_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup(void **state)
{
	dir = tu_tmpdir();
	assert_non_null(dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(tokyo.name, sizeof(tokyo.name), "tokyo-1");
	tokyo.path = dir;
	tokyo.country = country_index("JP");
	snprintf(seoul.name, sizeof(seoul.name), "seoul-1");
	seoul.path = dir;
	seoul.country = country_index("KR");
	return 0;
}

static int teardown(void **state)
{
	close(dfd);
	assert_int_equal(tu_rmtree(dir), 0);
	return 0;
}

static void write_then_read(void **state)
{
	struct marker m;
	char buf[256];
	int fd;
	ssize_t n;

	assert_int_equal(marker_write(dfd, &tokyo), 0);
	fd = openat(dfd, MARKER_FILE, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	assert_string_equal(buf, "geofs-backend 1\nname tokyo-1\ncountry JP\n");
	assert_int_equal(faccessat(dfd, MARKER_FILE ".tmp", F_OK, 0), -1);
	assert_int_equal(marker_read(dfd, &m), 0);
	assert_string_equal(m.name, "tokyo-1");
	assert_string_equal(m.country, "JP");
}

static void check_cases(void **state)
{
	char err[1024];

	unlinkat(dfd, MARKER_FILE, 0);
	assert_int_equal(marker_check(dfd, &tokyo, "/etc/g.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "tokyo-1"));
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "geoctl backend init -c /etc/g.conf tokyo-1"));

	put("");					/* what older versions wrote */
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EINVAL);
	put("geofs-backend 2\nname tokyo-1\ncountry JP\n");
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EINVAL);
	put("geofs-backend 1\nname tokyo-1\ncountry XX\n");
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EINVAL);
	put("geofs-backend 1\ncountry JP\n");
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EINVAL);

	put("geofs-backend 1\nname seoul-1\ncountry KR\nfuture key\n");
	assert_int_equal(marker_check(dfd, &seoul, "g.conf", err, sizeof(err)), 0);
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EMEDIUMTYPE);
	assert_non_null(strstr(err, "KR"));
	assert_non_null(strstr(err, "--force tokyo-1"));

	put("geofs-backend 1\nname tokyo-1\ncountry KR\n");	/* same name, wrong country */
	assert_int_equal(marker_check(dfd, &tokyo, "g.conf", err, sizeof(err)), -EMEDIUMTYPE);
}

static void init_backend(void **state)
{
	struct cfg_backend b = tokyo;
	char err[1024], path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sub/tokyo-9", dir);
	b.path = path;
	assert_int_equal(store_init_backend(&b, "g.conf", 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--create"));
	assert_int_equal(store_init_backend(&b, "g.conf", STORE_INIT_CREATE, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(store_init_backend(&b, "g.conf", 0, err, sizeof(err)), 1);	/* already */

	b.country = country_index("KR");
	assert_int_equal(store_init_backend(&b, "g.conf", 0, err, sizeof(err)), -EMEDIUMTYPE);
	assert_int_equal(store_init_backend(&b, "g.conf", STORE_INIT_FORCE, err, sizeof(err)), 0);
	assert_int_equal(store_init_backend(&b, "g.conf", 0, err, sizeof(err)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_then_read),
		cmocka_unit_test(check_cases),
		cmocka_unit_test(init_backend),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
