/*
 * ops.c — the FUSE front end, on libfuse's low-level API: each callback
 * turns its node ids into mount paths (nodes.h), makes one core call
 * between in() and done() (core_enter/core_leave, so a config reload never
 * swaps the policy under a running call), and replies. No policy lives
 * here.
 *
 * The kernel gets one node per meta-root inode, so every name of a
 * hard-linked file shares its attributes, and an open file's node outlives
 * its last name (getattr then asks the open file: core_getattr_ino).
 * Timeouts go with each reply: names 1 s, attributes -o attr_cache
 * seconds, negative lookups never cached (a file created on another mount
 * is seen at once). What another mount may have changed is dropped at each
 * open (close-to-open coherence); a node whose name now resolves to
 * another inode answers ESTALE, on which the kernel looks the name up
 * again.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "nodes.h"
#include "ops.h"
#include "reload.h"
#include "stats.h"
#include "xattrs.h"

#define ENTRY_TIMEOUT 1.0

static struct geo_front *F(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The core, entered for the duration of one callback; pair with done(). */
static struct core *in(fuse_req_t req)
{
	struct core *c = F(req)->c;

	core_enter(c);
	return c;
}

/* Leaves the core entered by in(), and at -o loglevel=debug logs one line
 * per call: what, on which path, for whom, and how it ended (a count, or
 * the errno's name). */
static long done(fuse_req_t req, struct core *c, const char *op, const char *path, long rc)
{
	core_leave(c);
	if (log_enabled(LOG_LVL_DEBUG)) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		char epath[1024], res[32];
		const char *en = rc < 0 ? strerrorname_np((int)-rc) : NULL;

		if (en)
			snprintf(res, sizeof(res), "%s", en);
		else
			snprintf(res, sizeof(res), "%ld", rc);
		log_event(LOG_LVL_DEBUG, op, path, NULL, "op %s %s (uid %u pid %d): %s", op,
			  path ? log_escape(path, epath, sizeof(epath)) : "-", (unsigned)ctx->uid,
			  (int)ctx->pid, res);
	}
	return rc;
}

static struct geo_req req_of(fuse_req_t req, bool groups)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct geo_req r = { .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid, .ngroups = -1 };

	if (groups) {
		int n = fuse_req_getgroups(req, GEO_MAX_GROUPS, r.groups);
		r.ngroups = n < 0 ? 0 : (n > GEO_MAX_GROUPS ? GEO_MAX_GROUPS : n);
	}
	return r;
}

static struct geo_handle *H(struct fuse_file_info *fi)
{
	return (struct geo_handle *)(uintptr_t)fi->fh;
}

/* The mount path of node ino, or of name in directory ino (name NULL:
 * the node itself); *path NULL on error. */
static int path_of(fuse_req_t req, fuse_ino_t ino, const char *name, char **path)
{
	*path = NULL;
	if (name)
		return nodes_child_path(F(req)->nodes, ino, name, path);
	return nodes_path(F(req)->nodes, ino, path);
}

static void reply_rc(fuse_req_t req, long rc)
{
	fuse_reply_err(req, rc < 0 ? (int)-rc : 0);
}

/* Replies with the entry of node id (counted by nodes_lookup); the
 * lookup is undone if the kernel did not take the reply. */
static void send_entry(fuse_req_t req, uint64_t id, uint64_t gen, const struct stat *st)
{
	struct geo_front *f = F(req);
	struct fuse_entry_param e = { .ino = id, .generation = gen, .attr = *st,
				      .entry_timeout = ENTRY_TIMEOUT,
				      .attr_timeout = f->c->attr_cache };

	if (fuse_reply_entry(req, &e) != 0)
		nodes_forget(f->nodes, id, 1);
}

/* Counts one lookup of parent/name (st) and replies with its entry;
 * created: a new entry (nodes_lookup). */
