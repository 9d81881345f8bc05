/*
 * tags.c — a tag's forms: indices in memory, names in manifests and
 * directory xattrs, key domains for the keyring (see tags.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "country.h"
#include "log.h"
#include "meta.h"
#include "tags.h"

void tags_default(const struct geo_config *cfg, struct geo_tags *t)
{
	t->cat = cfg->default_category;
	t->origin = cfg->default_origin;
	t->flags = 0;
}

/* Names to indices, failing closed; what: "a file", "a directory". */
static void resolve(const struct geo_config *cfg, const char *cat, const char *origin,
		    unsigned flags, const char *what, struct geo_tags *t)
{
	t->cat = config_category(cfg, cat);
	if (t->cat < 0) {
		log_warn("%s uses undeclared category '%s'; treating it as '%s'", what, cat,
			 cfg->cats[cfg->default_category].name);
		t->cat = cfg->default_category;
	}
	t->origin = country_index(origin);
	if (t->origin < 0)
		t->origin = cfg->default_origin;
	t->flags = flags & (MANIFEST_CAT_SET | MANIFEST_ORIGIN_SET);
}

void tags_from_manifest(const struct geo_config *cfg, const struct manifest *mf,
			struct geo_tags *t)
{
	resolve(cfg, mf->category, mf->origin, mf->flags, "a file", t);
}

void tags_to_manifest(const struct geo_config *cfg, const struct geo_tags *t,
		      struct manifest *mf)
{
	snprintf(mf->category, sizeof(mf->category), "%s", cfg->cats[t->cat].name);
	memcpy(mf->origin, country_code(t->origin), 3);
	mf->flags = (uint8_t)t->flags;
}

void tags_domain(const struct geo_config *cfg, const struct geo_tags *t,
		 char dom[KEYS_DOMAIN_MAX])
{
	keys_domain(dom, country_code(t->origin), cfg->cats[t->cat].name);
}

void tags_manifest_domain(const struct manifest *mf, char dom[KEYS_DOMAIN_MAX])
{
	keys_domain(dom, mf->origin, mf->category);
}

int tags_dir_get(const struct geo_config *cfg, int dirfd, struct geo_tags *t)
{
	char cat[CFG_NAME_MAX], origin[3];
	unsigned flags;
	int rc = meta_dir_tags_get(dirfd, cat, origin, &flags);

	if (!rc)
		resolve(cfg, cat, origin, flags, "a directory", t);
	return rc;
}

int tags_dir_set(const struct geo_config *cfg, int dirfd, const struct geo_tags *t)
{
	return meta_dir_tags_set(dirfd, cfg->cats[t->cat].name, country_code(t->origin),
				 t->flags);
}
