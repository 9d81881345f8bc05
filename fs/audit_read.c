/*
 * audit_read.c — reading the audit log back (see audit.h): splitting it
 * into lines without trusting their length, the strict parser of one
 * record, and the hash-chain verification behind `geoctl audit verify`.
 * The writer is audit.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_int.h"
#include "json_esc.h"

#define READ_CHUNK 65536

/* ---- reading ---- */

int audit_read_lines(const char *path,
		     int (*fn)(void *ctx, long lineno, const char *line, size_t len,
			       enum audit_line_kind kind),
		     void *ctx)
{
	size_t cap = READ_CHUNK, len = 0, start = 0, scan = 0;
	bool skipping = false;	/* inside a line already passed on as too long */
	long n = 0;
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {	/* buf[start..len) is unconsumed, buf[start..scan) has no '\n' */
		char *nl = memchr(buf + scan, '\n', len - scan);
		ssize_t got;

		if (nl) {
			size_t e = (size_t)(nl - buf);
			bool is_long = e - start > AUDIT_LINE_MAX;

			if (!skipping && (r = fn(ctx, ++n, buf + start,
						 is_long ? AUDIT_LINE_MAX : e - start,
						 is_long ? AUDIT_LINE_LONG : AUDIT_LINE_OK)))
				break;
			skipping = false;
			start = scan = e + 1;
			continue;
		}
		if (!skipping && len - start > AUDIT_LINE_MAX) {
			if ((r = fn(ctx, ++n, buf + start, AUDIT_LINE_MAX, AUDIT_LINE_LONG)))
				break;
			skipping = true;
		}
		if (skipping)
			start = len = 0;
		else if (start > 0)
			memmove(buf, buf + start, len - start), len -= start, start = 0;
		scan = len;
		if (len == cap) {	/* then cap < AUDIT_LINE_MAX + READ_CHUNK */
			size_t ncap = 2 * cap < AUDIT_LINE_MAX + READ_CHUNK ?
				      2 * cap : AUDIT_LINE_MAX + READ_CHUNK;
			char *p = realloc(buf, ncap);

			if (!p) {
				r = -ENOMEM;
				break;
			}
			buf = p;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0) {
			if (!skipping && len > start)
				r = fn(ctx, ++n, buf + start, len - start, AUDIT_LINE_TORN);
			break;
		}
		len += (size_t)got;
	}
	free(buf);
out:
	close(fd);
	return r;
}

/* The strict parser: a cursor over the line, decoding strings into one
 * arena (rec->mem, len + 1 bytes: a decoded string plus its NUL is never
 * longer than its quoted form). */
struct jp {
	const unsigned char *p, *end, *begin;
	char *out;
	char *why;
	size_t whylen;
};

static int jp_fail(struct jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jp_fail(struct jp *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!j->why || !j->whylen)
		return -EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(j->why, j->whylen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < j->whylen)
		snprintf(j->why + n, j->whylen - (size_t)n, " at byte %zu",
			 (size_t)(j->p - j->begin) + 1);
	return -EINVAL;
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static bool jp_eat(struct jp *j, char c)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == (unsigned char)c) {
		j->p++;
		return true;
	}
	return false;
}

static bool hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* One escape at j->p (a backslash); the decoded bytes go to *o. */
static int jp_escape(struct jp *j, char **o)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	unsigned cp, lo;
	char *d = *o;
	size_t n;

	if (j->end - j->p < 2)
		return jp_fail(j, "unterminated string");
	if (j->p[1] != 'u') {
		for (size_t i = 0; i + 1 < sizeof(simple); i += 2) {
			if ((unsigned char)simple[i] == j->p[1]) {
				*(*o)++ = simple[i + 1];
				j->p += 2;
				return 0;
			}
		}
		return jp_fail(j, "invalid escape");
	}
	if (!hex4(j->p + 2, j->end, &cp))
		return jp_fail(j, "invalid \\u escape");
	j->p += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    !hex4(j->p + 2, j->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return jp_fail(j, "unpaired surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		j->p += 6;
	}
	if (cp == 0)
		return jp_fail(j, "\\u0000 in a string");
	/* \udc80..\udcff is a raw byte; so is \u0080..\u00ff in logs
	 * written before the shared escaper (json_esc.h) */
	n = json_esc_decode_cp(cp, true, d);
	if (n == 0)
		return jp_fail(j, "unpaired surrogate");
	d += n;
	*o = d;
	return 0;
}

