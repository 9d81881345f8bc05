/*
 * test_keys.c — domain-key derivation (pinned to its documented HKDF
 * inputs), file-key wrapping, and the keyring file: round trip, mode
 * checks, exclusive save, and FILE:LINE errors for malformed content.
 * Rotation: new versions (derived or fresh), rewrapping a manifest's file
 * key with right and wrong keys, and rewrap_file() on a real meta root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "keys.h"
#include "meta.h"
#include "rewrap.h"
#include "testutil.h"

#define MASTER_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_A_HEX  "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

static char *dir;
static char path[512];
static char err[4096];

static int setup(void **state)
{
	dir = tu_tmpdir();
	assert_non_null(dir);
	return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int teardown(void **state)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);	/* rewrap_file's meta root too */
	free(dir);
	return 0;
}

/* Writes text to dir/name with mode; sets path. */
static void write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct keyring *load_text(const char *text, int *ret)
{
	struct keyring *kr = NULL;

	write_file("k", text, strlen(text), 0600);
	*ret = keyring_load(path, &kr, err, sizeof(err));
	return kr;
}

static struct keyring *load_ok(const char *text)
{
	int ret;
	struct keyring *kr = load_text(text, &ret);

	if (ret)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(ret, 0);
	assert_non_null(kr);
	return kr;
}

/* The derivation is exactly HKDF-SHA256(master, "geofs-keyring-v1",
 * "geofs domain " DOMAIN " v" VERSION): other sites depend on it. */
static void test_derivation_pinned(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	uint8_t master[32], want[32], got[32];
	const char *info = "geofs domain JP:medical v3";

	tu_unhex(MASTER_HEX, master);
	assert_int_equal(crypto_hkdf(master, 32, "geofs-keyring-v1", 16, info, strlen(info),
				     want, 32), 0);
	assert_int_equal(keyring_domain_key(kr, "JP:medical", 3, got), 0);
	assert_memory_equal(got, want, 32);
	assert_true(keyring_has_master(kr));
	keyring_free(kr);
}

