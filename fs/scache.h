/*
 * scache.h — a bounded LRU cache of decoded shards, shared by all files of
 * a mount, so random reads inside a shard decode it once.
 *
 * Entries are keyed by (file id, shard index, generation): a rewritten
 * shard has a new generation, so a stale entry can never be served.
 * Thread safe (one mutex). Capacity 0 disables the cache.
 */
#ifndef GEOFS_SCACHE_H
#define GEOFS_SCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoid.h"

struct scache;

struct scache *scache_new(uint64_t capacity);	/* NULL on ENOMEM */
void scache_free(struct scache *c);		/* NULL ok */

/* Copies len bytes at off of the cached shard into out. The cached shard is
 * its full decoded length; bytes past it read as zeros. True on a hit. */
bool scache_read(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
		 void *out, size_t off, size_t len);

/* True if the shard is cached (no recency update, no counters). */
bool scache_contains(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen);

/* Inserts a copy of a decoded shard (evicting least recently used ones). */
void scache_insert(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
		   const void *data, size_t len);

/* Same, taking ownership of a malloc'ed buffer (freed if not kept). */
void scache_insert_owned(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
			 uint8_t *data, size_t len);

/* Drops the shard if cached: a sequential reader is done with it (the
 * kernel's page cache holds its bytes now), so it should not push out
 * shards that random readers come back to. */
void scache_drop(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen);

/* Hit and miss counters since creation. */
void scache_stats(struct scache *c, uint64_t *hits, uint64_t *misses);

#endif
