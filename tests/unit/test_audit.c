/*
 * test_audit.c — the audit log: record format and escaping, the hash chain
 * and what verification catches (every byte edit, deletion, swap and
 * insertion), durability of denials, reopen for logrotate, torn lines,
 * eight writers at once, a full queue, and the strict parser on bad input.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "crypto.h"
#include "testutil.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define SLOW  60000	/* sync_ms long enough that only a flush writes */

struct fx {
	char *dir;
	char path[512];		/* the log */
	char other[512];	/* scratch file */
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->dir = tu_tmpdir();
	assert_non_null(fx->dir);
	snprintf(fx->path, sizeof(fx->path), "%s/audit.log", fx->dir);
	snprintf(fx->other, sizeof(fx->other), "%s/edited.log", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(tu_rmtree(fx->dir), 0);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The file's lines (each without '\n'), split in place. */
struct lines {
	char *buf;
	char **l;
	size_t *len;
	size_t n;
};

static void read_lines(const char *path, struct lines *ls)
{
	size_t total, start = 0;

	memset(ls, 0, sizeof(*ls));
	ls->buf = slurp(path, &total);
	ls->l = calloc(total + 1, sizeof(char *));
	ls->len = calloc(total + 1, sizeof(size_t));
	assert_true(ls->l && ls->len);
	for (size_t i = 0; i < total; i++) {
		if (ls->buf[i] == '\n') {
			ls->l[ls->n] = ls->buf + start;
			ls->len[ls->n++] = i - start;
			start = i + 1;
		}
	}
	assert_int_equal(start, total);	/* every line ends with '\n' */
}

static void free_lines(struct lines *ls)
{
	free(ls->buf);
	free(ls->l);
	free(ls->len);
}

static size_t count_lines(const char *path)
{
	struct lines ls;
	size_t n;

	read_lines(path, &ls);
	n = ls.n;
	free_lines(&ls);
	return n;
}

/* Writes lines order[0..n) of ls (an index of -1 writes `extra`) to path. */
static void write_order(const char *path, const struct lines *ls, const int *order, size_t n,
			const char *extra)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		if (order[i] < 0)
			fputs(extra, f);
		else
			fwrite(ls->l[order[i]], 1, ls->len[order[i]], f);
		fputc('\n', f);
	}
	assert_int_equal(fclose(f), 0);
}

static struct audit_event event(const char *op, const char *path, int result)
{
	struct audit_event ev = {
		.op = op, .intent = "read", .path = path, .category = "personal",
		.origin = "JP", .result = result, .countries = "JP",
		.uid = 1000, .gid = 1000, .pid = getpid(),
	};
	return ev;
}

static struct audit *open_log(const char *path, unsigned sync_ms)
{
	struct audit *a = NULL;
	char err[256] = "";

	assert_int_equal(audit_open(path, "tokyo-app-01", sync_ms, &a, err, sizeof(err)), 0);
	assert_non_null(a);
	return a;
}

static void write_log(const char *path, int n)
{
	struct audit *a = open_log(path, 5);

	for (int i = 0; i < n; i++) {
		char p[64];
		struct audit_event ev;

		snprintf(p, sizeof(p), "/medical/record-%d.pdf", i);
		ev = event(i % 3 ? "open" : "create", p, 0);
		audit_record(a, &ev);
	}
	audit_close(a);
}

static long verify(const char *path, const char *prev, char last[65])
{
	char why[512];
	char tmp[65];

	return audit_verify_file(path, prev, false, last ? last : tmp, why, sizeof(why));
}

/* ---- format ---- */

static void test_null_log_is_noop(void **state)
{
	struct audit *a = (struct audit *)1;
	struct audit_event ev = event("open", "/x", 0);

	(void)state;
	assert_int_equal(audit_open(NULL, "site", 0, &a, NULL, 0), 0);
	assert_null(a);
	audit_record(NULL, &ev);
	assert_int_equal(audit_flush(NULL), 0);
	assert_int_equal(audit_reopen(NULL), 0);
	audit_close(NULL);
	audit_rec_free(NULL);
}

static void test_open_error(void **state)
{
	struct fx *fx = *state;
	struct audit *a = (struct audit *)1;
	char path[600], err[256] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir/audit.log", fx->dir);
	assert_int_equal(audit_open(path, "s", 0, &a, err, sizeof(err)), -ENOENT);
	assert_null(a);
	assert_non_null(strstr(err, path));
}

