/*
 * reload.h — rereading the mount config while mounted (SIGHUP, or
 * setxattr user.geo.reload on the mount root via `geoctl reload`).
 *
 * Everything is prepared first, without blocking anyone: the new config is
 * parsed and validated, the keyring reloaded (keys imported since mount
 * become usable), and the new store opened, where a backend the running
 * config did not have (or at another path) must be present and carry its
 * marker. Only then does the reload take the core exclusively (waiting for
 * calls in progress), swap config, keyring, store and admin group, and
 * re-resolve the tags of every loaded file against the new categories.
 * On any error nothing changes and the old config stays in force.
 * systemd hears RELOADING=1 before and READY=1 after (log.h), and the log
 * says "reload: ok" or "reload: rejected: REASON".
 *
 * What takes effect for new writes and opens: categories (new, changed
 * store_in / access_from / replicas / compress), backends added, removed,
 * reweighted or drained, [defaults], the keyring. What needs a remount
 * (reported as a warning, or as an error where running on would be wrong):
 * [meta] path (error), [site] name, [audit], [data] cache_size.
 */
#ifndef GEOFS_RELOAD_H
#define GEOFS_RELOAD_H

#include <stddef.h>

#include "core.h"

/* Rereads c->config_path on behalf of r (audited as op "reload"). Never
 * call it with the core entered. Every problem is logged and written into
 * err (one per line). 0, or -EINVAL (invalid config, or a change that needs
 * a remount) / -errno, with the old config still in force. Reloads are
 * serialised. */
int core_reload(struct core *c, const struct geo_req *r, char *err, size_t errlen);

/* setxattr user.geo.reload on the mount root: root or the admin group may
 * reload (else -EPERM, audited); any failure is -EINVAL (the reasons go to
 * the log). Never call it with the core entered. */
int core_reload_xattr(struct core *c, const struct geo_req *r);

/* Observes every backend of the running config (store_state), tells log.h
 * (which forgets backends the config no longer has) and writes
 * "NAME CC up, NAME CC down, ..." into buf. For the mount and reload lines
 * and systemd's STATUS=. Call it with the core entered, or from the
 * thread that alone replaces the config (core_reload). */
void core_backends_report(struct core *c, char *buf, size_t len);

#endif
