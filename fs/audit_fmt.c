/*
 * audit_fmt.c — one audit record as a JSON line (the format is in
 * audit.h): an audit_event turned into the text of a queued record, up to
 * but without its "prev" field, which the writer (audit.c) adds when it
 * chains the line. Runs in the caller's thread; no shared state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_fmt.h"
#include "json_esc.h"

/* Input bytes kept per field: with JSON escaping (at most 6 bytes out per
 * byte in) a line stays well below AUDIT_LINE_MAX (2 x 384 KiB of paths,
 * 24 KiB of detail, 6 KiB of countries, 9 x 1.5 KiB of short fields). */
#define CAP_SHORT	256
#define CAP_PATH	65536
#define CAP_DETAIL	4096
#define CAP_COUNTRIES	1024

/* ---- JSON text ---- */

/* A growing string; after a failed allocation every append is a no-op
 * and oom stays set. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_room(struct sbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 512;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more < b->cap)
		return true;
	while (cap <= b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (sb_room(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

static void sb_quote(struct sbuf *b, const char *s, size_t n)
{
	if (sb_room(b, JSON_ESC_MAX(n) + 2)) {
		b->p[b->len++] = '"';
		b->len += json_esc_body(s, n, b->p + b->len);
		b->p[b->len++] = '"';
	}
}

/* `"key":`, after a comma unless it is the first field. */
static void sb_key(struct sbuf *b, const char *key)
{
	if (b->len > 1)
		sb_add(b, ",");
	sb_add(b, "\"");
	sb_add(b, key);
	sb_add(b, "\":");
}

static void field_str(struct sbuf *b, const char *key, const char *val, size_t cap,
		      bool omit_null)
{
	if (!val && omit_null)
		return;
	sb_key(b, key);
	if (val)
		sb_quote(b, val, strnlen(val, cap));
	else
		sb_add(b, "null");
}

static void field_int(struct sbuf *b, const char *key, long long val)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", val);
	sb_key(b, key);
	sb_add(b, num);
}

/* "JP, KR" -> ["JP","KR"]; NULL -> []. */
static void field_countries(struct sbuf *b, const char *list)
{
	size_t n = list ? strnlen(list, CAP_COUNTRIES) : 0;
	unsigned count = 0;

	sb_key(b, "countries");
	sb_add(b, "[");
	for (size_t i = 0; i < n && count < AUDIT_REC_COUNTRIES_MAX; i++) {
		size_t s = i, e;

		while (i < n && list[i] != ',')
			i++;
		e = i;
		while (s < e && (list[s] == ' ' || list[s] == '\t'))
			s++;
		while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t'))
			e--;
		if (e == s)
			continue;
		if (count++)
			sb_add(b, ",");
		sb_quote(b, list + s, e - s);
	}
	sb_add(b, "]");
}

/* ---- record fields ---- */

/* "ok", "denied" or "error:EIO"; negative or positive errno alike. */
static void result_str(int result, char out[32])
{
	int e = result < 0 ? -result : result;

	if (e == 0) {
		strcpy(out, "ok");
		return;
	}
	if (e == EACCES || e == EPERM) {
		strcpy(out, "denied");
		return;
	}
	/* glibc names every errno it knows ("EIO"); NULL for others. */
	const char *name = strerrorname_np(e);

	if (name)
		snprintf(out, 32, "error:%s", name);
	else
		snprintf(out, 32, "error:E%d", e);
}

/* The process name from /proc/PID/comm, "?" if it cannot be read. */
static void proc_name(pid_t pid, char out[32])
{
	char p[40], name[32];
	ssize_t n = -1;
	int fd;

	strcpy(out, "?");
	if (pid <= 0)
		return;
	snprintf(p, sizeof(p), "/proc/%ld/comm", (long)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0'))
		n--;
	if (n > 0) {
		memcpy(out, name, (size_t)n);
		out[n] = '\0';
	}
}

/* RFC 3339 UTC with microseconds: 2026-11-23T01:02:03.123456Z. */
static void now_rfc3339(char out[40])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* A queue entry with the record up to (without) its "prev" field, or
 * NULL when out of memory. */
struct qrec *make_qrec(const char *site, const struct audit_event *ev)
{
	struct sbuf b = { 0 };
	char when[40], comm[32], res[32];
	struct qrec *q;

	now_rfc3339(when);
	proc_name(ev->pid, comm);
	result_str(ev->result, res);
	sb_add(&b, "{");
	field_str(&b, "time", when, CAP_SHORT, false);
	field_str(&b, "site", site, CAP_SHORT, false);
	field_int(&b, "uid", (long long)ev->uid);
	field_int(&b, "gid", (long long)ev->gid);
	field_int(&b, "pid", (long long)ev->pid);
	field_str(&b, "process", comm, CAP_SHORT, false);
	field_str(&b, "op", ev->op, CAP_SHORT, false);
	field_str(&b, "intent", ev->intent, CAP_SHORT, true);
	field_str(&b, "path", ev->path, CAP_PATH, false);
	field_str(&b, "path2", ev->path2, CAP_PATH, true);
	field_str(&b, "category", ev->category, CAP_SHORT, false);
	field_str(&b, "origin", ev->origin, CAP_SHORT, false);
	field_str(&b, "old_category", ev->old_category, CAP_SHORT, true);
	field_str(&b, "old_origin", ev->old_origin, CAP_SHORT, true);
	field_str(&b, "result", res, CAP_SHORT, false);
	field_countries(&b, ev->countries);
	field_str(&b, "detail", ev->detail, CAP_DETAIL, true);
	field_str(&b, "backend", ev->backend, CAP_SHORT, true);
	field_str(&b, "object", ev->object, CAP_SHORT, true);
	q = b.oom ? NULL : calloc(1, sizeof(*q));
	if (!q) {
		free(b.p);
		return NULL;
	}
	q->body = b.p;
	q->len = b.len;
	return q;
}

void free_qrecs(struct qrec *q)
{
	while (q) {
		struct qrec *next = q->next;

		free(q->body);
		free(q);
		q = next;
	}
}
