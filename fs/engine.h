/*
 * engine.h — the narrow context the open-file engine (gfile.h) works in:
 * what it reads (config, keyring, meta root, store), what it owns (the
 * table of open files, the dirty-shard budget, its counters), the shard
 * cache and worker pool it uses, and three hooks up to the instance that
 * holds it (audit, misplaced-file tracking, cache invalidation). The engine
 * never sees struct core: an instance (instance.c) or a test fills this in.
 *
 * Also the two small types every layer above shares: who is asking
 * (struct geo_req), and through tags.h a file's resolved tags.
 */
#ifndef GEOFS_ENGINE_H
#define GEOFS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "config.h"
#include "geoid.h"
#include "keys.h"
#include "meta.h"
#include "scache.h"
#include "store.h"
#include "tags.h"

#define GEO_MAX_GROUPS 64

/* Who is asking: from the FUSE request context. */
struct geo_req {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int ngroups;		/* -1: unknown (not fetched) */
	gid_t groups[GEO_MAX_GROUPS];
};

struct gtable;
struct workers;

/* What the engine counts (atomics), reported by user.geo.stats. */
struct engine_counters {
	uint64_t placement_refused, integrity_failures;
};

struct engine {
	/* Borrowed from the instance. cfg, keys and store are swapped by a
	 * reload (engine_bind) while no call runs and every file is quiesced
	 * (gfile_quiesce), so engine code reads them freely. */
	struct geo_config *cfg;
	struct keyring *keys;
	struct store *store;
	struct meta *meta;
	/* Owned (engine_init / engine_fini). */
	struct scache *cache;
	struct gtable *files;		/* open files by id and by stub inode */
	struct workers *workers;	/* shard encode/store and prefetch; NULL
					 * until the instance starts them */
	uint64_t dirty_bytes;		/* shard buffers held for writing (atomic) */
	struct engine_counters ctr;
	/* Hooks (NULL: nothing to do). audit: record ev (result -EACCES and
	 * -EPERM count as denied); note_status: file id was just found
	 * misplaced, or compliant / gone (false); inval_links: the kernel
	 * should forget what it cached for every name of inode ino. */
	void (*audit)(void *arg, const struct audit_event *ev);
	void (*note_status)(void *arg, const struct geo_id *id, bool misplaced);
	void (*inval_links)(void *arg, ino_t ino);
	void *hook_arg;
};

/* Sets up e's own parts (the open-file table and a cache of cache_size
 * bytes); the caller fills in the rest. 0 or -ENOMEM (e then needs no
 * engine_fini, which is safe anyway). */
int engine_init(struct engine *e, size_t cache_size);
/* Frees what engine_init made and stops nothing: free workers first. */
void engine_fini(struct engine *e);

/* Points e at the instance's current config, keyring and store (at open,
 * and by a reload, which holds the instance exclusively). */
void engine_bind(struct engine *e, struct geo_config *cfg, struct keyring *keys,
		 struct store *store);

/* Audits ev through the hook (fills nothing in). */
void engine_audit(struct engine *e, const struct audit_event *ev);

#endif