static void test_record_format(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = {
		.op = "open", .intent = "read", .path = "/a/b.jpg", .category = "media",
		.origin = "JP", .result = 0, .countries = " JP, KR,,", .uid = 1000,
		.gid = 1001, .pid = getpid(),
	};
	char expect[512], comm[64] = "?";
	struct lines ls;
	FILE *f;

	f = fopen("/proc/self/comm", "r");
	if (f) {
		assert_non_null(fgets(comm, sizeof(comm), f));
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 1);
	/* {"time":"2026-11-23T01:02:03.123456Z", then the fixed order */
	assert_true(ls.len[0] > 38);
	assert_memory_equal(ls.l[0], "{\"time\":\"", 9);
	assert_int_equal(ls.l[0][9 + 4], '-');
	assert_int_equal(ls.l[0][9 + 10], 'T');
	assert_int_equal(ls.l[0][9 + 19], '.');
	assert_memory_equal(ls.l[0] + 9 + 26, "Z\"", 2);
	snprintf(expect, sizeof(expect),
		 ",\"site\":\"tokyo-app-01\",\"uid\":1000,\"gid\":1001,\"pid\":%d,"
		 "\"process\":\"%s\",\"op\":\"open\",\"intent\":\"read\",\"path\":\"/a/b.jpg\","
		 "\"category\":\"media\",\"origin\":\"JP\",\"result\":\"ok\","
		 "\"countries\":[\"JP\",\"KR\"],\"prev\":\"" ZEROS "\"}",
		 (int)getpid(), comm);
	assert_int_equal(ls.len[0] - 37, strlen(expect));
	assert_memory_equal(ls.l[0] + 37, expect, strlen(expect));
	free_lines(&ls);
}

static void test_results_and_optional_fields(void **state)
{
	struct fx *fx = *state;
	static const struct { int result; const char *text; } cases[] = {
		{ 0, "ok" }, { -EACCES, "denied" }, { -EPERM, "denied" },
		{ -EIO, "error:EIO" }, { -ENOSPC, "error:ENOSPC" }, { -4000, "error:E4000" },
	};
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = { .op = "unlink", .uid = 1, .gid = 2, .pid = 0 };
	struct audit_rec rec;
	struct lines ls;
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev.result = cases[i].result;
		audit_record(a, &ev);
	}
	ev = (struct audit_event){ .op = "rename", .path = "/a", .path2 = "/b",
				   .detail = "moved", .intent = "write" };
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 7);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(audit_rec_parse(ls.l[i], ls.len[i], &rec, why, sizeof(why)), 0);
		assert_string_equal(rec.result, cases[i].text);
		assert_string_equal(rec.process, "?");	/* pid 0 */
		assert_null(rec.path);
		assert_null(rec.intent);
		assert_null(rec.path2);
		assert_null(rec.detail);
		assert_int_equal(rec.ncountries, 0);
		audit_rec_free(&rec);
		/* NULL intent/path2/detail are left out, NULL path is null */
		assert_null(memmem(ls.l[i], ls.len[i], "\"intent\"", 8));
		assert_null(memmem(ls.l[i], ls.len[i], "\"detail\"", 8));
		assert_non_null(memmem(ls.l[i], ls.len[i], "\"path\":null", 11));
	}
	assert_int_equal(audit_rec_parse(ls.l[6], ls.len[6], &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.path2, "/b");
	assert_string_equal(rec.detail, "moved");
	assert_string_equal(rec.intent, "write");
	audit_rec_free(&rec);
	free_lines(&ls);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
}

