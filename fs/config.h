/*
 * config.h — the mount config (INI): parsing, validation, the resolved policy.
 *
 * Depends on country.h only. config_load() either returns a fully validated
 * config or fails with every problem it found, each as "FILE:LINE: message"
 * on its own line in the caller's buffer. Nothing is defaulted silently
 * where a value was given but wrong.
 *
 * Sections and keys (see geofs.conf(5)):
 *   [site]      name, country                              (required)
 *   [meta]      path (required), country (default: site country)
 *   [keys]      keyring                                    (required)
 *   [audit]     path, sync_ms                              (optional)
 *   [data]      shard_size (64K..16M, default 1M), compress (lz4|off),
 *               pad (padme|off, default padme: objects padded, codec.h),
 *               cache_size (decoded-shard cache, default 256M),
 *               dirty_size (written data held before encoding, default 256M),
 *               durability (close|fsync, default close)
 *   [backend N] kind (dir|s3, default dir), country (required), weight
 *               (1..1000, default 1), drain (yes|no, default no);
 *               dir: path (required);
 *               s3: endpoint, bucket, credentials (required), prefix,
 *               region (default us-east-1), profile (default "default"),
 *               ca_file, connect_timeout (s, default 5), request_timeout
 *               (s, default 60)
 *   [category N] store_in, access_from (lists), replicas (1..CFG_MAX_REPLICAS, default 1),
 *               compress (lz4|off, default [data] compress)
 *   [defaults]  category, origin (country code or "site"), admin_group
 *   [status]    metrics_path (optional, Prometheus textfile)
 *
 * A list is comma separated; each item is a country code, `origin` (the
 * file's origin country), `site` (the site's country) or `*` (anywhere).
 */
#ifndef GEOFS_CONFIG_H
#define GEOFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "country.h"

#define CFG_NAME_MAX        64		/* backend / category / site names, incl. NUL */
#define CFG_MAX_BACKENDS    64
#define CFG_MAX_CATEGORIES  64
#define CFG_MAX_REPLICAS    4
#define CFG_SHARD_MIN       (64u * 1024)
#define CFG_SHARD_MAX       (16u * 1024 * 1024)	/* <= CODEC_SHARD_MAX (test_codec.c) */
#define CFG_S3_PREFIX_MAX   256
#define CFG_ERR_MAX         4096	/* suggested size of error buffers */

/* A store_in / access_from list. `site` is resolved into `set` at parse
 * time; `origin` stays symbolic because it depends on each file. */
struct cfg_cspec {
	bool any;		/* `*` */
	bool origin;		/* `origin` */
	struct cset set;	/* explicit codes and `site` */
};

/* Where an S3 backend lives and how to reach it (kind = s3). */
struct cfg_s3 {
	char *endpoint;		/* "http[s]://HOST[:PORT]", no trailing slash */
	char bucket[64];
	char prefix[CFG_S3_PREFIX_MAX];	/* "" or "a/b" (no leading or trailing /) */
	char region[32];
	char *credentials;	/* AWS shared-credentials file */
	char profile[CFG_NAME_MAX];
	char *ca_file;		/* NULL: the system's CAs */
	unsigned connect_timeout, request_timeout;	/* seconds */
};

struct cfg_backend {
	char name[CFG_NAME_MAX];
	char kind[8];		/* "dir" or "s3" (store.c's kind table) */
	char *path;		/* kind dir; NULL for s3 */
	struct cfg_s3 s3;	/* kind s3 */
	char *where;		/* path, or "ENDPOINT/BUCKET[/PREFIX]": for messages */
	int country;		/* country index */
	unsigned weight;
	bool drain;
	int line;		/* line of the [backend] header */
};

struct cfg_category {
	char name[CFG_NAME_MAX];
	struct cfg_cspec store_in;
	struct cfg_cspec access_from;
	int replicas;
	bool compress;
	int line;
};

struct geo_config {
	char *file;		/* path it was loaded from */
	char site_name[CFG_NAME_MAX];
	int site_country;
	char *meta_path;
	int meta_country;
	char *keyring_path;
	char *audit_path;	/* NULL: no audit log */
	unsigned audit_sync_ms;	/* max time a record waits before fsync */
	char *metrics_path;	/* NULL: no metrics file */
	uint32_t shard_size;
	bool compress;		/* [data] compress default for categories */
	bool pad;		/* [data] pad = padme: Padmé-padded objects */
	uint64_t cache_size;
	uint64_t dirty_size;	/* bound on dirty shard buffers of the mount */
	bool durable_close;	/* durability = close */
	struct cfg_backend backends[CFG_MAX_BACKENDS];
	int nbackends;
	struct cfg_category cats[CFG_MAX_CATEGORIES];
	int ncats;
	int default_category;	/* index into cats */
	int default_origin;	/* country index (site resolved) */
	char admin_group[CFG_NAME_MAX];	/* "" if none */
};

/* Parses and validates FILE. On success *out is a new config (free with
 * config_free()) and 0 is returned. On failure returns -EINVAL (content
 * errors), or -errno if the file cannot be read, and writes one line per
 * problem ("FILE:LINE: what was wrong, what was expected") into err. */
int config_load(const char *file, struct geo_config **out, char *err, size_t errlen);

/* Same, from a buffer; `name` is used in messages. */
int config_parse(const char *name, const char *text, size_t len,
		 struct geo_config **out, char *err, size_t errlen);

void config_free(struct geo_config *cfg);	/* NULL ok */

/* Index of a declared category, or -ENOENT. */
int config_category(const struct geo_config *cfg, const char *name);

/* Index of a declared backend, or -ENOENT. */
int config_backend(const struct geo_config *cfg, const char *name);

/* Parses "64K", "1M", "1048576" (K = 1024, M = 1024^2, G = 1024^3).
 * Returns 0 or -EINVAL (also on overflow). */
int config_parse_size(const char *s, uint64_t *out);

#endif
