/*
 * store_s3.c — the `s3` backend kind: objects in an S3 bucket
 * (store_kind.h; the key layout is in store.h), over s3_http.c.
 *
 * A put is `PUT PREFIX/objects/<hex>` with If-None-Match: *, so it never
 * overwrites. The transport retries it after a lost answer; if the first
 * attempt had landed, the retry meets 412 for our own object, so a 412
 * after more than one attempt is checked by reading the object back and
 * comparing it with what was sent: equal bytes are our put, not a
 * collision. An object is durable once the PUT succeeded (no sync).
 *
 * Health: any failure that is about the store rather than one object (a
 * transport error, 5xx, 403) marks the backend down with that error; a
 * success marks it up. While down, health() probes the marker at most
 * every PROBE_SECS, so a dead endpoint costs one connect timeout per
 * probe, not one per request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "marker.h"
#include "s3_creds.h"
#include "s3_http.h"
#include "s3_xml.h"
#include "store.h"
#include "store_kind.h"

#define PROBE_SECS 2

struct s3_backend {
	struct s3_http *http;
	char name[CFG_NAME_MAX];
	char prefix[CFG_S3_PREFIX_MAX + 1];	/* "" or "P/" */
	pthread_mutex_t lock;			/* guards the fields below */
	bool down;
	time_t probed;
	char last_error[256];
};

/* PREFIX/rel into out (S3_KEY_MAX + 1 bytes). */
static void key_of(const struct s3_backend *sb, const char *rel, char *out)
{
	snprintf(out, S3_KEY_MAX + 1, "%s%s", sb->prefix, rel);
}

static void object_key(const struct s3_backend *sb, const struct geo_id *oid, char *out)
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(oid, hex);
	snprintf(out, S3_KEY_MAX + 1, "%sobjects/%s", sb->prefix, hex);
}

/* Objects sit flat under PREFIX/objects/: a bucket needs no fan-out. */
static void s3_object_relpath(const struct geo_id *oid, char out[STORE_RELPATH_MAX])
{
	char hex[GEO_HEX_LEN + 1];

	geoid_hex(oid, hex);
	snprintf(out, STORE_RELPATH_MAX, "objects/%s", hex);
}

/* Whether an error is about the store (down) rather than one object. */
static bool store_fault(int rc)
{
	return rc && rc != -ENOENT && rc != -EEXIST && rc != -EFBIG && rc != -EINVAL &&
	       rc != -ENOMEM;
}

/* Records the outcome of a request for health and status. */
static int note(struct s3_backend *sb, int rc, const struct s3_req *r)
{
	pthread_mutex_lock(&sb->lock);
	if (store_fault(rc)) {
		if (!sb->down)
			log_warn("backend %s: %s (marked down)", sb->name, r->error);
		sb->down = true;
		sb->probed = time(NULL);
		snprintf(sb->last_error, sizeof(sb->last_error), "%s", r->error);
	} else if (sb->down && rc == 0) {
		log_info("backend %s: reachable again", sb->name);
		sb->down = false;
		sb->last_error[0] = '\0';
	} else if (rc == 0) {
		sb->down = false;
	}
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

static int request(struct s3_backend *sb, struct s3_req *r)
{
	return note(sb, s3_http_do(sb->http, r), r);
}

/* Creates the bucket (for --create); an existing one of ours is fine. */
static int create_bucket(struct s3_backend *sb, const struct cfg_backend *cb, char *err,
			 size_t errlen)
{
	struct s3_req r = { .method = "PUT" };
	int rc = request(sb, &r);

	if (rc == -EEXIST && r.status == 409)
		rc = 0;	/* BucketAlreadyOwnedByYou; someone else's fails later at the marker */
	if (rc)
		snprintf(err, errlen, "backend %s: cannot create bucket %s at %s: %s", cb->name,
			 cb->s3.bucket, cb->s3.endpoint, r.error);
	return rc;
}

static void s3_close(void *h);

static int s3_open(const struct cfg_backend *cb, const char *cfgfile, bool create, void **h,
		   char *err, size_t errlen)
{
	struct s3_backend *sb = calloc(1, sizeof(*sb));
	struct s3_creds *cr = NULL;
	char msg[768];
	int rc;

	if (!sb)
		return -ENOMEM;
	pthread_mutex_init(&sb->lock, NULL);
	snprintf(sb->name, sizeof(sb->name), "%s", cb->name);
	snprintf(sb->prefix, sizeof(sb->prefix), "%s%s", cb->s3.prefix, cb->s3.prefix[0] ? "/" : "");
	rc = s3_creds_load(cb->s3.credentials, cb->s3.profile, &cr, msg, sizeof(msg));
	if (rc) {
		snprintf(err, errlen, "%s:%d: backend %s: credentials: %s", cfgfile, cb->line,
			 cb->name, msg);
		goto fail;
	}
	struct s3_http_conf conf = {
		.endpoint = cb->s3.endpoint, .bucket = cb->s3.bucket, .region = cb->s3.region,
		.key_id = cr->key_id, .secret = cr->secret, .ca_file = cb->s3.ca_file,
		.connect_timeout = cb->s3.connect_timeout, .request_timeout = cb->s3.request_timeout,
	};
	rc = s3_http_new(&conf, &sb->http);
	s3_creds_free(cr);
	if (rc) {
		snprintf(err, errlen, "backend %s: cannot set up the S3 client: %s", cb->name,
			 strerror(-rc));
		goto fail;
	}
	if (create && (rc = create_bucket(sb, cb, err, errlen)) != 0)
		goto fail;
	*h = sb;
	return 0;
fail:
	s3_close(sb);
	return rc;
}

static void s3_close(void *h)
{
	struct s3_backend *sb = h;

	if (!sb)
		return;
	s3_http_free(sb->http);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

static long s3_marker_read(void *h, char *buf, size_t cap)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "GET", .key = key, .out = buf, .cap = cap - 1 };
	int rc;

	key_of(sb, STORE_MARKER, key);
	rc = request(sb, &r);
	if (rc == -EFBIG)
		return -EINVAL;
	if (rc) {
		/* The caller's message names the marker; add why, once. */
		if (rc != -ENOENT)
			log_warn("backend %s: reading its marker: %s", sb->name, r.error);
		return rc;
	}
	buf[r.outlen] = '\0';
	return (long)r.outlen;
}