static void reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
			const struct stat *st, bool created)
{
	uint64_t gen, id = nodes_lookup(F(req)->nodes, parent, name, st, created, &gen);

	if (id)
		send_entry(req, id, gen, st);
	else
		fuse_reply_err(req, ENOMEM);
}

static void reply_entry_or_err(fuse_req_t req, fuse_ino_t parent, const char *name, long rc,
			       const struct stat *st, bool created)
{
	if (rc)
		reply_rc(req, rc);
	else
		reply_entry(req, parent, name, st, created);
}

/* The end of a callback that made (or linked) an entry at path, named
 * name under parent, with the core's result rc: its attributes, the
 * debug line, the reply. Leaves the core entered by in(). */
static void made_entry(fuse_req_t req, struct core *c, const char *op, const char *logpath,
		       fuse_ino_t parent, const char *name, const char *path, long rc,
		       bool created)
{
	struct stat st;

	if (!rc)
		rc = core_getattr(c, path, &st);
	done(req, c, op, logpath, rc);
	reply_entry_or_err(req, parent, name, rc, &st, created);
}

/* Attributes of node ino. Through its path, which must still lead to the
 * same inode (-ESTALE: another mount put something else there, the kernel
 * looks the name up again); else, for a file open here, through the open
 * file (an unlinked file's descriptor). */
static int node_getattr(struct core *c, fuse_req_t req, fuse_ino_t ino, const char *path,
			struct stat *st)
{
	dev_t dev;
	ino_t mino;
	mode_t type;
	int rc = path ? core_getattr(c, path, st) : -ENOENT;

	nodes_ino(F(req)->nodes, ino, &dev, &mino, &type);
	if (!rc && st->st_ino == mino && st->st_dev == dev)
		return 0;
	if (type == S_IFREG && core_getattr_ino(c, dev, mino, st) == 0)
		return 0;
	return rc ? rc : -ESTALE;
}

/* True if handle h is open on the inode node ino stands for. */
static bool same_inode(struct core *c, fuse_req_t req, fuse_ino_t ino, struct geo_handle *h)
{
	struct stat st;
	dev_t dev;
	ino_t mino;
	mode_t type;

	nodes_ino(F(req)->nodes, ino, &dev, &mino, &type);
	return core_fgetattr(c, h, &st) == 0 && st.st_ino == mino && st.st_dev == dev;
}

struct lead {
	struct core *c;
	struct geo_front *f;	/* not the request: it is gone after the reply */
	fuse_ino_t ino;
};

/* nodes_prune's test: path still names node ino's inode. */
static bool leads_to_node(void *arg, const char *path)
{
	struct lead *l = arg;
	struct stat st;
	dev_t dev;
	ino_t mino;
	mode_t type;

	nodes_ino(l->f->nodes, l->ino, &dev, &mino, &type);
	return core_getattr(l->c, path, &st) == 0 && st.st_ino == mino && st.st_dev == dev;
}

/* The path of node ino for a call that changes it: -ESTALE when the name
 * now leads to another inode (another mount renamed the node's file away
 * and made a new one there), so that the change never lands on that
 * other file; the kernel retries a call by path after a fresh lookup. */
static int node_path(struct core *c, fuse_req_t req, fuse_ino_t ino, char **path)
{
	int rc = path_of(req, ino, NULL, path);

	if (!rc && !leads_to_node(&(struct lead){ c, F(req), ino }, *path))
		rc = -ESTALE;
	return rc;
}

