/*
 * log.c — log lines to stderr, syslog or the journal, filtered by level,
 * and the daemon's state notifications to systemd. See log.h. With
 * fs/main.c the only file that includes systemd's headers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION	/* CODE_FILE= of log.c itself says nothing */
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "utf8.h"

#define LINE_MAX_LOG	2048
#define BACKENDS_MAX	64
#define NAME_MAX_LOG	64

static enum log_level log_level = LOG_LVL_INFO;
static enum log_dest log_dest = LOG_DEST_STDERR;

/* What STATUS= reports; guarded by state_lock. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[NAME_MAX_LOG];
	bool up;
} backends[BACKENDS_MAX];
static int nbackends;
static char status_mnt[1024];
static bool ready;	/* READY=1 sent: STATUS= follows backend changes */

void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

bool log_enabled(enum log_level lvl)
{
	return lvl <= log_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct { const char *name; enum log_level lvl; } names[] = {
		{ "error", LOG_LVL_ERR }, { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

/* $JOURNAL_STREAM is "DEV:INODE" of the journal's socket when systemd
 * connected stdout/stderr to it: it counts only if fd 2 is that socket
 * (a child of the service with stderr redirected keeps the variable). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(void)
{
	if (stderr_is_journal())
		log_dest = LOG_DEST_JOURNAL;
}

void log_daemonized(void)
{
	if (log_dest == LOG_DEST_JOURNAL)
		return;
	if (getenv("INVOCATION_ID") && sd_booted() > 0) {
		log_dest = LOG_DEST_JOURNAL;
		return;
	}
	openlog("geofs", LOG_PID, LOG_DAEMON);
	log_dest = LOG_DEST_SYSLOG;
}

enum log_dest log_destination(void)
{
	return log_dest;
}

char *log_escape(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (outlen == 0)
		return out;
	while (*p) {
		size_t n = utf8_len(p, SIZE_MAX);
		char tmp[5];
		size_t tl;

		/* C0/C1 controls, DEL, backslash and stray bytes: \xNN. */
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f || *p == '\\')) ||
		    (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
			tl = 4;
			n = 1;
		} else {
			memcpy(tmp, p, n);
			tl = n;
		}
		if (o + tl + 4 > outlen) {	/* room for "..." and the NUL */
			snprintf(out + o, outlen - o, "...");
			return out;
		}
		memcpy(out + o, tmp, tl);
		o += tl;
		p += n;
	}
	out[o] = '\0';
	return out;
}

static const char *level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR: return "error";
	case LOG_LVL_WARN: return "warning";
	case LOG_LVL_INFO: return "info";
	case LOG_LVL_DEBUG: return "debug";
	}
	return "log";
}

/* One journal entry; a field whose value is NULL is left out. */
static void journal_send(enum log_level lvl, const char *msg, const char *event,
			 const char *path, const char *backend)
{
	const char *keys[] = { "MESSAGE=", "GEOFS_EVENT=", "GEOFS_PATH=", "GEOFS_BACKEND=" };
	const char *vals[] = { msg, event, path, backend };
	struct iovec iov[2 * 4 + 2];
	char prio[16];
	int n = 0;

	snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)lvl);
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=geofs", 23 };
	for (int i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		/* Key and value as one field: libsystemd joins nothing itself. */
		size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
		char *f = malloc(kl + vl);
		if (!f)
			continue;
		memcpy(f, keys[i], kl);
		memcpy(f + kl, vals[i], vl);
		iov[n++] = (struct iovec){ f, kl + vl };
	}
	sd_journal_sendv(iov, n);
	for (int i = 2; i < n; i++)
		free(iov[i].iov_base);
}

static void emit(enum log_level lvl, const char *event, const char *path, const char *backend,
		 const char *fmt, va_list ap)
{
	char line[LINE_MAX_LOG];

	vsnprintf(line, sizeof(line), fmt, ap);
	switch (log_dest) {
	case LOG_DEST_JOURNAL:
		journal_send(lvl, line, event, path, backend);
		break;
	case LOG_DEST_SYSLOG:
		syslog((int)lvl, "%s", line);
		break;
	case LOG_DEST_STDERR:
		fprintf(stderr, "geofs: %s: %s\n", level_name(lvl), line);
		break;
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	emit(lvl, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_event(enum log_level lvl, const char *event, const char *path, const char *backend,
	       const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	emit(lvl, event, path, backend, fmt, ap);
	va_end(ap);
}

/* ---- systemd state ---------------------------------------------------- */

static void counts_locked(int *up, int *down)
{
	*up = *down = 0;
	for (int i = 0; i < nbackends; i++)
		*(backends[i].up ? up : down) += 1;
}

/* STATUS= from the current counts. Caller holds state_lock. */
static void send_status_locked(const char *extra)
{
	int up, down;

	counts_locked(&up, &down);
	sd_notifyf(0, "%sSTATUS=serving %s: %d backend%s up, %d down", extra ? extra : "",
		   status_mnt, up, up == 1 ? "" : "s", down);
}

void log_backend(const char *name, const char *country, bool up, const char *reason)
{
	int i;
	bool changed;

	pthread_mutex_lock(&state_lock);
	for (i = 0; i < nbackends && strcmp(backends[i].name, name) != 0; i++)
		;
	if (i == nbackends && i < BACKENDS_MAX) {
		snprintf(backends[i].name, sizeof(backends[i].name), "%s", name);
		backends[i].up = !up;	/* a first sighting: news only when down */
		nbackends++;
		changed = !up;
	} else {
		changed = i < nbackends && backends[i].up != up;
	}
	if (i < nbackends)
		backends[i].up = up;
	if (changed && ready)
		send_status_locked(NULL);
	pthread_mutex_unlock(&state_lock);
	if (!changed)
		return;
	if (up)
		log_event(LOG_LVL_INFO, "backend-up", NULL, name, "backend %s (%s) back up%s%s",
			  name, country, reason ? ": " : "", reason ? reason : "");
	else
		log_event(LOG_LVL_WARN, "backend-down", NULL, name, "backend %s (%s) marked down: %s",
			  name, country, reason ? reason : "unusable");
}

void log_backends_retain(const char *const *names, int n)
{
	int k = 0;

	pthread_mutex_lock(&state_lock);
	for (int i = 0; i < nbackends; i++) {
		bool keep = false;
		for (int j = 0; j < n && !keep; j++)
			keep = strcmp(backends[i].name, names[j]) == 0;
		if (keep)
			backends[k++] = backends[i];
	}
	nbackends = k;
	pthread_mutex_unlock(&state_lock);
}

void log_backend_counts(int *up, int *down)
{
	pthread_mutex_lock(&state_lock);
	counts_locked(up, down);
	pthread_mutex_unlock(&state_lock);
}

void log_status_mountpoint(const char *mnt)
{
	pthread_mutex_lock(&state_lock);
	snprintf(status_mnt, sizeof(status_mnt), "%s", mnt);
	pthread_mutex_unlock(&state_lock);
}

void log_notify_ready(void)
{
	pthread_mutex_lock(&state_lock);
	ready = true;
	send_status_locked("READY=1\n");
	pthread_mutex_unlock(&state_lock);
}

void log_notify_reloading(void)
{
	struct timespec ts;

	/* systemd 253+ wants the time with RELOADING=1 (Type=notify-reload). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading the config\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull +
		   (unsigned long long)ts.tv_nsec / 1000u);
}

void log_notify_stopping(void)
{
	pthread_mutex_lock(&state_lock);
	ready = false;
	pthread_mutex_unlock(&state_lock);
	sd_notify(0, "STOPPING=1\nSTATUS=unmounting");
}
