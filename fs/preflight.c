/*
 * preflight.c — the checks the mount makes before it opens anything, shared
 * with `geoctl check` (see preflight.h). Each check_* function looks at one
 * thing and adds one line per problem; backends are checked per kind.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appendf.h"
#include "keys.h"
#include "marker.h"
#include "preflight.h"
#include "store.h"

__attribute__((format(printf, 2, 3)))
static void problem(struct preflight *pf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappendf_line(pf->errors, pf->errors_len, fmt, ap);
	va_end(ap);
	pf->nerrors++;
}

__attribute__((format(printf, 2, 3)))
static void warning(struct preflight *pf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappendf_line(pf->warnings, pf->warnings_len, fmt, ap);
	va_end(ap);
	pf->nwarnings++;
}

/* keyring_load() holds the mount's rules (mode, owner, content): run it. */
static void check_keyring(const struct geo_config *cfg, struct preflight *pf)
{
	struct keyring *kr = NULL;
	char err[CFG_ERR_MAX] = "";
	int rc = keyring_load(cfg->keyring_path, &kr, err, sizeof(err));

	keyring_free(kr);
	if (rc == -ENOENT)
		problem(pf, "keyring %s does not exist; create it (with the meta root, the audit "
			"directory and the backend markers of a new site) with: geoctl keys init -c %s",
			cfg->keyring_path, cfg->file);
	else if (rc)
		problem(pf, "keyring %s", err);
}

int preflight_admin_gid(const struct geo_config *cfg, gid_t *gid)
{
	struct group *gr;

	if (!cfg->admin_group[0])
		return -ENODATA;
	gr = getgrnam(cfg->admin_group);
	if (!gr)
		return -ENOENT;
	*gid = gr->gr_gid;
	return 0;
}

static void check_admin_group(const struct geo_config *cfg, struct preflight *pf)
{
	gid_t gid;

	if (preflight_admin_gid(cfg, &gid) == -ENOENT)
		warning(pf, "admin_group '%s' does not exist, so only root may loosen tags or "
			"change origins; create it with: groupadd %s", cfg->admin_group,
			cfg->admin_group);
}

/* 0 if path is a directory; else -errno (-ENOTDIR for another file). */
static int is_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void check_meta(const struct geo_config *cfg, struct preflight *pf)
{
	int rc = is_dir(cfg->meta_path);

	if (rc == -ENOENT)
		problem(pf, "meta root %s does not exist; create it with: mkdir -p -m 0700 %s",
			cfg->meta_path, cfg->meta_path);
	else if (rc)
		problem(pf, "meta root %s: %s", cfg->meta_path, strerror(-rc));
}

static void check_audit(const struct geo_config *cfg, struct preflight *pf)
{
	char *dir;
	struct stat st;
	int rc;

	if (!cfg->audit_path)
		return;
	dir = strdup(cfg->audit_path);
	if (!dir) {
		problem(pf, "audit log %s: %s", cfg->audit_path, strerror(ENOMEM));
		return;
	}
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	rc = is_dir(dir);
	if (rc == -ENOENT)
		problem(pf, "audit log %s: its directory %s does not exist; create it with: "
			"mkdir -p -m 0700 %s", cfg->audit_path, dir, dir);
	else if (rc)
		problem(pf, "audit log %s: directory %s: %s", cfg->audit_path, dir, strerror(-rc));
	else if (stat(cfg->audit_path, &st) == 0 && !S_ISREG(st.st_mode))
		problem(pf, "audit log %s exists but is not a regular file", cfg->audit_path);
	free(dir);
}

/* ---- backends, by kind ---- */

int preflight_backend(const struct geo_config *cfg, int b, bool *dir_missing, char *msg,
		      size_t len)
{
	const struct cfg_backend *cb = &cfg->backends[b];
	struct stat st;
	/* A directory backend whose directory is not there is told apart
	 * (MISSING: mount its storage), from an unmarked or mismarked one. */
	bool missing = cb->path && stat(cb->path, &st) < 0 && errno == ENOENT;
	/* Every kind through the store, as the mount opens it: reach it, read
	 * its marker, judge it (one message per problem, with its fix). */
	int rc = store_check_backend(cb, cfg->file, msg, len);
	if (dir_missing)
		*dir_missing = missing;
	return rc;
}

static void check_backends(const struct geo_config *cfg, struct preflight *pf)
{
	for (int b = 0; b < cfg->nbackends; b++) {
		char msg[1024];

		if (preflight_backend(cfg, b, NULL, msg, sizeof(msg)) < 0)
			problem(pf, "%s", msg);
	}
}

int preflight_run(const struct geo_config *cfg, struct preflight *pf)
{
	if (pf->errors && pf->errors_len)
		pf->errors[0] = '\0';
	if (pf->warnings && pf->warnings_len)
		pf->warnings[0] = '\0';
	pf->nerrors = pf->nwarnings = 0;
	check_keyring(cfg, pf);
	check_admin_group(cfg, pf);
	check_meta(cfg, pf);
	check_audit(cfg, pf);
	check_backends(cfg, pf);
	return pf->nerrors;
}
