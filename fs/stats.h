/*
 * stats.h — what a running geofs reports about itself: the status document
 * served as user.geo.stats on the mount root (`geoctl status`), and the same
 * counters as a Prometheus textfile at [status] metrics_path.
 *
 * Sources: struct core_stats (operation counters, bumped with atomics where
 * the operations happen), store_usage() and store_state() per backend, the
 * shard cache's hit counters, and what this module tracks itself: files seen
 * misplaced since mount (stats_note_status), reloads, and rate samples.
 *
 * A background thread (stats_start) counts each backend's objects once
 * (store_count: after mount, and for backends a reload adds), samples the
 * counters for the per-second rates, and rewrites the metrics file every
 * STATS_INTERVAL seconds; stats_stop() writes it a last time at unmount.
 *
 * stats.c collects a struct stats_snap (plain data, no pointers into the
 * config, so it outlives a reload); stats_fmt.c renders one as JSON or as
 * Prometheus text. Part of the core: no FUSE here.
 */
#ifndef GEOFS_STATS_H
#define GEOFS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core.h"
#include "geoid.h"

#define STATS_INTERVAL 10	/* seconds between samples and metrics writes */
#define STATS_LIST_MAX 256	/* a store_in / access_from list as text */

/* ---- tracking (stats.c) ---- */

struct stats *stats_new(void);			/* NULL on ENOMEM */
void stats_free(struct stats *st);		/* NULL ok; stop the thread first */

/* Starts the background thread. 0 or -errno. */
int stats_start(struct core *c);
/* Stops it (if started) and writes the metrics file once more. Call with
 * the front end stopped; NULL c->mon ok. */
void stats_stop(struct core *c);

/* Records the placement status just computed for file id (true: it is
 * misplaced), or that the file is gone (false), so status can count
 * misplaced files. Thread safe; takes no other lock. */
void stats_note_status(struct core *c, const struct geo_id *id, bool misplaced);

/* Records the outcome of a reload (0 or -errno). Thread safe. */
void stats_note_reload(struct core *c, int rc);

/* ---- snapshot ---- */

struct stats_backend {
	char name[CFG_NAME_MAX];
	char country[3];
	char *path;
	unsigned weight;
	bool drain;
	const char *state;	/* "ok", "full", "unreachable", "draining" */
	char error[256];	/* the storage's last error while unreachable, or "" */
	bool counted;		/* objects/bytes include a walk of the backend */
	uint64_t objects, bytes, free;
};

struct stats_category {
	char name[CFG_NAME_MAX];
	char store_in[STATS_LIST_MAX], access_from[STATS_LIST_MAX];	/* as configured */
	int replicas;
	bool compress;
};

struct stats_snap {
	char site[CFG_NAME_MAX];
	char country[3];
	char *config;			/* config file path */
	char *metrics_path;		/* NULL if none */
	long pid;
	struct timespec started, now;	/* CLOCK_REALTIME */
	uint64_t reloads, reload_failures;
	struct timespec last_reload;	/* 0 if never */
	int last_reload_rc;
	char default_category[CFG_NAME_MAX];
	char default_origin[3];
	int ncats, nbackends;
	struct stats_category cats[CFG_MAX_CATEGORIES];
	struct stats_backend backends[CFG_MAX_BACKENDS];
	uint64_t misplaced;		/* files seen misplaced, not since seen ok */
	struct core_stats ctr;
	double window;			/* seconds the rates cover (0: none yet) */
	double ops_rate, read_rate, write_rate;	/* per second */
	uint64_t cache_hits, cache_misses;
};

/* Fills a new snapshot (free with stats_snap_free). Call with the core
 * entered. 0 or -ENOMEM. */
int stats_snapshot(struct core *c, struct stats_snap **out);
void stats_snap_free(struct stats_snap *s);	/* NULL ok */

/* The status document into a new buffer *out (caller frees); returns its
 * length or -errno. Call with the core entered. */
long stats_json(struct core *c, char **out);

/* getxattr user.geo.stats on the mount root (getxattr convention: size 0
 * asks for the length): root and the admin group only, else -EACCES;
 * -ERANGE if size is too small, -E2BIG past the xattr size limit. Call with
 * the core entered. */
long core_stats_xattr(struct core *c, const struct geo_req *r, char *buf, size_t size);

/* Writes the Prometheus text to cfg->metrics_path atomically (temp file in
 * the same directory + rename). 0 if no path is configured, else 0/-errno.
 * Enters the core itself: never call it entered. */
int stats_write_metrics(struct core *c);

/* ---- rendering (stats_fmt.c) ---- */

/* One JSON object (see geoctl status --help for the fields). */
void stats_fmt_json(const struct stats_snap *s, FILE *f);
/* Prometheus text exposition format, metrics prefixed geofs_. */
void stats_fmt_prom(const struct stats_snap *s, FILE *f);

#endif