static void test_derivation_deterministic_and_distinct(void **state)
{
	struct keyring *a = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	struct keyring *b = load_ok("# copy\n\ngeofs-keyring 1\nmaster " MASTER_HEX "\n");
	struct keyring *c;
	uint8_t k1[32], k2[32], k3[32], k4[32];

	assert_int_equal(keyring_new(true, &c), 0);
	assert_int_equal(keyring_domain_key(a, "JP:medical", 1, k1), 0);
	assert_int_equal(keyring_domain_key(b, "JP:medical", 1, k2), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(keyring_domain_key(a, "JP:medical", 2, k3), 0);
	assert_memory_not_equal(k1, k3, 32);
	assert_int_equal(keyring_domain_key(a, "KR:medical", 1, k3), 0);
	assert_memory_not_equal(k1, k3, 32);
	assert_int_equal(keyring_domain_key(a, "JP:medical.x", 1, k3), 0);
	assert_memory_not_equal(k1, k3, 32);
	assert_int_equal(keyring_domain_key(c, "JP:medical", 1, k4), 0);
	assert_memory_not_equal(k1, k4, 32);	/* another master */

	assert_int_equal(keyring_domain_key(a, "JP:medical", 0, k3), -EINVAL);
	assert_int_equal(keyring_domain_key(a, "XX:medical", 1, k3), -EINVAL);
	assert_int_equal(keyring_domain_key(a, "JP:", 1, k3), -EINVAL);
	keyring_free(a);
	keyring_free(b);
	keyring_free(c);
}

static void test_explicit_domain_wins(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n"
				     "domain JP:public 2 " KEY_A_HEX "\n");
	uint8_t want[32], got[32];

	tu_unhex(KEY_A_HEX, want);
	assert_int_equal(keyring_domain_key(kr, "JP:public", 2, got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(keyring_domain_key(kr, "JP:public", 1, got), 0);
	assert_memory_not_equal(got, want, 32);	/* v1 still derives */
	keyring_free(kr);
}

static void test_no_master(void **state)
{
	struct keyring *kr;
	uint8_t k[32], want[32];

	assert_int_equal(keyring_new(false, &kr), 0);
	assert_false(keyring_has_master(kr));
	assert_int_equal(keyring_domain_key(kr, "JP:public", 1, k), -ENOKEY);
	tu_unhex(KEY_A_HEX, want);
	assert_int_equal(keyring_add_domain(kr, "JP:public", 1, want), 0);
	assert_int_equal(keyring_domain_key(kr, "JP:public", 1, k), 0);
	assert_memory_equal(k, want, 32);
	assert_int_equal(keyring_domain_key(kr, "JP:public", 2, k), -ENOKEY);
	assert_int_equal(keyring_add_domain(kr, "bad", 1, want), -EINVAL);
	assert_int_equal(keyring_add_domain(kr, "JP:public", 0, want), -EINVAL);
	keyring_free(kr);
	keyring_free(NULL);
}

static void test_current(void **state)
{
	struct keyring *kr;

	assert_int_equal(keyring_new(false, &kr), 0);
	assert_int_equal(keyring_current(kr, "JP:medical"), 1);
	assert_int_equal(keyring_set_current(kr, "JP:medical", 3), 0);
	assert_int_equal(keyring_set_current(kr, "JP:medical", 4), 0);
	assert_int_equal(keyring_current(kr, "JP:medical"), 4);
	assert_int_equal(keyring_current(kr, "KR:medical"), 1);
	assert_int_equal(keyring_set_current(kr, "JP:medical", 0), -EINVAL);
	assert_int_equal(keyring_set_current(kr, "jp:medical", 2), -EINVAL);
	keyring_free(kr);
}

static void test_domain_names(void **state)
{
	char d[KEYS_DOMAIN_MAX];
	char longcat[70];

	assert_true(keys_domain_valid("JP:medical"));
	assert_true(keys_domain_valid("DE:a.b_c-9"));
	assert_false(keys_domain_valid("JP"));
	assert_false(keys_domain_valid("JP:"));
	assert_false(keys_domain_valid("jp:medical"));
	assert_false(keys_domain_valid("ZZ:medical"));
	assert_false(keys_domain_valid("JPN:medical"));
	assert_false(keys_domain_valid("JP:med ical"));
	assert_false(keys_domain_valid("JP:med/ical"));
	assert_false(keys_domain_valid(NULL));
	memset(longcat, 'a', sizeof(longcat));
	memcpy(longcat, "JP:", 3);
	longcat[3 + 63] = '\0';
	assert_true(keys_domain_valid(longcat));
	longcat[3 + 63] = 'a';
	longcat[3 + 64] = '\0';
	assert_false(keys_domain_valid(longcat));
	keys_domain(d, "KR", "payment");
	assert_string_equal(d, "KR:payment");
}

static void test_wrap_unwrap(void **state)
{
	uint8_t dkey[32], fkey[32], got[32], wrapped[KEYS_WRAPPED_LEN], w2[KEYS_WRAPPED_LEN];
	struct geo_id fid, fid2;

	tu_fill(dkey, 32, 11);
	tu_fill(fkey, 32, 12);
	tu_fill(fid.b, GEO_ID_LEN, 13);
	fid2 = fid;
	fid2.b[0] ^= 1;
	assert_int_equal(keys_wrap(dkey, &fid, "JP:medical", 1, fkey, wrapped), 0);
	assert_null(memmem(wrapped, sizeof(wrapped), fkey, 8));
	assert_int_equal(keys_unwrap(dkey, &fid, "JP:medical", 1, wrapped, got), 0);
	assert_memory_equal(got, fkey, 32);

	assert_int_equal(keys_wrap(dkey, &fid, "JP:medical", 1, fkey, w2), 0);
	assert_memory_not_equal(wrapped, w2, sizeof(w2));	/* fresh nonce */

	assert_int_equal(keys_unwrap(dkey, &fid2, "JP:medical", 1, wrapped, got), -EIO);
	assert_int_equal(keys_unwrap(dkey, &fid, "JP:medica", 1, wrapped, got), -EIO);
	assert_int_equal(keys_unwrap(dkey, &fid, "KR:medical", 1, wrapped, got), -EIO);
	assert_int_equal(keys_unwrap(dkey, &fid, "JP:medical", 2, wrapped, got), -EIO);
	assert_int_equal(keys_unwrap(dkey, &fid, "JP:medical", 257, wrapped, got), -EIO);
	dkey[0] ^= 1;
	assert_int_equal(keys_unwrap(dkey, &fid, "JP:medical", 1, wrapped, got), -EIO);
	dkey[0] ^= 1;
	for (size_t i = 0; i < sizeof(wrapped); i++) {
		wrapped[i] ^= 4;
		assert_int_equal(keys_unwrap(dkey, &fid, "JP:medical", 1, wrapped, got), -EIO);
		wrapped[i] ^= 4;
	}
}

static void test_save_load_round_trip(void **state)
{
	struct keyring *kr, *back;
	uint8_t ka[32], k1[32], k2[32];
	struct stat st;

	assert_int_equal(keyring_new(true, &kr), 0);
	tu_unhex(KEY_A_HEX, ka);
	assert_int_equal(keyring_add_domain(kr, "KR:media", 1, ka), 0);
	assert_int_equal(keyring_add_domain(kr, "KR:media", 2, ka), 0);
	assert_int_equal(keyring_set_current(kr, "KR:media", 2), 0);
	assert_int_equal(keyring_set_current(kr, "JP:medical", 5), 0);

	snprintf(path, sizeof(path), "%s/site.keyring", dir);
	assert_int_equal(keyring_save(kr, path, true, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(keyring_load(path, &back, err, sizeof(err)), 0);

	assert_true(keyring_has_master(back));
	assert_int_equal(keyring_current(back, "KR:media"), 2);
	assert_int_equal(keyring_current(back, "JP:medical"), 5);
	assert_int_equal(keyring_domain_key(back, "KR:media", 2, k1), 0);
	assert_memory_equal(k1, ka, 32);
	assert_int_equal(keyring_domain_key(kr, "JP:medical", 5, k1), 0);
	assert_int_equal(keyring_domain_key(back, "JP:medical", 5, k2), 0);
	assert_memory_equal(k1, k2, 32);	/* same master */

	/* non-exclusive save replaces atomically; still 0600 */
	assert_int_equal(keyring_set_current(back, "KR:media", 3), 0);
	assert_int_equal(keyring_save(back, path, false, err, sizeof(err)), 0);
	keyring_free(back);
	assert_int_equal(keyring_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(keyring_current(back, "KR:media"), 3);
	keyring_free(back);
	keyring_free(kr);
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_exclusive_save(void **state)
{
	struct keyring *kr;
	char before[64], after[64];
	int fd, n;

	write_file("taken.keyring", "precious\n", 9, 0600);
	assert_int_equal(keyring_new(true, &kr), 0);
	n = count_files();
	assert_int_equal(keyring_save(kr, path, true, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "will not overwrite"));
	assert_int_equal(count_files(), n);	/* no temp file left */
	fd = open(path, O_RDONLY);
	memset(before, 0, sizeof(before));
	memset(after, 0, sizeof(after));
	memcpy(before, "precious\n", 9);
	assert_int_equal(read(fd, after, sizeof(after)), 9);
	close(fd);
	assert_string_equal(before, after);

	snprintf(path, sizeof(path), "%s/no/such/dir/k", dir);
	assert_int_equal(keyring_save(kr, path, true, err, sizeof(err)), -ENOENT);
	keyring_free(kr);
}

static void test_write_fd(void **state)
{
	struct keyring *kr;
	char buf[1024] = { 0 };
	uint8_t ka[32];
	int fd;

	tu_unhex(KEY_A_HEX, ka);
	assert_int_equal(keyring_new(false, &kr), 0);
	assert_int_equal(keyring_add_domain(kr, "JP:public", 1, ka), 0);
	assert_int_equal(keyring_set_current(kr, "JP:public", 1), 0);
	snprintf(path, sizeof(path), "%s/w", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(keyring_write(kr, fd), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_true(strncmp(buf, "geofs-keyring 1\n", 16) == 0);
	assert_non_null(strstr(buf, "\ndomain JP:public 1 " KEY_A_HEX "\n"));
	assert_non_null(strstr(buf, "\ncurrent JP:public 1\n"));
	assert_null(strstr(buf, "master"));
	keyring_free(kr);
}

static void test_mode_refused(void **state)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0610 };
	const char *text = "geofs-keyring 1\n";
	struct keyring *kr = (struct keyring *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file("k", text, strlen(text), bad[i]);
		assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), -EPERM);
		assert_null(kr);
		assert_non_null(strstr(err, "chmod 600"));
		assert_non_null(strstr(err, path));
	}
	write_file("k", text, strlen(text), 0400);
	assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), 0);
	keyring_free(kr);
}

static void test_missing_file(void **state)
{
	struct keyring *kr;

	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "create it with: geoctl keys init -c CONFIG"));
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), -EINVAL);	/* a directory */
}

