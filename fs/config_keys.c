/*
 * config_keys.c — the mount config's grammar as data: every section, the keys
 * each may hold, the value parser (config_values.c) and the field each key
 * fills, what a valid value looks like, and its range. The line parser
 * (config.c) walks these tables; the whole-file checks (config_check.c) read
 * them to name required keys.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "config_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- the tables ---------------------------------------------------------- */

static const struct word bool_words[] = {
	{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
	{ "on", true }, { "off", false }, { NULL, false },
};
static const struct word compress_words[] = { { "lz4", true }, { "off", false }, { NULL, false } };
static const struct word pad_words[] = { { "padme", true }, { "off", false }, { NULL, false } };
static const struct word durability_words[] = { { "close", true }, { "fsync", false }, { NULL, false } };

/* Offset and size of a field, the two key_def members they fill. */
#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)
#define G(f) FIELD(struct geo_config, f)
#define B(f) FIELD(struct cfg_backend, f)
#define C(f) FIELD(struct cfg_category, f)

static const struct key_def site_keys[] = {
	{ "name", true, cfgval_name, G(site_name), NAME_EXPECT, 0, 0, NULL },
	{ "country", true, cfgval_country, G(site_country), CODE_EXPECT, 0, 0, NULL },
};
static const struct key_def meta_keys[] = {
	{ "path", true, cfgval_path, G(meta_path), "a directory path", 0, 0, NULL },
	{ "country", false, cfgval_country, G(meta_country), CODE_EXPECT, 0, 0, NULL },
};
static const struct key_def keys_keys[] = {
	{ "keyring", true, cfgval_path, G(keyring_path), "a keyring file path", 0, 0, NULL },
};
static const struct key_def audit_keys[] = {
	{ "path", false, cfgval_path, G(audit_path), "a log file path", 0, 0, NULL },
	{ "sync_ms", false, cfgval_number, G(audit_sync_ms), "milliseconds from 0 to 60000", 0, 60000, NULL },
};
static const struct key_def data_keys[] = {
	{ "shard_size", false, cfgval_size, G(shard_size), "a size from 64K to 16M such as 1M",
	  CFG_SHARD_MIN, CFG_SHARD_MAX, NULL },
	{ "compress", false, cfgval_choice, G(compress), "lz4 or off", 0, 0, compress_words },
	{ "pad", false, cfgval_choice, G(pad), "padme or off", 0, 0, pad_words },
	{ "cache_size", false, cfgval_size, G(cache_size), "a size such as 256M", 0, UINT64_MAX, NULL },
	{ "dirty_size", false, cfgval_size, G(dirty_size), "a size of at least 16M such as 256M",
	  16u << 20, UINT64_MAX, NULL },
	{ "durability", false, cfgval_choice, G(durable_close), "close or fsync", 0, 0, durability_words },
};
/* Which keys belong to which kind is checked once the section is read
 * (config_check.c); `path` is required for dir, `endpoint` etc. for s3. */
static const struct key_def backend_keys[] = {
	{ "path", false, cfgval_path, B(path), "a directory path", 0, 0, NULL },
	{ "country", true, cfgval_country, B(country), CODE_EXPECT, 0, 0, NULL },
	{ "weight", false, cfgval_number, B(weight), "a number from 1 to 1000", 1, 1000, NULL },
	{ "drain", false, cfgval_choice, B(drain), "yes or no", 0, 0, bool_words },
	{ "kind", false, cfgval_kind, B(kind), "dir or s3", 0, 0, NULL },
	{ "endpoint", false, cfgval_endpoint, B(s3.endpoint),
	  "http://HOST[:PORT] or https://HOST[:PORT], with no path", 0, 0, NULL },
	{ "bucket", false, cfgval_bucket, B(s3.bucket),
	  "an S3 bucket name: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit", 0, 0, NULL },
	{ "prefix", false, cfgval_prefix, B(s3.prefix),
	  "a key prefix of up to 200 of A-Z a-z 0-9 . _ - / with no leading, trailing or double /, and no . or .. part", 0, 0, NULL },
	{ "region", false, cfgval_region, B(s3.region), "a signing region such as us-east-1 (a-z 0-9 -)", 0, 0, NULL },
	{ "credentials", false, cfgval_path, B(s3.credentials), "an AWS shared-credentials file path", 0, 0, NULL },
	{ "profile", false, cfgval_name, B(s3.profile), "a profile name of " NAME_EXPECT, 0, 0, NULL },
	{ "ca_file", false, cfgval_path, B(s3.ca_file), "a PEM CA certificate file path", 0, 0, NULL },
	{ "connect_timeout", false, cfgval_number, B(s3.connect_timeout), "seconds from 1 to 60", 1, 60, NULL },
	{ "request_timeout", false, cfgval_number, B(s3.request_timeout), "seconds from 1 to 3600", 1, 3600, NULL },
};
static const struct key_def category_keys[] = {
	{ "store_in", true, cfgval_list, C(store_in), LIST_EXPECT, 0, 0, NULL },
	{ "access_from", true, cfgval_list, C(access_from), LIST_EXPECT, 0, 0, NULL },
	{ "replicas", false, cfgval_number, C(replicas), "a number from 1 to " STR(CFG_MAX_REPLICAS),
	  1, CFG_MAX_REPLICAS, NULL },
	{ "compress", false, cfgval_choice, C(compress), "lz4 or off", 0, 0, compress_words },
};
static const struct key_def defaults_keys[] = {
	{ "category", false, cfgval_defcat, 0, 0, "the name of a declared category", 0, 0, NULL },
	{ "origin", false, cfgval_origin, G(default_origin), CODE_EXPECT ", or site", 0, 0, NULL },
	{ "admin_group", false, cfgval_name, G(admin_group), "a group name of " NAME_EXPECT, 0, 0, NULL },
};
static const struct key_def status_keys[] = {
	{ "metrics_path", false, cfgval_path, G(metrics_path), "a file path", 0, 0, NULL },
};

#define NKEYS(keys) (sizeof(keys) / sizeof(keys[0]))
#define SEC(name, kind, req, keys) { name, kind, req, keys, NKEYS(keys) }

const struct section_def config_sections[NSECTIONS] = {
	[S_SITE] = SEC("site", SEC_SINGLE, true, site_keys),
	[S_META] = SEC("meta", SEC_SINGLE, true, meta_keys),
	[S_KEYS] = SEC("keys", SEC_SINGLE, true, keys_keys),
	[S_AUDIT] = SEC("audit", SEC_SINGLE, false, audit_keys),
	[S_DATA] = SEC("data", SEC_SINGLE, false, data_keys),
	[S_BACKEND] = SEC("backend", SEC_BACKEND, true, backend_keys),
	[S_CATEGORY] = SEC("category", SEC_CATEGORY, true, category_keys),
	[S_DEFAULTS] = SEC("defaults", SEC_SINGLE, false, defaults_keys),
	[S_STATUS] = SEC("status", SEC_SINGLE, false, status_keys),
};

_Static_assert(NSECTIONS <= 16, "struct parser: single[] too small");
_Static_assert(sizeof(unsigned) == sizeof(uint32_t) && sizeof(int) == sizeof(uint32_t),
	       "store_number() writes 4-byte fields");
_Static_assert(NKEYS(data_keys) <= KEYS_MAX && NKEYS(backend_keys) <= KEYS_MAX &&
	       NKEYS(category_keys) <= KEYS_MAX, "struct sect_inst: keyline[] too small");
