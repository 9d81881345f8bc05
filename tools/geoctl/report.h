/*
 * report.h — the transparency report's figures, gathered by
 * report_figures.c, with its evidence (report_evidence.c); printed by
 * cmd_report.c (text and JSON) and report_html.c (the HTML page).
 */
#ifndef GEOCTL_REPORT_H
#define GEOCTL_REPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct rep_country {
	char cc[3];
	uint64_t bytes;
};

/* Files of one (category, origin) pair. */
struct rep_group {
	char category[CFG_NAME_MAX];
	char origin[3];
	char store_in[256];		/* allowed storage countries, as served */
	char access_from[256];
	struct cset store_set;		/* store_in, parsed */
	int replicas;
	uint64_t files, size, stored;
	uint64_t outside;		/* stored bytes in countries store_in lacks */
	struct rep_country *by;		/* stored bytes per country, sorted by code */
	size_t nby, capby;
};

#define REPORT_MAX_PATHS 64

struct report {
	char *const *paths;
	int npaths;
	/* evidence (report_evidence(); "" where it could not be had) */
	char abspaths[REPORT_MAX_PATHS][PATH_MAX];	/* paths, resolved */
	char site[CFG_NAME_MAX];
	char site_country[3];
	char config[PATH_MAX];		/* the daemon's config file */
	char config_sha256[65];		/* SHA-256 of its bytes, hex */
	char audit_head[65];		/* SHA-256 of the audit log's last line */
	char mount[PATH_MAX];		/* geofs mount point of paths[0], or "" */
	char generated[32];		/* "2026-11-23T02:30:00Z" */
	struct rep_group *g;		/* sorted by category, origin */
	size_t ng, capg;
	struct rep_country *total_by;	/* all groups, sorted by code */
	size_t ntotal, captotal;
	uint64_t files, size, stored;
};

/* Fills the evidence fields of rp (paths and mount set). Reading the
 * site and config needs root or the admin group; without them those
 * fields stay "". */
void report_evidence(struct report *rp);

/* Writes the report as one self-contained HTML page (inline CSS and SVG,
 * no script, no external resource). 0 or -EIO if writing failed. */
int report_html(FILE *f, const struct report *rp);

/* Fills rp's groups and totals from every file below rp->paths, the groups
 * sorted by category, then origin. Returns how many paths could not be
 * scanned (each named on stderr; 0: all were), or -errno when the scan
 * stopped (scan_paths()). Free with report_free() either way. */
int report_gather(struct report *rp);

/* Frees what report_gather() built (NULL fields ok). */
void report_free(struct report *rp);

/* True if g's policy allows storage in country cc. */
bool report_allowed(const struct rep_group *g, const char *cc);

#endif