/* Valid UTF-8 and no control bytes: what makes the line valid JSON text. */
static bool clean_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t len = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 :
			     (s[i] & 0xf0) == 0xe0 ? 3 : (s[i] & 0xf8) == 0xf0 ? 4 : 0;

		if (s[i] < 0x20 || len == 0 || (len == 2 && s[i] < 0xc2) || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

static void test_escaping(void **state)
{
	struct fx *fx = *state;
	static const char path[] = "/q\"uote/back\\slash/new\nline/\x01\x1f\x7f/"
				   "\xff\xfe bytes/\xe6\x97\xa5\xe6\x9c\xac/\xc3\x28/\xed\xa0\x80";
	static const char escaped[] = "\"path\":\"/q\\\"uote/back\\\\slash/new\\nline/"
		"\\u0001\\u001f\\u007f/\\udcff\\udcfe bytes/\xe6\x97\xa5\xe6\x9c\xac/"
		"\\udcc3(/\\udced\\udca0\\udc80\",";
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = event("create", path, 0);
	struct audit_rec rec;
	struct lines ls;
	char why[256];

	ev.detail = "tab\there \"quoted\"";
	ev.countries = "J\"P";
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 1);	/* one line: the newline in the path is escaped */
	assert_true(clean_utf8((const unsigned char *)ls.l[0], ls.len[0]));
	assert_non_null(memmem(ls.l[0], ls.len[0], escaped, strlen(escaped)));
	assert_int_equal(audit_rec_parse(ls.l[0], ls.len[0], &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.path, path);	/* the exact bytes come back */
	assert_string_equal(rec.detail, "tab\there \"quoted\"");
	assert_string_equal(rec.countries[0], "J\"P");
	audit_rec_free(&rec);
	free_lines(&ls);
}

/* The path of a file under tests/unit/fixtures/, found from __FILE__. */
static void fixture_path(const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(__FILE__, '/');
	int n = slash ? (int)(slash - __FILE__) : 0;

	snprintf(out, cap, "%.*s%sfixtures/%s", n, __FILE__, n ? "/" : "", name);
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* A log written before the shared escaper (bytes that are not UTF-8 as
 * \u0080..\u00ff; fixtures/audit-u00xx.log) still verifies, its paths
 * still parse to the exact bytes, and the daemon continues its chain with
 * records in the new \udcXX form. */
static void test_old_u00xx_log_still_verifies(void **state)
{
	struct fx *fx = *state;
	static const char *const paths[] = {
		"/inbox/\xff-a", "/inbox/\xc3\xbf-a", "/inbox/\xed\xa0\x80\xc0\xaf", "/plain",
		"/inbox/\xff-a",
	};
	char fixture[PATH_MAX], last[65], why[256];
	struct audit_event ev = event("create", "/new/\xff-a", 0);
	struct audit_rec rec;
	struct lines ls;
	struct audit *a;

	fixture_path("audit-u00xx.log", fixture, sizeof(fixture));
	assert_int_equal(verify(fixture, NULL, last), 0);
	read_lines(fixture, &ls);
	assert_int_equal(ls.n, 5);
	assert_non_null(memmem(ls.l[0], ls.len[0], "\\u00ff-a", 8));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(audit_rec_parse(ls.l[i], ls.len[i], &rec, why, sizeof(why)), 0);
		assert_string_equal(rec.path, paths[i]);
		if (i == 4)
			assert_string_equal(rec.path2, "/old/\xfe\x80");
		audit_rec_free(&rec);
	}
	free_lines(&ls);

	copy_file(fixture, fx->path);
	a = open_log(fx->path, SLOW);
	audit_record(a, &ev);
	audit_close(a);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 6);
	assert_non_null(memmem(ls.l[5], ls.len[5], "\"path\":\"/new/\\udcff-a\"", 22));
	assert_non_null(memmem(ls.l[5], ls.len[5], last, 64));	/* chained to line 5 */
	assert_int_equal(audit_rec_parse(ls.l[5], ls.len[5], &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.path, "/new/\xff-a");
	audit_rec_free(&rec);
	free_lines(&ls);

	/* and an edit of the old part is still caught: line 5 no longer
	 * chains to the edited line 4 */
	copy_file(fixture, fx->other);
	read_lines(fx->other, &ls);
	{
		FILE *f = fopen(fx->other, "r+b");
		char *at = memmem(ls.l[3], ls.len[3], "/plain", 6);
		long off = 0;

		assert_non_null(f);
		assert_non_null(at);
		for (int i = 0; i < 3; i++)
			off += (long)ls.len[i] + 1;
		assert_int_equal(fseek(f, off + (at - ls.l[3]) + 1, SEEK_SET), 0);
		assert_int_equal(fputc('q', f), 'q');
		assert_int_equal(fclose(f), 0);
	}
	free_lines(&ls);
	assert_int_equal(verify(fx->other, NULL, NULL), 5);
}

/* An integrity failure names the backend and the object; records without
 * them leave the fields out, and both parse back. */
static void test_backend_and_object_fields(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = event("auth-failure", "/pub/big", -EIO);
	static const char tail[] = "\"backend\":\"seoul-1\",\"object\":"
				   "\"00112233445566778899aabbccddeeff\",\"prev\":";
	struct audit_rec rec;
	struct lines ls;
	char why[256];

	ev.countries = "KR";
	ev.backend = "seoul-1";
	ev.object = "00112233445566778899aabbccddeeff";
	audit_record(a, &ev);
	audit_record(a, &(struct audit_event){ .op = "open", .path = "/x" });
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 2);
	assert_non_null(memmem(ls.l[0], ls.len[0], tail, strlen(tail)));
	assert_null(memmem(ls.l[1], ls.len[1], "\"backend\"", 9));
	assert_null(memmem(ls.l[1], ls.len[1], "\"object\"", 8));
	assert_int_equal(audit_rec_parse(ls.l[0], ls.len[0], &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.path, "/pub/big");
	assert_string_equal(rec.backend, "seoul-1");
	assert_string_equal(rec.object, "00112233445566778899aabbccddeeff");
	assert_string_equal(rec.result, "error:EIO");
	audit_rec_free(&rec);
	assert_int_equal(audit_rec_parse(ls.l[1], ls.len[1], &rec, why, sizeof(why)), 0);
	assert_null(rec.backend);
	assert_null(rec.object);
	audit_rec_free(&rec);
	assert_int_equal(audit_verify_file(fx->path, NULL, false, NULL, why, sizeof(why)), 0);
	free_lines(&ls);
}

static void test_long_fields_are_capped(void **state)
{
	struct fx *fx = *state;
	size_t n = 200000;
	char *path = malloc(n + 1);
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = event("open", path, 0);
	struct lines ls;

	assert_non_null(path);
	memset(path, '\x01', n);	/* worst case: 6 bytes out per byte in */
	path[n] = '\0';
	ev.path2 = path;
	ev.detail = path;
	ev.op = path;
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 1);
	assert_true(ls.len[0] <= AUDIT_LINE_MAX);
	free_lines(&ls);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
	free(path);
}

