/*
 * cmd_verify.c — geoctl verify: every file whose placement breaks the
 * policy in force (the daemon's status), every file or directory whose
 * tags are looser than its directory's defaults, with a summary by reason.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "geoctl.h"
#include "json.h"
#include "scan.h"
#include "table.h"

static const char verify_help[] =
"usage: geoctl verify [--json] PATH...\n"
"\n"
"Walks each PATH on a mounted geofs and lists every file that breaks the\n"
"policy in force:\n"
"\n"
"  misplaced  the daemon reports the file's placement as wrong: shards in a\n"
"             country its category and origin do not allow, fewer replicas\n"
"             than required, or objects missing (the reason is the daemon's);\n"
"  looser     the tags of a file, or of a directory, allow storage or access\n"
"             in countries that its parent directory's tags do not (e.g. a\n"
"             public file or directory in a medical directory); a directory\n"
"             only where tags are set on its parent or above ([defaults]\n"
"             alone are the fallback for untagged entries).\n"
"\n"
"Then a summary: files and bytes checked, and files and bytes per reason.\n"
"geoctl rebalance moves misplaced files; looser files need a retag\n"
"(geoctl tag) or a deliberate decision.\n"
"\n"
"Options:\n"
"      --json   one JSON object: checked {files, bytes, dirs}, findings [{kind,\n"
"               type (file or dir), path, reason, size, stored, category,\n"
"               origin, store_in [CC|*], access_from [CC|*], and for\n"
"               looser: dir {path, category, origin, store_in,\n"
"               access_from}}], summary [{reason, files, bytes}], errors\n"
"               (paths that could not be checked)\n"
"  -h, --help   this text\n"
"\n"
"Columns: KIND (MISPLACED or LOOSER), PATH, SIZE (logical), REASON.\n"
"Summary columns: REASON, FILES, BYTES (logical bytes of those files).\n"
"\n"
"Exit status: 0 nothing found; 1 findings; 2 usage error, or some path could\n"
"not be checked (not on geofs, unreadable; named on stderr).\n"
"\n"
"Examples:\n"
"  geoctl verify /srv/app\n"
"  geoctl verify --json /srv/app | jq '.summary'\n";

#define LOOSER_REASON "tags looser than the directory's defaults"
#define LOOSER_DIR_REASON "directory tags looser than its parent's"

struct finding {
	bool looser;
	bool is_dir;
	char *path;
	char *reason;
	uint64_t size, stored;
	struct geo_info gi;		/* its tags (place[] not kept) */
	char *dir_path;
	struct geo_info dir;
};

struct group {
	char *reason;
	uint64_t files, bytes;
};

struct verify {
	bool json;
	struct finding *f;
	size_t nf, capf;
	struct group *g;
	size_t ng, capg;
	uint64_t files, bytes, dirs;
};

static int count_reason(struct verify *v, const char *reason, uint64_t bytes)
{
	struct group *g;

	for (size_t i = 0; i < v->ng; i++)
		if (strcmp(v->g[i].reason, reason) == 0) {
			v->g[i].files++;
			v->g[i].bytes += bytes;
			return 0;
		}
	g = array_grow(v->g, &v->capg, v->ng, sizeof(*g));
	if (!g)
		return -ENOMEM;
	v->g = g;
	g += v->ng;
	g->reason = strdup(reason);
	if (!g->reason)
		return -ENOMEM;
	g->files = 1;
	g->bytes = bytes;
	v->ng++;
	return 0;
}

/* A reason's singular wording (count 1: "replica in KR") in the plural
 * used for other counts, so both group together. False if not one. */
static bool plural_of(const char *p, char *out, size_t len)
{
	static const char *const nouns[] = { "replica", "object", "shard" };

	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++) {
		size_t n = strlen(nouns[i]);

		if (!strncmp(p, nouns[i], n) && p[n] == ' ') {
			snprintf(out, len, "%ss%s", nouns[i], p + n);
			return true;
		}
	}
	return false;
}

/* The daemon's reason is "; "-separated parts, each "COUNT what", e.g.
 * "3 replicas in KR, allowed JP; 1 objects missing". The summary counts a
 * file once under each part, without its count. */
