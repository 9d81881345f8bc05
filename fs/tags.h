/*
 * tags.h — the one place a category/origin tag changes form. In memory a
 * tag is a pair of indices (struct geo_tags: into the config's categories
 * and the country table); on disk it is names: a manifest's category and
 * origin fields, a directory's tag xattrs (meta.h); for the keyring it is
 * a key domain ("JP/personal", keys.h). Names the config no longer knows
 * resolve fail closed: an undeclared category becomes the default one
 * (with a warning), an unknown origin the default origin.
 *
 * Depends on config, country, keys, manifest and meta; nothing above.
 */
#ifndef GEOFS_TAGS_H
#define GEOFS_TAGS_H

#include "config.h"
#include "keys.h"
#include "manifest.h"

/* Resolved tags of an entry; cat/origin are indices. */
struct geo_tags {
	int cat;
	int origin;
	unsigned flags;		/* MANIFEST_CAT_SET / MANIFEST_ORIGIN_SET */
};

/* The config's defaults for an untagged entry (flags 0). */
void tags_default(const struct geo_config *cfg, struct geo_tags *t);

/* A manifest's tags, resolved against cfg. */
void tags_from_manifest(const struct geo_config *cfg, const struct manifest *mf,
			struct geo_tags *t);
/* Writes t's names and flags into mf's category, origin and flags. */
void tags_to_manifest(const struct geo_config *cfg, const struct geo_tags *t,
		      struct manifest *mf);

/* The key domain of tags t, and the one a manifest's key is wrapped in
 * (its own names, whatever the config says now). */
void tags_domain(const struct geo_config *cfg, const struct geo_tags *t,
		 char dom[KEYS_DOMAIN_MAX]);
void tags_manifest_domain(const struct manifest *mf, char dom[KEYS_DOMAIN_MAX]);

/* The tags stored on an open directory, resolved; -ENODATA if it has
 * none, other -errno from the xattrs. */
int tags_dir_get(const struct geo_config *cfg, int dirfd, struct geo_tags *t);
/* Stores t (with t->flags) on an open directory. 0 or -errno. */
int tags_dir_set(const struct geo_config *cfg, int dirfd, const struct geo_tags *t);

#endif
