/*
 * report_html.c — the transparency report as one self-contained HTML page:
 * the evidence (site, version, config hash, audit chain head), inline CSS,
 * an inline SVG stacked bar chart (bytes stored per country for each
 * category and origin, violations marked), the detail table with exact
 * byte counts and country names, and how to read it. No script and
 * no external resource, so it opens anywhere and can be archived as is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "country.h"
#include "geoctl.h"
#include "table.h"
#include "version.h"

#define CHART_W      900
#define LABEL_W      150
#define BAR_W        440
#define ROW_H        30
#define BAR_H        18

/* Okabe-Ito, readable by colour-blind readers; repeats past eight. */
static const char *const palette[] = {
	"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#444444",
};

static const char style[] =
"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;"
"max-width:62rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
"h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}"
".meta{color:#555;margin-top:0}.meta b{color:#1a1a1a}"
"table{border-collapse:collapse;width:100%;font-size:.95rem}"
"th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
"th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
"tr.total td{font-weight:600;border-top:2px solid #999}"
".bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}"
".note{background:#fff4f4;border-left:4px solid #b00020;padding:.6rem 1rem}"
".okbox{background:#f2faf4;border-left:4px solid #1b7f3b;padding:.6rem 1rem}"
"svg text{font-family:inherit;font-size:13px}"
"table.evidence{width:auto;margin:.6rem 0}table.evidence th{width:11rem}"
"table.evidence td{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}"
"td small{color:#555}"
"@media print{body{margin:0}}";

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *colour(const struct report *rp, const char *cc)
{
	for (size_t i = 0; i < rp->ntotal; i++)
		if (strcmp(rp->total_by[i].cc, cc) == 0)
			return palette[i % (sizeof(palette) / sizeof(palette[0]))];
	return "#999999";
}

/* "Japan (JP)": the name from iso-codes beside the code. */
static void country(FILE *f, const char *cc)
{
	esc(f, country_name(country_index(cc)));
	fprintf(f, " (%s)", cc);
}

/* One bar per (category, origin) group, split by storage country; bytes in
 * a country the policy does not allow are hatched, outlined in red and
 * labelled, so a violation shows in the chart, not only in the table. */
static void chart(FILE *f, const struct report *rp)
{
	uint64_t max = 1;
	int legend_y = (int)rp->ng * ROW_H + 16;
	int height = legend_y + 28 * (int)((rp->ntotal + 3) / 4) + 28;
	char b[TABLE_BYTES_LEN];

	for (size_t i = 0; i < rp->ng; i++)
		if (rp->g[i].stored > max)
			max = rp->g[i].stored;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Bytes stored per country for "
		"each category and origin\">\n<defs><pattern id=\"bad\" width=\"6\" height=\"6\" "
		"patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"3\" "
		"height=\"6\" fill=\"#b00020\"/></pattern></defs>\n", CHART_W, height, CHART_W, height);
	for (size_t i = 0; i < rp->ng; i++) {
		const struct rep_group *g = &rp->g[i];
		double x = LABEL_W;
		int y = (int)i * ROW_H + 6;

		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + 14);
		esc(f, g->category);
		fprintf(f, " / %s</text>\n", g->origin);
		for (size_t k = 0; k < g->nby; k++) {
			double w = (double)g->by[k].bytes / (double)max * BAR_W;
			bool bad = !report_allowed(g, g->by[k].cc);

			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s>"
				"<title>", x, y, w, BAR_H, colour(rp, g->by[k].cc),
				bad ? " stroke=\"#b00020\" stroke-width=\"2\"" : "");
			esc(f, g->category);
			fprintf(f, "/%s in ", g->origin);
			country(f, g->by[k].cc);
			fprintf(f, ": %" PRIu64 " bytes%s</title></rect>\n", g->by[k].bytes,
				bad ? ", NOT ALLOWED" : "");
			if (bad)
				fprintf(f, "<rect class=\"violation\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
					"height=\"%d\" fill=\"url(#bad)\" opacity=\"0.6\"/>\n",
					x, y, w, BAR_H);
			x += w;
		}
		fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", x + 6, y + 14,
			table_bytes(g->stored, b));
		if (g->outside)
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"badtxt\" fill=\"#b00020\" "
				"font-weight=\"600\">&#x2716; %s not allowed</text>\n", x + 80, y + 14,
				table_bytes(g->outside, b));
	}
	for (size_t i = 0; i < rp->ntotal; i++) {
		int x = 10 + (int)(i % 4) * 185, y = legend_y + (int)(i / 4) * 28;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\">", x, y, colour(rp, rp->total_by[i].cc), x + 16, y + 11);
		country(f, rp->total_by[i].cc);
		fputs("</text>\n", f);
	}
	{
		int y = legend_y + 28 * (int)((rp->ntotal + 3) / 4);

		fprintf(f, "<rect x=\"10\" y=\"%d\" width=\"12\" height=\"12\" fill=\"url(#bad)\" "
			"stroke=\"#b00020\"/><text x=\"26\" y=\"%d\">stored where the policy does "
			"not allow it</text>\n", y, y + 11);
	}
	fputs("</svg>\n", f);
}

