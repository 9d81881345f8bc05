/*
 * progress.h — progress of a long verb (rebalance, fsck) on stderr.
 *
 * On a terminal: one bar redrawn in place with \r (at most ten times a
 * second): done/total files, bytes, rate and ETA, and the current item.
 * Otherwise, if the verb asks for lines: one plain line per step, flushed
 * at once, so a log or a supervising script sees each step as it happens;
 * else nothing. progress_note() prints a message without garbling the bar.
 */
#ifndef GEOCTL_PROGRESS_H
#define GEOCTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
	FILE *f;
	bool tty;		/* draw a bar */
	bool lines;		/* not a tty: print a line per step */
	bool drawn;		/* a bar is on screen */
	const char *verb;	/* "migrated", "checked" */
	uint64_t files_total, bytes_total;
	uint64_t files_done, bytes_done;
	double limit;		/* bytes/s the verb holds the rate to (0: none), for the ETA */
	double t0, last_draw;
};

/* Seconds on the monotonic clock. */
double progress_now(void);

/* lines: print plain lines when stderr is not a terminal. bytes_total may
 * be 0 (no byte counts shown). */
void progress_start(struct progress *p, const char *verb, uint64_t files_total,
		    uint64_t bytes_total, bool lines);

/* One more item done (its bytes); item names it in the line or bar. */
void progress_step(struct progress *p, uint64_t bytes, const char *item);

/* A message line (e.g. a failure) that keeps the bar intact. */
void progress_note(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the bar (the final summary is the verb's). */
void progress_end(struct progress *p);

/* Average bytes per second since start (0 before any time passed). */
double progress_rate(const struct progress *p);

#endif
