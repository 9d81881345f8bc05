/*
 * log.h — the daemon's and tools' only way to print diagnostics, and the
 * daemon's only voice towards systemd.
 *
 * Destinations (log_open / log_daemonized, called by the daemon only):
 *   the journal, with structured fields (sd_journal_send), when stderr is
 *     the journal stream of a systemd service ($JOURNAL_STREAM names it), or
 *     when a daemonized geofs runs under systemd ($INVOCATION_ID, sd_booted);
 *   syslog once daemonized otherwise;
 *   stderr ("geofs: LEVEL: message") in every other case, and in the tools.
 * Levels filter like syslog's. Never pass key material or credentials: a
 * message names things (backends, paths, categories), never secrets.
 * Paths in a message go through log_escape() (no terminal or log
 * injection); a journal's GEOFS_PATH field carries the raw bytes.
 *
 * Thread safe. The systemd calls are no-ops where $NOTIFY_SOCKET is unset.
 */
#ifndef GEOFS_LOG_H
#define GEOFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

enum log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG, LOG_DEST_JOURNAL };

void log_set_level(enum log_level lvl);
/* True if a message of level lvl would be written (skip costly formatting). */
bool log_enabled(enum log_level lvl);
/* Parses "error", "warning", "info", "debug". 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);

/* At start: the journal if stderr is a systemd service's journal stream,
 * else stderr. */
void log_open(void);
/* When detaching from the terminal: the journal under systemd, else syslog. */
void log_daemonized(void);
enum log_dest log_destination(void);

/* A plain message. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An event of the daemon's life: the message, plus GEOFS_EVENT=event and,
 * when not NULL, GEOFS_PATH=path and GEOFS_BACKEND=backend as journal
 * fields (elsewhere only the message is written). */
void log_event(enum log_level lvl, const char *event, const char *path, const char *backend,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Writes a printable form of s into out (always NUL-terminated): valid
 * UTF-8 text stays, control characters, backslashes and stray bytes become
 * \xNN; cut with "..." if out is too small. Returns out. */
char *log_escape(const char *s, char *out, size_t outlen);

/*
 * Backend health, observed by whoever finds it out (the store, an S3
 * backend...): call with every observation; only a change is logged
 * ("backend NAME (CC) marked down: REASON", "... back up"), and a first
 * sighting only when it is down. reason may be NULL. Keeps the counts of
 * the STATUS= line sent to systemd.
 */
void log_backend(const char *name, const char *country, bool up, const char *reason);
/* After a reload: forgets backends not among names[0..n-1]. */
void log_backends_retain(const char *const *names, int n);
/* Backends currently known up and down. */
void log_backend_counts(int *up, int *down);

/*
 * systemd notifications (sd_notify). log_status_mountpoint() names the
 * mount in STATUS= ("serving /srv/data: 3 backends up, 0 down").
 */
void log_status_mountpoint(const char *mnt);
void log_notify_ready(void);		/* READY=1 and STATUS= */
void log_notify_reloading(void);	/* RELOADING=1, MONOTONIC_USEC= */
void log_notify_stopping(void);		/* STOPPING=1 */

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