/* ---- the chain ---- */

static void test_chain_verifies(void **state)
{
	struct fx *fx = *state;
	char last[65], hash[65], why[256];
	struct lines ls;

	write_log(fx->path, 50);
	assert_int_equal(audit_verify_file(fx->path, NULL, false, last, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 50);
	crypto_sha256_hex(ls.l[49], ls.len[49], hash);
	assert_string_equal(last, hash);
	assert_non_null(memmem(ls.l[0], ls.len[0], "\"prev\":\"" ZEROS "\"}",
			       strlen("\"prev\":\"" ZEROS "\"}")));
	free_lines(&ls);
	/* a wrong expected start is line 1; accepting any start passes */
	assert_int_equal(verify(fx->path, hash, NULL), 1);
	assert_int_equal(audit_verify_file(fx->path, NULL, true, last, why, sizeof(why)), 0);
	assert_int_equal(audit_verify_file(fx->path, "xyz", false, last, why, sizeof(why)),
			 -EINVAL);
	snprintf(why, sizeof(why), "%s/missing", fx->dir);
	assert_int_equal(verify(why, NULL, NULL), -ENOENT);
}

static void test_every_byte_edit_is_caught(void **state)
{
	struct fx *fx = *state;
	enum { N = 4 };
	char prev[N][65], why[512];
	struct audit_rec rec;
	struct lines ls;
	size_t cases = 0, total;

	write_log(fx->path, N);
	read_lines(fx->path, &ls);
	total = (size_t)(ls.l[N - 1] + ls.len[N - 1] + 1 - ls.buf);
	for (int i = 0; i < N; i++) {
		assert_int_equal(audit_rec_parse(ls.l[i], ls.len[i], &rec, NULL, 0), 0);
		strcpy(prev[i], rec.prev);
		audit_rec_free(&rec);
	}
	for (int i = 0; i < N; i++) {
		for (size_t b = 0; b < ls.len[i]; b++) {
			for (int flip = 0x01; flip <= 0x80; flip <<= 7) {
				char orig = ls.l[i][b];
				long expect = i + 1, got;

				ls.l[i][b] = (char)(orig ^ flip);
				/* an edit that leaves a valid record with the same prev
				 * shows on the next line, whose prev no longer fits */
				if (audit_rec_parse(ls.l[i], ls.len[i], &rec, NULL, 0) == 0) {
					if (strcmp(rec.prev, prev[i]) == 0)
						expect = i + 2;
					audit_rec_free(&rec);
				}
				/* A chain cannot see an edit of the last line's content
				 * until a line follows it (see audit.c). */
				if (expect > N)
					expect = 0;
				spit(fx->other, ls.buf, total);
				got = audit_verify_file(fx->other, NULL, false, NULL, why,
							sizeof(why));
				if (got != expect)
					fail_msg("line %d byte %zu ^0x%02x: got %ld, want %ld (%s)",
						 i + 1, b, flip, got, expect, why);
				ls.l[i][b] = orig;
				cases++;
			}
		}
	}
	assert_true(cases > 1000);
	free_lines(&ls);
}

static void test_delete_swap_insert(void **state)
{
	struct fx *fx = *state;
	const int n = 6;
	int order[16];
	struct lines ls;
	char why[512];

	write_log(fx->path, n);
	read_lines(fx->path, &ls);
	for (int del = 0; del < n; del++) {
		int k = 0;

		for (int i = 0; i < n; i++)
			if (i != del)
				order[k++] = i;
		write_order(fx->other, &ls, order, (size_t)k, NULL);
		/* deleting the last line is a truncation: nothing follows to tell */
		assert_int_equal(verify(fx->other, NULL, NULL), del == n - 1 ? 0 : del + 1);
	}
	for (int s = 0; s + 1 < n; s++) {
		for (int i = 0; i < n; i++)
			order[i] = i;
		order[s] = s + 1;
		order[s + 1] = s;
		write_order(fx->other, &ls, order, (size_t)n, NULL);
		assert_int_equal(audit_verify_file(fx->other, NULL, false, NULL, why,
						   sizeof(why)), s + 1);
		if (s > 0) {
			char msg[128];

			snprintf(msg, sizeof(msg), "line %d: prev does not match the hash of "
				 "line %d", s + 1, s);
			assert_string_equal(why, msg);
		}
	}
	for (int at = 1; at <= n; at++) {	/* a copy of line 1, or junk, at line at+1 */
		for (int junk = 0; junk < 2; junk++) {
			int k = 0;

			for (int i = 0; i < n; i++) {
				if (i == at)
					order[k++] = junk ? -1 : 0;
				order[k++] = i;
			}
			if (at == n)
				order[k++] = junk ? -1 : 0;
			write_order(fx->other, &ls, order, (size_t)k, "{\"not\":\"a record\"}");
			assert_int_equal(verify(fx->other, NULL, NULL), at + 1);
		}
	}
	free_lines(&ls);
}

static void test_reopen_after_rename(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, 5);
	char rotated[600], last[65], why[512];
	struct audit_event ev = event("open", "/p", 0);
	struct lines ls;

	for (int i = 0; i < 5; i++)
		audit_record(a, &ev);
	snprintf(rotated, sizeof(rotated), "%s.1", fx->path);
	assert_int_equal(rename(fx->path, rotated), 0);	/* logrotate */
	assert_int_equal(audit_reopen(a), 0);	/* SIGHUP */
	for (int i = 0; i < 3; i++)
		audit_record(a, &ev);
	audit_close(a);
	assert_int_equal(count_lines(rotated), 5);
	assert_int_equal(count_lines(fx->path), 3);
	assert_int_equal(audit_verify_file(rotated, NULL, false, last, why, sizeof(why)), 0);
	assert_int_equal(verify(fx->path, NULL, NULL), 1);	/* not a chain start */
	assert_int_equal(verify(fx->path, last, NULL), 0);	/* continues the old file */
	read_lines(fx->path, &ls);
	assert_non_null(memmem(ls.l[0], ls.len[0], last, 64));
	free_lines(&ls);
}

