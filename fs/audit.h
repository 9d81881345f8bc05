/*
 * audit.h — the tamper-evident audit log (JSON lines, SHA-256 hash chain).
 *
 * Every record is one JSON object on one line:
 *   {"time":"2026-11-23T01:02:03.123456Z","site":"tokyo-app-01","uid":1000,
 *    "gid":1000,"pid":4242,"process":"python3","op":"open","intent":"read",
 *    "path":"/a/b.jpg","category":"media","origin":"JP","result":"ok",
 *    "countries":["JP"],"detail":"...","prev":"<sha256 hex of previous line>"}
 * result is "ok", "denied" (EACCES/EPERM) or "error:<ERRNO NAME>".
 * Integrity failures add "backend" (its name) and "object" (the object id,
 * 32 hex) after "detail". intent, path2, detail, backend and object are
 * left out when NULL; site, op, path, category and origin are null when
 * NULL. Strings go through the shared escaper
 * (json_esc.h): a byte that is not part of valid UTF-8 (names are bytes) is
 * written as \udc80..\udcff, which audit_rec_parse() and Python's
 * os.fsencode(json.loads(...)) turn back into that byte, so every line is
 * valid JSON and paths round-trip exactly. Logs written before that used
 * \u0080..\u00ff for such bytes; the parser still reads them as bytes, and
 * their chain still verifies (the hash is over the line's bytes).
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
	const char *op;		/* open, create, unlink, rename, settag, settag-refused,
				 * migrate, access-denied, placement-refused,
				 * auth-failure, ... */
	const char *intent;	/* "read", "write", "read-write", or NULL */
	const char *path;	/* path inside the mount, or NULL */
	const char *path2;	/* rename target, or NULL */
	const char *category;	/* NULL if not known */
	const char *origin;
	const char *old_category;	/* settag: the tags before; NULL elsewhere */
	const char *old_origin;
	int result;		/* 0 ok, -EACCES/-EPERM denied, other -errno error */
	const char *countries;	/* comma-separated country codes touched, or NULL */
	const char *detail;	/* free text reason, or NULL */
	const char *backend;	/* the backend an object is on, or NULL */
	const char *object;	/* that object's id (hex), or NULL */
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
 * file's first record carries the hash of the old file's last line.
 * Blocks until done (queued records go to the old file first): call it from
 * a thread, never from inside a signal handler. 0 or -errno (the old file
 * then stays in use). */
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

/* Longest line audit_open() ever writes (fields are capped to fit) and the
 * longest a reader accepts. */
#define AUDIT_LINE_MAX		(1u << 20)
#define AUDIT_REC_COUNTRIES_MAX	64

enum audit_line_kind {
	AUDIT_LINE_OK,		/* a line ended by '\n' */
	AUDIT_LINE_TORN,	/* the file's last bytes, with no '\n' after them */
	AUDIT_LINE_LONG,	/* longer than AUDIT_LINE_MAX: only its start is given */
};

/* Calls fn for each line of the file at path, in order, with lineno from 1
 * and the line without its '\n'. Memory stays bounded whatever the file
 * holds. Stops when fn returns nonzero and returns that value; else 0 at
 * the end of the file, or -errno if it cannot be read. */
int audit_read_lines(const char *path,
		     int (*fn)(void *ctx, long lineno, const char *line, size_t len,
			       enum audit_line_kind kind),
		     void *ctx);

/* One parsed record. Strings are decoded (\udc80..\udcff, and the older
 * \u0080..\u00ff, give back the raw byte they stand for) and NUL-free;
 * absent or null fields are NULL, absent integers -1. All strings live in mem, freed by audit_rec_free(). */
struct audit_rec {
	const char *time, *site, *process, *op, *intent, *path, *path2;
	const char *category, *origin, *result, *detail, *backend, *object, *prev;
	const char *old_category, *old_origin;	/* settag records since they exist */
	long long uid, gid, pid;
	const char *countries[AUDIT_REC_COUNTRIES_MAX];
	unsigned ncountries;
	char *mem;
};

/* Strictly parses one line (len bytes, no '\n') as a record: a flat JSON
 * object with every field audit_open() always writes, correctly typed,
 * no duplicate field, and "prev":"<64 lower-case hex>" as its last field.
 * Unknown fields (strings, integers, null, arrays of strings) are skipped.
 * Safe on any input (it is fuzzed). 0, -EINVAL with the reason in why
 * (rec is then empty), or -ENOMEM. Free with audit_rec_free(). */
int audit_rec_parse(const char *line, size_t len, struct audit_rec *rec,
		    char *why, size_t whylen);
void audit_rec_free(struct audit_rec *rec);	/* NULL ok */

#endif
