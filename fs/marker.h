/*
 * marker.h — the file that says which backend a directory is.
 *
 * BACKEND/geofs-backend (STORE_MARKER) holds three lines:
 *     geofs-backend 1
 *     name tokyo-1
 *     country JP
 * The daemon stores nothing in a directory whose marker is missing, or
 * names another backend or another country: an unmounted NFS share (an
 * empty mount point) must never be filled, nor a Korean share used where
 * the config expects a Japanese one. `geoctl backend init` and `geoctl keys
 * init` write markers. Later lines of the form "key value" are ignored, so
 * the format can grow.
 *
 * Depends on config.h only. The text functions (parse, format, judge)
 * serve every backend kind (an S3 backend keeps the same text as an object
 * under its prefix); the *_file and dirfd functions are for directories.
 */
#ifndef GEOFS_MARKER_H
#define GEOFS_MARKER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define MARKER_FILE "geofs-backend"	/* same as store.h STORE_MARKER */
#define MARKER_MAX  4096		/* a longer file is not a marker */

struct marker {
	char name[CFG_NAME_MAX];
	char country[3];
};

/* Parses a marker's text (buf[len] must be NUL; buf is changed). 0 or
 * -EINVAL if it is not a marker. */
int marker_parse(char *buf, size_t len, struct marker *m);

/* Writes cb's marker text into buf; returns its length (snprintf-style). */
int marker_format(const struct cfg_backend *cb, char *buf, size_t cap);

/* The verdict on a backend's marker: rc is what reading and parsing gave
 * (0 with m filled, -ENOENT, -EINVAL, other -errno). 0 if m is cb's; else
 * rc or -EMEDIUMTYPE, with one line in err naming the backend, where it is
 * (cb->where) and the geoctl command that fixes it. */
int marker_judge(int rc, const struct marker *m, const struct cfg_backend *cb,
		 const char *cfgfile, char *err, size_t errlen);

/* The raw marker file of directory dirfd into buf (NUL-terminated): its
 * length, -ENOENT, -EINVAL if not a small regular file, -errno. */
long marker_read_file(int dirfd, char *buf, size_t cap);

/* Writes text as dirfd's marker file atomically. 0 or -errno. */
int marker_write_file(int dirfd, const char *text, size_t len);

/* Reads the marker in the backend directory dirfd. 0; -ENOENT if there is
 * none; -EINVAL if the file is not a marker (e.g. the empty file older
 * versions wrote); other -errno. */
int marker_read(int dirfd, struct marker *m);

/* 0 if dirfd carries the marker of backend cb. Else -ENOENT (no marker),
 * -EINVAL (not a marker), -EMEDIUMTYPE (it names another backend or
 * country) or -errno, with one line in err naming the backend, its path and
 * the geoctl command that fixes it (cfgfile is the config named there). */
int marker_check(int dirfd, const struct cfg_backend *cb, const char *cfgfile,
		 char *err, size_t errlen);


/* Writes cb's marker into dirfd atomically (temp file, fsync, rename,
 * fsync of the directory). 0 or -errno. */
int marker_write(int dirfd, const struct cfg_backend *cb);

#endif
