/*
 * info_text.h — the one writer of the user.geo.info text (xattrs.h lists
 * its keys): "key=value" lines, a directory's tag lines, a file's tag and
 * content lines. geoctl reads it back with tools/geoctl/info.c, and
 * tests/unit/test_info_text.c round-trips every field through that parser.
 */
#ifndef GEOFS_INFO_TEXT_H
#define GEOFS_INFO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tags.h"

struct info_text {
	bool is_file;			/* type=file with the file lines, else type=dir */
	const char *category, *origin;
	bool category_set, origin_set;	/* set on the entry, not inherited */
	char store_in[512], access_from[512];	/* resolved country lists */
	int replicas;
	/* Files only. */
	uint64_t size, stored, shards;
	const char *placement;		/* as user.geo.placement */
	const char *backend_bytes;	/* "tokyo-1:123,seoul-1:456" */
	const char *status;		/* "ok" or "misplaced <reason>" */
};

/* Fills the tag lines of it from tags t under cfg (names, sources, the
 * policy's resolved store_in / access_from and replicas); the names point
 * into cfg and the country table. */
void info_text_tags(struct info_text *it, const struct geo_config *cfg, const struct geo_tags *t);

/* Writes the text into buf (len bytes, NUL-terminated, cut to fit) and
 * returns its length (strlen(buf)). */
size_t info_text_format(const struct info_text *it, char *buf, size_t len);

#endif
