/*
 * preflight.h — everything outside the config file that the mount needs in
 * place, checked in one go: the keyring (present, mode, owner, content),
 * the admin group, the meta root, the audit log's directory and each
 * backend (per kind: a directory carrying its marker). The daemon runs it
 * before it opens anything, and `geoctl check` runs the very same checks,
 * so check finds exactly what the mount would refuse.
 *
 * Each problem is one line naming the path or value and the command that
 * fixes it. Depends on config.h, keys.h and marker.h; creates nothing.
 */
#ifndef GEOFS_PREFLIGHT_H
#define GEOFS_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* What preflight_run() found. The caller provides the buffers; lines are
 * appended, '\n'-separated, and cut (never overflowed) when a buffer is
 * full. */
struct preflight {
	char *errors;		/* the mount refuses to start on these */
	size_t errors_len;
	char *warnings;		/* it starts, but something is off */
	size_t warnings_len;
	int nerrors, nwarnings;
};

/* Runs every check on cfg. Returns pf->nerrors (0: the mount would find
 * everything in place). */
int preflight_run(const struct geo_config *cfg, struct preflight *pf);

/* The backend check alone, for one backend: 0, or -errno with one line in
 * msg (store_check_backend()'s); *dir_missing tells a missing directory apart. */
int preflight_backend(const struct geo_config *cfg, int b, bool *dir_missing, char *msg,
		      size_t len);

/* cfg's admin group as a gid: 0, -ENOENT if it does not exist, -ENODATA if
 * the config sets none. */
int preflight_admin_gid(const struct geo_config *cfg, gid_t *gid);

#endif
