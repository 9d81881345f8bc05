/*
 * cmd_status.c — `geoctl status MOUNT [--json]`: what a running geofs
 * reports about itself (user.geo.stats on the mount root, see fs/stats.h):
 * site, policy in force, backends with state, objects, bytes and free
 * space, misplaced files, counters and rates since mount, cache hit rate.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "appendf.h"
#include "geoctl.h"
#include "json.h"
#include "jsonread.h"
#include "mountinfo.h"
#include "table.h"
#include "xattrs.h"

static const char help[] =
"usage: geoctl status [--json] MOUNT\n"
"\n"
"Shows what the geofs daemon serving MOUNT (its mount point, or any path on\n"
"it) reports about itself: the site and the policy in force (after any\n"
"reload), each backend with its country, state, the objects and bytes it\n"
"holds and its free space, the files seen misplaced since mount, the\n"
"operations, bytes, refusals and integrity failures since mount with\n"
"current rates, and the shard cache's hit rate. It reads the extended\n"
"attribute user.geo.stats of the mount root, which only root and members of\n"
"the config's admin_group may read.\n"
"\n"
"Backend states:\n"
"  ok           present, marked, writable, with room for a shard\n"
"  full         less free space than one shard\n"
"  unreachable  missing, unmarked or failing: nothing is read or written there\n"
"               (the storage's last error is printed below the table)\n"
"  draining     drain = yes: receives nothing new; geoctl rebalance empties it\n"
"OBJECTS and STORED are counted by one walk of each backend after mount (or\n"
"after a reload adds it), then kept current as this daemon stores and deletes\n"
"objects; \"counting\" shows until that walk ends. Objects written by other\n"
"mounts of the same backends show at the next mount.\n"
"\n"
"Options:\n"
"      --json   print the status as one JSON object: version, site, country,\n"
"               config, metrics_path, pid, started, uptime_s, reloads,\n"
"               reload_failures, last_reload, last_reload_result, policy\n"
"               {default_category, default_origin, categories [{name,\n"
"               store_in [CC|origin|*], access_from [CC|origin|*], replicas,\n"
"               compress (lz4|off)}]}, backends [{name, country, path,\n"
"               weight, drain, state, counted, objects, bytes, free}],\n"
"               misplaced_files, counters {opens, creates, reads,\n"
"               writes, bytes_read, bytes_written, denied, placement_refused,\n"
"               integrity_failures}, rates {window_s, ops_per_s,\n"
"               read_bytes_per_s, write_bytes_per_s}, cache {hits, misses,\n"
"               hit_rate}; lists and codecs as in every geoctl JSON\n"
"               (geoctl(8), JSON OUTPUT)\n"
"  -h, --help   this text\n"
"\n"
"Exit status: 0 all well; 1 findings: a backend is not ok (full,\n"
"unreachable; draining does not count), misplaced files are known, or an\n"
"integrity failure happened since mount; 2 usage error, MOUNT is not a\n"
"geofs mount, or the status cannot be read (e.g. not root or admin).\n"
"\n"
"Examples:\n"
"  geoctl status /srv/data\n"
"  geoctl status --json /srv/data | jq '.backends[] | select(.state != \"ok\")'\n";

int geoctl_fetch_stats(const char *path, char *root, size_t rootlen, char **json)
{
	ssize_t n, cap;
	int rc = mountinfo_point_of(path, root, rootlen);

	if (rc == -ENOENT) {
		geoctl_err("%s is not on a mounted geofs", path);
		return rc;
	}
	if (rc) {
		geoctl_err("%s: %s", path, strerror(-rc));
		return rc;
	}
	/* The document changes between calls: retry with room to spare. */
	for (int tries = 0; tries < 5; tries++) {
		n = getxattr(root, XA_STATS, NULL, 0);
		if (n < 0)
			break;
		cap = n + 4096;
		*json = malloc((size_t)cap + 1);
		if (!*json) {
			geoctl_err("out of memory");
			return -ENOMEM;
		}
		n = getxattr(root, XA_STATS, *json, (size_t)cap);
		if (n >= 0) {
			(*json)[n] = '\0';
			return 0;
		}
		free(*json);
		*json = NULL;
		if (errno != ERANGE)
			break;
	}
	rc = -errno;
	if (rc == -EACCES || rc == -EPERM)
		geoctl_err("%s: reading the status needs root or the config's admin_group", root);
	else if (rc == -ENODATA || rc == -EOPNOTSUPP)
		geoctl_err("%s: this geofs serves no %s (an older daemon?)", root, XA_STATS);
	else
		geoctl_err("%s: reading %s: %s", root, XA_STATS, strerror(-rc));
	return rc;
}

/* ---- JSON output: the document re-indented through json.h ---- */

