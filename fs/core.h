/*
 * core.h — one mounted geofs instance and the operations the FUSE front
 * end (ops.c) calls. Nothing here includes FUSE: every operation takes the
 * caller's identity as a struct geo_req and returns 0 / a count or -errno.
 *
 * The core is split by concern (docs/architecture.md has the floors):
 *   instance.c   building and tearing down an instance (core_open/close)
 *   core.c       the reload bracket, directory tags, access checks, audit
 *   ns.c         namespace: getattr, mkdir, unlink, rename, link, ... readdir
 *   fileops.c    open/create/read/write/flush/fsync/release on handles
 *   xattr.c      user.geo.* and plain user.* attributes, retagging rules
 *   reload.c     rereading the config while mounted (SIGHUP, user.geo.reload)
 *   stats.c      status (user.geo.stats) and Prometheus metrics
 *   gfile.h      the open-file engine (gstate, gmerge, placement, shardio,
 *                gcommit, gfile, compliance .c; order in gfile_int.h),
 *                which moves shards to a compliant placement too
 *
 * Locking: cfg, keys, store and the admin group may be swapped by a reload.
 * Lock order: reload_lock -> ns_lock -> the open-file table -> a file's
 * lock -> its stub's flock(2); gfile_int.h says more.
 * Every call from the front end runs between core_enter() and core_leave(),
 * which hold reload_lock shared; core_reload() takes it exclusively. Core
 * code therefore reads c->cfg, c->keys and c->store freely.
 */
#ifndef GEOFS_CORE_H
#define GEOFS_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "audit.h"
#include "config.h"
#include "engine.h"
#include "keys.h"
#include "meta.h"
#include "scache.h"
#include "store.h"

struct gfile;
struct gtable;
struct stats;

/* Counters for status/metrics (updated with atomics). placement_refused
 * and integrity_failures are counted by the engine (c->eng.ctr); here they
 * are filled in only in a status snapshot (stats.h). */
struct core_stats {
	uint64_t opens, creates, reads, writes, bytes_read, bytes_written;
	uint64_t denied, placement_refused, integrity_failures;
};

struct core {
	pthread_rwlock_t reload_lock;	/* see "Locking" above */
	pthread_mutex_t reload_serial;	/* one reload at a time */
	char *config_path;		/* absolute, reread by a reload */
	struct geo_config *cfg;		/* reload_lock */
	struct keyring *keys;		/* reload_lock */
	struct meta *meta;
	struct store *store;		/* reload_lock */
	struct audit *audit;
	struct engine eng;		/* the open-file engine's context (engine.h):
					 * its cfg, keys, store follow the above */
	pthread_mutex_t ns_lock;	/* serialises link-count decisions */
	int stub_how;			/* how stubs are made (newstub.h; atomic) */
	bool have_admin_gid;		/* reload_lock */
	gid_t admin_gid;		/* reload_lock */
	struct core_stats stats;
	struct stats *mon;		/* status and metrics state (stats.c) */
	struct links *links;		/* names of hard-linked files (links.h) */
	double attr_cache;		/* -o attr_cache: kernel attribute timeout */
	/* Front-end hook: drop the kernel's cached attributes and pages of a
	 * path (set by ops.c at init; NULL in tools). */
	void (*inval_path)(void *arg, const char *path);
	void *inval_arg;
	/* Every open handle, so that core_close() releases those the kernel
	 * never released (an unmount while files are open). */
	pthread_mutex_t handles_lock;
	struct geo_handle *handles;	/* handles_lock */
};

/* An open file handle (one per open(2) of a regular file). */
struct geo_handle {
	struct gfile *gf;
	int flags;			/* open flags */
	struct geo_handle *prev, *next;	/* c->handles, under handles_lock */
};

/* ---- instance (instance.c) ---- */

/* Loads config and keyring, opens meta root, backends and audit log.
 * Every backend must be present and carry its marker (marker.h).
 * All problems are written to err (one per line). 0 or -errno. */
