/*
 * tag_check.c — would new tags strand a file? Before `geoctl tag` sets
 * anything, the new (category, origin) of each path is checked against the
 * config in force: some allowed backend must be able to hold it, and this
 * site must be allowed to open it. The config is -c CONFIG, or the one the
 * daemon reports in user.geo.stats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "geoctl.h"
#include "jsonread.h"
#include "policy.h"
#include "tag_check.h"

struct geo_config *tag_check_config(const char *path, const char *file)
{
	char root[4096], *json = NULL, *err;
	struct geo_config *cfg = NULL;
	struct jval *doc = NULL;
	const char *cfgfile;

	if (file)
		return geoctl_config_load(file);
	if (geoctl_fetch_stats(path, root, sizeof(root), &json) != 0)
		return NULL;
	if (jread_parse(json, strlen(json), &doc) == 0 &&
	    (cfgfile = jread_str(doc, "config", NULL)) != NULL &&
	    (err = calloc(1, CFG_ERR_MAX)) != NULL) {
		if (config_load(cfgfile, &cfg, err, CFG_ERR_MAX) != 0) {
			geoctl_err("tag: cannot read the mount's config %s:", cfgfile);
			fprintf(stderr, "%s\n", err);
			cfg = NULL;
		}
		free(err);
	}
	jread_free(doc);
	free(json);
	return cfg;
}

int tag_check(const struct geo_config *cfg, const char *category, const char *origin,
	      char *why, size_t len)
{
	int cat = config_category(cfg, category), o = country_index(origin);
	int idx[CFG_MAX_BACKENDS], n;

	if (cat < 0 || o < 0)
		return 0;	/* the daemon refuses it with EINVAL, explained there */
	n = policy_qualified(cfg, cat, o, idx, CFG_MAX_BACKENDS);
	if (n < cfg->cats[cat].replicas) {
		int w = policy_explain(cfg, cat, o, why, len);

		if (w >= 0 && (size_t)w < len)
			snprintf(why + w, len - (size_t)w,
				 ": no backend in an allowed country could hold the file");
		return -EACCES;
	}
	if (!policy_site_may_access(cfg, cat, o)) {
		snprintf(why, len, "this site (%s, %s) may not access %s files of origin %s, so "
			 "the file could no longer be read or moved from here", cfg->site_name,
			 country_code(cfg->site_country), category, origin);
		return -EACCES;
	}
	return 0;
}