struct bad_case {
	const char *text;
	int line;
	const char *what;
};

static void test_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ "", 0, "empty file" },
		{ "# only a comment\n", 0, "empty file" },
		{ "geofs-keyring 2\n", 1, "unsupported keyring version" },
		{ "\nkeyring 1\n", 2, "not a geofs keyring" },
		{ "master " MASTER_HEX "\n", 1, "not a geofs keyring" },
		{ "geofs-keyring 1\nmaster 0011\n", 2, "64 hex digits" },
		{ "geofs-keyring 1\nmaster " MASTER_HEX "\nmaster " MASTER_HEX "\n", 3,
		  "second master" },
		{ "geofs-keyring 1\nmaster\n", 2, "expected 'master HEX64'" },
		{ "geofs-keyring 1\n\n\nfrobnicate " MASTER_HEX "\n", 4, "unknown item" },
		{ "geofs-keyring 1\ndomain JP:x 1\n", 2, "expected 'domain" },
		{ "geofs-keyring 1\ndomain jp:x 1 " KEY_A_HEX "\n", 2, "bad domain" },
		{ "geofs-keyring 1\ndomain JP:x 0 " KEY_A_HEX "\n", 2, "bad version" },
		{ "geofs-keyring 1\ndomain JP:x 01 " KEY_A_HEX "\n", 2, "bad version" },
		{ "geofs-keyring 1\ndomain JP:x 4294967296 " KEY_A_HEX "\n", 2, "bad version" },
		{ "geofs-keyring 1\ndomain JP:x -1 " KEY_A_HEX "\n", 2, "bad version" },
		{ "geofs-keyring 1\ndomain JP:x 1 " KEY_A_HEX "zz\n", 2, "64 hex digits" },
		{ "geofs-keyring 1\ndomain JP:x 1 " KEY_A_HEX "\ndomain JP:x 1 " KEY_A_HEX "\n",
		  3, "duplicate key for JP:x version 1" },
		{ "geofs-keyring 1\ndomain JP:x 1 " KEY_A_HEX " extra\n", 2, "too many fields" },
		{ "geofs-keyring 1\ncurrent JP:x\n", 2, "expected 'current" },
		{ "geofs-keyring 1\ncurrent JP:x 2\ncurrent JP:x 3\n", 3, "second 'current'" },
		{ "geofs-keyring 1\ncurrent JP:x 2 3\n", 2, "expected 'current" },
	};
	char want[600];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;
		struct keyring *kr = load_text(cases[i].text, &ret);

		if (ret != -EINVAL)
			fprintf(stderr, "case %zu: ret %d\n", i, ret);
		assert_int_equal(ret, -EINVAL);
		assert_null(kr);
		if (cases[i].line)
			snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
		else
			snprintf(want, sizeof(want), "%s: ", path);
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].what))
			fprintf(stderr, "case %zu: got \"%s\"\n", i, err);
		assert_true(strncmp(err, want, strlen(want)) == 0);
		assert_non_null(strstr(err, cases[i].what));
		/* never echo key material */
		assert_null(strstr(err, "a0a1a2a3"));
		assert_null(strstr(err, "00010203"));
	}
}

