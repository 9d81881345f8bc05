/*
 * escape.c — escaping names for text output, and display widths (see
 * escape.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "utf8.h"

char *esc_dup(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	char *out = malloc(4 * strlen(str) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		int n = (int)utf8_len(s, SIZE_MAX);

		if (*s == '\n' || *s == '\t' || *s == '\\') {
			o += sprintf(o, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : '\\');
			s++;
		} else if (n == 0 || *s < 0x20 || *s == 0x7f) {
			o += sprintf(o, "\\x%02x", *s++);
		} else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
			/* C1 controls (U+0080..U+009F): CSI is one of them */
			o += sprintf(o, "\\xc2\\x%02x", s[1]);
			s += 2;
		} else {
			memcpy(o, s, (size_t)n);
			o += n;
			s += n;
		}
	}
	*o = '\0';
	return out;
}

void esc_fputs(const char *s, FILE *f)
{
	char *e = esc_dup(s ? s : "");

	fputs(e ? e : "?", f);
	free(e);
}

/* Code point at s (n valid bytes, from utf8_len). */
static uint32_t decode(const unsigned char *s, size_t n)
{
	uint32_t cp = n == 1 ? s[0] : s[0] & (0x3fu >> (n - 1));

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3fu);
	return cp;
}

struct range {
	uint32_t lo, hi;
};

/* East Asian Wide (W) and Fullwidth (F) blocks, Unicode 15, coarsened to
 * whole blocks: what CJK names and emoji use. */
static const struct range wide[] = {
	{ 0x1100, 0x115f }, { 0x231a, 0x231b }, { 0x2329, 0x232a }, { 0x23e9, 0x23ec },
	{ 0x23f0, 0x23f0 }, { 0x23f3, 0x23f3 }, { 0x25fd, 0x25fe }, { 0x2614, 0x2615 },
	{ 0x2648, 0x2653 }, { 0x267f, 0x267f }, { 0x2693, 0x2693 }, { 0x26a1, 0x26a1 },
	{ 0x26aa, 0x26ab }, { 0x26bd, 0x26be }, { 0x26c4, 0x26c5 }, { 0x26ce, 0x26ce },
	{ 0x26d4, 0x26d4 }, { 0x26ea, 0x26ea }, { 0x26f2, 0x26f3 }, { 0x26f5, 0x26f5 },
	{ 0x26fa, 0x26fa }, { 0x26fd, 0x26fd }, { 0x2705, 0x2705 }, { 0x270a, 0x270b },
	{ 0x2728, 0x2728 }, { 0x274c, 0x274c }, { 0x274e, 0x274e }, { 0x2753, 0x2755 },
	{ 0x2757, 0x2757 }, { 0x2795, 0x2797 }, { 0x27b0, 0x27b0 }, { 0x27bf, 0x27bf },
	{ 0x2b1b, 0x2b1c }, { 0x2b50, 0x2b50 }, { 0x2b55, 0x2b55 }, { 0x2e80, 0x303e },
	{ 0x3041, 0x33ff }, { 0x3400, 0x4dbf }, { 0x4e00, 0x9fff }, { 0xa000, 0xa4cf },
	{ 0xa960, 0xa97f }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff }, { 0xfe10, 0xfe19 },
	{ 0xfe30, 0xfe6f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x16fe0, 0x18cff },
	{ 0x1b000, 0x1b2ff }, { 0x1f004, 0x1f004 }, { 0x1f0cf, 0x1f0cf }, { 0x1f18e, 0x1f18e },
	{ 0x1f191, 0x1f19a }, { 0x1f200, 0x1f251 }, { 0x1f300, 0x1f64f }, { 0x1f680, 0x1f6ff },
	{ 0x1f7e0, 0x1f7eb }, { 0x1f90c, 0x1f9ff }, { 0x1fa70, 0x1faff }, { 0x20000, 0x3fffd },
};

/* Combining marks and zero-width characters. */
static const struct range zero[] = {
	{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05bd }, { 0x0610, 0x061a },
	{ 0x064b, 0x065f }, { 0x0e31, 0x0e31 }, { 0x0e34, 0x0e3a }, { 0x0e47, 0x0e4e },
	{ 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff }, { 0x200b, 0x200f }, { 0x202a, 0x202e },
	{ 0x2060, 0x2064 }, { 0x20d0, 0x20ff }, { 0x3099, 0x309a }, { 0xfe00, 0xfe0f },
	{ 0xfe20, 0xfe2f }, { 0xfeff, 0xfeff }, { 0xe0100, 0xe01ef },
};

static bool in(const struct range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp > r[mid].hi)
			lo = mid + 1;
		else if (cp < r[mid].lo)
			hi = mid;
		else
			return true;
	}
	return false;
}

/* Columns of the character at s; *len gets its byte length. */
static int char_width(const unsigned char *s, size_t *len)
{
	size_t n = utf8_len(s, SIZE_MAX);
	uint32_t cp;

	if (n == 0) {
		*len = 1;
		return 1;
	}
	*len = n;
	cp = decode(s, n);
	if (in(zero, sizeof(zero) / sizeof(zero[0]), cp))
		return 0;
	return in(wide, sizeof(wide) / sizeof(wide[0]), cp) ? 2 : 1;
}

int esc_width(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int w = 0;

	while (s && *s) {
		size_t n;

		w += char_width(s, &n);
		s += n;
	}
	return w;
}

size_t esc_tail(const char *str, int cols)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t total = strlen(str), off = 0;
	int w = esc_width(str);

	/* Drop whole characters from the front until the rest fits. */
	while (off < total && w > cols) {
		size_t n;

		w -= char_width(s + off, &n);
		off += n;
	}
	while (off < total && (s[off] & 0xc0) == 0x80)
		off++;	/* never start inside a character */
	return off;
}