static void emit(struct json *j, const struct jval *v)
{
	switch (v->type) {
	case J_NULL:
		json_str(j, v->key, NULL);
		break;
	case J_BOOL:
		json_bool(j, v->key, v->b);
		break;
	case J_NUM:
		if (strpbrk(v->text, ".eE"))
			json_double(j, v->key, strtod(v->text, NULL));
		else if (v->text[0] == '-')
			json_int(j, v->key, strtoll(v->text, NULL, 10));
		else
			json_u64(j, v->key, strtoull(v->text, NULL, 10));
		break;
	case J_STR:
		json_str(j, v->key, v->text);
		break;
	case J_ARR:
	case J_OBJ:
		(v->type == J_OBJ ? json_obj_begin : json_arr_begin)(j, v->key);
		for (size_t i = 0; i < v->n; i++)
			emit(j, &v->kids[i]);
		(v->type == J_OBJ ? json_obj_end : json_arr_end)(j);
		break;
	}
}

/* ---- text output ---- */

static void print_header(const struct jval *s, const char *root)
{
	uint64_t up = jread_u64(s, "uptime_s");
	const char *metrics = jread_str(s, "metrics_path", NULL);
	uint64_t reloads = jread_u64(s, "reloads"), failed = jread_u64(s, "reload_failures");

	printf("geofs on %s: site %s (%s), pid %" PRIu64 ", up %" PRIu64 "d %02" PRIu64 ":%02"
	       PRIu64 ":%02" PRIu64 "\n", root, jread_str(s, "site", "?"),
	       jread_str(s, "country", "?"), jread_u64(s, "pid"), up / 86400, up / 3600 % 24,
	       up / 60 % 60, up % 60);
	printf("config   %s", jread_str(s, "config", "?"));
	if (reloads || failed)
		printf(" (reloaded %" PRIu64 "x, %" PRIu64 " rejected; last %s: %s)", reloads,
		       failed, jread_str(s, "last_reload", "?"),
		       jread_str(s, "last_reload_result", "?"));
	printf("\nmetrics  %s\n", metrics ? metrics : "none ([status] metrics_path not set)");
}

/* How many backends are full or unreachable (draining is intended). */
static int bad_backends(const struct jval *s)
{
	const struct jval *bs = jread_get(s, "backends");
	int bad = 0;

	for (size_t i = 0; bs && bs->type == J_ARR && i < bs->n; i++) {
		const char *state = jread_str(&bs->kids[i], "state", "?");
		bad += strcmp(state, "ok") != 0 && strcmp(state, "draining") != 0;
	}
	return bad;
}

static void print_backends(const struct jval *s)
{
	static const char *const heads[] = { "BACKEND", "COUNTRY", "STATE", "OBJECTS", "STORED",
					     "FREE", "WEIGHT", "PATH", NULL };
	const struct jval *bs = jread_get(s, "backends");
	char b1[TABLE_BYTES_LEN], b2[TABLE_BYTES_LEN];
	struct table t;

	table_init(&t, heads, 0x78);
	for (size_t i = 0; bs && bs->type == J_ARR && i < bs->n; i++) {
		const struct jval *b = &bs->kids[i];
		const char *state = jread_str(b, "state", "?");
		bool counted = jread_bool(b, "counted");

		table_row(&t);
		table_cell(&t, "%s", jread_str(b, "name", "?"));
		table_cell(&t, "%s", jread_str(b, "country", "?"));
		table_cell(&t, "%s", state);
		if (counted) {
			table_cell(&t, "%" PRIu64, jread_u64(b, "objects"));
			table_cell(&t, "%s", table_bytes(jread_u64(b, "bytes"), b1));
		} else {
			table_cell(&t, "counting");
			table_cell(&t, "-");
		}
		table_cell(&t, "%s", table_bytes(jread_u64(b, "free"), b2));
		table_cell(&t, "%" PRIu64, jread_u64(b, "weight"));
		table_cell(&t, "%s", jread_str(b, "path", "?"));
	}
	putchar('\n');
	table_print(&t, stdout, 0);
	table_free(&t);
	for (size_t i = 0; bs && bs->type == J_ARR && i < bs->n; i++) {
		const char *err = jread_str(&bs->kids[i], "error", NULL);

		if (err && *err)
			printf("backend %s: %s: %s\n", jread_str(&bs->kids[i], "name", "?"),
			       jread_str(&bs->kids[i], "state", "?"), err);
	}
}

/* A country list of the policy as the config writes it ("origin,KR", "*"):
 * the array's words joined (a version 1 daemon sent the text itself). */
static const char *list_text(const struct jval *c, const char *key, char *buf, size_t len)
{
	const struct jval *v = jread_get(c, key);
	size_t pos = 0;

	if (v && v->type == J_STR)
		return v->text;
	if (!v || v->type != J_ARR)
		return "?";
	buf[0] = '\0';
	for (size_t i = 0; i < v->n; i++)
		if (v->kids[i].type == J_STR)
			appendf(buf, len, &pos, "%s%s", pos ? "," : "", v->kids[i].text);
	return buf;
}

/* "lz4" or "off" (a version 1 daemon sent a bool). */
static const char *codec_text(const struct jval *c)
{
	const struct jval *v = jread_get(c, "compress");

	if (v && v->type == J_BOOL)
		return v->b ? "lz4" : "off";
	return jread_str(c, "compress", "?");
}

