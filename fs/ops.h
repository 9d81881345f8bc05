/*
 * ops.h — the FUSE operations table (ops.c), used by main.c.
 */
#ifndef GEOFS_OPS_H
#define GEOFS_OPS_H

#include <fuse.h>

extern const struct fuse_operations geo_ops;

#endif