static void geo_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	/* Page caches are dropped at open (close-to-open coherence); asking
	 * for the size before every read would double the requests. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static void geo_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct geo_front *f = F(req);
	struct stat st;
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);
	struct nodes_gone *gone = NULL;
	int ngone = 0;
	uint64_t id, gen;

	if (!rc)
		rc = core_getattr(c, path, &st);
	done(req, c, "lookup", path, rc);
	free(path);
	if (rc) {
		reply_rc(req, rc);
		return;
	}
	id = nodes_lookup(f->nodes, parent, name, &st, false, &gen);
	if (!id) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* A file met under a new name may have been renamed away from an
	 * old one by another mount: the old names that now lead elsewhere go
	 * before the reply, and the kernel forgets them once it has the
	 * reply (it holds the directory's lock until then; nodes.h). */
	if (S_ISREG(st.st_mode)) {
		core_enter(c);
		ngone = nodes_prune(f->nodes, id, leads_to_node, &(struct lead){ c, f, id }, &gone);
		core_leave(c);
		nodes_looked_up(f->nodes, id, fuse_req_ctx(req)->pid);
	}
	send_entry(req, id, gen, &st);
	for (int i = 0; i < ngone; i++) {
		int r = fuse_lowlevel_notify_inval_entry(f->se, gone[i].parent, gone[i].name,
							 strlen(gone[i].name));
		if (r && r != -ENOENT)
			log_warn("telling the kernel to forget the name %s: %s", gone[i].name,
				 strerror(-r));
		log_debug("dropped the name %s (another mount moved it): %d", gone[i].name, r);
	}
	nodes_settled(f->nodes, id, gone, ngone);
}

static void geo_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	nodes_forget(F(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void geo_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		nodes_forget(F(req)->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void geo_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	char *path = NULL;
	struct core *c = in(req);
	long rc;

	dev_t dev;
	ino_t mino;
	mode_t type;

	nodes_ino(F(req)->nodes, ino, &dev, &mino, &type);
	if (fi && type == S_IFREG) {
		rc = core_fgetattr(c, H(fi), &st);
	} else {
		rc = path_of(req, ino, NULL, &path);
		rc = node_getattr(c, req, ino, rc ? NULL : path, &st);
	}
	done(req, c, "getattr", path, rc);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, F(req)->c->attr_cache);
	free(path);
}

/* The times of a setattr: UTIME_OMIT for what it leaves alone. */
/* The mode, owner and times a setattr asks for (not the size), as masks
 * of CORE_ATTR_* with UTIME_OMIT and (uid_t)-1 for what it leaves alone. */
static struct core_attrs attrs_of(const struct stat *attr, int to_set)
{
	struct core_attrs a = { .mode = attr->st_mode, .uid = (uid_t)-1, .gid = (gid_t)-1 };

	if (to_set & FUSE_SET_ATTR_MODE)
		a.set |= CORE_ATTR_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		a.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		a.gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		a.set |= CORE_ATTR_OWNER;
	a.tv[0].tv_nsec = a.tv[1].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		a.tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		a.tv[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		a.tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		a.tv[1] = attr->st_mtim;
	if (a.tv[0].tv_nsec != UTIME_OMIT || a.tv[1].tv_nsec != UTIME_OMIT)
		a.set |= CORE_ATTR_TIMES;
	return a;
}

/* Mode, owner or times (the mask) of node ino: through its name while the
 * name still leads to it; else through the stub this mount holds open
 * (fchmod of an unlinked file, or of one another mount renamed away);
 * else -ESTALE, never the other file the name means now: the kernel
 * retries a call by path with a fresh lookup on ESTALE. */
static int setattr_node(struct core *c, fuse_req_t req, fuse_ino_t ino, const char *path,
			struct core_attrs a, int mask)
{
	dev_t dev;
	ino_t mino;
	mode_t type;
	int rc;

	a.set &= mask;
	if (!a.set)
		return 0;
	if (path && leads_to_node(&(struct lead){ c, F(req), ino }, path))
		return core_setattr(c, path, &a);
	nodes_ino(F(req)->nodes, ino, &dev, &mino, &type);
	rc = type == S_IFREG ? core_setattr_ino(c, dev, mino, &a) : -ENOENT;
	return rc == -ENOENT && path ? -ESTALE : rc;
}

static void geo_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct geo_req r = req_of(req, false);
	struct core_attrs a = attrs_of(attr, to_set);
	struct stat st;
	char *path = NULL;
	struct core *c = in(req);
	long rc = path_of(req, ino, NULL, &path);

	/* No name (-ENOENT): the node's file may still be open here. */
	if (rc == -ENOENT)
		rc = 0;
	/* In the kernel's order: mode and owner, the size (a truncate also
	 * sets mtime), then the times asked for. A truncate through a
	 * handle (ftruncate) needs no name: an unlinked file's. */
	if (!rc)
		rc = setattr_node(c, req, ino, path, a, CORE_ATTR_MODE | CORE_ATTR_OWNER);
	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = fi     ? core_ftruncate(c, H(fi), attr->st_size)
		     : path ? core_truncate(c, &r, path, attr->st_size)
			    : -ENOENT;
	if (!rc)
		rc = setattr_node(c, req, ino, path, a, CORE_ATTR_TIMES);
	if (!rc)
		rc = fi ? core_fgetattr(c, H(fi), &st) : node_getattr(c, req, ino, path, &st);
	done(req, c, "setattr", path, rc);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, c->attr_cache);
	free(path);
}

