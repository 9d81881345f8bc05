/*
 * tag_check.h — checks that new tags leave a file somewhere to live and
 * someone to read it (see tag_check.c).
 */
#ifndef GEOCTL_TAG_CHECK_H
#define GEOCTL_TAG_CHECK_H

#include <stddef.h>

#include "config.h"

/* The config to check against for paths on the mount holding path: file
 * if given, else the running daemon's (its config path from user.geo.stats,
 * which needs root or the admin group). NULL, with a message, if it cannot
 * be had. Free with config_free(). */
struct geo_config *tag_check_config(const char *path, const char *file);

/* 0 if files tagged (category, origin) can be stored on enough allowed
 * backends and opened from this site; else -EACCES with the reason in why.
 * An undeclared category or a bad code gives 0: the daemon refuses it. */
int tag_check(const struct geo_config *cfg, const char *category, const char *origin,
	      char *why, size_t len);

#endif
