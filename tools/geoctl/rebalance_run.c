/*
 * rebalance_run.c — moving the planned files through the daemon: one
 * setxattr(user.geo.migrate) per file (atomic in the daemon: a file is
 * either where it was or fully moved), sleeping between files to hold
 * the average rate to --bandwidth, stopping cleanly on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

#include "array.h"
#include "progress.h"
#include "rebalance.h"
#include "walk.h"
#include "xattrs.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	walk_stop = 1;
}

const char *rebalance_reason(const struct failure *f)
{
	return f->why ? f->why : rebalance_strerror(f->err);
}

const char *rebalance_strerror(int err)
{
	switch (err) {
	case EACCES:
		return "no compliant placement (the daemon refused it; run as root or the "
		       "admin group for the reason)";
	case ENOSPC:
		return "the allowed backends are full";
	case EIO:
		return "a shard could not be read or failed authentication (see geoctl fsck)";
	case ENOENT:
		return "the file was removed meanwhile";
	default:
		return strerror(err);
	}
}

static int add_failure(struct rebalance *rb, const char *path, int err)
{
	struct failure *f = array_grow(rb->fail, &rb->capfail, rb->nfail, sizeof(*f));

	if (!f)
		return -ENOMEM;
	rb->fail = f;
	f[rb->nfail].path = strdup(path);
	f[rb->nfail].err = err;
	f[rb->nfail].why = rebalance_why(path, err);
	if (!f[rb->nfail].path)
		return -ENOMEM;
	rb->nfail++;
	return 0;
}

/*
 * Sleeps before a file of `next` bytes moves, until moving it keeps the
 * bytes moved since t0 at or below bandwidth * elapsed. Waiting before the
 * move, not after, is what keeps the first file from bursting at full
 * speed: a setxattr moves a whole file at once.
 */
static void throttle(const struct rebalance *rb, const struct progress *p,
		     uint64_t next)
{
	double due, wait;
	struct timespec ts;

	if (rb->bandwidth <= 0)
		return;
	due = (double)(p->bytes_done + next) / rb->bandwidth;
	wait = due - (progress_now() - p->t0);
	if (wait <= 0 || stop)
		return;
	ts.tv_sec = (time_t)wait;
	ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);	/* EINTR: the loop sees `stop` */
}

int rebalance_migrate(struct rebalance *rb)
{
	const char *value = rb->spread ? "spread" : "1";
	struct progress p;
	size_t i;

	progress_start(&p, "migrated", rb->nc, rb->total_bytes, true);
	p.limit = rb->bandwidth;
	for (i = 0; i < rb->nc && !stop; i++) {
		const struct cand *c = &rb->c[i];

		throttle(rb, &p, c->bytes);
		if (stop)
			break;
		if (setxattr(c->path, XA_MIGRATE, value, strlen(value), 0) < 0) {
			int err = errno;

			if (err == EINTR) {	/* the daemon abandoned it atomically */
				stop = 1;
				break;
			}
			if (add_failure(rb, c->path, err) < 0)
				return -ENOMEM;
			progress_note(&p, "geoctl: %s: not moved: %s", c->path,
				      rebalance_reason(&rb->fail[rb->nfail - 1]));
			p.files_done++;
			continue;
		}
		if (rb->spread)
			rjournal_add(&rb->journal, c->path);
		rb->moved_files++;
		rb->moved_bytes += c->bytes;
		progress_step(&p, c->bytes, c->path);
	}
	progress_end(&p);
	rb->interrupted = i < rb->nc;
	return 0;
}

void rebalance_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
