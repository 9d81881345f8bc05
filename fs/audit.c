/*
 * audit.c — the tamper-evident audit log (see audit.h).
 *
 * Writing: audit_record() formats a record, up to but without its "prev"
 * field, in the caller's thread and queues it (bounded: a caller waits for
 * room, nothing is dropped). One writer thread owns the file and the chain:
 * it appends `,"prev":"<hash of the line before>"}`, hashes the finished
 * line for the next one, write()s the batch and fdatasync()s it. A record
 * waits at most sync_ms for that; a denial or error record (result != 0),
 * or any record when sync_ms is 0, is durable before audit_record returns.
 * If the file cannot be written the writer keeps the bytes, logs once and
 * retries every second; the queue then fills and audited operations wait:
 * the log fails closed rather than losing records.
 *
 * Torn last line: a crash during a write can leave the file ending in part
 * of a line. audit_open/audit_reopen keep those bytes (they are evidence,
 * and truncating would make the writer an editor of its own log), end them
 * with '\n' so they stay a line of their own, log a warning, and chain the
 * next record from the last complete record. `geoctl audit verify` then
 * reports the torn line as the first that does not fit, and says when the
 * line after it continues the chain from the line before it, which is what
 * a crash looks like (an edit does not).
 *
 * Reading: a bounded line reader, a strict parser for the flat objects
 * written here (it is fuzzed), and the chain check built on both.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"
#include "log.h"

#define HEX_LEN		(2 * SHA256_LEN)
#define QUEUE_MAX	4096		/* records waiting for the writer */
#define QUEUE_BYTES	(8u << 20)	/* ... and their bytes */
#define RETRY_MS	1000		/* after a failed write */
#define TAIL_MAX	(2 * AUDIT_LINE_MAX)	/* read back at open to find the last record */
#define READ_CHUNK	65536

/* Input bytes kept per field: with JSON escaping (at most 6 bytes out per
 * byte in) a line stays well below AUDIT_LINE_MAX (2 x 384 KiB of paths,
 * 24 KiB of detail, 6 KiB of countries, 7 x 1.5 KiB of short fields). */
#define CAP_SHORT	256
#define CAP_PATH	65536
#define CAP_DETAIL	4096
#define CAP_COUNTRIES	1024

static const char zero_hex[HEX_LEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

struct qrec {
	struct qrec *next;
	uint64_t seq;			/* 0 for the writer's own notes */
	size_t len;
	char *body;			/* the record without its "prev" field and '}' */
};

struct audit {
	char *path;
	char *site;
	unsigned sync_ms;
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t wake;		/* to the writer: work, flush, reopen, stop */
	pthread_cond_t done;		/* from the writer: progress, room in the queue */
	/* guarded by mu: */
	struct qrec *head, *tail;
	size_t qcount, qbytes;
	struct timespec oldest;		/* CLOCK_MONOTONIC when head was queued */
	unsigned space_waiters;		/* callers waiting for room */
	uint64_t seq_queued;		/* last sequence number handed out */
	uint64_t seq_durable;		/* every record up to this one is on disk */
	uint64_t flush_to;		/* a caller waits for records up to this one */
	unsigned long flush_reqs;	/* bumped by each caller that starts waiting */
	unsigned long fails;		/* failed write attempts so far */
	int err;			/* -errno of the last failed attempt */
	unsigned long lost;		/* records that could not be queued (ENOMEM) */
	unsigned reopen_req, reopen_done;
	int reopen_err;
	bool stop;

	/* the writer thread's own (audit_open's before the thread starts): */
	int fd;
	char last_hex[HEX_LEN + 1];	/* hash of the last line formatted */
	struct qrec *held;		/* taken from the queue, not yet formatted */
	char *wbuf;			/* formatted lines, wbuf[woff..wlen) not yet written */
	size_t wlen, woff, wcap;
	uint64_t wseq;			/* last sequence number formatted */
	int reported;			/* error already logged (0: none) */
};

/* ---- JSON text ---- */

/* Length of the valid UTF-8 sequence (2..4 bytes) at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	cp = c & (0x3fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Writes n bytes of s as a quoted JSON string into out, which has room
 * for 6 * n + 2 bytes. Returns the length written. */
static size_t json_quote(const char *str, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char *o = out;

	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		const char *esc = NULL;
		size_t u;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: break;
		}
		if (esc) {
			memcpy(o, esc, 2);
			o += 2, i++;
		} else if (c >= 0x20 && c < 0x7f) {
			*o++ = (char)c, i++;
		} else if (c >= 0x80 && (u = utf8_len(s + i, n - i)) > 0) {
			memcpy(o, s + i, u);
			o += u, i += u;
		} else {	/* control, DEL, or a byte that is not UTF-8 */
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6, i++;
		}
	}
	*o++ = '"';
	return (size_t)(o - out);
}

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
	if (sb_room(b, 6 * n + 2))
		b->len += json_quote(s, n, b->p + b->len);
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
static struct qrec *make_qrec(const char *site, const struct audit_event *ev)
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
	field_str(&b, "result", res, CAP_SHORT, false);
	field_countries(&b, ev->countries);
	field_str(&b, "detail", ev->detail, CAP_DETAIL, true);
	q = b.oom ? NULL : calloc(1, sizeof(*q));
	if (!q) {
		free(b.p);
		return NULL;
	}
	q->body = b.p;
	q->len = b.len;
	return q;
}

