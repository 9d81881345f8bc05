/*
 * rebalance.h — geoctl rebalance's parts: rebalance_plan.c gathers the
 * files to move and the plan, rebalance_run.c moves them through the
 * daemon (throttled, interruptible), cmd_rebalance.c drives and reports.
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

struct rebalance {
	bool dry_run, spread, json;
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

/* scan_fn: adds a file to move (misplaced, or any with --spread) and its
 * rows to the plan. 0 or -ENOMEM. */
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
