/*
 * rebalance_why.c — the one real reason a file could not be moved. The
 * daemon answers a refused migration with EACCES (or ENOSPC); which of the
 * causes it was follows from the file's policy (user.geo.info) and the
 * backends' states (user.geo.stats): this site may not access the file, no
 * backend sits in an allowed country, they all drain, too few are up, or
 * they are full.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appendf.h"
#include "country.h"
#include "geoctl.h"
#include "info.h"
#include "jsonread.h"
#include "rebalance.h"

/* The daemon's status document, fetched once per run (NULL if denied). */
static struct jval *stats(const char *path)
{
	static struct jval *doc;
	static bool tried;
	char root[4096], *json = NULL;

	if (tried)
		return doc;
	tried = true;
	if (geoctl_fetch_stats(path, root, sizeof(root), &json) == 0 &&
	    jread_parse(json, strlen(json), &doc) != 0)
		doc = NULL;
	free(json);
	return doc;
}

/* Backends in countries gi allows, by state: names in *list. */
struct tally {
	int ok, down, full, draining;
	char down_names[512], full_names[512];
};

static void add_name(char *buf, size_t len, const char *name)
{
	size_t n = strlen(buf);

	appendf(buf, len, &n, "%s%s", n ? ", " : "", name);
}

static void tally(const struct jval *doc, const struct geo_info *gi, struct tally *t)
{
	const struct jval *bs = jread_get(doc, "backends");

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; bs && i < bs->n; i++) {
		const struct jval *b = &bs->kids[i];
		const char *state = jread_str(b, "state", ""), *name = jread_str(b, "name", "?");
		int cc = country_index(jread_str(b, "country", ""));

		if (cc < 0 || !cset_has(&gi->store_set, cc))
			continue;
		if (!strcmp(state, "draining")) {
			t->draining++;
		} else if (!strcmp(state, "full")) {
			t->full++;
			add_name(t->full_names, sizeof(t->full_names), name);
		} else if (!strcmp(state, "ok")) {
			t->ok++;
		} else {
			t->down++;
			add_name(t->down_names, sizeof(t->down_names), name);
		}
	}
}

char *rebalance_why(const char *path, int err)
{
	const struct jval *doc;
	struct geo_info gi;
	struct tally t;
	char *why = NULL;
	int site, r;

	if (err != EACCES && err != ENOSPC)
		return NULL;
	doc = stats(path);
	if (!doc || info_get(path, &gi) < 0) {
		info_free(&gi);
		return NULL;
	}
	site = country_index(jread_str(doc, "country", ""));
	tally(doc, &gi, &t);
	if (site >= 0 && !cset_has(&gi.access_set, site))
		r = asprintf(&why, "this site (%s) may not access %s files of origin %s "
			     "(access_from %s)", country_code(site), gi.category, gi.origin,
			     gi.access_from);
	else if (!t.ok && !t.down && !t.full && t.draining)
		r = asprintf(&why, "every backend in an allowed country (store_in %s) is draining",
			     gi.store_in);
	else if (!t.ok && !t.down && !t.full)
		r = asprintf(&why, "no backend in an allowed country (store_in %s)", gi.store_in);
	else if (t.ok < gi.replicas && t.down && !t.ok)
		r = asprintf(&why, "all allowed backends are down (%s)", t.down_names);
	else if (t.ok < gi.replicas && t.down)
		r = asprintf(&why, "only %d allowed backend%s up, %d needed (down: %s)", t.ok,
			     t.ok == 1 ? " is" : "s are", gi.replicas, t.down_names);
	else if (t.ok < gi.replicas && t.full)
		r = asprintf(&why, "the allowed backends are full (%s)", t.full_names);
	else
		r = -1;
	info_free(&gi);
	return r < 0 ? NULL : why;
}
