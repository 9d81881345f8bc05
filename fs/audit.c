/*
 * audit.c — the tamper-evident audit log (see audit.h): the file, the hash
 * chain, the queue and the writer thread.
 *
 * Writing: audit_record() formats a record, up to but without its "prev"
 * field, in the caller's thread (audit_fmt.c) and queues it (bounded: a
 * caller waits for room, nothing is dropped). One writer thread owns the
 * file and the chain: it appends `,"prev":"<hash of the line before>"}`,
 * hashes the finished line for the next one, write()s the batch and
 * fdatasync()s it. A record waits at most sync_ms for that; a denial or
 * error record (result != 0), or any record when sync_ms is 0, is durable
 * before audit_record returns. If the file cannot be written the writer
 * keeps the bytes, logs once and retries every second; the queue then
 * fills and audited operations wait: the log fails closed rather than
 * losing records.
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
 * Reading the log back (line reader, strict parser, chain check) is
 * audit_read.c.
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
#include "audit_fmt.h"
#include "audit_int.h"
#include "crypto.h"
#include "fileio.h"
#include "log.h"

#define QUEUE_MAX	4096		/* records waiting for the writer */
#define QUEUE_BYTES	(8u << 20)	/* ... and their bytes */
#define RETRY_MS	1000		/* after a failed write */
#define TAIL_MAX	(2 * AUDIT_LINE_MAX)	/* read back at open to find the last record */

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

/* ---- the file ---- */

/* Prepares the log open at fd for appending: ends a torn last line with
 * '\n' and sets hex to the hash of the last complete record (hex stays as
 * it is when the file holds none). 0 or -errno. */
static int attach_file(int fd, const char *path, char hex[HEX_LEN + 1])
{
	struct stat st;
	size_t win, end, skipped = 0;
	off_t base;
	char *buf;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	win = (uint64_t)st.st_size < TAIL_MAX ? (size_t)st.st_size : TAIL_MAX;
	base = st.st_size - (off_t)win;
	buf = malloc(win);
	if (!buf)
		return -ENOMEM;
	long got = fileio_pread_full(fd, buf, win, base);
	if (got != (long)win) {
		r = got < 0 ? (int)got : -EIO;	/* shrank under us */
		goto out;
	}
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
	memcpy(a->last_hex, ZERO_HEX, sizeof(ZERO_HEX));
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