static void free_qrecs(struct qrec *q)
{
	while (q) {
		struct qrec *next = q->next;

		free(q->body);
		free(q);
		q = next;
	}
}

/* ---- the file ---- */

static int pread_full(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* shrank under us */
		buf += n, len -= (size_t)n, off += n;
	}
	return 0;
}

/* Prepares the log open at fd for appending: ends a torn last line with
 * '\n' and sets hex to the hash of the last complete record (hex stays as
 * it is when the file holds none). 0 or -errno. */
static int attach_file(int fd, const char *path, char hex[HEX_LEN + 1])
{
	struct stat st;
	size_t win, end, skipped = 0;
	off_t base;
	char *buf;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	win = (uint64_t)st.st_size < TAIL_MAX ? (size_t)st.st_size : TAIL_MAX;
	base = st.st_size - (off_t)win;
	buf = malloc(win);
	if (!buf)
		return -ENOMEM;
	r = pread_full(fd, buf, win, base);
	if (r)
		goto out;
	end = win;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end < win) {
		log_warn("audit: %s ends in %zu bytes of an incomplete line (a write torn by "
			 "a crash?): kept and ended with a newline; `geoctl audit verify` will "
			 "report it; the chain continues from the last complete record",
			 path, win - end);
		ssize_t w = write(fd, "\n", 1);

		if (w != 1 || fdatasync(fd) < 0) {
			r = w == 0 ? -EIO : -errno;
			goto out;
		}
	}
	while (end > 0) {	/* buf[end - 1] is the '\n' ending a line */
		size_t e = end - 1, s = e;
		struct audit_rec rec;

		while (s > 0 && buf[s - 1] != '\n')
			s--;
		if (s == 0 && base > 0)
			break;		/* the line starts before the window */
		if (audit_rec_parse(buf + s, e - s, &rec, NULL, 0) == 0) {
			audit_rec_free(&rec);
			crypto_sha256_hex(buf + s, e - s, hex);
			if (skipped)
				log_warn("audit: the last %zu line(s) of %s are not records; the "
					 "chain continues from the record before them", skipped, path);
			goto out;
		}
		skipped++;
		end = s;
	}
	log_warn("audit: %s holds no complete record in its last %zu bytes; the chain "
		 "continues from %.16s...", path, win, hex);
out:
	free(buf);
	return r;
}

