/*
 * fsck.h — geoctl fsck's shared state, bottom up: fsck_findings.c keeps the
 * finding list, fsck_files.c checks every file of the namespace against its
 * manifest, its objects and the policy, fsck_orphans.c finds what nothing
 * refers to, fsck_report.c prints the findings, and cmd_fsck.c sets up, runs
 * the checks and chooses the exit.
 *
 * Offline: it reads the meta root and the backends directly, with the
 * core modules the daemon uses (config, keys, meta, manifest, store,
 * codec, policy).
 */
#ifndef GEOCTL_FSCK_H
#define GEOCTL_FSCK_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "idmap.h"
#include "keys.h"
#include "meta.h"
#include "progress.h"
#include "store.h"

enum fsck_kind {
	FK_DAMAGED,		/* a shard with no good replica, bad manifest, bad key */
	FK_DEGRADED,		/* some replica missing or bad, another good */
	FK_MISPLACED,		/* placement breaks the policy */
	FK_NO_ID,		/* regular file in the namespace without a file id */
	FK_SHARED_ID,		/* two distinct files with one file id */
	FK_ORPHAN_OBJECT,	/* object no manifest refers to */
	FK_ORPHAN_TEMP,		/* leftover temp file on a backend */
	FK_ORPHAN_MANIFEST,	/* manifest no file refers to */
	FK_META_TEMP,		/* leftover temp file in META/.geofs/tmp */
	FK_STUB_SIZE,		/* a stub's size is not its manifest's (what stat
				 * shows would be wrong): --repair sets it */
	FK_MISNAMED,		/* a name geofs never writes where objects or
				 * manifests live: reported, never deleted */
	FK_NO_KEY,		/* note: cannot authenticate, no key for the domain */
	FK_NKINDS
};

struct fsck_finding {
	enum fsck_kind kind;
	char *what;		/* "/path" in the namespace, or "backend relpath" */
	char *detail;
	uint64_t bytes;
	bool repaired;		/* --repair deleted exactly this file (a
				 * STUB-SIZE: set the stub's size) */
};

struct fsck {
	struct geo_config *cfg;
	struct keyring *kr;
	struct meta *meta;
	struct store *st;
	bool repair;
	struct idmap *files;	/* file id -> struct fsck_stub * */
	struct idmap *refs;	/* (backend, object id) referenced by a manifest */
	struct fsck_finding *f;
	size_t nf, capf;
	uint64_t nfiles, nobjects, object_bytes;
	int unreadable_manifests;	/* manifests of files that failed to load */
	int errors;		/* runtime errors: I/O, unreadable backend */
	struct progress prog;
	uint8_t *obj, *raw;	/* buffers for one object and its shard */
	size_t objcap, rawcap;
};

/* ---- fsck_findings.c ---- */

/* "DAMAGED", "ORPHAN-OBJECT", ... by kind: the names the report prints. */
extern const char *const fsck_kind_name[FK_NKINDS];

/* Records a finding. The detail is printf-formatted. 0 or -ENOMEM. */
int fsck_add(struct fsck *fk, enum fsck_kind kind, const char *what, uint64_t bytes,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reports a runtime error (exit 2) on stderr and counts it. */
void fsck_error(struct fsck *fk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the finding list (fk->f); fk stays usable. */
void fsck_free_findings(struct fsck *fk);

/* Whether a finding is still open: not a NO-KEY note, not repaired. */
bool fsck_is_finding(const struct fsck_finding *f);

/* ---- fsck_files.c, fsck_orphans.c ---- */

/* Checks every file below the meta root. 0 or -errno (fatal). */
int fsck_files(struct fsck *fk);

/* Frees what fsck_files() built (files, refs). */
void fsck_free_files(struct fsck *fk);

/* Orphan manifests, meta temp files, then every backend's orphan objects
 * and temp files; deletes them when fk->repair. 0 or -errno (fatal). */
int fsck_orphans(struct fsck *fk);

/* ---- fsck_report.c ---- */

/* The findings one per line ("KIND  WHAT: DETAIL", names escaped) and the
 * summary line, or (json) one JSON object, on stdout. */
void fsck_print_text(const struct fsck *fk);
void fsck_print_json(const struct fsck *fk);

#endif