static void test_every_error_reported(void **state)
{
	int ret;
	struct keyring *kr = load_text("geofs-keyring 1\nbogus\nmaster 12\ncurrent XX:y 1\n", &ret);

	assert_int_equal(ret, -EINVAL);
	assert_null(kr);
	assert_non_null(strstr(err, ":2: "));
	assert_non_null(strstr(err, ":3: "));
	assert_non_null(strstr(err, ":4: "));
}

static void test_long_lines_nul_crlf(void **state)
{
	char big[1200];
	int ret;
	struct keyring *kr;

	memset(big, 'a', sizeof(big));
	memcpy(big, "geofs-keyring 1\n# ", 18);
	big[sizeof(big) - 1] = '\n';
	write_file("k", big, sizeof(big), 0600);
	assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: line longer than"));

	write_file("k", "geofs-keyring 1\nmaster \0\n", 25, 0600);
	assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: NUL byte"));

	{
		size_t n = (4u << 20) + 1;
		char *huge = malloc(n);

		memset(huge, '#', n);
		memcpy(huge, "geofs-keyring 1\n", 16);
		write_file("k", huge, n, 0600);
		free(huge);
		assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "not a keyring"));
	}

	kr = load_ok("geofs-keyring 1\r\n  # indented comment\r\n\tmaster\t" MASTER_HEX " \r\n"
		     "current JP:x 7");	/* CRLF, blanks, no final newline */
	assert_true(keyring_has_master(kr));
	assert_int_equal(keyring_current(kr, "JP:x"), 7);
	keyring_free(kr);
	(void)ret;
}

