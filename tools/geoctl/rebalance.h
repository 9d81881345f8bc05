/*
 * rebalance.h — geoctl rebalance's parts: rebalance_plan.c gathers the
 * files to move and the plan, rebalance_run.c moves them through the
 * daemon (throttled, interruptible), rebalance_journal.c remembers what a
 * --spread run did, cmd_rebalance.c drives and reports.
 */
#ifndef GEOCTL_REBALANCE_H
#define GEOCTL_REBALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan.h"

struct cand {
	char *path;
	uint64_t bytes;			/* stored bytes to move */
};

struct move {
	char from[3];			/* "KR", or "-" */
	char *to;			/* "JP,KR" */
	uint64_t files, bytes;
};

struct failure {
	char *path;
	int err;
	char *why;		/* the specific reason (rebalance_why()), or NULL */
};

/* The journal of a --spread run (rebalance_journal.c): which files it
 * spread already, so that a rerun of the same command skips them. */
struct rjournal {
	char file[4096], dir[4096];	/* "" when no journal can be kept */
	char *key;			/* its header: the command */
	size_t keylen;
	char *text;			/* the journal as read */
	char **done;			/* into text, sorted */
	size_t ndone;
	int fd;				/* open for appending, or -1 */
	bool broken;			/* a write failed: stop writing */
};

struct rebalance {
	bool dry_run, spread, json;
	struct rjournal journal;	/* --spread only */
	size_t skipped;			/* --spread: files the journal says are done */
	double bandwidth;		/* bytes per second, 0: unlimited */
	struct cand *c;
	size_t nc, capc;
	struct move *m;
	size_t nm, capm;
	struct failure *fail;
	size_t nfail, capfail;
	uint64_t total_bytes;
	uint64_t moved_files, moved_bytes;
	bool interrupted;
	int misplaced_after;
	int errors;
};

/* Loads the journal of --spread over these PATHs (none yet: empty). 0; or
 * -errno after saying why on stderr (unreadable, or a file that is not this
 * command's journal). Without a state directory (no XDG_STATE_HOME or HOME)
 * it warns and returns 0 with no journal. */
int rjournal_open(struct rjournal *rj, char *const *paths, int npaths);

/* Whether the journal lists path (as the scan gives it) as spread. */
bool rjournal_done(const struct rjournal *rj, const char *path);

/* Appends path, spread just now (creating the journal and its directory,
 * mode 0700, on the first one). A failure is said once on stderr, and
 * nothing more is written. */
void rjournal_add(struct rjournal *rj, const char *path);

/* Closes the journal; removes it when finished (nothing left to spread). */
void rjournal_close(struct rjournal *rj, bool finished);

/* scan_fn: adds a file to move (misplaced, or with --spread any the journal
 * does not list) and its rows to the plan. 0 or -ENOMEM. */
int rebalance_collect(const struct scan_item *it, void *arg);

/* The plan as text on stdout. */
void rebalance_print_plan(const struct rebalance *rb);

/* SIGINT and SIGTERM stop the run after the current file. */
void rebalance_catch_signals(void);

/* Migrates every collected file (stops early on a signal: rb->interrupted).
 * 0, or -ENOMEM. */
int rebalance_migrate(struct rebalance *rb);

/* Words for a user.geo.migrate failure. */
const char *rebalance_strerror(int err);

/* A failure's reason: its why, else rebalance_strerror(err). */
const char *rebalance_reason(const struct failure *f);

/* Which cause a refused move (EACCES, ENOSPC) had, for the file at path:
 * the site may not access it, no backend in an allowed country, all
 * draining, down or full. A malloc'ed sentence, or NULL when it cannot be
 * told (other errors; the daemon's status is not readable). */
char *rebalance_why(const char *path, int err);

#endif
