/*
 * cmd_show.c — geoctl show: tags, policy, placement and status of paths,
 * as the daemon reports them in user.geo.info.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "appendf.h"
#include "geoctl.h"
#include "info.h"
#include "json.h"
#include "scan.h"
#include "table.h"

static const char show_help[] =
"usage: geoctl show [-R] [--json] PATH...\n"
"\n"
"Shows, for each PATH on a mounted geofs (and with -R everything below it),\n"
"what the daemon enforces: the data category and origin country and whether\n"
"each was set on the path itself or inherited from its directory, the\n"
"countries the policy in force allows for storage and for access, the\n"
"replicas it requires, and for files the logical size, the bytes stored\n"
"(compressed and encrypted, all replicas), the backends holding shards by\n"
"country, and the placement status. For a directory the tags shown are the\n"
"defaults that new children inherit.\n"
"\n"
"Options:\n"
"  -R, --recursive   also show everything below each directory PATH\n"
"      --json        print a JSON array, one object per path (see below)\n"
"  -h, --help        this text\n"
"\n"
"Columns:\n"
"  PATH        the path as given (with -R: plus the names below it)\n"
"  TYPE        file or dir\n"
"  CATEGORY    data category; a trailing * means set on this path, without\n"
"              it the value is inherited from the directory\n"
"  ORIGIN      ISO 3166-1 alpha-2 country of the data subjects; * as above\n"
"  STORE_IN    countries where the policy lets the bytes be stored (* = any)\n"
"  ACCESS      site countries from which the file may be opened (* = any)\n"
"  REPL        replicas required by the policy\n"
"  SIZE        logical size (files)\n"
"  STORED      bytes on the backends, all replicas (files)\n"
"  PLACEMENT   COUNTRY/backend pairs holding shards (files; - if none)\n"
"  STATUS      ok, or MISPLACED and the daemon's reason (files)\n"
"\n"
"JSON fields: path, type, category, category_src (set|inherited), origin,\n"
"origin_src, store_in and access_from (arrays of codes, [\"*\"] for any),\n"
"replicas; for files also size, stored, shards, placement (array of\n"
"{country, backend, bytes}), status (ok|misplaced) and reason.\n"
"\n"
"Exit status: 0 every path shown and no shown file misplaced; 1 some file\n"
"is misplaced (see geoctl verify, geoctl rebalance); 2 usage error, or a\n"
"path that is not on geofs or cannot be read (named on stderr).\n"
"\n"
"Examples:\n"
"  geoctl show /srv/app/photos/cat.jpg\n"
"  geoctl show -R /srv/app/medical\n"
"  geoctl show --json /srv/app/photos | jq '.[] | select(.status != \"ok\")'\n";

struct show {
	bool json;
	struct json j;
	struct table t;
	int misplaced;
};

static void show_json(struct show *s, const struct scan_item *it)
{
	const struct geo_info *gi = it->gi;
	struct json *j = &s->j;

	json_obj_begin(j, NULL);
	json_str(j, "path", it->path);
	json_str(j, "type", gi->type == INFO_DIR ? "dir" : "file");
	json_str(j, "category", gi->category);
	json_str(j, "category_src", gi->category_set ? "set" : "inherited");
	json_str(j, "origin", gi->origin);
	json_str(j, "origin_src", gi->origin_set ? "set" : "inherited");
	json_str_list(j, "store_in", gi->store_in);
	json_str_list(j, "access_from", gi->access_from);
	json_int(j, "replicas", gi->replicas);
	if (gi->type == INFO_FILE) {
		json_u64(j, "size", gi->size);
		json_u64(j, "stored", gi->stored);
		json_u64(j, "shards", gi->shards);
		json_arr_begin(j, "placement");
		for (int i = 0; i < gi->nplace; i++) {
			json_obj_begin(j, NULL);
			json_str(j, "country", gi->place[i].country);
			json_str(j, "backend", gi->place[i].backend);
			json_u64(j, "bytes", gi->place[i].bytes);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_str(j, "status", gi->misplaced ? "misplaced" : "ok");
		json_str(j, "reason", gi->misplaced ? gi->reason : NULL);
	}
	json_obj_end(j);
}

static void placement_text(const struct geo_info *gi, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "-");
	for (int i = 0; i < gi->nplace; i++)
		appendf(buf, len, &used, "%s%s/%s", i ? "," : "", gi->place[i].country,
			gi->place[i].backend);
}

static int show_row(struct show *s, const struct scan_item *it)
{
	const struct geo_info *gi = it->gi;
	char size[TABLE_BYTES_LEN], stored[TABLE_BYTES_LEN], place[1024];
	bool file = gi->type == INFO_FILE;
	int r;

	placement_text(gi, place, sizeof(place));
	r = table_row(&s->t);
	if (r < 0)
		return r;
	table_cell(&s->t, "%s", it->path);
	table_cell(&s->t, "%s", file ? "file" : "dir");
	table_cell(&s->t, "%s%s", gi->category, gi->category_set ? "*" : "");
	table_cell(&s->t, "%s%s", gi->origin, gi->origin_set ? "*" : "");
	table_cell(&s->t, "%s", gi->store_in);
	table_cell(&s->t, "%s", gi->access_from);
	table_cell(&s->t, "%d", gi->replicas);
	table_cell(&s->t, "%s", file ? table_bytes(gi->size, size) : "");
	table_cell(&s->t, "%s", file ? table_bytes(gi->stored, stored) : "");
	table_cell(&s->t, "%s", file ? place : "");
	if (!file)
		return table_cell(&s->t, "(defaults for new children)");
	if (gi->misplaced)
		return table_cell(&s->t, "MISPLACED: %s", gi->reason);
	return table_cell(&s->t, "%s", gi->status);
}

static int show_one(const struct scan_item *it, void *arg)
{
	struct show *s = arg;

	if (it->gi->type == INFO_FILE && it->gi->misplaced)
		s->misplaced++;
	if (s->json) {
		show_json(s, it);
		return 0;
	}
	return show_row(s, it);
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char *const heads[] = { "PATH", "TYPE", "CATEGORY", "ORIGIN", "STORE_IN",
		"ACCESS", "REPL", "SIZE", "STORED", "PLACEMENT", "STATUS", NULL };
	struct show s = { 0 };
	unsigned flags = 0;
	int c, failed;

	while ((c = getopt_long(argc, argv, "Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'R': flags |= SCAN_RECURSE; break;
		case 'j': s.json = true; break;
		case 'h': fputs(show_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl show [-R] [--json] PATH...\n", stderr); return GEOCTL_ERROR;
		}
	}
	if (optind >= argc) {
		geoctl_err("show: no PATH given (see geoctl show --help)");
		return GEOCTL_ERROR;
	}
	if (s.json) {
		json_init(&s.j, stdout);
		json_arr_begin(&s.j, NULL);
	} else {
		table_init(&s.t, heads, (1u << 6) | (1u << 7) | (1u << 8));
	}
	failed = scan_paths(argv + optind, argc - optind, flags, show_one, &s);
	if (s.json) {
		json_arr_end(&s.j);
		json_finish(&s.j);
	} else {
		if (s.t.nrows)
			table_print(&s.t, stdout, 0);
		table_free(&s.t);
	}
	if (failed < 0)
		geoctl_err("show: %s", strerror(-failed));
	if (failed)
		return GEOCTL_ERROR;
	return s.misplaced ? GEOCTL_FINDINGS : GEOCTL_OK;
}
