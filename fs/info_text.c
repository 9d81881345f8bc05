/*
 * info_text.c — the user.geo.info text of a file or a directory (see
 * info_text.h): its only writer, so that geoctl's parser has one format.
 */
#include <stdio.h>

#include "country.h"
#include "info_text.h"
#include "manifest.h"
#include "policy.h"

void info_text_tags(struct info_text *it, const struct geo_config *cfg, const struct geo_tags *t)
{
	struct cset set;

	it->category = cfg->cats[t->cat].name;
	it->category_set = t->flags & MANIFEST_CAT_SET;
	it->origin = country_code(t->origin);
	it->origin_set = t->flags & MANIFEST_ORIGIN_SET;
	policy_store_set(cfg, t->cat, t->origin, &set);
	cset_format(&set, it->store_in, sizeof(it->store_in));
	policy_access_set(cfg, t->cat, t->origin, &set);
	cset_format(&set, it->access_from, sizeof(it->access_from));
	it->replicas = cfg->cats[t->cat].replicas;
}

static const char *src(bool set)
{
	return set ? "set" : "inherited";
}

size_t info_text_format(const struct info_text *it, char *buf, size_t len)
{
	int n;

	if (len == 0)
		return 0;
	if (!it->is_file)
		n = snprintf(buf, len,
			     "type=dir\ncategory=%s\ncategory_src=%s\norigin=%s\norigin_src=%s\n"
			     "store_in=%s\naccess_from=%s\nreplicas=%d\n",
			     it->category, src(it->category_set), it->origin, src(it->origin_set),
			     it->store_in, it->access_from, it->replicas);
	else
		n = snprintf(buf, len,
			     "type=file\ncategory=%s\ncategory_src=%s\norigin=%s\norigin_src=%s\n"
			     "store_in=%s\naccess_from=%s\nreplicas=%d\nsize=%llu\nstored=%llu\n"
			     "shards=%llu\nplacement=%s\nbackend_bytes=%s\nstatus=%s\n",
			     it->category, src(it->category_set), it->origin, src(it->origin_set),
			     it->store_in, it->access_from, it->replicas,
			     (unsigned long long)it->size, (unsigned long long)it->stored,
			     (unsigned long long)it->shards, it->placement, it->backend_bytes,
			     it->status);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : len - 1;
}
