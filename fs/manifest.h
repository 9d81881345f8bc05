/*
 * manifest.h — the per-file record kept in the meta root, and its format.
 *
 * A manifest says what a file is: its id, logical size, shard size, tags,
 * the key domain and wrapped data key, and for each shard that holds data
 * (holes are absent) the generation it was encoded with, the stored object
 * length, and where each replica lives (backend name, object id).
 *
 * In memory the shard table is dense (index -> struct shard_ref; nrep == 0
 * is a hole) and replicas refer to the manifest's own backend-name table,
 * so a manifest survives config changes: names that are no longer in the
 * config stay readable for fsck and for migration messages.
 *
 * Serialized (little endian), see manifest.c for the exact layout:
 *   "GEOMAN01" | fields | backend names | sparse shard entries | CRC-32C
 * manifest_parse() rejects anything malformed, truncated, oversized or with
 * a bad checksum with -EINVAL (-EIO is not used: callers map as they see fit).
 */
#ifndef GEOFS_MANIFEST_H
#define GEOFS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "geoid.h"
#include "keys.h"

#define MANIFEST_MAX_BACKENDS 255
#define MANIFEST_MAX_SHARDS   (UINT64_C(1) << 32)	/* 4 Gi shards */
/* Highest stored shard index + 1 the dense in-memory table may reach: a
 * file may be up to MANIFEST_MAX_SHARDS shards long, but data can only be
 * written in its first MANIFEST_MAX_DENSE shards (4 TiB at 1 MiB shards);
 * manifest_reserve() past it is -EFBIG. Bounds what a hostile manifest
 * of a few bytes can make manifest_parse() allocate (~370 MB of untouched
 * address space). */
#define MANIFEST_MAX_DENSE    (UINT64_C(1) << 22)

/* flags: which tags were set on the file itself rather than inherited */
#define MANIFEST_CAT_SET     0x01
#define MANIFEST_ORIGIN_SET  0x02

struct shard_rep {
	uint8_t backend;	/* index into manifest backend names */
	struct geo_id oid;
};

struct shard_ref {
	uint64_t gen;		/* 0 with nrep == 0: hole */
	uint32_t objlen;	/* stored object size in bytes (one replica) */
	uint8_t nrep;
	struct shard_rep rep[CFG_MAX_REPLICAS];
};

struct manifest {
	struct geo_id id;
	uint64_t generation;	/* bumped on every committed change */
	uint64_t size;		/* logical file size */
	uint32_t shard_size;
	uint8_t flags;
	char category[CFG_NAME_MAX];
	char origin[3];		/* "JP" */
	uint32_t key_version;
	uint8_t wrapped_key[KEYS_WRAPPED_LEN];
	int nbackends;
	char bnames[MANIFEST_MAX_BACKENDS][CFG_NAME_MAX];
	uint64_t nshards;	/* entries in shards[]; every index >= nshards is a
				 * hole (parse stops at the highest stored shard,
				 * so nshards may be < the shards covering size) */
	uint64_t cap;		/* allocated entries */
	struct shard_ref *shards;
};

/* A new empty manifest (size 0, no shards). Free with manifest_free(). */
struct manifest *manifest_new(void);
void manifest_free(struct manifest *m);	/* NULL ok */

/* Deep copy. NULL on ENOMEM. */
struct manifest *manifest_dup(const struct manifest *m);

/* Makes shards[] hold at least n entries (new ones are holes).
 * 0, -ENOMEM, or -EFBIG if n > MANIFEST_MAX_DENSE. */
int manifest_reserve(struct manifest *m, uint64_t n);

/* Index of a backend name in the manifest's table, adding it if needed.
 * Returns the index, -ENOSPC when the table is full, or -EINVAL for an
 * empty or over-long (>= CFG_NAME_MAX) name. */
int manifest_backend(struct manifest *m, const char *name);

/* Serializes into a malloc'ed buffer (*out, *len). 0, -ENOMEM, or -EINVAL
 * if m would not parse back (bad name, origin or shard size, a stored
 * shard past the end of the file, a replica's backend index out of range):
 * drop shards past EOF on truncate before serializing. */
int manifest_serialize(const struct manifest *m, uint8_t **out, size_t *len);

/* Parses a serialized manifest. 0, or -EINVAL with a short reason in err
 * (e.g. "truncated shard table", "bad checksum"). */
int manifest_parse(const uint8_t *buf, size_t len, struct manifest **out,
		   char *err, size_t errlen);

/* The shards that hold size bytes at m's own shard size (the file's, which
 * may differ from the config's): ceil(size / shard_size); 0 if m has no
 * shard size. The one place that division is written. */
uint64_t manifest_shards_for(const struct manifest *m, uint64_t size);

/* Total stored bytes (objlen x nrep over all shards). */
uint64_t manifest_stored_bytes(const struct manifest *m);

#endif