static void countries_cell(FILE *f, const struct rep_group *g)
{
	char b[TABLE_BYTES_LEN];

	for (size_t k = 0; k < g->nby; k++) {
		bool bad = !report_allowed(g, g->by[k].cc);

		fprintf(f, "%s<span%s>", k ? "<br>" : "", bad ? " class=\"bad\"" : "");
		country(f, g->by[k].cc);
		fprintf(f, ": %s (%" PRIu64 " bytes)%s</span>", table_bytes(g->by[k].bytes, b),
			g->by[k].bytes, bad ? " (not allowed)" : "");
	}
	if (!g->nby)
		fputs("&ndash;", f);
}

static void list_cell(FILE *f, const char *list)
{
	if (strcmp(list, "*") == 0)
		fputs("any country", f);
	else
		esc(f, list);
}

static void detail_table(FILE *f, const struct report *rp)
{
	char a[TABLE_BYTES_LEN], b[TABLE_BYTES_LEN];

	fputs("<table>\n<tr><th>Category</th><th>Origin</th><th>Files</th><th>Logical size</th>"
	      "<th>Stored</th><th>Stored by country</th><th>Allowed storage</th>"
	      "<th>Access from</th></tr>\n", f);
	for (size_t i = 0; i < rp->ng; i++) {
		const struct rep_group *g = &rp->g[i];

		fputs("<tr><td>", f);
		esc(f, g->category);
		fputs("</td><td>", f);
		country(f, g->origin);
		fprintf(f, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%s<br><small>%"
			PRIu64 " bytes</small></td><td class=\"n\">%s<br><small>%" PRIu64
			" bytes</small></td><td>", g->files, table_bytes(g->size, a), g->size,
			table_bytes(g->stored, b), g->stored);
		countries_cell(f, g);
		fputs("</td><td>", f);
		list_cell(f, g->store_in);
		fputs("</td><td>", f);
		list_cell(f, g->access_from);
		fputs("</td></tr>\n", f);
	}
	fprintf(f, "<tr class=\"total\"><td>Total</td><td></td><td class=\"n\">%" PRIu64 "</td>"
		"<td class=\"n\">%s<br><small>%" PRIu64 " bytes</small></td><td class=\"n\">%s"
		"<br><small>%" PRIu64 " bytes</small></td><td>", rp->files, table_bytes(rp->size, a),
		rp->size, table_bytes(rp->stored, b), rp->stored);
	for (size_t k = 0; k < rp->ntotal; k++) {
		fputs(k ? "<br>" : "", f);
		country(f, rp->total_by[k].cc);
		fprintf(f, ": %s (%" PRIu64 " bytes)", table_bytes(rp->total_by[k].bytes, a),
			rp->total_by[k].bytes);
	}
	fputs("</td><td></td><td></td></tr>\n</table>\n", f);
}

static void ev_row(FILE *f, const char *label, const char *id, const char *value,
		   const char *missing)
{
	fprintf(f, "<tr><th>%s</th><td id=\"%s\">", label, id);
	if (value && *value)
		esc(f, value);
	else
		fprintf(f, "<i>%s</i>", missing);
	fputs("</td></tr>\n", f);
}

