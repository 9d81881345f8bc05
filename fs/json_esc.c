/*
 * json_esc.c — the shared JSON string escaper and its \u decoder (see
 * json_esc.h for the rules).
 */
#include <errno.h>
#include <string.h>

#include "json_esc.h"
#include "utf8.h"

static const char hex[] = "0123456789abcdef";

static size_t put_u(char *o, const char *prefix, unsigned byte)
{
	memcpy(o, prefix, 4);
	o[4] = hex[byte >> 4 & 15];
	o[5] = hex[byte & 15];
	return 6;
}

/* Escapes the character at s (n > 0 bytes readable) into out (room for
 * 6 bytes); *used gets the input bytes it took. Returns the bytes written. */
static size_t esc_one(const unsigned char *s, size_t n, char *out, size_t *used)
{
	unsigned c = s[0];
	const char *esc = NULL;
	size_t u;

	*used = 1;
	switch (c) {
	case '"': esc = "\\\""; break;
	case '\\': esc = "\\\\"; break;
	case '\b': esc = "\\b"; break;
	case '\f': esc = "\\f"; break;
	case '\n': esc = "\\n"; break;
	case '\r': esc = "\\r"; break;
	case '\t': esc = "\\t"; break;
	default: break;
	}
	if (esc) {
		memcpy(out, esc, 2);
		return 2;
	}
	if (c < 0x20 || c == 0x7f)
		return put_u(out, "\\u00", c);
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	u = utf8_len(s, n);
	if (u == 0)	/* not part of valid UTF-8: surrogateescape */
		return put_u(out, "\\udc", c);
	memcpy(out, s, u);
	*used = u;
	return u;
}

size_t json_esc_body(const char *str, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t w = 0, used;

	for (size_t i = 0; i < n; i += used)
		w += esc_one(s + i, n - i, out + w, &used);
	return w;
}

/* Writes the escaped body of s to f; prom doubles '\\' and '"' again. */
static int fput_body(FILE *f, const char *str, bool prom)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), used;
	char piece[6];

	for (size_t i = 0; i < n; i += used) {
		size_t w = esc_one(s + i, n - i, piece, &used);

		for (size_t k = 0; k < w; k++) {
			if (prom && (piece[k] == '\\' || piece[k] == '"'))
				fputc('\\', f);
			fputc(piece[k], f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

int json_esc_fput(FILE *f, const char *s)
{
	int r;

	fputc('"', f);
	r = fput_body(f, s, false);
	fputc('"', f);
	return r || ferror(f) ? -EIO : 0;
}

int json_esc_fput_prom(FILE *f, const char *s)
{
	return fput_body(f, s, true);
}

size_t json_esc_decode_cp(unsigned cp, bool legacy_bytes, char out[4])
{
	if (cp >= 0xdc80 && cp <= 0xdcff) {
		out[0] = (char)(cp & 0xff);
		return 1;
	}
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0x80 || (legacy_bytes && cp < 0x100)) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}