static void test_reopen_in_place_and_open_continue(void **state)
{
	struct fx *fx = *state;
	struct audit_event ev = event("open", "/p", 0);
	struct audit *a;

	write_log(fx->path, 3);
	a = open_log(fx->path, 5);	/* continues the existing chain */
	audit_record(a, &ev);
	assert_int_equal(audit_reopen(a), 0);	/* same file: continues too */
	audit_record(a, &ev);
	assert_int_equal(audit_reopen(a), 0);
	audit_close(a);
	assert_int_equal(count_lines(fx->path), 5);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
}

static void test_torn_last_line(void **state)
{
	struct fx *fx = *state;
	static const char torn[] = "{\"time\":\"2026-11-23T01:0";
	struct audit_event ev = event("open", "/after-crash", 0);
	char why[512], h3[65];
	struct lines ls;
	struct audit *a;
	struct audit_rec rec;
	FILE *f;

	write_log(fx->path, 3);
	f = fopen(fx->path, "ab");
	assert_non_null(f);
	fputs(torn, f);		/* a crash in the middle of a write */
	fclose(f);
	assert_int_equal(audit_verify_file(fx->path, NULL, false, h3, why, sizeof(why)), 4);
	assert_non_null(strstr(why, "line 4: incomplete last line"));

	a = open_log(fx->path, 5);	/* keeps the bytes, chains from line 3 */
	audit_record(a, &ev);
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 6);
	assert_int_equal(ls.len[3], strlen(torn));
	assert_memory_equal(ls.l[3], torn, strlen(torn));
	assert_int_equal(audit_rec_parse(ls.l[4], ls.len[4], &rec, NULL, 0), 0);
	assert_string_equal(rec.prev, h3);	/* h3: hash of line 3 */
	audit_rec_free(&rec);
	free_lines(&ls);
	assert_int_equal(audit_verify_file(fx->path, NULL, false, NULL, why, sizeof(why)), 4);
	assert_non_null(strstr(why, "line 4: not a valid record"));
	assert_non_null(strstr(why, "line 5 continues the chain from line 3"));

}

