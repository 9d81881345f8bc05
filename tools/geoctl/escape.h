/*
 * escape.h — the one escaper for names in geoctl's human output, and the
 * display width of what it produces.
 *
 * A file name may hold any byte: escape sequences (terminal injection),
 * newlines (a forged log line), bytes that are not UTF-8. Every name that
 * geoctl prints as text goes through esc_dup() or esc_fputs(): backslash,
 * newline and tab become \\, \n, \t; other control characters and bytes
 * that are not UTF-8 become \xHH; valid UTF-8 is kept. JSON output has its
 * own escaping (json.h).
 *
 * Widths are terminal columns: East Asian wide and fullwidth characters
 * count two, combining marks and zero-width characters none, from a small
 * table of our own (no locale needed).
 */
#ifndef GEOCTL_ESCAPE_H
#define GEOCTL_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* A printable copy of s; the caller frees it. NULL on ENOMEM. */
char *esc_dup(const char *s);

/* Writes s escaped to f. */
void esc_fputs(const char *s, FILE *f);

/* Columns the UTF-8 text s takes on a terminal (invalid bytes count 1). */
int esc_width(const char *s);

/* Byte offset into the UTF-8 text s at which its longest tail that fits in
 * cols columns starts (always at a character boundary). */
size_t esc_tail(const char *s, int cols);

#endif
