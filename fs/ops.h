/*
 * ops.h — the FUSE low-level operations table (ops.c), used by main.c,
 * and the front end's state that every callback reaches through
 * fuse_req_userdata().
 */
#ifndef GEOFS_OPS_H
#define GEOFS_OPS_H

#include <fuse_lowlevel.h>

struct core;
struct nodes;

struct geo_front {
	struct core *c;
	struct nodes *nodes;		/* kernel inodes (nodes.h) */
	struct fuse_session *se;	/* for invalidation notices */
};

extern const struct fuse_lowlevel_ops geo_ops;

#endif