static void print_policy(const struct jval *s)
{
	static const char *const heads[] = { "CATEGORY", "STORE_IN", "ACCESS_FROM", "REPLICAS",
					     "COMPRESS", NULL };
	const struct jval *p = jread_get(s, "policy"), *cats = jread_get(p, "categories");
	struct table t;

	printf("\npolicy in force: untagged files are %s, origin %s\n",
	       jread_str(p, "default_category", "?"), jread_str(p, "default_origin", "?"));
	table_init(&t, heads, 0x8);
	for (size_t i = 0; cats && cats->type == J_ARR && i < cats->n; i++) {
		const struct jval *c = &cats->kids[i];
		char store[1024], access[1024];

		table_row(&t);
		table_cell(&t, "%s", jread_str(c, "name", "?"));
		table_cell(&t, "%s", list_text(c, "store_in", store, sizeof(store)));
		table_cell(&t, "%s", list_text(c, "access_from", access, sizeof(access)));
		table_cell(&t, "%" PRIu64, jread_u64(c, "replicas"));
		table_cell(&t, "%s", codec_text(c));
	}
	table_print(&t, stdout, 0);
	table_free(&t);
}

static void print_counters(const struct jval *s)
{
	const struct jval *k = jread_get(s, "counters"), *r = jread_get(s, "rates");
	const struct jval *cache = jread_get(s, "cache"), *hr = jread_get(cache, "hit_rate");
	char b1[TABLE_BYTES_LEN], b2[TABLE_BYTES_LEN];

	uint64_t opens = jread_u64(k, "opens"), creates = jread_u64(k, "creates");
	uint64_t reads = jread_u64(k, "reads"), writes = jread_u64(k, "writes");
	uint64_t failures = jread_u64(k, "integrity_failures");
	uint64_t misplaced = jread_u64(s, "misplaced_files");

	printf("\nsince mount  %" PRIu64 " open%s, %" PRIu64 " create%s, %" PRIu64 " read%s (%s), %"
	       PRIu64 " write%s (%s)\n", opens, plural(opens), creates, plural(creates), reads,
	       plural(reads), table_bytes(jread_u64(k, "bytes_read"), b1), writes, plural(writes),
	       table_bytes(jread_u64(k, "bytes_written"), b2));
	printf("refusals     %" PRIu64 " denied (EACCES/EPERM), %" PRIu64
	       " placement refused\n", jread_u64(k, "denied"), jread_u64(k, "placement_refused"));
	printf("integrity    %" PRIu64 " failure%s\n", failures, plural(failures));
	printf("misplaced    %" PRIu64 " file%s known%s\n", misplaced, plural(misplaced),
	       misplaced ? " (see geoctl verify, geoctl rebalance)" : "");
	if (jread_num(r, "window_s") > 0) {
		table_bytes((uint64_t)jread_num(r, "read_bytes_per_s"), b1);
		table_bytes((uint64_t)jread_num(r, "write_bytes_per_s"), b2);
		printf("rates        %.1f ops/s, read %s/s, write %s/s (last %.0f s)\n",
		       jread_num(r, "ops_per_s"), b1, b2, jread_num(r, "window_s"));
	}
	if (hr && hr->type == J_NUM)
		printf("cache        %.1f%% hits (%" PRIu64 " hit%s, %" PRIu64 " miss%s)\n",
		       100.0 * strtod(hr->text, NULL), jread_u64(cache, "hits"),
		       plural(jread_u64(cache, "hits")), jread_u64(cache, "misses"),
		       jread_u64(cache, "misses") == 1 ? "" : "es");
	else
		printf("cache        no reads yet\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char root[4096], *text = NULL;
	struct jval *s = NULL;
	bool json = false;
	int c, status = GEOCTL_ERROR, bad;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return GEOCTL_OK;
		}
		if (c != 'j') {
			geoctl_err("status: see geoctl status --help");
			return GEOCTL_ERROR;
		}
		json = true;
	}
	if (optind != argc - 1) {
		geoctl_err("status: expected one MOUNT (see geoctl status --help)");
		return GEOCTL_ERROR;
	}
	if (geoctl_fetch_stats(argv[optind], root, sizeof(root), &text) != 0)
		return GEOCTL_ERROR;
	if (jread_parse(text, strlen(text), &s) != 0 || s->type != J_OBJ) {
		geoctl_err("%s: the daemon's %s is not a JSON object", root, XA_STATS);
		goto out;
	}
	if (json) {
		struct json j;

		json_init(&j, stdout);
		emit(&j, s);
		json_finish(&j);
	} else {
		print_header(s, root);
		print_backends(s);
		print_policy(s);
		print_counters(s);
	}
	bad = bad_backends(s);
	bad += jread_u64(s, "misplaced_files") > 0;
	bad += jread_u64(jread_get(s, "counters"), "integrity_failures") > 0;
	status = bad ? GEOCTL_FINDINGS : GEOCTL_OK;
out:
	jread_free(s);
	free(text);
	return status;
}
