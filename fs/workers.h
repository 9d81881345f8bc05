/*
 * workers.h — a small pool of threads that encode and store shards (and
 * prefetch them on sequential reads) while the FUSE threads go on, so both
 * cores work on a single stream.
 *
 * Jobs run in submission order per worker, in no global order; a job must
 * not wait for another job. workers_free() runs what is queued, then joins.
 */
#ifndef GEOFS_WORKERS_H
#define GEOFS_WORKERS_H

struct workers;

/* n threads (at least 1). NULL on failure. */
struct workers *workers_new(int n);
void workers_free(struct workers *w);		/* NULL ok */

/* Queues fn(arg). If the job cannot be queued (no memory) it runs in the
 * caller's thread before this returns. */
void workers_submit(struct workers *w, void (*fn)(void *), void *arg);

#endif