/* Random mutations of a valid keyring: load must return 0 or -EINVAL and
 * never crash (sanitizers watch the rest). */
static void test_mutations(void **state)
{
	const char *base = "geofs-keyring 1\nmaster " MASTER_HEX "\n"
			   "domain JP:public 3 " KEY_A_HEX "\ncurrent JP:public 3\n";
	size_t n = strlen(base);
	char *buf = malloc(n + 8);
	uint8_t rnd[4];

	for (uint64_t round = 0; round < 3000; round++) {
		struct keyring *kr = NULL;
		int ret;

		memcpy(buf, base, n);
		tu_fill(rnd, sizeof(rnd), round + 1);
		buf[rnd[0] % n] = (char)rnd[1];
		buf[(rnd[2] * 7u) % n] = (char)rnd[3];
		write_file("k", buf, n - (round % 3 == 0 ? rnd[2] % n : 0), 0600);
		ret = keyring_load(path, &kr, err, sizeof(err));
		assert_true(ret == 0 || ret == -EINVAL);
		assert_true((ret == 0) == (kr != NULL));
		keyring_free(kr);
	}
	free(buf);
}

/* ---- rotation ----------------------------------------------------------- */

static void test_rotate_with_master(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	uint8_t master[32], want[32], got[32], v1[32];
	const char *info = "geofs domain JP:personal v2";
	uint32_t nv = 0;
	bool fresh = true;

	assert_int_equal(keyring_domain_key(kr, "JP:personal", 1, v1), 0);
	assert_int_equal(keyring_rotate(kr, "JP:personal", &nv, &fresh), 0);
	assert_int_equal(nv, 2);
	assert_false(fresh);
	assert_int_equal(keyring_current(kr, "JP:personal"), 2);
	assert_false(keyring_has_explicit(kr, "JP:personal", 2));
	/* Version 2 is exactly the documented derivation; v1 is unchanged. */
	tu_unhex(MASTER_HEX, master);
	assert_int_equal(crypto_hkdf(master, 32, "geofs-keyring-v1", 16, info, strlen(info),
				     want, 32), 0);
	assert_int_equal(keyring_domain_key(kr, "JP:personal", 2, got), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(keyring_domain_key(kr, "JP:personal", 1, got), 0);
	assert_memory_equal(got, v1, 32);
	assert_int_equal(keyring_rotate(kr, "JP:personal", &nv, &fresh), 0);
	assert_int_equal(nv, 3);
	assert_int_equal(keyring_current(kr, "JP:public"), 1);	/* others untouched */

	/* The new current version survives a save and a load. */
	snprintf(path, sizeof(path), "%s/rotated", dir);
	unlink(path);
	assert_int_equal(keyring_save(kr, path, false, err, sizeof(err)), 0);
	keyring_free(kr);
	assert_int_equal(keyring_load(path, &kr, err, sizeof(err)), 0);
	assert_int_equal(keyring_current(kr, "JP:personal"), 3);
	keyring_free(kr);
}

static void test_rotate_without_master(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\ndomain JP:public 1 " KEY_A_HEX "\n");
	uint8_t a[32], k1[32], k2[32];
	uint32_t nv = 0;
	bool fresh = false;

	assert_int_equal(keyring_rotate(kr, "JP:public", &nv, &fresh), 0);
	assert_int_equal(nv, 2);
	assert_true(fresh);
	assert_true(keyring_has_explicit(kr, "JP:public", 2));
	assert_int_equal(keyring_domain_key(kr, "JP:public", 1, k1), 0);
	tu_unhex(KEY_A_HEX, a);
	assert_memory_equal(k1, a, 32);		/* the old key is kept */
	assert_int_equal(keyring_domain_key(kr, "JP:public", 2, k2), 0);
	assert_memory_not_equal(k1, k2, 32);

	/* Nothing to rotate from: -ENOKEY, and the keyring is unchanged. */
	assert_int_equal(keyring_rotate(kr, "JP:personal", &nv, &fresh), -ENOKEY);
	assert_false(fresh);
	assert_int_equal(keyring_current(kr, "JP:personal"), 1);
	assert_int_equal(keyring_rotate(kr, "jp:public", &nv, &fresh), -EINVAL);
	assert_int_equal(keyring_set_current(kr, "JP:public", UINT32_MAX), 0);
	assert_int_equal(keyring_add_domain(kr, "JP:public", UINT32_MAX, a), 0);
	assert_int_equal(keyring_rotate(kr, "JP:public", &nv, &fresh), -EOVERFLOW);
	keyring_free(kr);
}

/* A master never takes over a domain whose keys were imported: its home
 * site could not derive what this master would. */
static void test_rotate_imported_domain_on_master_site(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n"
				     "domain KR:media 4 " KEY_A_HEX "\ncurrent KR:media 4\n");
	uint8_t derived[32], got[32];
	uint32_t nv = 0;
	bool fresh = false;

	assert_int_equal(keyring_domain_key(kr, "KR:media", 5, derived), 0);
	assert_int_equal(keyring_rotate(kr, "KR:media", &nv, &fresh), 0);
	assert_int_equal(nv, 5);
	assert_true(fresh);
	assert_int_equal(keyring_domain_key(kr, "KR:media", 5, got), 0);
	assert_memory_not_equal(got, derived, 32);
	keyring_free(kr);
}

