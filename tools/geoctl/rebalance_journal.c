/*
 * rebalance_journal.c — what lets `rebalance --spread` be resumed (see
 * rebalance.h). Every file is re-placed on purpose, so a rerun cannot tell
 * from a file's placement whether it was spread already; the journal says
 * so. One file per command (the mount and the PATH arguments, resolved) in
 * $XDG_STATE_HOME/geoctl (default ~/.local/state/geoctl), named by the
 * SHA-256 of that command, holding a header and the absolute path of every
 * file spread so far, each NUL-terminated. A path is appended as soon as
 * its file is spread, so an interrupt or kill -9 keeps what was done; a run
 * that leaves nothing to do removes the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appendf.h"
#include "array.h"
#include "crypto.h"
#include "fileio.h"
#include "geoctl.h"
#include "mkdirs.h"
#include "mountinfo.h"
#include "rebalance.h"

#define JOURNAL_MAGIC "geoctl-spread 1"
#define JOURNAL_MAX   ((size_t)1 << 30)

/* $XDG_STATE_HOME/geoctl, or $HOME/.local/state/geoctl. */
static int state_dir(char *buf, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	size_t pos = 0;

	if (x && x[0] == '/')
		appendf(buf, len, &pos, "%s/geoctl", x);
	else if (home && home[0] == '/')
		appendf(buf, len, &pos, "%s/.local/state/geoctl", home);
	else
		return -ENOENT;
	return pos < len ? 0 : -ENAMETOOLONG;
}

/* The command the journal belongs to: header, mount, resolved PATHs. */
static int command_key(char *const *paths, int npaths, char *buf, size_t len, size_t *used)
{
	char mount[PATH_MAX], real[PATH_MAX];
	size_t pos = 0;
	int rc = mountinfo_point_of(paths[0], mount, sizeof(mount));

	if (rc < 0)
		return rc;
	appendf(buf, len, &pos, "%s%cmount %s%c", JOURNAL_MAGIC, 0, mount, 0);
	for (int i = 0; i < npaths; i++) {
		if (!realpath(paths[i], real))
			return -errno;
		appendf(buf, len, &pos, "path %s%c", real, 0);
	}
	appendf(buf, len, &pos, "%c", 0);	/* an empty record ends the header */
	if (pos >= len)
		return -ENAMETOOLONG;
	*used = pos;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the paths after the header into rj->done, sorted. -EINVAL when the
 * file does not start with this command's header. */
static int load(struct rjournal *rj, const char *key, size_t keylen)
{
	int fd = open(rj->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;
	size_t len, cap = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = fileio_read_whole(fd, JOURNAL_MAX, &rj->text, &len);
	close(fd);
	if (rc < 0)
		return rc;
	if (len < keylen || memcmp(rj->text, key, keylen) != 0)
		return -EINVAL;
	for (size_t off = keylen; off < len; ) {
		char **d = array_grow(rj->done, &cap, rj->ndone, sizeof(*d));
		size_t n = strnlen(rj->text + off, len - off);

		if (!d)
			return -ENOMEM;
		rj->done = d;
		if (off + n == len)	/* a torn last record (kill -9 mid-write) */
			break;
		d[rj->ndone++] = rj->text + off;
		off += n + 1;
	}
	qsort(rj->done, rj->ndone, sizeof(*rj->done), cmp_str);
	return 0;
}

int rjournal_open(struct rjournal *rj, char *const *paths, int npaths)
{
	char dir[PATH_MAX], key[16384], hex[65];
	size_t keylen = 0, pos = 0;
	int rc;

	memset(rj, 0, sizeof(*rj));
	rj->fd = -1;
	rc = state_dir(dir, sizeof(dir));
	if (rc == 0)
		rc = command_key(paths, npaths, key, sizeof(key), &keylen);
	if (rc < 0) {
		geoctl_err("rebalance: --spread cannot keep a journal (%s%s): an interrupted "
			   "run will start over", strerror(-rc),
			   rc == -ENOENT ? "; neither XDG_STATE_HOME nor HOME is set" : "");
		return 0;
	}
	crypto_sha256_hex(key, keylen, hex);
	appendf(rj->file, sizeof(rj->file), &pos, "%s/spread-%.32s", dir, hex);
	memcpy(rj->dir, dir, sizeof(dir));
	rj->key = malloc(keylen);
	if (!rj->key)
		return -ENOMEM;
	memcpy(rj->key, key, keylen);
	rj->keylen = keylen;
	rc = load(rj, key, keylen);
	if (rc == -EINVAL)
		geoctl_err("rebalance: %s is not the journal of this command; remove it to go on",
			   rj->file);
	else if (rc < 0)
		geoctl_err("rebalance: reading %s: %s", rj->file, strerror(-rc));
	return rc;
}

/* path made absolute against the working directory, as the journal keeps
 * it (the names below a PATH are not resolved: the walk gives them). The
 * length, or -errno. */
static long abs_path(const char *path, char buf[PATH_MAX])
{
	char cwd[PATH_MAX];
	size_t pos = 0;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	appendf(buf, PATH_MAX, &pos, "%s%s%s", path[0] == '/' ? "" : cwd,
		path[0] == '/' ? "" : "/", path);
	return pos < PATH_MAX ? (long)pos : -ENAMETOOLONG;
}

bool rjournal_done(const struct rjournal *rj, const char *path)
{
	char abs[PATH_MAX];
	const char *key = abs;

	return rj->ndone && abs_path(path, abs) >= 0 &&
	       bsearch(&key, rj->done, rj->ndone, sizeof(*rj->done), cmp_str);
}

/* Opens the journal for appending, writing the header if it is new, and
 * ending a record that a kill -9 tore (that path is simply spread again). */
static int open_append(struct rjournal *rj)
{
	char last;
	off_t end;
	int rc;

	rc = mkdir_p(rj->dir, 0700, 0700);
	if (rc < 0)
		return rc;
	rj->fd = open(rj->file, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rj->fd < 0)
		return -errno;
	end = lseek(rj->fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	if (end == 0)
		return fileio_write_all(rj->fd, rj->key, rj->keylen);
	if (fileio_pread_full(rj->fd, &last, 1, end - 1) == 1 && last != '\0')
		return fileio_write_all(rj->fd, "", 1);	/* end a torn record */
	return 0;
}

void rjournal_add(struct rjournal *rj, const char *path)
{
	char abs[PATH_MAX];
	long n;
	int rc;

	if (!rj->key || rj->broken)
		return;
	n = abs_path(path, abs);
	rc = n < 0 ? (int)n : 0;
	if (!rc && rj->fd < 0)
		rc = open_append(rj);
	if (!rc)
		rc = fileio_write_all(rj->fd, abs, (size_t)n + 1);
	if (rc < 0) {
		rj->broken = true;
		geoctl_err("rebalance: writing %s: %s: an interrupted run will spread again "
			   "what it already spread", rj->file, strerror(-rc));
	}
}

void rjournal_close(struct rjournal *rj, bool finished)
{
	if (rj->key && rj->fd >= 0)	/* a zeroed struct was never opened */
		close(rj->fd);
	if (finished && rj->key && unlink(rj->file) < 0 && errno != ENOENT)
		geoctl_err("rebalance: removing %s: %s", rj->file, strerror(errno));
	free(rj->done);
	free(rj->text);
	free(rj->key);
	memset(rj, 0, sizeof(*rj));
	rj->fd = -1;
}
