/*
 * audit.h — the tamper-evident audit log (JSON lines, SHA-256 hash chain).
 *
 * Every record is one JSON object on one line:
 *   {"time":"2026-11-23T01:02:03.123456Z","site":"tokyo-app-01","uid":1000,
 *    "gid":1000,"pid":4242,"process":"python3","op":"open","intent":"read",
 *    "path":"/a/b.jpg","category":"media","origin":"JP","result":"ok",
 *    "countries":["JP"],"detail":"...","prev":"<sha256 hex of previous line>"}
 * result is "ok", "denied" (EACCES/EPERM) or "error:<ERRNO NAME>".
 * `prev` of the very first line of a chain is 64 zeros; the chain continues
 * across reopen and rotation (the last line's hash is read back at open).
 *
 * The daemon appends from many threads: audit_record() only queues (bounded
 * memory); a writer thread appends and fdatasync()s at most sync_ms after a
 * record was queued, so a power cut loses at most sync_ms of records.
 * Denials and integrity failures are flushed before audit_record() returns.
 *
 * audit_open(NULL path) gives a NULL log on which every call is a no-op.
 */
#ifndef GEOFS_AUDIT_H
#define GEOFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct audit;

struct audit_event {
	const char *op;		/* open, create, unlink, rename, settag, migrate,
				 * access-denied, placement-refused, auth-failure, ... */
	const char *intent;	/* "read", "write", "read-write", or NULL */
	const char *path;	/* path inside the mount, or NULL */
	const char *path2;	/* rename target, or NULL */
	const char *category;	/* NULL if not known */
	const char *origin;
	int result;		/* 0 ok, -EACCES/-EPERM denied, other -errno error */
	const char *countries;	/* comma-separated country codes touched, or NULL */
	const char *detail;	/* free text reason, or NULL */
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* Opens (creating, mode 0640) the log at path for site `site`, reading the
 * last line to continue the chain. sync_ms: the durability bound (0 means
 * fsync every record). *out is NULL when path is NULL. 0 or -errno with a
 * message in err. */
int audit_open(const char *path, const char *site, unsigned sync_ms,
	       struct audit **out, char *err, size_t errlen);

/* Queues one record (thread safe). Never fails the caller's operation:
 * a record that cannot be written is reported through log.h. */
void audit_record(struct audit *a, const struct audit_event *ev);

/* Writes and fsyncs everything queued. 0 or -errno. */
int audit_flush(struct audit *a);

/* Reopens the file at the same path (after logrotate renamed it); the new
 * file's first record carries the hash of the old file's last line. */
int audit_reopen(struct audit *a);

/* Flushes and closes; NULL ok. */
void audit_close(struct audit *a);

/* ---- reading (geoctl audit) ---- */

/* Verifies the chain of the file at path. prev_hex: the expected `prev` of
 * its first line (NULL: 64 zeros, or accept any first prev when
 * allow_any_start). Returns 0 when every line fits, or the 1-based number
 * of the first line that does not (*why explains), or -errno. last_hex
 * (may be NULL) receives the hash of the last line, to chain files. */
long audit_verify_file(const char *path, const char *prev_hex, bool allow_any_start,
		       char last_hex[65], char *why, size_t whylen);

#endif
