/*
 * rewrap.h — moving file keys to a new version of their domain's key,
 * offline, on a meta root that a daemon may have mounted meanwhile.
 *
 * A key rotation (`geoctl keys rotate`) gives a domain a new current
 * version in the keyring, then rewraps the data key of each of the
 * domain's files under it: only the manifest's wrapped key and key
 * version change; shards, the file key itself and the manifest's
 * generation stay as they are (the content did not change).
 *
 * A mounted daemon replaces a manifest under an exclusive flock(2) of the
 * file's stub (gfile.c, commit), and rewrap_file() takes the same lock, so
 * neither ever overwrites a manifest the other wrote after reading it. A
 * daemon whose in-memory manifest predates the rewrap may still write the
 * old version back at its next commit: harmless, since old versions stay
 * in the keyring, and a later run finishes it.
 *
 * Depends on keys (wrapping), meta (manifest load/store), manifest.
 * No FUSE, no printing: failures are -errno for the caller to report.
 */
#ifndef GEOFS_REWRAP_H
#define GEOFS_REWRAP_H

#include <stdint.h>

#include "keys.h"
#include "manifest.h"
#include "meta.h"

/* rewrap_file(): the manifest was left alone (already at or past the
 * target version, or no longer in the domain: retagged meanwhile). */
#define REWRAP_SKIPPED 1

/* The key domain of a manifest ("ORIGIN:category") into out. */
void rewrap_domain_of(const struct manifest *mf, char out[KEYS_DOMAIN_MAX]);

/* Rewraps mf's file key, in memory, from mf->key_version to version `to`
 * of the manifest's domain, and sets mf->key_version = to. 0; -ENOKEY if
 * kr cannot produce the old or the new domain key; -EIO if the wrapped key
 * does not authenticate under the old one (wrong key, or a damaged or
 * swapped manifest); -EINVAL for a malformed domain. On failure mf is
 * unchanged. No key material outlives the call. */
int rewrap_manifest(const struct keyring *kr, struct manifest *mf, uint32_t to);

/* The whole step for one file of a live meta root: with stubfd (the file's
 * stub in the namespace, opened O_RDWR: NFS refuses LOCK_EX on a file
 * open read-only, EBADF) locked exclusively, loads its
 * manifest (the file its id names, or the stub's own), rewraps it to
 * version `to` of `domain` if it is of that domain and below `to`, and
 * stores it durably where it was (temp + fsync + rename, or the stub's
 * xattr + fsync). *was (may be NULL) gets the version found.
 * 0 rewrapped; REWRAP_SKIPPED; -ENODATA if the stub carries no file id;
 * -ENOENT if its manifest is missing; -EINVAL if it is malformed; the
 * errors of rewrap_manifest(); the -errno of a failed lock or unlock
 * (fileio_flock: nothing is changed when the lock fails); other -errno
 * on I/O. */
int rewrap_file(struct meta *m, const struct keyring *kr, int stubfd, const char *domain,
		uint32_t to, uint32_t *was);

#endif