static int open_file(const char *path, char hex[HEX_LEN + 1], int *fdp)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	int r;

	if (fd < 0)
		return -errno;
	r = attach_file(fd, path, hex);
	if (r) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/* Writer: appends record q to wbuf, completed with the hash of the line
 * before it, and makes its own hash the next line's prev. 0 or -ENOMEM. */
static int chain_line(struct audit *a, const struct qrec *q)
{
	static const char prev_key[] = ",\"prev\":\"";
	size_t line = q->len + sizeof(prev_key) - 1 + HEX_LEN + 2;
	char *s;

	if (a->wlen + line + 1 > a->wcap) {
		size_t cap = a->wcap ? a->wcap : 65536;

		while (cap < a->wlen + line + 1)
			cap *= 2;
		s = realloc(a->wbuf, cap);
		if (!s)
			return -ENOMEM;
		a->wbuf = s;
		a->wcap = cap;
	}
	s = a->wbuf + a->wlen;
	memcpy(s, q->body, q->len);
	memcpy(s + q->len, prev_key, sizeof(prev_key) - 1);
	memcpy(s + line - HEX_LEN - 2, a->last_hex, HEX_LEN);
	memcpy(s + line - 2, "\"}\n", 3);
	crypto_sha256_hex(s, line, a->last_hex);
	a->wlen += line + 1;
	return 0;
}

/* Writer: chains the held records into wbuf, writes wbuf and syncs it.
 * 0 or -errno; what is not yet written stays for a retry. */
