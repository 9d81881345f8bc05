/*
 * gfile_int.h — struct gfile and helpers shared by the files that make up
 * the per-inode state (gfile.c lifecycle/commit, shardio.c content I/O,
 * placement.c status/migration). Not for use outside those files.
 */
#ifndef GEOFS_GFILE_INT_H
#define GEOFS_GFILE_INT_H

#include <pthread.h>

#include "gfile.h"
#include "manifest.h"

/* A shard being modified in memory: always shard_size bytes; bytes past
 * the logical size are kept zero. */
struct dshard {
	uint64_t index;
	uint64_t used;		/* LRU tick */
	uint8_t *buf;
};

/* An object the in-memory manifest no longer references; deleted after
 * the next commit. */
struct oldobj {
	uint8_t backend;	/* manifest-local backend index */
	struct geo_id oid;
};

struct gfile {
	struct geo_id id;
	dev_t dev;
	ino_t ino;
	int refs;		/* guarded by the table lock */
	bool unlinked;		/* guarded by the table lock */
	struct gfile *next_id, *next_ino;	/* table chains */

	pthread_mutex_t lock;	/* guards everything below */
	int stubfd;
	struct manifest *mf;	/* live state, ahead of disk when changed */
	uint64_t disk_gen;	/* generation this mount last loaded/wrote */
	struct geo_tags tags;
	uint8_t key[AEAD_KEY_LEN];
	bool have_key;		/* key unwrapped (content may be used) */
	struct dshard *dirty;
	int ndirty, dcap;
	uint64_t tick;
	struct oldobj *old;
	size_t nold, oldcap;
	bool changed;		/* manifest differs from disk */
	uint64_t put_mask;	/* backends written since the last durable commit */
	bool mtime_pending;	/* data changed since the stub's mtime was set */
};

/* Config index of a manifest-local backend, or -1 if not configured. */
int gf_backend(struct core *c, const struct manifest *mf, int local);

/* Queues the replicas of a shard ref for deletion after commit and makes
 * the ref a hole. */
int gf_supersede(struct gfile *gf, struct shard_ref *ref);

/* Reads and authenticates shard idx into out (shard_size bytes; the tail
 * past the stored length is zeroed). Tries every replica. -EIO if none is
 * good (audited). */
int gf_fetch(struct core *c, struct gfile *gf, uint64_t idx, uint8_t *out);

/* Encodes len bytes of shard idx and stores `replicas` copies on allowed
 * backends; fills *ref. -EACCES / -ENOSPC / -EIO; nothing is left behind
 * on failure. */
int gf_place(struct core *c, struct gfile *gf, uint64_t idx, const uint8_t *data, size_t len,
	     struct shard_ref *ref);

/* Stores `want` more replicas of an encoded object on allowed backends not
 * in exclude (bit per config backend), appending them to ref. */
int gf_place_copies(struct core *c, struct gfile *gf, const uint8_t *obj, size_t n,
		    struct shard_ref *ref, int want, uint64_t exclude);

/* gfile_commit with gf->lock held. */
int gf_commit_locked(struct core *c, struct gfile *gf, bool durable);

/* Writes every dirty shard out (in index order). */
int gf_flush_dirty(struct core *c, struct gfile *gf);

/* Placement feasibility for the file's current tags (refuse early). */
int gf_check_writable(struct core *c, struct gfile *gf);

#endif
