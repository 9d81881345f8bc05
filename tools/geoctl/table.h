/*
 * table.h — column-aligned text tables for geoctl's human output, and the
 * number formats the tables use.
 *
 * Cells are copied into the table, escaped (escape.h); widths are computed
 * at print time in terminal columns (wide CJK characters count two), so
 * rows can be added in any order. The last
 * column is never padded. Columns named in right_cols are right-aligned.
 */
#ifndef GEOCTL_TABLE_H
#define GEOCTL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TABLE_MAX_COLS 16

struct table {
	int ncols;
	const char *head[TABLE_MAX_COLS];
	unsigned right;		/* bit i: column i right-aligned */
	char **cells;		/* nrows x ncols, row-major */
	size_t nrows, cap;
	int cur;		/* next column of the row being filled */
};

/* heads: NULL-terminated column titles (static strings). right: bit mask. */
void table_init(struct table *t, const char *const *heads, unsigned right);

/* Starts a row; fill it with exactly ncols table_cell() calls. */
int table_row(struct table *t);
int table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints header and rows, each line prefixed by indent spaces. */
void table_print(const struct table *t, FILE *f, int indent);
void table_free(struct table *t);

/* "0 B", "512 B", "1.5 KiB", "12.0 MiB", "3.21 GiB". */
#define TABLE_BYTES_LEN 16
const char *table_bytes(uint64_t n, char buf[TABLE_BYTES_LEN]);

#endif