static void geo_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1], *path;
	struct core *c = in(req);
	long rc = path_of(req, ino, NULL, &path);

	if (!rc)
		rc = core_readlink(c, path, buf, sizeof(buf));
	done(req, c, "readlink", path, rc);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_readlink(req, buf);
	free(path);
}

static void geo_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev)
{
	struct geo_req r = req_of(req, false);
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);

	if (!rc)
		rc = core_mknod(c, &r, path, mode, rdev);
	made_entry(req, c, "mknod", path, parent, name, path, rc, true);
	free(path);
}

static void geo_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct geo_req r = req_of(req, false);
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);

	if (!rc)
		rc = core_mkdir(c, &r, path, mode);
	made_entry(req, c, "mkdir", path, parent, name, path, rc, true);
	free(path);
}

static void geo_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct geo_req r = req_of(req, false);
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);

	if (!rc)
		rc = core_symlink(c, &r, target, path);
	made_entry(req, c, "symlink", path, parent, name, path, rc, true);
	free(path);
}

/* unlink and rmdir: the name goes from the node table once it is gone. */
static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct geo_req r = req_of(req, false);
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);

	if (!rc)
		rc = dir ? core_rmdir(c, &r, path) : core_unlink(c, &r, path);
	if (!rc)
		nodes_unlinked(F(req)->nodes, parent, name);
	done(req, c, dir ? "rmdir" : "unlink", path, rc);
	reply_rc(req, rc);
	free(path);
}

static void geo_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, false);
}

static void geo_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, true);
}

static void geo_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	struct geo_req r = req_of(req, false);
	char *from, *to = NULL;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &from);

	if (!rc)
		rc = path_of(req, newparent, newname, &to);
	if (!rc)
		rc = core_rename(c, &r, from, to, flags);
	if (!rc)
		nodes_renamed(F(req)->nodes, parent, name, newparent, newname,
			      flags & RENAME_EXCHANGE);
	done(req, c, "rename", from, rc);
	reply_rc(req, rc);
	free(from);
	free(to);
}

static void geo_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct geo_req r = req_of(req, false);
	char *from, *to = NULL;
	struct core *c = in(req);
	long rc = path_of(req, ino, NULL, &from);

	if (!rc)
		rc = path_of(req, newparent, newname, &to);
	if (!rc)
		rc = core_link(c, &r, from, to);
	made_entry(req, c, "link", from, newparent, newname, to, rc, false);
	free(from);
	free(to);
}

