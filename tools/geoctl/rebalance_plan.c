/*
 * rebalance_plan.c — which files rebalance moves, and the plan: files and
 * stored bytes per source country (one the file's tags no longer allow)
 * and target (the countries they do).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "rebalance.h"
#include "table.h"

static int plan_add(struct rebalance *rb, const char *from, const char *to, uint64_t bytes,
		    bool count_file)
{
	struct move *m;

	for (size_t i = 0; i < rb->nm; i++)
		if (strcmp(rb->m[i].from, from) == 0 && strcmp(rb->m[i].to, to) == 0) {
			rb->m[i].files += count_file;
			rb->m[i].bytes += bytes;
			return 0;
		}
	m = array_grow(rb->m, &rb->capm, rb->nm, sizeof(*m));
	if (!m)
		return -ENOMEM;
	rb->m = m;
	m += rb->nm;
	snprintf(m->from, sizeof(m->from), "%s", from);
	m->to = strdup(to);
	m->files = count_file;
	m->bytes = bytes;
	if (!m->to)
		return -ENOMEM;
	rb->nm++;
	return 0;
}

/* Adds a file's rows to the plan (one per disallowed source country);
 * returns the stored bytes it will move, or -ENOMEM. */
static long long plan_file(struct rebalance *rb, const struct geo_info *gi)
{
	uint64_t off = 0;
	int r;

	for (int i = 0; i < gi->nplace; i++) {
		const char *cc = gi->place[i].country;
		bool seen = false;

		if (info_may_store(gi, cc))
			continue;
		for (int k = 0; k < i; k++)
			seen |= strcmp(gi->place[k].country, cc) == 0;
		if (seen)
			continue;
		r = plan_add(rb, cc, gi->store_in, info_bytes_in(gi, cc), true);
		if (r < 0)
			return r;
		off += info_bytes_in(gi, cc);
	}
	if (off == 0) {		/* replicas missing, or --spread */
		r = plan_add(rb, "-", gi->store_in, gi->stored, true);
		if (r < 0)
			return r;
		return (long long)gi->stored;
	}
	return (long long)off;
}

int rebalance_collect(const struct scan_item *it, void *arg)
{
	struct rebalance *rb = arg;
	struct cand *c;
	long long bytes;

	if (it->gi->type != INFO_FILE || !(it->gi->misplaced || rb->spread))
		return 0;
	if (!it->gi->misplaced && rjournal_done(&rb->journal, it->path)) {
		rb->skipped++;		/* spread by the interrupted run */
		return 0;
	}
	c = array_grow(rb->c, &rb->capc, rb->nc, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rb->c = c;
	bytes = plan_file(rb, it->gi);
	if (bytes < 0)
		return (int)bytes;
	c[rb->nc].path = strdup(it->path);
	if (!c[rb->nc].path)
		return -ENOMEM;
	c[rb->nc].bytes = (uint64_t)bytes;
	rb->total_bytes += (uint64_t)bytes;
	rb->nc++;
	return 0;
}

void rebalance_print_plan(const struct rebalance *rb)
{
	static const char *const heads[] = { "FROM", "TO", "FILES", "BYTES", NULL };
	char b[TABLE_BYTES_LEN];
	struct table t;

	if (rb->skipped)
		printf("resuming --spread: %zu file%s spread by an interrupted run of this "
		       "command %s skipped\n", rb->skipped, rb->skipped == 1 ? "" : "s",
		       rb->skipped == 1 ? "is" : "are");
	if (rb->nc == 0) {
		printf("nothing to move: every file is placed as the policy requires%s\n",
		       rb->skipped ? " and spread" : "");
		return;
	}
	printf("plan: %zu file%s, %s to move%s\n", rb->nc, rb->nc == 1 ? "" : "s",
	       table_bytes(rb->total_bytes, b),
	       rb->spread ? rb->skipped ? " (--spread: every file not spread yet)" :
	       " (--spread: every file)" : "");
	table_init(&t, heads, (1u << 2) | (1u << 3));
	for (size_t i = 0; i < rb->nm; i++) {
		table_row(&t);
		table_cell(&t, "%s", rb->m[i].from);
		table_cell(&t, "%s", rb->m[i].to);
		table_cell(&t, "%llu", (unsigned long long)rb->m[i].files);
		table_cell(&t, "%s", table_bytes(rb->m[i].bytes, b));
	}
	table_print(&t, stdout, 2);
	table_free(&t);
	fflush(stdout);
}