static int jp_string(struct jp *j, const char **s)
{
	char *o = j->out;
	int r;

	if (!jp_eat(j, '"'))
		return jp_fail(j, "expected a string");
	for (;;) {
		unsigned c;
		size_t u;

		if (j->p >= j->end)
			return jp_fail(j, "unterminated string");
		c = *j->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return jp_fail(j, "control character in a string");
		if (c == '\\') {
			if ((r = jp_escape(j, &o)))
				return r;
		} else if (c < 0x80) {
			*o++ = (char)c;
			j->p++;
		} else if ((u = utf8_len(j->p, (size_t)(j->end - j->p))) > 0) {
			memcpy(o, j->p, u);
			o += u;
			j->p += u;
		} else {
			return jp_fail(j, "invalid UTF-8");
		}
	}
	j->p++;
	*o++ = '\0';
	*s = j->out;
	j->out = o;
	return 0;
}

static int jp_int(struct jp *j, long long *v)
{
	unsigned long long x = 0;
	const unsigned char *d;
	bool neg;

	jp_ws(j);
	neg = j->p < j->end && *j->p == '-';
	j->p += neg;
	for (d = j->p; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
		if (x > ((unsigned long long)LLONG_MAX - (*j->p - '0')) / 10)
			return jp_fail(j, "integer out of range");
		x = x * 10 + (*j->p - '0');
	}
	if (j->p == d || (*d == '0' && j->p - d > 1) ||
	    (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')))
		return jp_fail(j, "expected an integer");
	*v = neg ? -(long long)x : (long long)x;
	return 0;
}

static int jp_list(struct jp *j, struct audit_rec *rec)
{
	const char *s;
	unsigned n = 0;
	int r;

	jp_eat(j, '[');
	if (!jp_eat(j, ']')) {
		do {
			if (n == AUDIT_REC_COUNTRIES_MAX)
				return jp_fail(j, "more than %d items in a list",
					       AUDIT_REC_COUNTRIES_MAX);
			if ((r = jp_string(j, &s)))
				return r;
			if (rec)
				rec->countries[n] = s;
			n++;
		} while (jp_eat(j, ','));
		if (!jp_eat(j, ']'))
			return jp_fail(j, "expected ',' or ']'");
	}
	if (rec)
		rec->ncountries = n;
	return 0;
}

enum ftype {
	F_STR,		/* a string */
	F_NULLABLE,	/* a string or null */
	F_OPTIONAL,	/* a string or null, may be absent */
	F_INT,
	F_LIST,		/* an array of strings */
	F_ANY,		/* an unknown field: any of those */
};

#define AT(f) offsetof(struct audit_rec, f)
static const struct rec_field {
	const char *name;
	enum ftype type;
	size_t off;
} rec_fields[] = {
	{ "time", F_STR, AT(time) }, { "site", F_NULLABLE, AT(site) },
	{ "uid", F_INT, AT(uid) }, { "gid", F_INT, AT(gid) }, { "pid", F_INT, AT(pid) },
	{ "process", F_STR, AT(process) }, { "op", F_NULLABLE, AT(op) },
	{ "intent", F_OPTIONAL, AT(intent) }, { "path", F_NULLABLE, AT(path) },
	{ "path2", F_OPTIONAL, AT(path2) }, { "category", F_NULLABLE, AT(category) },
	{ "origin", F_NULLABLE, AT(origin) }, { "result", F_STR, AT(result) },
	{ "old_category", F_OPTIONAL, AT(old_category) },
	{ "old_origin", F_OPTIONAL, AT(old_origin) },
	{ "countries", F_LIST, AT(countries) }, { "detail", F_OPTIONAL, AT(detail) },
	{ "backend", F_OPTIONAL, AT(backend) }, { "object", F_OPTIONAL, AT(object) },
	{ "prev", F_STR, AT(prev) },
};
#undef AT
#define NFIELDS (sizeof(rec_fields) / sizeof(rec_fields[0]))
#define MAX_KEYS 64

/* The value of field f (NULL: an unknown field, checked and skipped). */
static int jp_value(struct jp *j, const struct rec_field *f, struct audit_rec *rec)
{
	enum ftype t = f ? f->type : F_ANY;
	const char *s;
	long long v = 0;
	unsigned c;
	int r;

	jp_ws(j);
	c = j->p < j->end ? *j->p : 0;
	if (c == '"' && t != F_INT && t != F_LIST) {
		if ((r = jp_string(j, &s)))
			return r;
		if (f)
			*(const char **)((char *)rec + f->off) = s;
		return 0;
	}
	if (c == 'n' && (t == F_NULLABLE || t == F_OPTIONAL || t == F_ANY) &&
	    j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
		j->p += 4;
		return 0;
	}
	if ((c == '-' || (c >= '0' && c <= '9')) && (t == F_INT || t == F_ANY)) {
		if ((r = jp_int(j, &v)))
			return r;
		if (f)
			*(long long *)((char *)rec + f->off) = v;
		return 0;
	}
	if (c == '[' && (t == F_LIST || t == F_ANY))
		return jp_list(j, f ? rec : NULL);
	if (f)
		return jp_fail(j, "\"%s\" is not %s", f->name,
			       t == F_INT ? "an integer" : t == F_LIST ? "a list of strings" :
			       t == F_STR ? "a string" : "a string or null");
	return jp_fail(j, "expected a string, an integer, null or a list of strings");
}

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

int audit_rec_parse(const char *line, size_t len, struct audit_rec *rec,
		    char *why, size_t whylen)
{
	struct jp j = {
		.p = (const unsigned char *)line, .end = (const unsigned char *)line + len,
		.begin = (const unsigned char *)line, .why = why, .whylen = whylen,
	};
	const struct rec_field *f = NULL;
	uint32_t seen = 0;
	int r, nkeys = 0;

	memset(rec, 0, sizeof(*rec));
	rec->uid = rec->gid = rec->pid = -1;
	if (why && whylen)
		why[0] = '\0';
	if (len > AUDIT_LINE_MAX) {
		r = jp_fail(&j, "longer than %u bytes", AUDIT_LINE_MAX);
		goto fail;
	}
	rec->mem = malloc(len + 1);
	if (!rec->mem)
		return -ENOMEM;
	j.out = rec->mem;
	if (!jp_eat(&j, '{')) {
		r = jp_fail(&j, "expected '{'");
		goto fail;
	}
	do {
		const char *key;

		if (++nkeys > MAX_KEYS) {
			r = jp_fail(&j, "more than %d fields", MAX_KEYS);
			goto fail;
		}
		if ((r = jp_string(&j, &key)))
			goto fail;
		if (!jp_eat(&j, ':')) {
			r = jp_fail(&j, "expected ':'");
			goto fail;
		}
		for (f = rec_fields; f < rec_fields + NFIELDS && strcmp(f->name, key); f++)
			;
		if (f == rec_fields + NFIELDS) {
			f = NULL;
		} else if (seen & 1u << (f - rec_fields)) {
			r = jp_fail(&j, "\"%s\" appears twice", f->name);
			goto fail;
		} else {
			seen |= 1u << (f - rec_fields);
		}
		if ((r = jp_value(&j, f, rec)))
			goto fail;
	} while (jp_eat(&j, ','));
	if (!jp_eat(&j, '}')) {
		r = jp_fail(&j, "expected ',' or '}'");
		goto fail;
	}
	jp_ws(&j);
	if (j.p != j.end) {
		r = jp_fail(&j, "bytes after the object");
		goto fail;
	}
	for (size_t i = 0; i < NFIELDS; i++) {
		if (rec_fields[i].type != F_OPTIONAL && !(seen & 1u << i)) {
			r = jp_fail(&j, "no \"%s\" field", rec_fields[i].name);
			goto fail;
		}
	}
	if (!f || strcmp(f->name, "prev") != 0) {
		r = jp_fail(&j, "\"prev\" is not the last field");
		goto fail;
	}
	if (!is_hex64(rec->prev)) {
		r = jp_fail(&j, "\"prev\" is not 64 lower-case hex digits");
		goto fail;
	}
	return 0;
fail:
	audit_rec_free(rec);
	return r;
}

void audit_rec_free(struct audit_rec *rec)
{
	if (!rec)
		return;
	free(rec->mem);
	memset(rec, 0, sizeof(*rec));
	rec->uid = rec->gid = rec->pid = -1;
}

/* ---- verification ---- */

struct verify {
	char expect[HEX_LEN + 1];	/* hash of the last line that fit */
	bool any_start;
	long bad;			/* first line that does not fit, 0 so far */
	char *why;
	size_t whylen;
};

static int verify_fail(struct verify *v, long n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verify_fail(struct verify *v, long n, const char *fmt, ...)
{
	va_list ap;

	v->bad = n;
	if (v->why && v->whylen) {
		va_start(ap, fmt);
		vsnprintf(v->why, v->whylen, fmt, ap);
		va_end(ap);
	}
	return 1;
}

static int verify_line(void *ctx, long n, const char *line, size_t len,
		       enum audit_line_kind kind)
{
	struct verify *v = ctx;
	struct audit_rec rec;
	char why[160];
	int r;

	if (v->bad) {	/* the line after a damaged one: does the chain resume? */
		if (kind == AUDIT_LINE_OK && !(v->bad == 1 && v->any_start) &&
		    audit_rec_parse(line, len, &rec, NULL, 0) == 0) {
			size_t l = v->why ? strlen(v->why) : 0;

			if (strcmp(rec.prev, v->expect) == 0 && l < v->whylen)
				snprintf(v->why + l, v->whylen - l, "; line %ld continues the chain "
					 "from line %ld, as after a write torn by a crash",
					 n, v->bad - 1);
			audit_rec_free(&rec);
		}
		return 1;
	}
	if (kind == AUDIT_LINE_LONG)
		return verify_fail(v, n, "line %ld: longer than %u bytes", n, AUDIT_LINE_MAX);
	if (kind == AUDIT_LINE_TORN)
		return verify_fail(v, n, "line %ld: incomplete last line, no newline (a write "
				   "torn by a crash, or one in progress)", n);
	r = audit_rec_parse(line, len, &rec, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r) {
		verify_fail(v, n, "line %ld: not a valid record: %s", n, why);
		return 0;	/* look at the next line too */
	}
	if ((n > 1 || !v->any_start) && strcmp(rec.prev, v->expect) != 0) {
		if (n > 1)
			verify_fail(v, n, "line %ld: prev does not match the hash of line %ld",
				    n, n - 1);
		else if (strcmp(v->expect, ZERO_HEX) == 0)
			verify_fail(v, n, "line 1: prev is not 64 zeros, so the file does not "
				    "start a chain");
		else
			verify_fail(v, n, "line 1: prev does not continue the chain (expected "
				    "%.16s...)", v->expect);
		audit_rec_free(&rec);
		return 1;
	}
	audit_rec_free(&rec);
	crypto_sha256_hex(line, len, v->expect);
	return 0;
}

long audit_verify_file(const char *path, const char *prev_hex, bool allow_any_start,
		       char last_hex[65], char *why, size_t whylen)
{
	struct verify v = { .why = why, .whylen = whylen };
	int r;

	if (why && whylen)
		why[0] = '\0';
	if (prev_hex && !is_hex64(prev_hex))
		return -EINVAL;
	memcpy(v.expect, prev_hex ? prev_hex : ZERO_HEX, sizeof(v.expect));
	v.any_start = !prev_hex && allow_any_start;
	r = audit_read_lines(path, verify_line, &v);
	if (r < 0)
		return r;
	if (last_hex)
		memcpy(last_hex, v.expect, sizeof(v.expect));
	return v.bad;
}