static int write_out(struct audit *a)
{
	while (a->held) {
		struct qrec *q = a->held;

		if (chain_line(a, q) < 0)
			return -ENOMEM;
		if (q->seq)
			a->wseq = q->seq;
		a->held = q->next;
		q->next = NULL;
		free_qrecs(q);
	}
	if (a->woff == a->wlen)
		return 0;
	while (a->woff < a->wlen) {
		ssize_t n = write(a->fd, a->wbuf + a->woff, a->wlen - a->woff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		a->woff += (size_t)n;
	}
	a->wlen = a->woff = 0;
	return fdatasync(a->fd) < 0 ? -errno : 0;
}

/* Writer: the same path again, after logrotate moved the file away. */
static int reopen_file(struct audit *a)
{
	char before[HEX_LEN + 1];
	int fd, r;

	memcpy(before, a->last_hex, sizeof(before));
	r = open_file(a->path, a->last_hex, &fd);
	if (r) {
		log_err("audit: cannot reopen %s: %s; still writing to the file open before",
			a->path, strerror(-r));
		return r;
	}
	if (memcmp(before, a->last_hex, HEX_LEN) != 0)
		log_warn("audit: reopened %s holds records of another chain; continuing from "
			 "its last record, so the chain from the previous file breaks here",
			 a->path);
	close(a->fd);
	a->fd = fd;
	return 0;
}

/* Writer: a record saying how many records could not be queued. */
static void note_lost(struct audit *a, unsigned long lost)
{
	char detail[96];
	struct audit_event ev = {
		.op = "audit-lost", .result = -ENOMEM, .detail = detail,
		.uid = getuid(), .gid = getgid(), .pid = getpid(),
	};
	struct qrec *q;

	snprintf(detail, sizeof(detail), "%lu record(s) could not be queued (out of memory)",
		 lost);
	q = make_qrec(a->site, &ev);
	if (!q) {
		log_err("audit: %lu record(s) lost (out of memory)", lost);
		return;
	}
	q->next = a->held;
	a->held = q;
}

static bool pending(const struct audit *a)
{
	return a->held || a->woff < a->wlen;
}

static void deadline_in(struct timespec *ts, const struct timespec *from, unsigned ms)
{
	*ts = *from;
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static bool reached(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Writer, mu held: waits until there is something to do now. */
static void wait_for_work(struct audit *a)
{
	struct timespec deadline;

	for (;;) {
		if (a->stop || a->reopen_req != a->reopen_done || pending(a))
			return;
		if (!a->head) {
			pthread_cond_wait(&a->wake, &a->mu);
			continue;
		}
		if (a->sync_ms == 0 || a->space_waiters || a->flush_to > a->seq_durable)
			return;
		deadline_in(&deadline, &a->oldest, a->sync_ms);
		if (reached(&deadline))
			return;
		pthread_cond_timedwait(&a->wake, &a->mu, &deadline);
	}
}

/* Writer, mu held: after a failed attempt, waits RETRY_MS unless someone
 * starts waiting for a flush or a reopen, or the log closes. */
static void backoff(struct audit *a)
{
	unsigned long reqs = a->flush_reqs;
	unsigned reopen = a->reopen_req;
	struct timespec now, deadline;

	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline_in(&deadline, &now, RETRY_MS);
	while (!a->stop && reqs == a->flush_reqs && reopen == a->reopen_req && !reached(&deadline))
		pthread_cond_timedwait(&a->wake, &a->mu, &deadline);
}

/* Writer, mu held: logs a failure once, and the recovery after it. */
static void report(struct audit *a, int err)
{
	if (err && err != a->reported)
		log_err("audit: cannot write %s: %s; retrying, and audited operations "
			"will wait once %d records are queued", a->path, strerror(-err), QUEUE_MAX);
	else if (!err && a->reported)
		log_info("audit: writing %s again", a->path);
	a->reported = err;
}

/* Writer, mu held, the log closing and unwritable: drop what is left,
 * loudly. */
static void drop_all(struct audit *a)
{
	size_t lines = a->qcount;

	for (struct qrec *q = a->held; q; q = q->next)
		lines++;
	for (size_t i = a->woff; i < a->wlen; i++)
		lines += a->wbuf[i] == '\n';
	log_err("audit: closing with %zu record(s) that could not be written to %s",
		lines, a->path);
	free_qrecs(a->held);
	free_qrecs(a->head);
	a->held = a->head = a->tail = NULL;
	a->qcount = a->qbytes = 0;
	a->woff = a->wlen = 0;
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		unsigned reopen;
		unsigned long lost = 0;
		int err, rerr = 0;

		wait_for_work(a);
		if (a->stop && !a->head && !pending(a) && a->reopen_req == a->reopen_done)
			break;
		reopen = a->reopen_req;
		if (!pending(a)) {	/* take the whole queue */
			a->held = a->head;
			a->head = a->tail = NULL;
			a->qcount = a->qbytes = 0;
			lost = a->lost;
			a->lost = 0;
			pthread_cond_broadcast(&a->done);
		}
		pthread_mutex_unlock(&a->mu);

		if (lost)
			note_lost(a, lost);
		err = write_out(a);
		if (reopen != a->reopen_done)	/* only this thread writes reopen_done */
			rerr = reopen_file(a);

		pthread_mutex_lock(&a->mu);
		if (err) {
			a->fails++;
			a->err = err;
		} else {
			a->seq_durable = a->wseq;
		}
		report(a, err);
		if (reopen != a->reopen_done) {
			a->reopen_done = reopen;
			a->reopen_err = rerr;
		}
		pthread_cond_broadcast(&a->done);
		if (err && a->stop) {
			drop_all(a);
			break;
		}
		if (err)
			backoff(a);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Caller, mu held: waits until record seq is on disk, or until a write
 * attempt fails meanwhile. 0 or that attempt's -errno. */
static int wait_durable(struct audit *a, uint64_t seq)
{
	unsigned long fails = a->fails;

	if (a->flush_to < seq)
		a->flush_to = seq;
	a->flush_reqs++;
	pthread_cond_signal(&a->wake);
	while (a->seq_durable < seq && a->fails == fails)
		pthread_cond_wait(&a->done, &a->mu);
	return a->seq_durable >= seq ? 0 : a->err;
}

static void free_audit(struct audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	free_qrecs(a->head);
	free_qrecs(a->held);
	free(a->wbuf);
	free(a->path);
	free(a->site);
	free(a);
}

int audit_open(const char *path, const char *site, unsigned sync_ms,
	       struct audit **out, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct audit *a;
	int r;

	*out = NULL;
	if (!path)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->sync_ms = sync_ms;
	memcpy(a->last_hex, zero_hex, sizeof(zero_hex));
	a->path = strdup(path);
	a->site = site ? strdup(site) : NULL;
	r = (!a->path || (site && !a->site)) ? -ENOMEM : open_file(path, a->last_hex, &a->fd);
	if (r) {
		snprintf(err, errlen, "audit log %s: %s", path, strerror(-r));
		goto out_free;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->done, NULL);
	/* Signals (SIGHUP for reopen, SIGTERM) belong to the daemon's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		snprintf(err, errlen, "audit log %s: cannot start its writer: %s", path,
			 strerror(-r));
		goto out_sync;
	}
	*out = a;
	return 0;

out_sync:
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
out_free:
	free_audit(a);
	return r;
}

void audit_record(struct audit *a, const struct audit_event *ev)
{
	struct qrec *q;
	uint64_t seq;

	if (!a || !ev)
		return;
	q = make_qrec(a->site, ev);
	pthread_mutex_lock(&a->mu);
	if (!q) {
		a->lost++;	/* the writer puts a note in the chain */
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->mu);
		log_err("audit: out of memory: a record of %s on %s was not queued",
			ev->op ? ev->op : "?", ev->path ? ev->path : "?");
		return;
	}
	while (a->qcount >= QUEUE_MAX || (a->qcount && a->qbytes + q->len > QUEUE_BYTES)) {
		a->space_waiters++;
		pthread_cond_signal(&a->wake);
		pthread_cond_wait(&a->done, &a->mu);
		a->space_waiters--;
	}
	seq = q->seq = ++a->seq_queued;
	if (a->tail)
		a->tail->next = q;
	else
		a->head = q;
	a->tail = q;
	a->qbytes += q->len;
	if (++a->qcount == 1) {
		clock_gettime(CLOCK_MONOTONIC, &a->oldest);
		pthread_cond_signal(&a->wake);
	}
	if (ev->result != 0 || a->sync_ms == 0)
		(void)wait_durable(a, seq);	/* a failure was logged by the writer */
	pthread_mutex_unlock(&a->mu);
}

int audit_flush(struct audit *a)
{
	int r = 0;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	if (a->seq_durable < a->seq_queued)
		r = wait_durable(a, a->seq_queued);
	pthread_mutex_unlock(&a->mu);
	return r;
}

int audit_reopen(struct audit *a)
{
	unsigned req;
	int r;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	req = ++a->reopen_req;
	pthread_cond_signal(&a->wake);
	while ((int)(a->reopen_done - req) < 0)
		pthread_cond_wait(&a->done, &a->mu);
	r = a->reopen_err;
	pthread_mutex_unlock(&a->mu);
	return r;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	free_audit(a);
}

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
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return jp_fail(j, "unpaired surrogate");
	}
	if (cp == 0)
		return jp_fail(j, "\\u0000 in a string");
	if (cp < 0x100) {		/* ASCII, or a raw byte (see audit.h) */
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
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
	{ "countries", F_LIST, AT(countries) }, { "detail", F_OPTIONAL, AT(detail) },
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
		else if (strcmp(v->expect, zero_hex) == 0)
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
	memcpy(v.expect, prev_hex ? prev_hex : zero_hex, sizeof(v.expect));
	v.any_start = !prev_hex && allow_any_start;
	r = audit_read_lines(path, verify_line, &v);
	if (r < 0)
		return r;
	if (last_hex)
		memcpy(last_hex, v.expect, sizeof(v.expect));
	return v.bad;
}
