/*
 * test_regressions.c — replays the fuzz seed corpora (tests/fuzz/corpus/)
 * and every input that once broke a parser (tests/fuzz/crashes/) through
 * the very checks the libFuzzer targets make: the target sources are
 * included here with FUZZ_NO_MAIN, so `make test` keeps every fixed crash
 * fixed without clang. A failed check aborts (cmocka reports it).
 *
 * The inputs are found relative to this source file (__FILE__), or under
 * $GEOFS_FUZZ_DIR when set.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#define FUZZ_NO_MAIN
#include "../fuzz/fuzz_audit.c"
#include "../fuzz/fuzz_config.c"
#include "../fuzz/fuzz_keyring.c"
#include "../fuzz/fuzz_manifest.c"
#include "../fuzz/fuzz_object.c"
#include "../fuzz/fuzz_s3list.c"

static char fuzz_dir[PATH_MAX];

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	assert_int_equal(*len, (size_t)st.st_size);
	fclose(f);
	return buf;
}

/* Runs fn on every file of fuzz_dir/kind/target; returns how many. */
static int replay(const char *kind, const char *target, int (*fn)(const uint8_t *, size_t))
{
	char dir[PATH_MAX + 64], path[PATH_MAX + 400];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/%s", fuzz_dir, kind, target);
	d = opendir(dir);
	if (!d) {
		assert_int_equal(errno, ENOENT);	/* no crashes yet is fine */
		return 0;
	}
	while ((de = readdir(d))) {
		uint8_t *buf;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf = slurp(path, &len);
		print_message("  %s/%s/%s (%zu bytes)\n", kind, target, de->d_name, len);
		fn(buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void run_target(const char *target, int (*fn)(const uint8_t *, size_t))
{
	/* The seeds must be there: a wrong path must not pass silently. */
	assert_true(replay("corpus", target, fn) >= 3);
	replay("crashes", target, fn);
}

static void test_config(void **state)
{
	run_target("config", fuzz_config);
}

static void test_manifest(void **state)
{
	run_target("manifest", fuzz_manifest);
}

static void test_object(void **state)
{
	run_target("object", fuzz_object);
}

static void test_keyring(void **state)
{
	run_target("keyring", fuzz_keyring);
}

static void test_audit(void **state)
{
	run_target("audit", fuzz_audit);
}

static void test_s3list(void **state)
{
	run_target("s3list", fuzz_s3list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_s3list),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_audit),
	};
	const char *env = getenv("GEOFS_FUZZ_DIR");

	if (env && *env) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s", env);
	} else {
		const char *slash = strrchr(__FILE__, '/');
		int n = slash ? (int)(slash - __FILE__) : 0;

		snprintf(fuzz_dir, sizeof(fuzz_dir), "%.*s%s../fuzz", n, __FILE__, n ? "/" : "");
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