static int s3_marker_write(void *h, const char *text, size_t len)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "PUT", .key = key, .body = text, .len = len };

	key_of(sb, STORE_MARKER, key);
	int rc = request(sb, &r);
	if (rc)
		log_warn("backend %s: writing its marker: %s", sb->name, r.error);
	return rc;
}

/* After a 412 on a retried put: is the object there the one we sent? */
static bool ours(struct s3_backend *sb, const char *key, const void *obj, size_t len)
{
	void *buf = malloc(len + 1);
	struct s3_req r = { .method = "GET", .key = key, .out = buf, .cap = len + 1 };
	bool same;

	if (!buf)
		return false;
	same = request(sb, &r) == 0 && r.outlen == len && !memcmp(buf, obj, len);
	free(buf);
	return same;
}

static int s3_put(void *h, const struct geo_id *oid, const void *obj, size_t len)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "PUT", .key = key, .body = obj, .len = len,
			    .if_none_match = true };
	int rc;

	object_key(sb, oid, key);
	rc = request(sb, &r);
	if (rc == -EEXIST && r.attempts > 1 && ours(sb, key, obj, len))
		rc = 0;
	if (rc && rc != -EEXIST)
		log_warn("backend %s: %s", sb->name, r.error);
	return rc;
}

/* True while the backend is down and not due for a probe: a read then
 * fails at once, so that it falls over to a replica without waiting for
 * the timeouts once more. */
static bool known_down(struct s3_backend *sb)
{
	bool down;

	pthread_mutex_lock(&sb->lock);
	down = sb->down && time(NULL) - sb->probed < PROBE_SECS;
	pthread_mutex_unlock(&sb->lock);
	return down;
}

static long s3_get(void *h, const struct geo_id *oid, void *buf, size_t cap)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "GET", .key = key, .out = buf, .cap = cap };
	int rc;

	if (known_down(sb))
		return -EIO;
	object_key(sb, oid, key);
	rc = request(sb, &r);
	if (rc && rc != -ENOENT && rc != -EFBIG)
		log_warn("backend %s: %s", sb->name, r.error);
	return rc ? rc : (long)r.outlen;
}

static long s3_size(void *h, const struct geo_id *oid)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "HEAD", .key = key };
	int rc;

	object_key(sb, oid, key);
	rc = request(sb, &r);
	if (rc)
		return rc;
	return r.length >= 0 ? (long)r.length : -EIO;
}

static int delete_key(struct s3_backend *sb, const char *key)
{
	struct s3_req r = { .method = "DELETE", .key = key };
	int rc = request(sb, &r);

	if (rc && rc != -ENOENT)
		log_warn("backend %s: %s", sb->name, r.error);
	return rc;
}

static int s3_remove(void *h, const struct geo_id *oid, uint64_t *size)
{
	struct s3_backend *sb = h;
	char key[S3_KEY_MAX + 1];
	long n = s3_size(h, oid);	/* S3 answers 204 for a missing key too */

	if (n < 0)
		return (int)n;
	*size = (uint64_t)n;
	object_key(sb, oid, key);
	return delete_key(sb, key);
}