int core_open(const char *config_path, struct core **out, char *err, size_t errlen);
/* Starts what runs threads (the audit writer, the status thread); call
 * after daemonizing. */
int core_start(struct core *c, char *err, size_t errlen);
/* Stops the threads (writing the metrics file a last time) and frees, in
 * the reverse order of core_open/core_start. Release the handles still
 * open first (core_release_all). NULL ok. */
void core_close(struct core *c);

/* ---- what every operation shares (core.c) ---- */

/* Brackets every call from the front end: holds reload_lock shared, so a
 * reload waits for calls in progress and new calls wait for the reload.
 * Never nest (a reload waiting between two would deadlock). */
void core_enter(struct core *c);
void core_leave(struct core *c);

/* The admin group of cfg resolved to a gid (*have false if unset or
 * unknown, with a warning in the latter case). */
void core_resolve_admin(const struct geo_config *cfg, bool *have, gid_t *gid);

/* Effective tags of the directory `dirpath` (walking up to the root, whose
 * missing tags mean [defaults]). 0 or -errno. */
int core_dir_tags(struct core *c, const char *dirpath, struct geo_tags *t);

/* Tags of an open directory fd, falling back to the parent path's. */
int core_dirfd_tags(struct core *c, int dirfd, const char *dirpath, struct geo_tags *t);

/* Tags set on `dirpath` or on its nearest ancestor that has any set:
 * what a directory below imposes. -ENODATA when none up to the root has
 * tags set (only [defaults] apply, the fallback for untagged entries). */
int core_dir_tags_set(struct core *c, const char *dirpath, struct geo_tags *t);

/* True if the caller is root or in the configured admin group. */
bool core_is_admin(struct core *c, const struct geo_req *r);

/* Audit helper: records op on path with tags t (may be NULL). */
void core_audit(struct core *c, const struct geo_req *r, const char *op, const char *intent,
		const char *path, const char *path2, const struct geo_tags *t, int result,
		const char *countries, const char *detail);

/* Records ev in the audit log, counting a refusal (-EACCES, -EPERM) as
 * denied: what every audit helper, and the engine's audit hook, end in. */
void core_audit_event(struct core *c, const struct audit_event *ev);

/* Audit helper for a retag: records the tags before (t0) and after (t1). */
void core_audit_retag(struct core *c, const struct geo_req *r, const char *path,
		      const struct geo_tags *t0, const struct geo_tags *t1, int result,
		      const char *detail);

/* 0 if this site may open files tagged t, else -EACCES (audited as
 * access-denied by the caller's op). */
int core_check_access(struct core *c, const struct geo_tags *t);

/* 0 if placement for t is feasible at all (enough allowed backends), else
 * -EACCES with a reason in why (placement.c; the caller counts and audits
 * a refusal with placement_refused(), placement.h). */
int core_check_placement(struct core *c, const struct geo_tags *t, char *why, size_t len);

/* Has the kernel forget what it cached for every known name of inode ino
 * (a hard-linked file changed through one of them). */
void core_inval_links(struct core *c, ino_t ino);

/* The parent directory path of path, malloc'ed at full length: a fixed
 * buffer would cut long paths, and a cut path can name another directory,
 * whose tags would then apply. NULL on ENOMEM. */
char *core_dirname_dup(const char *path);


/* ---- namespace (ns.c) ---- */
int core_getattr(struct core *c, const char *path, struct stat *st);
int core_fgetattr(struct core *c, struct geo_handle *h, struct stat *st);
/* Attributes of the entry name in the open directory dirfd (a listing's
 * entries, without resolving a path each): as core_getattr. */
int core_getattrat(struct core *c, int dirfd, const char *name, struct stat *st);
/* Attributes of the regular file whose stub is inode (dev, ino), if this
 * mount has it open: reachable after its last name is gone (fstat of an
 * open descriptor of an unlinked file). -ENOENT if not open here. */