/* Who made the report, from what: for archiving it as evidence. */
static void evidence(FILE *f, const struct report *rp)
{
	static const char denied[] = "unknown: reading the daemon's status needs root or the "
				     "admin group";
	char site[CFG_NAME_MAX + 64] = "";

	if (rp->site[0])
		snprintf(site, sizeof(site), "%s, %s (%s)", rp->site,
			 country_name(country_index(rp->site_country)), rp->site_country);
	fputs("<table class=\"evidence\">\n", f);
	ev_row(f, "Site", "site", site, denied);
	ev_row(f, "geofs version", "version", GEOFS_VERSION, "");
	ev_row(f, "Config", "config", rp->config, denied);
	ev_row(f, "Config SHA-256", "config-sha256", rp->config_sha256,
	       rp->config[0] ? "the config file could not be read" : denied);
	ev_row(f, "Audit chain head", "audit-head", rp->audit_head,
	       rp->config[0] ? "no audit log, or it holds no record" : denied);
	fputs("</table>\n<p class=\"meta\">The audit chain head is the SHA-256 of the last "
	      "record in the audit log when the report was made; <code>geoctl audit verify"
	      "</code> prints the same value, so the log can be checked against this report "
	      "later.</p>\n", f);
}

static void header(FILE *f, const struct report *rp, uint64_t outside)
{
	char a[TABLE_BYTES_LEN], b[TABLE_BYTES_LEN];

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>Data residency report: ", f);
	esc(f, rp->mount[0] ? rp->mount : rp->paths[0]);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n"
		"<h1>Data residency report</h1>\n<p class=\"meta\">Filesystem <b>", style);
	esc(f, rp->mount[0] ? rp->mount : "(mount point unknown)");
	fputs("</b>, files below <b>", f);
	for (int i = 0; i < rp->npaths; i++) {
		if (i)
			fputs("</b>, <b>", f);
		esc(f, i < REPORT_MAX_PATHS ? rp->abspaths[i] : rp->paths[i]);
	}
	/* "2026-11-23T02:30:00Z" reads as "2026-11-23 02:30:00 UTC" */
	fprintf(f, "</b>.<br>Generated %.10s %.8s UTC by <code>geoctl report</code> from the "
		"placement the geofs daemon reports for each file.</p>\n", rp->generated,
		rp->generated + 11);
	evidence(f, rp);
	fprintf(f, "<p>%" PRIu64 " file%s, %s of data, stored as %s of encrypted objects "
		"(all replicas) in %zu countr%s.</p>\n", rp->files, plural(rp->files),
		table_bytes(rp->size, a),
		table_bytes(rp->stored, b), rp->ntotal, rp->ntotal == 1 ? "y" : "ies");
	if (outside)
		fprintf(f, "<p class=\"note\"><span class=\"bad\">%s is stored in countries the "
			"current policy does not allow.</span> These files are awaiting migration "
			"(<code>geoctl rebalance</code>); the rows concerned are marked below.</p>\n",
			table_bytes(outside, a));
	else
		fputs("<p class=\"okbox\"><span class=\"good\">Every stored byte is in a country "
		      "the current policy allows for its category and origin.</span></p>\n", f);
}

static const char explain[] =
"<h2>How to read this report</h2>\n<ul>\n"
"<li><b>Category</b> is the class of data (declared in the mount configuration); "
"<b>origin</b> is the ISO 3166-1 country of the people the data is about.</li>\n"
"<li><b>Logical size</b> is the size of the files as applications see them. "
"<b>Stored</b> counts the bytes actually held on storage backends: compressed, "
"encrypted with AES-256-GCM, and counted once per replica.</li>\n"
"<li><b>Allowed storage</b> and <b>access from</b> are the policy in force on this "
"filesystem when the report was generated; geofs refuses to write a byte anywhere "
"else and refuses to open the files from sites in other countries.</li>\n"
"<li>Storage backends receive only encrypted objects with random names: no file "
"name, path, size hint or key. File names and tags stay in the filesystem's home "
"country.</li>\n</ul>\n";

int report_html(FILE *f, const struct report *rp)
{
	uint64_t outside = 0;

	for (size_t i = 0; i < rp->ng; i++)
		outside += rp->g[i].outside;
	header(f, rp, outside);
	fputs("<h2>Bytes stored per country, by category and origin</h2>\n", f);
	if (rp->ng)
		chart(f, rp);
	else
		fputs("<p>No files.</p>\n", f);
	fputs("<h2>By category and origin</h2>\n", f);
	detail_table(f, rp);
	fputs(explain, f);
	fputs("</body>\n</html>\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
