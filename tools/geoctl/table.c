/*
 * table.c — aligned text tables (see table.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "table.h"

void table_init(struct table *t, const char *const *heads, unsigned right)
{
	memset(t, 0, sizeof(*t));
	while (t->ncols < TABLE_MAX_COLS && heads[t->ncols]) {
		t->head[t->ncols] = heads[t->ncols];
		t->ncols++;
	}
	t->right = right;
	t->cur = t->ncols;
}

int table_row(struct table *t)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 32;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	memset(t->cells + t->nrows * (size_t)t->ncols, 0, (size_t)t->ncols * sizeof(char *));
	t->nrows++;
	t->cur = 0;
	return 0;
}

int table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *raw, *s;
	int n;

	if (t->nrows == 0 || t->cur >= t->ncols)
		return -EINVAL;
	va_start(ap, fmt);
	n = vasprintf(&raw, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	s = esc_dup(raw);
	free(raw);
	if (!s)
		return -ENOMEM;
	t->cells[(t->nrows - 1) * (size_t)t->ncols + (size_t)t->cur++] = s;
	return 0;
}

static void print_line(const struct table *t, FILE *f, int indent,
		       const char *const *cells, const int *w)
{
	int pending = indent;	/* padding is written only before text, so no line ends in blanks */

	for (int c = 0; c < t->ncols; c++) {
		const char *s = cells[c] ? cells[c] : "";
		int pad = w[c] - esc_width(s);

		if (c > 0)
			pending += 2;
		if (t->right & (1u << c))
			pending += pad;
		if (*s) {
			fprintf(f, "%*s%s", pending, "", s);
			pending = 0;
		}
		if (!(t->right & (1u << c)))
			pending += pad;
	}
	fputc('\n', f);
}

void table_print(const struct table *t, FILE *f, int indent)
{
	int w[TABLE_MAX_COLS];

	for (int c = 0; c < t->ncols; c++)
		w[c] = esc_width(t->head[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			int cw = esc_width(t->cells[r * (size_t)t->ncols + (size_t)c]);

			if (cw > w[c])
				w[c] = cw;
		}
	print_line(t, f, indent, t->head, w);
	for (size_t r = 0; r < t->nrows; r++)
		print_line(t, f, indent, (const char *const *)t->cells + r * (size_t)t->ncols, w);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

const char *table_bytes(uint64_t n, char buf[TABLE_BYTES_LEN])
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, TABLE_BYTES_LEN, "%" PRIu64 " B", n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, TABLE_BYTES_LEN, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s",
		 v, unit[u]);
	return buf;
}