/* A manifest of domain JP:personal at version `ver` of kr, wrapping fkey. */
static struct manifest *wrapped_manifest(const struct keyring *kr, uint32_t ver,
					 const uint8_t fkey[32], uint64_t seed)
{
	struct manifest *mf = manifest_new();
	uint8_t dkey[32];

	assert_non_null(mf);
	tu_fill(mf->id.b, GEO_ID_LEN, seed);
	mf->shard_size = 65536;
	mf->generation = 7;
	snprintf(mf->category, sizeof(mf->category), "personal");
	memcpy(mf->origin, "JP", 3);
	mf->key_version = ver;
	assert_int_equal(keyring_domain_key(kr, "JP:personal", ver, dkey), 0);
	assert_int_equal(keys_wrap(dkey, &mf->id, "JP:personal", ver, fkey, mf->wrapped_key), 0);
	return mf;
}

static void assert_unwraps(const struct keyring *kr, const struct manifest *mf,
			   const uint8_t fkey[32])
{
	uint8_t dkey[32], got[32];

	assert_int_equal(keyring_domain_key(kr, "JP:personal", mf->key_version, dkey), 0);
	assert_int_equal(keys_unwrap(dkey, &mf->id, "JP:personal", mf->key_version,
				     mf->wrapped_key, got), 0);
	assert_memory_equal(got, fkey, 32);
}