static void test_torn_line_then_crash_again(void **state)
{
	struct fx *fx = *state;
	struct audit_event ev = event("open", "/x", 0);
	struct audit_rec rec;
	struct lines ls;
	struct audit *a;
	char h2[65], why[512];
	FILE *f;

	write_log(fx->path, 2);
	assert_int_equal(verify(fx->path, NULL, h2), 0);
	f = fopen(fx->path, "ab");
	assert_non_null(f);
	fputs("{\"time\":", f);
	fclose(f);
	audit_close(open_log(fx->path, 5));	/* ends the torn line, writes nothing */
	a = open_log(fx->path, 5);	/* now the last line is complete but damaged */
	audit_record(a, &ev);
	audit_close(a);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 4);
	assert_int_equal(audit_rec_parse(ls.l[3], ls.len[3], &rec, NULL, 0), 0);
	assert_string_equal(rec.prev, h2);	/* skips the damaged line */
	audit_rec_free(&rec);
	free_lines(&ls);
	assert_int_equal(audit_verify_file(fx->path, NULL, false, NULL, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "line 4 continues the chain from line 2"));
}

/* ---- durability ---- */

static void test_denied_is_on_disk_at_return(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ok = event("open", "/ok", 0);
	struct audit_event denied = event("access-denied", "/secret", -EACCES);
	struct audit_event failed = event("auth-failure", "/broken", -EIO);
	struct stat st;

	audit_record(a, &ok);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 0);	/* an ok record waits up to sync_ms */
	audit_record(a, &denied);
	assert_int_equal(count_lines(fx->path), 2);	/* ... but not behind a denial */
	audit_record(a, &failed);
	assert_int_equal(count_lines(fx->path), 3);
	audit_record(a, &ok);
	assert_int_equal(audit_flush(a), 0);
	assert_int_equal(count_lines(fx->path), 4);
	assert_int_equal(audit_flush(a), 0);	/* nothing queued */
	audit_close(a);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
}

static void test_sync_ms_zero_writes_each_record(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, 0);
	struct audit_event ev = event("open", "/x", 0);

	for (size_t i = 1; i <= 5; i++) {
		audit_record(a, &ev);
		assert_int_equal(count_lines(fx->path), i);
	}
	audit_close(a);
}

static void test_sync_ms_bound(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, 50);
	struct audit_event ev = event("open", "/x", 0);
	struct timespec ts = { 0, 10 * 1000000 };
	struct stat st = { 0 };
	int waited = 0;

	audit_record(a, &ev);
	while ((stat(fx->path, &st) != 0 || st.st_size == 0) && waited < 300) {	/* 3 s */
		nanosleep(&ts, NULL);
		waited++;
	}
	assert_true(waited < 300);
	audit_close(a);
}

struct writer_arg {
	struct audit *a;
	int id;
};

#define THREADS 8
#define PER_THREAD 500

static void *writer(void *p)
{
	struct writer_arg *w = p;

	for (int i = 0; i < PER_THREAD; i++) {
		char path[64];
		struct audit_event ev;

		snprintf(path, sizeof(path), "/t%d/%d", w->id, i);
		ev = event("open", path, i % 50 == 0 ? -EACCES : 0);
		audit_record(w->a, &ev);
	}
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, 20);
	pthread_t t[THREADS];
	struct writer_arg w[THREADS];
	static bool seen[THREADS][PER_THREAD];
	struct lines ls;

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer_arg){ a, i };
		assert_int_equal(pthread_create(&t[i], NULL, writer, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	audit_close(a);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, THREADS * PER_THREAD);
	for (size_t i = 0; i < ls.n; i++) {
		struct audit_rec rec;
		int id, k;

		assert_int_equal(audit_rec_parse(ls.l[i], ls.len[i], &rec, NULL, 0), 0);
		assert_int_equal(sscanf(rec.path, "/t%d/%d", &id, &k), 2);
		assert_true(id >= 0 && id < THREADS && k >= 0 && k < PER_THREAD);
		assert_false(seen[id][k]);
		seen[id][k] = true;
		audit_rec_free(&rec);
	}
	free_lines(&ls);
}

static void test_full_queue_waits_not_drops(void **state)
{
	struct fx *fx = *state;
	struct audit *a = open_log(fx->path, SLOW);
	struct audit_event ev = event("open", "/many", 0);
	const size_t n = 3 * 4096 + 7;
	time_t t0 = time(NULL);
	struct stat st;

	for (size_t i = 0; i < n; i++)
		audit_record(a, &ev);
	/* the writer did not wait for sync_ms once the queue was full */
	assert_int_equal(stat(fx->path, &st), 0);
	assert_true(st.st_size > 0);
	assert_true(time(NULL) - t0 < 30);
	audit_close(a);
	assert_int_equal(count_lines(fx->path), n);
	assert_int_equal(verify(fx->path, NULL, NULL), 0);
}

