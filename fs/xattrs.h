/*
 * xattrs.h — the extended attributes geofs serves on a mount: the stable
 * interface between the daemon and geoctl (and any admin script).
 *
 *   user.geo.category   rw  data category (declared in the config)
 *   user.geo.origin     rw  ISO 3166-1 alpha-2 origin country
 *                           On a directory both are the defaults that new
 *                           children copy. Removing one resets it to the
 *                           parent directory's value (same rules as set).
 *   user.geo.placement  ro  files: "JP/tokyo-1,JP/osaka-1" — COUNTRY/backend
 *                           pairs holding any shard, sorted, no duplicates;
 *                           "" for a file with no stored shard
 *   user.geo.status     ro  files: "ok" or "misplaced <reason>"
 *   user.geo.migrate    wo  files: any value moves misplaced shards to a
 *                           compliant placement before returning (EACCES if
 *                           none exists); the value "spread" re-places every
 *                           shard by weight and free space
 *   user.geo.info       ro  everything geoctl shows, as "key=value" lines:
 *        type=file|dir|symlink|other
 *        category=NAME           category_src=set|inherited
 *        origin=CC               origin_src=set|inherited
 *        store_in=JP,KR|*        allowed storage countries (resolved)
 *        access_from=JP|*        allowed site countries (resolved)
 *        replicas=N              required by the policy
 *        size=BYTES              logical size            (files)
 *        stored=BYTES            object bytes, all replicas (files)
 *        shards=N                shards holding data       (files)
 *        placement=...           as user.geo.placement     (files)
 *        backend_bytes=tokyo-1:123,seoul-1:456   stored bytes per backend (files)
 *        status=ok|misplaced <reason>            (files; last line)
 *
 * On the root directory of the mount only, for root and the admin group:
 *   user.geo.stats      ro  the daemon's status as one JSON object (site,
 *                           policy, backends with state/objects/bytes/free,
 *                           counters since mount, cache hit rate): what
 *                           `geoctl status MOUNT` shows (fs/stats.h);
 *                           EACCES for anyone else
 *   user.geo.reload     wo  any value: reread the config (as SIGHUP does);
 *                           fails with EINVAL, keeping the old config, when
 *                           the new one is invalid (errors go to the log);
 *                           EPERM for anyone else
 *
 * Other user.* names are plain xattrs kept in the meta root; the prefix
 * user.geofs. is reserved for geofs's own bookkeeping in the meta root and
 * is neither visible nor settable through the mount.
 */
#ifndef GEOFS_XATTRS_H
#define GEOFS_XATTRS_H

#define XA_PREFIX     "user.geo."
#define XA_CATEGORY   "user.geo.category"
#define XA_ORIGIN     "user.geo.origin"
#define XA_PLACEMENT  "user.geo.placement"
#define XA_STATUS     "user.geo.status"
#define XA_MIGRATE    "user.geo.migrate"
#define XA_INFO       "user.geo.info"
#define XA_STATS      "user.geo.stats"
#define XA_RELOAD     "user.geo.reload"
#define XA_RESERVED   "user.geofs."

#endif