static void test_rewrap_manifest(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	uint8_t fkey[32], v1key[32], got[32];
	struct manifest *mf;

	tu_fill(fkey, 32, 21);
	mf = wrapped_manifest(kr, 1, fkey, 22);
	assert_int_equal(rewrap_manifest(kr, mf, 2), 0);
	assert_int_equal(mf->key_version, 2);
	assert_int_equal(mf->generation, 7);	/* content unchanged */
	assert_unwraps(kr, mf, fkey);
	/* The old domain key no longer opens it, under either version. */
	assert_int_equal(keyring_domain_key(kr, "JP:personal", 1, v1key), 0);
	assert_int_equal(keys_unwrap(v1key, &mf->id, "JP:personal", 1, mf->wrapped_key, got),
			 -EIO);
	assert_int_equal(keys_unwrap(v1key, &mf->id, "JP:personal", 2, mf->wrapped_key, got),
			 -EIO);
	/* Back down works too (a forced rotation does not care). */
	assert_int_equal(rewrap_manifest(kr, mf, 1), 0);
	assert_unwraps(kr, mf, fkey);
	manifest_free(mf);
	keyring_free(kr);
}

/* Every wrong key fails without touching the manifest. */
static void test_rewrap_wrong_keys(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	struct keyring *other, *v1only;
	uint8_t fkey[32], k1[32];
	struct manifest *mf, *copy;

	tu_fill(fkey, 32, 31);
	mf = wrapped_manifest(kr, 1, fkey, 32);
	copy = manifest_dup(mf);
	assert_non_null(copy);

	assert_int_equal(keyring_new(true, &other), 0);		/* another master */
	assert_int_equal(rewrap_manifest(other, mf, 2), -EIO);
	assert_memory_equal(mf->wrapped_key, copy->wrapped_key, KEYS_WRAPPED_LEN);
	assert_int_equal(mf->key_version, 1);

	assert_int_equal(keyring_new(false, &v1only), 0);	/* no key at all */
	assert_int_equal(rewrap_manifest(v1only, mf, 2), -ENOKEY);
	assert_int_equal(keyring_domain_key(kr, "JP:personal", 1, k1), 0);
	assert_int_equal(keyring_add_domain(v1only, "JP:personal", 1, k1), 0);
	assert_int_equal(rewrap_manifest(v1only, mf, 2), -ENOKEY);	/* lacks v2 */
	assert_int_equal(mf->key_version, 1);

	mf->key_version = 2;		/* claims the wrong version */
	assert_int_equal(rewrap_manifest(kr, mf, 3), -EIO);
	mf->key_version = 1;
	mf->id.b[0] ^= 1;		/* a wrapped key moved to another file */
	assert_int_equal(rewrap_manifest(kr, mf, 2), -EIO);
	mf->id.b[0] ^= 1;
	memcpy(mf->origin, "KR", 3);	/* or to another domain */
	assert_int_equal(rewrap_manifest(kr, mf, 2), -EIO);
	memcpy(mf->origin, "JP", 3);
	mf->wrapped_key[KEYS_WRAPPED_LEN - 1] ^= 0x80;
	assert_int_equal(rewrap_manifest(kr, mf, 2), -EIO);
	mf->wrapped_key[KEYS_WRAPPED_LEN - 1] ^= 0x80;
	assert_memory_equal(mf->wrapped_key, copy->wrapped_key, KEYS_WRAPPED_LEN);

	/* The right keyring still works after all that. */
	assert_int_equal(rewrap_manifest(v1only, mf, 1), 0);
	assert_unwraps(kr, mf, fkey);
	manifest_free(copy);
	manifest_free(mf);
	keyring_free(v1only);
	keyring_free(other);
	keyring_free(kr);
}