/* ---- reading ---- */

struct seen_line {
	long lineno;
	size_t len;
	enum audit_line_kind kind;
};

static int collect(void *ctx, long lineno, const char *line, size_t len,
		   enum audit_line_kind kind)
{
	struct seen_line *s = ctx;

	(void)line;
	while (s->lineno)
		s++;
	*s = (struct seen_line){ lineno, len, kind };
	return 0;
}

static void test_read_lines_bounded(void **state)
{
	struct fx *fx = *state;
	size_t big = AUDIT_LINE_MAX + 500000;
	char *buf = malloc(big + 64);
	struct seen_line s[8];
	char why[512];
	size_t n = 0;

	assert_non_null(buf);
	n += (size_t)sprintf(buf, "first\n");
	memset(buf + n, 'x', big);
	n += big;
	n += (size_t)sprintf(buf + n, "\nthird\nfourth");
	spit(fx->other, buf, n);
	memset(s, 0, sizeof(s));
	assert_int_equal(audit_read_lines(fx->other, collect, s), 0);
	assert_int_equal(s[0].lineno, 1);
	assert_int_equal(s[0].len, 5);
	assert_int_equal(s[0].kind, AUDIT_LINE_OK);
	assert_int_equal(s[1].lineno, 2);
	assert_int_equal(s[1].len, AUDIT_LINE_MAX);
	assert_int_equal(s[1].kind, AUDIT_LINE_LONG);
	assert_int_equal(s[2].lineno, 3);
	assert_int_equal(s[2].kind, AUDIT_LINE_OK);
	assert_int_equal(s[3].lineno, 4);
	assert_int_equal(s[3].len, 6);
	assert_int_equal(s[3].kind, AUDIT_LINE_TORN);
	assert_int_equal(s[4].lineno, 0);
	free(buf);

	/* a long line where a record should be */
	write_log(fx->path, 2);
	buf = malloc(AUDIT_LINE_MAX + 2);
	assert_non_null(buf);
	memset(buf, 'y', AUDIT_LINE_MAX + 1);
	buf[AUDIT_LINE_MAX + 1] = '\n';
	{
		FILE *f = fopen(fx->path, "ab");

		assert_non_null(f);
		fwrite(buf, 1, AUDIT_LINE_MAX + 2, f);
		fclose(f);
	}
	assert_int_equal(audit_verify_file(fx->path, NULL, false, NULL, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "longer than"));
	free(buf);
}

static int parse(const char *s)
{
	struct audit_rec rec;
	char why[256];
	int r = audit_rec_parse(s, strlen(s), &rec, why, sizeof(why));

	if (r == 0)
		audit_rec_free(&rec);
	else
		assert_true(why[0] != '\0');
	return r;
}

#define REST ",\"site\":null,\"uid\":1,\"gid\":2,\"pid\":3,\"process\":\"p\"," \
	     "\"op\":\"open\",\"path\":\"/x\",\"category\":null,\"origin\":\"JP\"," \
	     "\"result\":\"ok\",\"countries\":[]"
#define HEAD "{\"time\":\"t\"" REST
#define PREV ",\"prev\":\"" ZEROS "\"}"