static void geo_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct geo_req r = req_of(req, false);
	struct geo_handle *h;
	bool keep = false;
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, ino, NULL, &path);

	if (!rc && nodes_open_stale(F(req)->nodes, ino, r.pid))
		rc = -ESTALE;	/* maybe through a name just dropped (nodes.h) */
	/* Before opening (O_TRUNC): is the name still this node's file? */
	if (!rc && !leads_to_node(&(struct lead){ c, F(req), ino }, path))
		rc = -ESTALE;
	if (!rc)
		rc = core_open_file(c, &r, path, fi->flags, &h, &keep);
	if (!rc && !same_inode(c, req, ino, h)) {
		/* Another mount put another file under this name: the kernel
		 * looks the name up again (and its pages stay another's). */
		core_release(c, h);
		rc = -ESTALE;
	}
	done(req, c, "open", path, rc);
	free(path);
	if (rc) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->keep_cache = keep;
	/* Close-to-open: the attributes the kernel cached of this file may
	 * predate a change made by another mount; have it ask again (the
	 * pages go by keep_cache). */
	if (c->attr_cache > 0)
		fuse_lowlevel_notify_inval_inode(F(req)->se, ino, -1, 0);
	if (fuse_reply_open(req, fi) != 0) {
		core_enter(c);
		core_release(c, h);
		core_leave(c);
	}
}

static void geo_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct geo_req r = req_of(req, false);
	struct geo_front *f = F(req);
	struct geo_handle *h = NULL;
	struct fuse_entry_param e = { .entry_timeout = ENTRY_TIMEOUT };
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, parent, name, &path);

	if (!rc)
		rc = core_create(c, &r, path, mode, fi->flags, &h);
	if (!rc && (rc = core_fgetattr(c, h, &e.attr)) != 0)
		core_release(c, h);
	done(req, c, "create", path, rc);
	free(path);
	if (rc) {
		reply_rc(req, rc);
		return;
	}
	e.attr_timeout = c->attr_cache;
	e.ino = nodes_lookup(f->nodes, parent, name, &e.attr, true, &e.generation);
	fi->fh = (uintptr_t)h;
	if (!e.ino || fuse_reply_create(req, &e, fi) != 0) {
		if (e.ino)
			nodes_forget(f->nodes, e.ino, 1);
		else
			fuse_reply_err(req, ENOMEM);
		core_enter(c);
		core_release(c, h);
		core_leave(c);
	}
}

static void geo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	struct core *c = in(req);
	long n = buf ? core_read(c, H(fi), buf, size, off) : -ENOMEM;

	done(req, c, "read", NULL, n);
	if (n < 0)
		reply_rc(req, n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void geo_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct core *c = in(req);
	/* Page writeback (mmap) writes in place even on an O_APPEND handle. */
	long n = done(req, c, "write", NULL, core_write(c, H(fi), buf, size, off, fi->writepage));

	if (n < 0)
		reply_rc(req, n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void geo_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	struct core *c = in(req);
	long rc = done(req, c, "statfs", NULL, core_statfs(c, &st));

	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_statfs(req, &st);
}

static void geo_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct core *c = in(req);
	reply_rc(req, done(req, c, "flush", NULL, core_flush(c, H(fi))));
}

static void geo_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct core *c = in(req);
	reply_rc(req, done(req, c, "release", NULL, core_release(c, H(fi))));
}

static void geo_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct core *c = in(req);
	reply_rc(req, done(req, c, "fsync", NULL, core_fsync(c, H(fi), datasync)));
}

static void geo_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			  struct fuse_file_info *fi)
{
	struct core *c = in(req);
	reply_rc(req, done(req, c, "fallocate", NULL, core_fallocate(c, H(fi), mode, off, len)));
}

/* A getxattr or listxattr reply: the size asked for (size 0), or the
 * bytes. */
