/*
 * cmd_report.c — geoctl report: the transparency report a privacy policy
 * needs, per (category, origin): files, logical bytes, stored bytes per
 * storage country, the allowed countries. Text, JSON or HTML. The figures
 * are gathered by report_figures.c, the HTML page is report_html.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appendf.h"
#include "escape.h"
#include "geoctl.h"
#include "json.h"
#include "mountinfo.h"
#include "report.h"
#include "scan.h"
#include "table.h"

static const char report_help[] =
"usage: geoctl report [--json | --html FILE] PATH...\n"
"\n"
"Writes the transparency report for the files below each PATH on a mounted\n"
"geofs: for each data category and origin country, the number of files,\n"
"their logical size, the bytes stored (encrypted shard objects, all\n"
"replicas) in each storage country, and the countries where the policy in\n"
"force allows them to be stored and from where they may be accessed. Bytes\n"
"stored in a country the policy does not allow (misplaced files awaiting\n"
"geoctl rebalance) are flagged.\n"
"\n"
"Options:\n"
"      --json        one JSON object: mount, paths, generated (UTC), groups\n"
"                    [{category, origin, files, logical_bytes, stored_bytes,\n"
"                    stored_by_country {CC: bytes}, outside_allowed_bytes,\n"
"                    allowed_storage [CC|*], access_from [CC|*], replicas}],\n"
"                    totals {files, logical_bytes, stored_bytes,\n"
"                    stored_by_country}; all byte counts exact\n"
"      --html FILE   also write one self-contained HTML page to FILE (no\n"
"                    script, no network: inline CSS and an SVG chart of the\n"
"                    bytes stored per country for each category and origin,\n"
"                    bytes in countries the policy does not allow hatched in\n"
"                    red), for a compliance officer's browser and to archive\n"
"                    as evidence: it names the site and its country, the\n"
"                    geofs version, the daemon's config and the SHA-256 of\n"
"                    its bytes, the audit chain's head at report time (these\n"
"                    need root or the admin group), the absolute paths, and\n"
"                    country names beside codes and exact byte counts in the\n"
"                    table. Says on stderr where it wrote; \"-\" writes it to\n"
"                    stdout\n"
"  -h, --help        this text\n"
"\n"
"Columns: CATEGORY, ORIGIN, FILES, LOGICAL, STORED, STORED BY COUNTRY (a\n"
"trailing ! marks a country the policy does not allow), ALLOWED (storage),\n"
"ACCESS (site countries that may open the files).\n"
"\n"
"Exit status: 0 report written and every byte is in an allowed country;\n"
"1 some bytes are stored outside the allowed countries; 2 usage error, a\n"
"path not on geofs or unreadable, or FILE could not be written.\n"
"\n"
"Examples:\n"
"  geoctl report /srv/app\n"
"  geoctl report --html /var/www/geofs-report.html /srv/app\n"
"  geoctl report --json /srv/app | jq '.totals.stored_by_country'\n";

static void by_country_text(const struct rep_group *g, char *buf, size_t len)
{
	char b[TABLE_BYTES_LEN];
	size_t used = 0;

	snprintf(buf, len, "-");
	for (size_t i = 0; i < g->nby; i++)
		appendf(buf, len, &used, "%s%s %s%s", i ? ", " : "", g->by[i].cc,
			table_bytes(g->by[i].bytes, b), report_allowed(g, g->by[i].cc) ? "" : " !");
}

static void print_text(const struct report *rp)
{
	static const char *const heads[] = { "CATEGORY", "ORIGIN", "FILES", "LOGICAL", "STORED",
		"STORED BY COUNTRY", "ALLOWED", "ACCESS", NULL };
	char a[TABLE_BYTES_LEN], b[TABLE_BYTES_LEN], by[1024];
	uint64_t outside = 0;
	struct table t;

	printf("geofs transparency report\nmount:     ");
	esc_fputs(rp->mount[0] ? rp->mount : "?", stdout);
	printf("\npaths:    ");
	for (int i = 0; i < rp->npaths; i++) {
		putchar(' ');
		esc_fputs(rp->paths[i], stdout);
	}
	printf("\ngenerated: %s\n\n", rp->generated);
	table_init(&t, heads, (1u << 2) | (1u << 3) | (1u << 4));
	for (size_t i = 0; i < rp->ng; i++) {
		const struct rep_group *g = &rp->g[i];

		by_country_text(g, by, sizeof(by));
		outside += g->outside;
		table_row(&t);
		table_cell(&t, "%s", g->category);
		table_cell(&t, "%s", g->origin);
		table_cell(&t, "%llu", (unsigned long long)g->files);
		table_cell(&t, "%s", table_bytes(g->size, a));
		table_cell(&t, "%s", table_bytes(g->stored, b));
		table_cell(&t, "%s", by);
		table_cell(&t, "%s", g->store_in);
		table_cell(&t, "%s", g->access_from);
	}
	table_row(&t);
	table_cell(&t, "total");
	table_cell(&t, "%s", "");
	table_cell(&t, "%llu", (unsigned long long)rp->files);
	table_cell(&t, "%s", table_bytes(rp->size, a));
	table_cell(&t, "%s", table_bytes(rp->stored, b));
	by[0] = '\0';
	for (size_t i = 0, used = 0; i < rp->ntotal; i++)
		appendf(by, sizeof(by), &used, "%s%s %s", i ? ", " : "", rp->total_by[i].cc,
			table_bytes(rp->total_by[i].bytes, a));
	table_cell(&t, "%s", by);
	table_cell(&t, "%s", "");
	table_cell(&t, "%s", "");
	table_print(&t, stdout, 0);
	table_free(&t);
	if (outside)
		printf("\n! %s stored in countries the policy does not allow: see geoctl verify, "
		       "geoctl rebalance\n", table_bytes(outside, a));
}

static void json_by(struct json *j, const struct rep_country *by, size_t n)
{
	json_obj_begin(j, "stored_by_country");
	for (size_t i = 0; i < n; i++)
		json_u64(j, by[i].cc, by[i].bytes);
	json_obj_end(j);
}

static void print_json(const struct report *rp)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "mount", rp->mount[0] ? rp->mount : NULL);
	json_arr_begin(&j, "paths");
	for (int i = 0; i < rp->npaths; i++)
		json_str(&j, NULL, rp->paths[i]);
	json_arr_end(&j);
	json_str(&j, "generated", rp->generated);
	json_arr_begin(&j, "groups");
	for (size_t i = 0; i < rp->ng; i++) {
		const struct rep_group *g = &rp->g[i];

		json_obj_begin(&j, NULL);
		json_str(&j, "category", g->category);
		json_str(&j, "origin", g->origin);
		json_u64(&j, "files", g->files);
		json_u64(&j, "logical_bytes", g->size);
		json_u64(&j, "stored_bytes", g->stored);
		json_by(&j, g->by, g->nby);
		json_u64(&j, "outside_allowed_bytes", g->outside);
		json_str_list(&j, "allowed_storage", g->store_in);
		json_str_list(&j, "access_from", g->access_from);
		json_int(&j, "replicas", g->replicas);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_begin(&j, "totals");
	json_u64(&j, "files", rp->files);
	json_u64(&j, "logical_bytes", rp->size);
	json_u64(&j, "stored_bytes", rp->stored);
	json_by(&j, rp->total_by, rp->ntotal);
	json_obj_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

static int write_html(const struct report *rp, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdout : fopen(file, "we");
	int r;

	if (!f) {
		geoctl_err("report: %s: %s", file, strerror(errno));
		return -errno;
	}
	r = report_html(f, rp);
	if (f != stdout && fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		geoctl_err("report: writing %s: %s", file, strerror(-r));
	} else if (f != stdout) {
		char *real = realpath(file, NULL);

		fputs("wrote the HTML report to ", stderr);
		esc_fputs(real ? real : file, stderr);
		fputc('\n', stderr);
		free(real);
	}
	return r;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "html", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct report rp;	/* large: the evidence holds paths */
	const char *html = NULL;
	bool json = false;
	uint64_t outside = 0;
	time_t now = time(NULL);
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'H': html = optarg; break;
		case 'h': fputs(report_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl report [--json | --html FILE] PATH...\n", stderr); return GEOCTL_ERROR;
		}
	}
	if (optind >= argc) {
		geoctl_err("report: no PATH given (see geoctl report --help)");
		return GEOCTL_ERROR;
	}
	if (json && html && strcmp(html, "-") == 0) {
		geoctl_err("report: --json and --html - would both write to stdout");
		return GEOCTL_ERROR;
	}
	rp.paths = argv + optind;
	rp.npaths = argc - optind;
	if (scan_check_roots(rp.paths, rp.npaths))
		return GEOCTL_ERROR;
	strftime(rp.generated, sizeof(rp.generated), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (mountinfo_point_of(rp.paths[0], rp.mount, sizeof(rp.mount)) < 0)
		rp.mount[0] = '\0';
	r = report_gather(&rp);
	if (r >= 0 && html)
		report_evidence(&rp);
	if (r < 0) {
		geoctl_err("report: %s", strerror(-r));
		report_free(&rp);
		return GEOCTL_ERROR;
	}
	for (size_t i = 0; i < rp.ng; i++)
		outside += rp.g[i].outside;
	if (json)
		print_json(&rp);
	else if (!html || strcmp(html, "-") != 0)
		print_text(&rp);
	if (html && write_html(&rp, html) < 0)
		r = r ? r : 1;
	report_free(&rp);
	return r ? GEOCTL_ERROR : outside ? GEOCTL_FINDINGS : GEOCTL_OK;
}