static int s3_health(void *h, uint64_t *avail)
{
	struct s3_backend *sb = h;
	time_t now = time(NULL);
	bool probe;
	int rc;

	*avail = STORE_AVAIL_UNKNOWN;
	pthread_mutex_lock(&sb->lock);
	probe = sb->down && now - sb->probed >= PROBE_SECS;
	rc = sb->down ? -EIO : 0;
	if (probe)
		sb->probed = now;
	pthread_mutex_unlock(&sb->lock);
	if (!probe)
		return rc;
	char key[S3_KEY_MAX + 1];
	struct s3_req r = { .method = "HEAD" };

	key_of(sb, STORE_MARKER, key);
	r.key = key;
	return request(sb, &r);
}

/* ---- listing --------------------------------------------------------------- */

struct walk {
	struct s3_backend *sb;
	store_walk_fn fn;
	void *arg;
	size_t plen;		/* strlen(prefix) */
};

static bool hex32(const char *s)
{
	if (strlen(s) != GEO_HEX_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int listed(const char *key, uint64_t size, void *arg)
{
	struct walk *w = arg;
	const char *rel = key + w->plen, *name = rel + sizeof("objects/") - 1;
	struct geo_id oid;

	if (strncmp(key, w->sb->prefix, w->plen) || strncmp(rel, "objects/", 8))
		return 0;	/* not under our prefix: not ours to report */
	if (hex32(name) && geoid_parse(name, &oid) == 0)
		return w->fn(&oid, rel, size, w->arg);
	return w->fn(NULL, rel, size, w->arg);
}

static int s3_walk(void *h, store_walk_fn fn, void *arg)
{
	struct s3_backend *sb = h;
	struct walk w = { sb, fn, arg, strlen(sb->prefix) };
	char *page = malloc(S3_LIST_PAGE_MAX), token[S3_TOKEN_MAX], etok[3 * S3_TOKEN_MAX + 1];
	char pfx[S3_KEY_MAX + 1], epfx[3 * S3_KEY_MAX + 1], query[sizeof(etok) + sizeof(epfx) + 64];
	bool more = true;
	int rc = 0;

	if (!page)
		return -ENOMEM;
	token[0] = '\0';
	key_of(sb, "objects/", pfx);
	if (s3_query_escape(pfx, epfx, sizeof(epfx)) < 0) {
		free(page);
		return -ENAMETOOLONG;
	}
	while (more && !rc) {
		struct s3_req r = { .method = "GET", .out = page, .cap = S3_LIST_PAGE_MAX };

		/* Parameters in sorted order: SigV4 signs the canonical query. */
		if (token[0] && s3_query_escape(token, etok, sizeof(etok)) < 0) {
			rc = -ENAMETOOLONG;
			break;
		}
		snprintf(query, sizeof(query), "%s%s%slist-type=2&prefix=%s",
			 token[0] ? "continuation-token=" : "", token[0] ? etok : "",
			 token[0] ? "&" : "", epfx);
		r.query = query;
		rc = request(sb, &r);
		if (rc) {
			log_warn("backend %s: listing: %s", sb->name, r.error);
			break;
		}
		rc = s3_list_parse(page, r.outlen, listed, &w, &more, token, sizeof(token));
		if (rc == -EINVAL)
			log_warn("backend %s: listing: the answer is no ListObjectsV2 page", sb->name);
	}
	free(page);
	return rc;
}

static int s3_remove_relpath(void *h, const char *relpath)
{
	char key[S3_KEY_MAX + 1];

	if (strstr(relpath, "..") || relpath[0] == '/' || strncmp(relpath, "objects/", 8))
		return -EINVAL;
	key_of(h, relpath, key);
	return delete_key(h, key);
}

static void s3_last_error(void *h, char *buf, size_t len)
{
	struct s3_backend *sb = h;

	pthread_mutex_lock(&sb->lock);
	snprintf(buf, len, "%s", sb->down ? sb->last_error : "");
	pthread_mutex_unlock(&sb->lock);
}

const struct store_kind store_kind_s3 = {
	.name = "s3",
	.remote = true,
	.open = s3_open,
	.close = s3_close,
	.marker_read = s3_marker_read,
	.marker_write = s3_marker_write,
	.prepare = NULL,
	.put = s3_put,
	.get = s3_get,
	.willneed = NULL,
	.size = s3_size,
	.remove = s3_remove,
	.sync = NULL,
	.sync_object = NULL,
	.health = s3_health,
	.statfs = NULL,
	.walk = s3_walk,
	.remove_relpath = s3_remove_relpath,
	.object_relpath = s3_object_relpath,
	.last_error = s3_last_error,
};