static void reply_xattr(fuse_req_t req, size_t size, const char *buf, long n)
{
	if (n < 0)
		reply_rc(req, n);
	else if (!size)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void geo_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	struct geo_req r = req_of(req, true);
	char *path;
	struct core *c;
	long rc;

	/* user.geo.reload, on the mount root only: a reload takes the core
	 * exclusively itself, so it is never entered here. */
	if (ino == FUSE_ROOT_ID && strcmp(name, XA_RELOAD) == 0) {
		reply_rc(req, core_reload_xattr(F(req)->c, &r));
		return;
	}
	c = in(req);
	rc = node_path(c, req, ino, &path);
	if (!rc)
		rc = core_setxattr(c, &r, path, name, value, size, flags);
	done(req, c, "setxattr", path, rc);
	reply_rc(req, rc);
	free(path);
}

static void geo_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	bool stats = ino == FUSE_ROOT_ID && strcmp(name, XA_STATS) == 0;
	struct geo_req r = req_of(req, stats);
	char *buf = size ? malloc(size) : NULL, *path = NULL;
	struct core *c = in(req);
	long rc = size && !buf ? -ENOMEM : 0;

	if (!rc && stats)
		rc = core_stats_xattr(c, &r, buf, size);
	else if (!rc && !(rc = path_of(req, ino, NULL, &path)))
		rc = core_getxattr(c, &r, path, name, buf, size);
	done(req, c, "getxattr", path, rc);
	reply_xattr(req, size, buf, rc);
	free(buf);
	free(path);
}

static void geo_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL, *path = NULL;
	struct core *c = in(req);
	long rc = size && !buf ? -ENOMEM : path_of(req, ino, NULL, &path);

	if (!rc)
		rc = core_listxattr(c, path, buf, size);
	done(req, c, "listxattr", path, rc);
	reply_xattr(req, size, buf, rc);
	free(buf);
	free(path);
}

static void geo_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct geo_req r = req_of(req, true);
	char *path;
	struct core *c = in(req);
	long rc = node_path(c, req, ino, &path);

	if (!rc)
		rc = core_removexattr(c, &r, path, name);
	done(req, c, "removexattr", path, rc);
	reply_rc(req, rc);
	free(path);
}

static void geo_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct stat st;
	char *path;
	struct core *c = in(req);
	long rc = path_of(req, ino, NULL, &path);

	/* default_permissions makes the kernel check modes; existence here. */
	rc = node_getattr(c, req, ino, rc ? NULL : path, &st);
	done(req, c, "access", path, rc);
	reply_rc(req, rc);
	free(path);
}

/* ---- directories ---- */

/* An open directory: its listing, read whole at offset 0 and served in
 * the kernel's slices (an entry's offset is its index + 1). */
struct dir_entry {
	ino_t ino;
	mode_t type;
	char *name;
};

struct dir_handle {
	int fd;
	bool root;		/* the mount root: .geofs stays hidden */
	size_t n, cap;
	struct dir_entry *e;
};

static struct dir_handle *D(struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

static void dir_clear(struct dir_handle *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	d->n = 0;
}

static int dir_collect(void *arg, const char *name, const struct stat *st)
{
	struct dir_handle *d = arg;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dir_entry *e = realloc(d->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->e = e;
		d->cap = cap;
	}
	d->e[d->n].name = strdup(name);
	if (!d->e[d->n].name)
		return -ENOMEM;
	d->e[d->n].ino = st->st_ino;
	d->e[d->n].type = st->st_mode & S_IFMT;
	d->n++;
	return 0;
}

static void geo_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	char *path = NULL;
	struct core *c = in(req);
	long rc = d ? path_of(req, ino, NULL, &path) : -ENOMEM;

	if (!rc)
		rc = core_opendir(c, path);
	done(req, c, "opendir", path, rc < 0 ? rc : 0);
	free(path);
	if (rc < 0) {
		free(d);
		reply_rc(req, rc);
		return;
	}
	d->fd = (int)rc;
	d->root = ino == FUSE_ROOT_ID;
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		core_closedir(c, d->fd);
		free(d);
	}
}

