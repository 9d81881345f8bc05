/*
 * report_html.c — the transparency report as one self-contained HTML page:
 * inline CSS, an inline SVG stacked bar chart (bytes stored per country
 * for each category), the detail table, and how to read it. No script and
 * no external resource, so it opens anywhere and can be archived as is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "report.h"
#include "table.h"

#define CHART_W      760
#define LABEL_W      150
#define BAR_W        470
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

/* Bytes per country for each category (summed over origins). */
struct cat_bar {
	const char *category;
	struct rep_country *by;
	size_t nby, capby;
	uint64_t total;
};

static int cat_bars(const struct report *rp, struct cat_bar **out, size_t *n)
{
	struct cat_bar *bars = NULL, *b = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < rp->ng; i++) {
		const struct rep_group *g = &rp->g[i];

		if (!b || strcmp(b->category, g->category) != 0) {	/* groups are sorted */
			struct cat_bar *nb = array_grow(bars, &cap, *n, sizeof(*bars));

			if (!nb)
				goto nomem;
			bars = nb;
			b = &bars[(*n)++];
			memset(b, 0, sizeof(*b));
			b->category = g->category;
		}
		for (size_t k = 0; k < g->nby; k++)
			if (report_country_add(&b->by, &b->nby, &b->capby, g->by[k].cc,
					       g->by[k].bytes) < 0)
				goto nomem;
		b->total += g->stored;
	}
	*out = bars;
	return 0;
nomem:
	for (size_t i = 0; i < *n; i++)
		free(bars[i].by);
	free(bars);
	return -ENOMEM;
}

static void chart(FILE *f, const struct report *rp, const struct cat_bar *bars, size_t n)
{
	uint64_t max = 1;
	int legend_y = (int)n * ROW_H + 16;
	int height = legend_y + 28;
	char b[TABLE_BYTES_LEN];

	for (size_t i = 0; i < n; i++)
		if (bars[i].total > max)
			max = bars[i].total;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Bytes stored per country for "
		"each category\">\n", CHART_W, height, CHART_W, height);
	for (size_t i = 0; i < n; i++) {
		double x = LABEL_W;
		int y = (int)i * ROW_H + 6;

		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + 14);
		esc(f, bars[i].category);
		fputs("</text>\n", f);
		for (size_t k = 0; k < bars[i].nby; k++) {
			double w = (double)bars[i].by[k].bytes / (double)max * BAR_W;

			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
				"fill=\"%s\"><title>", x, y, w, BAR_H, colour(rp, bars[i].by[k].cc));
			esc(f, bars[i].category);
			fprintf(f, " in %s: %s (%" PRIu64 " bytes)</title></rect>\n",
				bars[i].by[k].cc, table_bytes(bars[i].by[k].bytes, b),
				bars[i].by[k].bytes);
			x += w;
		}
		fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", x + 6, y + 14,
			table_bytes(bars[i].total, b));
	}
	for (size_t i = 0; i < rp->ntotal; i++) {
		int x = LABEL_W + (int)i * 110;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\">%s %s</text>\n", x, legend_y, colour(rp,
			rp->total_by[i].cc), x + 16, legend_y + 11, rp->total_by[i].cc,
			table_bytes(rp->total_by[i].bytes, b));
	}
	fputs("</svg>\n", f);
}

static void countries_cell(FILE *f, const struct rep_group *g)
{
	char b[TABLE_BYTES_LEN];

	for (size_t k = 0; k < g->nby; k++) {
		bool bad = !report_allowed(g, g->by[k].cc);

		fprintf(f, "%s<span%s>%s %s%s</span>", k ? "<br>" : "", bad ? " class=\"bad\"" : "",
			g->by[k].cc, table_bytes(g->by[k].bytes, b), bad ? " (not allowed)" : "");
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
		fprintf(f, "</td><td>%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%s</td>"
			"<td class=\"n\">%s</td><td>", g->origin, g->files, table_bytes(g->size, a),
			table_bytes(g->stored, b));
		countries_cell(f, g);
		fputs("</td><td>", f);
		list_cell(f, g->store_in);
		fputs("</td><td>", f);
		list_cell(f, g->access_from);
		fputs("</td></tr>\n", f);
	}
	fprintf(f, "<tr class=\"total\"><td>Total</td><td></td><td class=\"n\">%" PRIu64 "</td>"
		"<td class=\"n\">%s</td><td class=\"n\">%s</td><td>", rp->files,
		table_bytes(rp->size, a), table_bytes(rp->stored, b));
	for (size_t k = 0; k < rp->ntotal; k++)
		fprintf(f, "%s%s %s", k ? "<br>" : "", rp->total_by[k].cc,
			table_bytes(rp->total_by[k].bytes, a));
	fputs("</td><td></td><td></td></tr>\n</table>\n", f);
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
		esc(f, rp->paths[i]);
	}
	/* "2026-11-23T02:30:00Z" reads as "2026-11-23 02:30:00 UTC" */
	fprintf(f, "</b>.<br>Generated %.10s %.8s UTC by <code>geoctl report</code> from the "
		"placement the geofs daemon reports for each file.</p>\n", rp->generated,
		rp->generated + 11);
	fprintf(f, "<p>%" PRIu64 " files, %s of data, stored as %s of encrypted objects "
		"(all replicas) in %zu countr%s.</p>\n", rp->files, table_bytes(rp->size, a),
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
	struct cat_bar *bars;
	uint64_t outside = 0;
	size_t n;

	if (cat_bars(rp, &bars, &n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < rp->ng; i++)
		outside += rp->g[i].outside;
	header(f, rp, outside);
	fputs("<h2>Bytes stored per country, by category</h2>\n", f);
	if (n)
		chart(f, rp, bars, n);
	else
		fputs("<p>No files.</p>\n", f);
	fputs("<h2>By category and origin</h2>\n", f);
	detail_table(f, rp);
	fputs(explain, f);
	fputs("</body>\n</html>\n", f);
	for (size_t i = 0; i < n; i++)
		free(bars[i].by);
	free(bars);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
