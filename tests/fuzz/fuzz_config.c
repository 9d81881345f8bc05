/*
 * fuzz_config.c — config_parse() on arbitrary bytes.
 *
 * Checks: it returns 0 with a config or -EINVAL with none; a failure
 * always explains itself, every line of the explanation naming the file
 * ("fuzz.conf:..."); a config that parses satisfies the ranges config.h
 * documents (so the daemon can index with it blindly).
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define CONFIG_NAME "fuzz.conf"

static int valid_cc(int idx)
{
	return strcmp(country_code(idx), "??") != 0;
}

static void check_config(const struct geo_config *cfg)
{
	FUZZ_CHECK(cfg->nbackends >= 0 && cfg->nbackends <= CFG_MAX_BACKENDS);
	FUZZ_CHECK(cfg->ncats >= 1 && cfg->ncats <= CFG_MAX_CATEGORIES);
	FUZZ_CHECK(cfg->default_category >= 0 && cfg->default_category < cfg->ncats);
	FUZZ_CHECK(valid_cc(cfg->default_origin));
	FUZZ_CHECK(valid_cc(cfg->site_country));
	FUZZ_CHECK(valid_cc(cfg->meta_country));
	FUZZ_CHECK(cfg->shard_size >= CFG_SHARD_MIN && cfg->shard_size <= CFG_SHARD_MAX);
	FUZZ_CHECK(cfg->meta_path && cfg->keyring_path);
	FUZZ_CHECK(memchr(cfg->site_name, '\0', CFG_NAME_MAX));
	FUZZ_CHECK(memchr(cfg->admin_group, '\0', CFG_NAME_MAX));
	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];

		FUZZ_CHECK(b->path && b->path[0]);
		FUZZ_CHECK(valid_cc(b->country));
		FUZZ_CHECK(b->weight >= 1 && b->weight <= 1000);
		FUZZ_CHECK(memchr(b->name, '\0', CFG_NAME_MAX) && b->name[0]);
		FUZZ_CHECK(config_backend(cfg, b->name) == i);
	}
	for (int i = 0; i < cfg->ncats; i++) {
		const struct cfg_category *c = &cfg->cats[i];

		FUZZ_CHECK(c->replicas >= 1 && c->replicas <= CFG_MAX_REPLICAS);
		FUZZ_CHECK(memchr(c->name, '\0', CFG_NAME_MAX) && c->name[0]);
		FUZZ_CHECK(config_category(cfg, c->name) == i);
	}
}

/* Every line of err starts with the file name. */
static void check_err(const char *err, size_t cap)
{
	const char *p = err;

	FUZZ_CHECK(memchr(err, '\0', cap));
	FUZZ_CHECK(err[0] != '\0');
	while (p && *p) {
		FUZZ_CHECK(strncmp(p, CONFIG_NAME, strlen(CONFIG_NAME)) == 0);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

int fuzz_config(const uint8_t *data, size_t size)
{
	struct geo_config *cfg = NULL;
	char err[CFG_ERR_MAX];
	int rc;

	memset(err, 'X', sizeof(err));
	rc = config_parse(CONFIG_NAME, (const char *)data, size, &cfg, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(cfg != NULL);
		check_config(cfg);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(cfg == NULL);
		if (rc == -EINVAL)
			check_err(err, sizeof(err));
	}
	config_free(cfg);
	return 0;
}

FUZZ_ENTRY(fuzz_config)
