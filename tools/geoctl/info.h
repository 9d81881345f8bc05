/*
 * info.h — one path's geofs view, parsed from the user.geo.info xattr the
 * daemon serves (fs/xattrs.h lists the keys). This is all geoctl knows
 * about tags and placement on a mount: it never re-derives policy, since
 * the daemon's config is the one in force.
 *
 * Depends on country.h (country sets) from the core.
 */
#ifndef GEOCTL_INFO_H
#define GEOCTL_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "country.h"

enum info_type { INFO_OTHER, INFO_FILE, INFO_DIR, INFO_SYMLINK };

/* One backend holding shards of a file: from placement ("JP/tokyo-1"),
 * joined with backend_bytes ("tokyo-1:123"). A backend named only in
 * backend_bytes gets country "??". */
struct info_place {
	char country[3];
	char backend[CFG_NAME_MAX];
	uint64_t bytes;
};

struct geo_info {
	enum info_type type;
	char category[CFG_NAME_MAX];
	bool category_set;		/* set on this path, not inherited */
	char origin[3];
	bool origin_set;
	char store_in[256];		/* as served: "JP,KR" or "*" */
	char access_from[256];
	struct cset store_set;		/* the same, parsed */
	struct cset access_set;
	int replicas;
	bool is_file_data;		/* size/stored/... were present */
	uint64_t size, stored, shards;
	struct info_place *place;	/* nplace entries, sorted as served */
	int nplace;
	bool misplaced;
	char status[512];		/* "ok" or "misplaced <reason>" */
	const char *reason;		/* into status: the reason, or "" */
};

/* Reads and parses user.geo.info of path (following symlinks).
 * 0; -ENODATA when the path is not on geofs (ENOTSUP is mapped to it);
 * -EBADMSG when the daemon's text is malformed; other -errno from
 * getxattr (-ENOENT, -EACCES, ...). Free with info_free(), which is safe
 * after a failure too. */
int info_get(const char *path, struct geo_info *gi);

/* Parses a user.geo.info text (len bytes, not necessarily NUL-ended).
 * 0, -EBADMSG or -ENOMEM. */
int info_parse(const char *text, size_t len, struct geo_info *gi);

void info_free(struct geo_info *gi);		/* frees place[]; NULL ok */

/* Words for an info_get() error: "not on a geofs mount (no user.geo.info)"
 * for -ENODATA, the daemon-protocol message for -EBADMSG, else strerror. */
const char *info_strerror(int err);

/* True if a's allowed set is not within b's: a file tagged `a` may go
 * somewhere a directory tagged `b` would not let it (store_in or
 * access_from). */
bool info_looser(const struct geo_info *a, const struct geo_info *b);

/* Stored bytes of gi in country cc (sum over its backends there). */
uint64_t info_bytes_in(const struct geo_info *gi, const char *cc);

/* True if gi's store_in allows country cc ("JP"); false for "??". */
bool info_may_store(const struct geo_info *gi, const char *cc);

#endif