static void test_rewrap_file(void **state)
{
	struct keyring *kr = load_ok("geofs-keyring 1\nmaster " MASTER_HEX "\n");
	struct manifest *mf, *back;
	struct meta *m;
	uint8_t fkey[32];
	uint32_t was = 0;
	char root[600];
	int fd, bare;

	snprintf(root, sizeof(root), "%s/meta", dir);
	assert_int_equal(meta_open(root, true, &m, err, sizeof(err)), 0);
	tu_fill(fkey, 32, 41);
	mf = wrapped_manifest(kr, 1, fkey, 42);
	assert_int_equal(meta_manifest_store(m, mf, false), 0);
	fd = openat(meta_rootfd(m), "alice.txt", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	if (meta_set_stub_id(fd, &mf->id) == -EOPNOTSUPP) {
		close(fd);		/* no user xattrs on $TMPDIR */
		goto out;
	}
	assert_int_equal(rewrap_file(m, kr, fd, "JP:personal", 2, &was), 0);
	assert_int_equal(was, 1);
	assert_int_equal(meta_manifest_load(m, &mf->id, &back), 0);
	assert_int_equal(back->key_version, 2);
	assert_int_equal(back->generation, mf->generation);
	assert_unwraps(kr, back, fkey);
	manifest_free(back);
	/* Again: nothing to do; another domain: not touched. */
	assert_int_equal(rewrap_file(m, kr, fd, "JP:personal", 2, &was), REWRAP_SKIPPED);
	assert_int_equal(was, 2);
	assert_int_equal(rewrap_file(m, kr, fd, "JP:public", 5, NULL), REWRAP_SKIPPED);
	/* The wrong keyring changes nothing on disk. */
	keyring_free(kr);
	assert_int_equal(keyring_new(true, &kr), 0);
	assert_int_equal(rewrap_file(m, kr, fd, "JP:personal", 3, NULL), -EIO);
	assert_int_equal(meta_manifest_load(m, &mf->id, &back), 0);
	assert_int_equal(back->key_version, 2);
	manifest_free(back);
	/* A stub without an id, and an id without a manifest. */
	bare = openat(meta_rootfd(m), "bare", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(bare >= 0);
	assert_int_equal(rewrap_file(m, kr, bare, "JP:personal", 3, NULL), -ENODATA);
	assert_int_equal(meta_manifest_delete(m, &mf->id), 0);
	assert_int_equal(rewrap_file(m, kr, fd, "JP:personal", 3, NULL), -ENOENT);
	close(bare);
	close(fd);
out:
	manifest_free(mf);
	meta_close(m);
	keyring_free(kr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derivation_pinned),
		cmocka_unit_test(test_derivation_deterministic_and_distinct),
		cmocka_unit_test(test_explicit_domain_wins),
		cmocka_unit_test(test_no_master),
		cmocka_unit_test(test_current),
		cmocka_unit_test(test_domain_names),
		cmocka_unit_test(test_wrap_unwrap),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_exclusive_save),
		cmocka_unit_test(test_write_fd),
		cmocka_unit_test(test_mode_refused),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_long_lines_nul_crlf),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_rotate_with_master),
		cmocka_unit_test(test_rotate_without_master),
		cmocka_unit_test(test_rotate_imported_domain_on_master_site),
		cmocka_unit_test(test_rewrap_manifest),
		cmocka_unit_test(test_rewrap_wrong_keys),
		cmocka_unit_test(test_rewrap_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