static int count_classes(struct verify *v, const char *reason, uint64_t bytes)
{
	char *copy = strdup(reason), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = strtok_r(copy, ";", &save); p && r == 0; p = strtok_r(NULL, ";", &save)) {
		char grouped[512];

		p += strspn(p, " ");
		if (*p >= '0' && *p <= '9') {
			bool one = p[0] == '1' && p[1] == ' ';

			p += strspn(p, "0123456789");
			p += strspn(p, " ");
			if (one && plural_of(p, grouped, sizeof(grouped)))
				p = grouped;
		}
		if (*p)
			r = count_reason(v, p, bytes);
	}
	free(copy);
	return r;
}

/* A copy of gi's tags that owns nothing and points into nothing. */
static void keep_tags(struct geo_info *dst, const struct geo_info *src)
{
	*dst = *src;
	dst->place = NULL;
	dst->nplace = 0;
	dst->reason = dst->status + (src->reason - src->status);
}

static int add_finding(struct verify *v, const struct scan_item *it, bool looser)
{
	bool is_dir = it->gi->type == INFO_DIR;
	const char *reason = !looser ? it->gi->reason : is_dir ? LOOSER_DIR_REASON : LOOSER_REASON;
	struct finding *f = array_grow(v->f, &v->capf, v->nf, sizeof(*f));

	if (!f)
		return -ENOMEM;
	v->f = f;
	f += v->nf;
	memset(f, 0, sizeof(*f));
	f->looser = looser;
	f->is_dir = is_dir;
	f->path = strdup(it->path);
	f->reason = strdup(*reason ? reason : "(no reason given)");
	f->size = it->gi->size;
	f->stored = it->gi->stored;
	keep_tags(&f->gi, it->gi);
	if (looser) {
		f->dir_path = strdup(it->dir_path);
		keep_tags(&f->dir, it->dir);
	}
	v->nf++;
	if (!f->path || !f->reason || (looser && !f->dir_path))
		return -ENOMEM;
	return looser ? count_reason(v, f->reason, f->size) : count_classes(v, f->reason, f->size);
}

/* True if the directory at path (info gi) or one above it on the mount
 * has tags set: then its tags are a directory's, not just [defaults]
 * (the fallback for untagged entries, which a looser directory below may
 * refine). */
static bool tags_set_above(const char *path, const struct geo_info *gi)
{
	char *p = strdup(path);
	bool set = gi->category_set || gi->origin_set;

	while (!set && p && strcmp(p, "/") != 0) {
		struct geo_info up = { 0 };
		char *d = strdup(dirname(p));

		free(p);
		p = d;
		if (!p || info_get(p, &up) < 0)
			break;		/* left the mount: its root had none */
		set = up.category_set || up.origin_set;
		info_free(&up);
	}
	free(p);
	return set;
}

static int verify_one(const struct scan_item *it, void *arg)
{
	struct verify *v = arg;
	int r = 0;

	if (it->gi->type == INFO_DIR) {
		v->dirs++;
		return it->dir && info_looser(it->gi, it->dir) && tags_set_above(it->dir_path, it->dir)
			       ? add_finding(v, it, true) : 0;
	}
	v->files++;
	v->bytes += it->gi->size;
	if (it->gi->misplaced)
		r = add_finding(v, it, false);
	if (r == 0 && it->dir && info_looser(it->gi, it->dir))
		r = add_finding(v, it, true);
	return r;
}

static void json_tags(struct json *j, const struct geo_info *gi)
{
	json_str(j, "category", gi->category);
	json_str(j, "origin", gi->origin);
	json_str_list(j, "store_in", gi->store_in);
	json_str_list(j, "access_from", gi->access_from);
}

static void print_json(const struct verify *v, int errors)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_obj_begin(&j, "checked");
	json_u64(&j, "files", v->files);
	json_u64(&j, "bytes", v->bytes);
	json_u64(&j, "dirs", v->dirs);
	json_obj_end(&j);
	json_arr_begin(&j, "findings");
	for (size_t i = 0; i < v->nf; i++) {
		const struct finding *f = &v->f[i];

		json_obj_begin(&j, NULL);
		json_str(&j, "kind", f->looser ? "looser" : "misplaced");
		json_str(&j, "type", f->is_dir ? "dir" : "file");
		json_str(&j, "path", f->path);
		json_str(&j, "reason", f->reason);
		json_u64(&j, "size", f->size);
		json_u64(&j, "stored", f->stored);
		json_tags(&j, &f->gi);
		if (f->looser) {
			json_obj_begin(&j, "dir");
			json_str(&j, "path", f->dir_path);
			json_tags(&j, &f->dir);
			json_obj_end(&j);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "summary");
	for (size_t i = 0; i < v->ng; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "reason", v->g[i].reason);
		json_u64(&j, "files", v->g[i].files);
		json_u64(&j, "bytes", v->g[i].bytes);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_int(&j, "errors", errors);
	json_obj_end(&j);
	json_finish(&j);
}

