/*
 * report_figures.c — the transparency report's figures (report.h): the files
 * below the report's paths, summed per (category, origin) and per storage
 * country, with the bytes outside the allowed countries. The output
 * (cmd_report.c: text and JSON; report_html.c: the page) stands on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "report.h"
#include "scan.h"

/* Adds bytes to country cc in a sorted country list. 0 or -ENOMEM. */
static int country_add(struct rep_country **list, size_t *n, size_t *cap, const char *cc,
		       uint64_t bytes)
{
	struct rep_country *l;
	size_t i = 0;

	while (i < *n && strcmp((*list)[i].cc, cc) < 0)
		i++;
	if (i < *n && strcmp((*list)[i].cc, cc) == 0) {
		(*list)[i].bytes += bytes;
		return 0;
	}
	l = array_grow(*list, cap, *n, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*list = l;
	memmove(l + i + 1, l + i, (*n - i) * sizeof(*l));
	snprintf(l[i].cc, sizeof(l[i].cc), "%s", cc);
	l[i].bytes = bytes;
	(*n)++;
	return 0;
}

bool report_allowed(const struct rep_group *g, const char *cc)
{
	int idx = country_index(cc);

	return idx >= 0 && cset_has(&g->store_set, idx);
}

static struct rep_group *group_of(struct report *rp, const struct geo_info *gi)
{
	struct rep_group *g;

	for (size_t i = 0; i < rp->ng; i++)
		if (strcmp(rp->g[i].category, gi->category) == 0 &&
		    strcmp(rp->g[i].origin, gi->origin) == 0)
			return &rp->g[i];
	g = array_grow(rp->g, &rp->capg, rp->ng, sizeof(*g));
	if (!g)
		return NULL;
	rp->g = g;
	g += rp->ng++;
	memset(g, 0, sizeof(*g));
	snprintf(g->category, sizeof(g->category), "%s", gi->category);
	snprintf(g->origin, sizeof(g->origin), "%s", gi->origin);
	snprintf(g->store_in, sizeof(g->store_in), "%s", gi->store_in);
	snprintf(g->access_from, sizeof(g->access_from), "%s", gi->access_from);
	g->store_set = gi->store_set;
	g->replicas = gi->replicas;
	return g;
}

static int gather(const struct scan_item *it, void *arg)
{
	struct report *rp = arg;
	const struct geo_info *gi = it->gi;
	struct rep_group *g;

	if (gi->type != INFO_FILE)
		return 0;
	g = group_of(rp, gi);
	if (!g)
		return -ENOMEM;
	g->files++;
	g->size += gi->size;
	g->stored += gi->stored;
	rp->files++;
	rp->size += gi->size;
	rp->stored += gi->stored;
	for (int i = 0; i < gi->nplace; i++) {
		const struct info_place *p = &gi->place[i];

		if (country_add(&g->by, &g->nby, &g->capby, p->country, p->bytes) < 0 ||
		    country_add(&rp->total_by, &rp->ntotal, &rp->captotal, p->country, p->bytes) < 0)
			return -ENOMEM;
		if (!report_allowed(g, p->country))
			g->outside += p->bytes;
	}
	return 0;
}

static int group_cmp(const void *a, const void *b)
{
	const struct rep_group *x = a, *y = b;
	int c = strcmp(x->category, y->category);

	return c ? c : strcmp(x->origin, y->origin);
}

int report_gather(struct report *rp)
{
	int r = scan_paths(rp->paths, rp->npaths, SCAN_RECURSE, gather, rp);

	if (r >= 0 && rp->ng)
		qsort(rp->g, rp->ng, sizeof(*rp->g), group_cmp);
	return r;
}

void report_free(struct report *rp)
{
	for (size_t i = 0; i < rp->ng; i++)
		free(rp->g[i].by);
	free(rp->g);
	free(rp->total_by);
}
