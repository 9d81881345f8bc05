/*
 * nodes.h — the front end's table of kernel inodes (FUSE node ids), free
 * of FUSE itself so that unit tests drive it directly.
 *
 * One node per meta-root inode (dev, ino): every name of a hard-linked
 * file maps to the same node, so the kernel keeps one inode, one set of
 * attributes and one page cache for all of them. A node counts the
 * kernel's lookups (nodes_lookup adds one, nodes_forget takes n) and lives
 * while that count or a child's name refers to it.
 *
 * A node remembers its names as (parent node, name) pairs, most recently
 * confirmed first, and rebuilds a mount path ("/a/b") from them for the
 * core, whose API is path based over the meta root (resolved there with
 * openat2 beneath the root, so a path never leads outside it). Chosen over
 * an O_PATH descriptor per node because the core's calls, their audit
 * records and their tag inheritance all want the path anyway, because a
 * descriptor per kernel inode would cost an fd for every cached dentry,
 * and because an O_PATH fd of a stub would keep an unlinked stub's inode
 * (and an NFS client's silly-renamed file) alive until the kernel forgets
 * it. A path names what the kernel last saw: a name another mount of the
 * meta root changed meanwhile resolves to what is there now, and the
 * caller compares the inode it finds (nodes_ino) with the node's.
 *
 * A node whose last known name was removed through this mount becomes a
 * zombie: it keeps serving its node id (an open descriptor of an unlinked
 * file) but a later lookup of the same inode number (reused by the meta
 * root's filesystem) gets a fresh node and generation.
 *
 * Thread safe: one mutex for the whole table; calls are short.
 */
#ifndef GEOFS_NODES_H
#define GEOFS_NODES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NODES_ROOT_ID 1		/* FUSE_ROOT_ID */

struct nodes;

/* The table with its root node (id NODES_ROOT_ID) for the meta root's
 * inode (dev, ino). NULL on ENOMEM. */
struct nodes *nodes_new(dev_t dev, ino_t ino);
void nodes_free(struct nodes *t);		/* NULL ok */

/* Records that name in directory parent is the entry st describes and
 * counts one kernel lookup of it. created: the entry was just made
 * (create, mkdir, mknod, symlink), so a node with its inode number is an
 * older inode's whose number the filesystem reused. Returns its node id
 * and (gen) its generation; 0 on ENOMEM or an unknown parent. */
uint64_t nodes_lookup(struct nodes *t, uint64_t parent, const char *name, const struct stat *st,
		      bool created, uint64_t *gen);

/* The kernel dropped n lookups of node id. */
void nodes_forget(struct nodes *t, uint64_t id, uint64_t n);

/* The mount path of node id into *path (malloc'ed, caller frees): "/"
 * for the root. -ENOENT if it (or a directory above it) has no name left,
 * -ESTALE for an unknown id, -ENOMEM. */
int nodes_path(struct nodes *t, uint64_t id, char **path);

/* The mount path of name in directory parent, as nodes_path. */
int nodes_child_path(struct nodes *t, uint64_t parent, const char *name, char **path);

/* The meta-root inode and file type (S_IFMT bits) of node id: 0 or
 * -ESTALE. */
int nodes_ino(struct nodes *t, uint64_t id, dev_t *dev, ino_t *ino, mode_t *type);

/* Name in directory parent is gone (unlink, rmdir). */
void nodes_unlinked(struct nodes *t, uint64_t parent, const char *name);

/* Name p1/n1 became p2/n2 (whatever p2/n2 named before is gone); with
 * exchange the two swapped. */
void nodes_renamed(struct nodes *t, uint64_t p1, const char *n1, uint64_t p2, const char *n2,
		   bool exchange);

/* Names another mount took away. The kernel gives an open only the node,
 * not the name it came through, and keeps dentries for their timeout: a
 * name renamed away elsewhere would still open the file by its new name.
 * So a lookup that meets a node under a new name drops, before it
 * replies, the node's other names that no longer lead to it
 * (nodes_prune: leads(arg, path) false), and after the reply has the
 * kernel forget them and calls nodes_settled. An open meanwhile waits in
 * nodes_open_stale and answers ESTALE, on which the kernel looks the name
 * it came through up again (a dropped name is then ENOENT) and opens
 * again: an open right after a lookup of the node by the same process
 * (nodes_looked_up) came through the name just looked up, and goes on.
 *
 * nodes_prune returns how many names it dropped (0 for a node with one
 * name; leads runs without the table's lock), their parent ids and names
 * in *gone (for nodes_settled, which frees them), or -ENOMEM. The node
 * stays allocated until nodes_settled. nodes_open_stale returns true
 * where the open must answer ESTALE. */
struct nodes_gone {
	uint64_t parent;
	char *name;
};
int nodes_prune(struct nodes *t, uint64_t id, bool (*leads)(void *arg, const char *path),
		void *arg, struct nodes_gone **gone);
void nodes_settled(struct nodes *t, uint64_t id, struct nodes_gone *gone, int n);
void nodes_looked_up(struct nodes *t, uint64_t id, int pid);
bool nodes_open_stale(struct nodes *t, uint64_t id, int pid);

/* Nodes alive, for tests and the status: the root counts. */
size_t nodes_count(struct nodes *t);

#endif