static bool dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* One readdir or readdirplus reply of at most size bytes from offset off.
 * A readdirplus entry is a lookup (counted, with attributes and
 * timeouts), so that ls -l needs no lookup per name; . and .. are not. */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi, bool plus)
{
	struct geo_front *f = F(req);
	struct dir_handle *d = D(fi);
	char *buf = malloc(size);
	size_t used = 0, ncounted = 0;
	uint64_t *counted = plus ? malloc((size / 24 + 1) * sizeof(*counted)) : NULL;
	struct core *c = in(req);
	long rc = buf && (!plus || counted) ? 0 : -ENOMEM;

	if (!rc && off == 0) {
		dir_clear(d);
		rc = core_readdir(c, d->fd, d->root, dir_collect, d);
	}
	for (size_t i = (size_t)off; !rc && i < d->n; i++) {
		struct dir_entry *de = &d->e[i];
		struct fuse_entry_param e = { .attr = { .st_ino = de->ino, .st_mode = de->type } };
		size_t need;

		if (!plus) {
			need = fuse_add_direntry(req, buf + used, size - used, de->name, &e.attr,
						 (off_t)i + 1);
		} else {
			if (!dot_or_dotdot(de->name)) {
				if (core_getattrat(c, d->fd, de->name, &e.attr) != 0)
					continue;	/* gone meanwhile */
				e.ino = nodes_lookup(f->nodes, ino, de->name, &e.attr, false,
						     &e.generation);
				if (!e.ino) {
					rc = used ? 0 : -ENOMEM;
					break;
				}
				e.entry_timeout = ENTRY_TIMEOUT;
				e.attr_timeout = c->attr_cache;
			}
			need = fuse_add_direntry_plus(req, buf + used, size - used, de->name, &e,
						      (off_t)i + 1);
		}
		if (need > size - used) {
			if (e.ino)
				nodes_forget(f->nodes, e.ino, 1);
			break;
		}
		used += need;
		if (e.ino)
			counted[ncounted++] = e.ino;
	}
	done(req, c, plus ? "readdirplus" : "readdir", NULL, rc);
	if (rc)
		reply_rc(req, rc);
	else if (fuse_reply_buf(req, buf, used) != 0)
		for (size_t i = 0; i < ncounted; i++)
			nodes_forget(f->nodes, counted[i], 1);
	free(counted);
	free(buf);
}

static void geo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, fi, false);
}

static void geo_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, fi, true);
}

static void geo_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = D(fi);
	struct core *c = in(req);

	core_closedir(c, d->fd);
	done(req, c, "releasedir", NULL, 0);
	dir_clear(d);
	free(d->e);
	free(d);
	fuse_reply_err(req, 0);
}

static void geo_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	reply_rc(req, fsync(D(fi)->fd) < 0 ? -errno : 0);
}

const struct fuse_lowlevel_ops geo_ops = {
	.init = geo_init,
	.lookup = geo_lookup,
	.forget = geo_forget,
	.forget_multi = geo_forget_multi,
	.getattr = geo_getattr,
	.setattr = geo_setattr,
	.readlink = geo_readlink,
	.mknod = geo_mknod,
	.mkdir = geo_mkdir,
	.unlink = geo_unlink,
	.rmdir = geo_rmdir,
	.symlink = geo_symlink,
	.rename = geo_rename,
	.link = geo_link,
	.open = geo_open,
	.read = geo_read,
	.write = geo_write,
	.flush = geo_flush,
	.release = geo_release,
	.fsync = geo_fsync,
	.opendir = geo_opendir,
	.readdir = geo_readdir,
	.readdirplus = geo_readdirplus,
	.releasedir = geo_releasedir,
	.fsyncdir = geo_fsyncdir,
	.statfs = geo_statfs,
	.setxattr = geo_setxattr,
	.getxattr = geo_getxattr,
	.listxattr = geo_listxattr,
	.removexattr = geo_removexattr,
	.access = geo_access,
	.create = geo_create,
	.fallocate = geo_fallocate,
};