static void print_text(const struct verify *v)
{
	static const char *const heads[] = { "KIND", "PATH", "SIZE", "REASON", NULL };
	static const char *const sheads[] = { "REASON", "FILES", "BYTES", NULL };
	char b[TABLE_BYTES_LEN];
	struct table t;

	if (v->nf) {
		table_init(&t, heads, 1u << 2);
		for (size_t i = 0; i < v->nf; i++) {
			const struct finding *f = &v->f[i];

			table_row(&t);
			table_cell(&t, "%s", f->looser ? "LOOSER" : "MISPLACED");
			table_cell(&t, "%s", f->path);
			table_cell(&t, "%s", f->is_dir ? "-" : table_bytes(f->size, b));
			if (f->looser)
				table_cell(&t, "%s%s/%s (store_in %s, access %s) is looser than "
					   "%s: %s/%s (store_in %s, access %s)",
					   f->is_dir ? "directory " : "",
					   f->gi.category, f->gi.origin, f->gi.store_in,
					   f->gi.access_from, f->dir_path, f->dir.category,
					   f->dir.origin, f->dir.store_in, f->dir.access_from);
			else
				table_cell(&t, "%s", f->reason);
		}
		table_print(&t, stdout, 0);
		table_free(&t);
		putchar('\n');
	}
	printf("checked %llu file%s (%s) in %llu director%s: ",
	       (unsigned long long)v->files, v->files == 1 ? "" : "s", table_bytes(v->bytes, b),
	       (unsigned long long)v->dirs, v->dirs == 1 ? "y" : "ies");
	if (!v->nf) {
		puts("no findings");
		return;
	}
	printf("%zu finding%s\n", v->nf, v->nf == 1 ? "" : "s");
	table_init(&t, sheads, (1u << 1) | (1u << 2));
	for (size_t i = 0; i < v->ng; i++) {
		table_row(&t);
		table_cell(&t, "%s", v->g[i].reason);
		table_cell(&t, "%llu", (unsigned long long)v->g[i].files);
		table_cell(&t, "%s", table_bytes(v->g[i].bytes, b));
	}
	table_print(&t, stdout, 2);
	table_free(&t);
	if (v->ng > 1)
		puts("  (a file is counted under each reason it has)");
}

static void verify_free(struct verify *v)
{
	for (size_t i = 0; i < v->nf; i++) {
		free(v->f[i].path);
		free(v->f[i].reason);
		free(v->f[i].dir_path);
	}
	for (size_t i = 0; i < v->ng; i++)
		free(v->g[i].reason);
	free(v->f);
	free(v->g);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct verify v = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': v.json = true; break;
		case 'h': fputs(verify_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl verify [--json] PATH...\n", stderr); return GEOCTL_ERROR;
		}
	}
	if (optind >= argc) {
		geoctl_err("verify: no PATH given (see geoctl verify --help)");
		return GEOCTL_ERROR;
	}
	if (scan_check_roots(argv + optind, argc - optind))
		return GEOCTL_ERROR;
	r = scan_paths(argv + optind, argc - optind, SCAN_RECURSE | SCAN_PARENT, verify_one, &v);
	if (r < 0) {
		geoctl_err("verify: %s", strerror(-r));
		verify_free(&v);
		return GEOCTL_ERROR;
	}
	if (v.json)
		print_json(&v, r);
	else
		print_text(&v);
	if (r > 0 && !v.json)
		printf("%d path%s could not be checked (see above)\n", r, r == 1 ? "" : "s");
	c = r > 0 ? GEOCTL_ERROR : v.nf ? GEOCTL_FINDINGS : GEOCTL_OK;
	verify_free(&v);
	return c;
}