int core_getattr_ino(struct core *c, dev_t dev, ino_t ino, struct stat *st);
int core_readlink(struct core *c, const char *path, char *buf, size_t size);
int core_mknod(struct core *c, const struct geo_req *r, const char *path, mode_t mode, dev_t rdev);
int core_mkdir(struct core *c, const struct geo_req *r, const char *path, mode_t mode);
int core_unlink(struct core *c, const struct geo_req *r, const char *path);
int core_rmdir(struct core *c, const struct geo_req *r, const char *path);
int core_symlink(struct core *c, const struct geo_req *r, const char *target, const char *path);
int core_rename(struct core *c, const struct geo_req *r, const char *from, const char *to,
		unsigned flags);
int core_link(struct core *c, const struct geo_req *r, const char *from, const char *to);
/* What a setattr changes besides the size: set is a mask of CORE_ATTR_*;
 * uid or gid (uid_t)-1 leaves that one alone, a time UTIME_OMIT likewise. */
enum { CORE_ATTR_MODE = 1, CORE_ATTR_OWNER = 2, CORE_ATTR_TIMES = 4 };
struct core_attrs {
	int set;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec tv[2];	/* atime, mtime */
};
/* Mode, then owner, then times of the entry at path (not following a
 * symlink); stops at the first error. */
int core_setattr(struct core *c, const char *path, const struct core_attrs *a);
/* The same through the stub of the regular file (dev, ino) that this
 * mount has open: fchmod, fchown and futimens of a file whose name has gone
 * (or leads elsewhere now). -ENOENT if not open here. */
int core_setattr_ino(struct core *c, dev_t dev, ino_t ino, const struct core_attrs *a);
int core_truncate(struct core *c, const struct geo_req *r, const char *path, off_t size);
int core_statfs(struct core *c, struct statvfs *st);
/* Opens a directory for listing; returns an fd (close with core_closedir). */
int core_opendir(struct core *c, const char *path);
/* Lists the directory; fill returns nonzero to stop. */
int core_readdir(struct core *c, int dirfd, bool is_root,
		 int (*fill)(void *buf, const char *name, const struct stat *st), void *buf);
void core_closedir(struct core *c, int dirfd);

/* ---- regular files (fileops.c) ---- */
int core_open_file(struct core *c, const struct geo_req *r, const char *path, int flags,
		   struct geo_handle **h, bool *keep_cache);
int core_create(struct core *c, const struct geo_req *r, const char *path, mode_t mode,
		int flags, struct geo_handle **h);
long core_read(struct core *c, struct geo_handle *h, char *buf, size_t size, off_t off);
/* writeback: the kernel writes back mmap'ed pages, in place even when the
 * handle was opened with O_APPEND. */
long core_write(struct core *c, struct geo_handle *h, const char *buf, size_t size, off_t off,
		bool writeback);
int core_ftruncate(struct core *c, struct geo_handle *h, off_t size);
int core_fallocate(struct core *c, struct geo_handle *h, int mode, off_t off, off_t len);
int core_flush(struct core *c, struct geo_handle *h);
int core_fsync(struct core *c, struct geo_handle *h, bool datasync);
int core_release(struct core *c, struct geo_handle *h);
/* Releases every handle still open, as their last close would (commit,
 * free). The kernel drops the handles of a lazily or forcibly unmounted
 * filesystem without a release; call this after the FUSE loop has ended
 * and before core_close(), while workers, store and audit log still run.
 * NULL ok. */
void core_release_all(struct core *c);

/* ---- attributes (xattr.c) ---- */
long core_getxattr(struct core *c, const struct geo_req *r, const char *path, const char *name,
		   char *buf, size_t size);
int core_setxattr(struct core *c, const struct geo_req *r, const char *path, const char *name,
		  const char *value, size_t size, int flags);
long core_listxattr(struct core *c, const char *path, char *buf, size_t size);
int core_removexattr(struct core *c, const struct geo_req *r, const char *path, const char *name);

#endif