static void test_parser_strict(void **state)
{
	struct audit_rec rec;
	char why[256], many[4096];

	(void)state;
	assert_int_equal(parse(HEAD PREV), 0);
	assert_int_equal(parse(" { \"time\" : \"t\" , \"site\":null,\"uid\":1,\"gid\":2,\"pid\":3,"
			       "\"process\":\"p\",\"op\":\"open\",\"path\":\"/x\",\"category\":null,"
			       "\"origin\":\"JP\",\"result\":\"ok\",\"countries\":[ ] " PREV " "), 0);
	assert_int_equal(parse(HEAD ",\"future\":[\"a\"],\"n\":-5,\"z\":null" PREV), 0);
	assert_int_equal(parse(HEAD ",\"detail\":\"\\ud83d\\ude00\\u00e9\\u0100\"" PREV), 0);

	assert_int_equal(parse(""), -EINVAL);
	assert_int_equal(parse("{}"), -EINVAL);
	assert_int_equal(parse("[]"), -EINVAL);
	assert_int_equal(parse(HEAD), -EINVAL);
	assert_int_equal(parse(HEAD PREV "x"), -EINVAL);
	assert_int_equal(parse(HEAD PREV PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"time\":\"again\"" PREV), -EINVAL);	/* duplicate */
	assert_int_equal(parse(HEAD PREV ",\"detail\":\"x\"}"), -EINVAL);
	assert_int_equal(parse("{\"time\":\"t\",\"uid\":1" PREV), -EINVAL);	/* missing */
	assert_int_equal(parse(HEAD ",\"prev\":\"" ZEROS "0\"}"), -EINVAL);	/* 65 hex */
	assert_int_equal(parse(HEAD ",\"prev\":\"ABCDEF0000000000000000000000000000000000000"
			       "000000000000000000000\"}"), -EINVAL);	/* upper case */
	assert_int_equal(parse(HEAD ",\"x\":\"\\u0000\"" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"\\ud83d\"" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"\\ude00\"" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"\\udc41\"" PREV), -EINVAL);	/* never a raw byte */
	assert_int_equal(parse(HEAD ",\"x\":\"\\udcff\\udc80\"" PREV), 0);
	assert_int_equal(parse(HEAD ",\"x\":\"\\x\"" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"\\u12g4\"" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"\xff\"" PREV), -EINVAL);		/* not UTF-8 */
	assert_int_equal(parse(HEAD ",\"x\":\"\t\"" PREV), -EINVAL);		/* raw control */
	assert_int_equal(parse(HEAD ",\"x\":{}" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":[[]]" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":1.5" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":007" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":true" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":99999999999999999999" PREV), -EINVAL);
	assert_int_equal(parse(HEAD ",\"x\":\"a\",\"uid\":\"1\"" PREV), -EINVAL);
	assert_int_equal(parse("{\"time\":null" REST PREV), -EINVAL);	/* not nullable */

	/* the countries list is bounded */
	strcpy(many, HEAD);
	strcat(many, ",\"x\":[");
	for (int i = 0; i <= AUDIT_REC_COUNTRIES_MAX; i++)
		strcat(many, i ? ",\"JP\"" : "\"JP\"");
	strcat(many, "]" PREV);
	assert_int_equal(parse(many), -EINVAL);

	/* decoding */
	static const char dec[] = HEAD ",\"detail\":\"a\\/\\b\\f\\n\\r\\t\\\"\\\\\\u00ff\\u00e9\\u0100"
				  "\\ud83d\\ude00\"" PREV;
	assert_int_equal(audit_rec_parse(dec, strlen(dec), &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.detail, "a/\b\f\n\r\t\"\\\xff\xe9\xc4\x80\xf0\x9f\x98\x80");
	assert_int_equal(rec.uid, 1);
	assert_int_equal(rec.pid, 3);
	assert_null(rec.site);
	audit_rec_free(&rec);

	/* every truncation of a good line is rejected */
	for (size_t n = 0; n < strlen(HEAD PREV); n++) {
		assert_int_equal(audit_rec_parse(HEAD PREV, n, &rec, why, sizeof(why)), -EINVAL);
		assert_null(rec.mem);
	}
}

static void test_parser_survives_mutations(void **state)
{
	struct fx *fx = *state;
	struct lines ls;
	char buf[4096];
	uint8_t rnd[4];
	int accepted = 0;

	write_log(fx->path, 1);
	read_lines(fx->path, &ls);
	assert_true(ls.len[0] < sizeof(buf));
	for (uint64_t seed = 1; seed <= 20000; seed++) {
		struct audit_rec rec;
		size_t len = ls.len[0];

		memcpy(buf, ls.l[0], len);
		for (int k = 0; k < 1 + (int)(seed % 4); k++) {
			tu_fill(rnd, sizeof(rnd), seed * 7 + (uint64_t)k);
			buf[(rnd[0] << 8 | rnd[1]) % len] = (char)rnd[2];
		}
		if (seed % 5 == 0)
			len = (rnd[3] * 7u) % len;
		if (audit_rec_parse(buf, len, &rec, NULL, 0) == 0) {
			accepted++;
			audit_rec_free(&rec);
		}
	}
	assert_true(accepted > 0);	/* edits inside strings stay valid */
	free_lines(&ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_log_is_noop),
		cmocka_unit_test_setup_teardown(test_open_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_results_and_optional_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_and_object_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_fields_are_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_byte_edit_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_swap_insert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_in_place_and_open_continue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_line_then_crash_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied_is_on_disk_at_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_ms_zero_writes_each_record, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_ms_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_waits_not_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_lines_bounded, setup, teardown),
		cmocka_unit_test(test_parser_strict),
		cmocka_unit_test_setup_teardown(test_old_u00xx_log_still_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parser_survives_mutations, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
