/*
 * utf8.h — validating one UTF-8 sequence. File names are bytes: the audit
 * log's writer and parser and geoctl's JSON and tables must all cope with
 * any of them, and must agree on what is valid.
 */
#ifndef GEOFS_UTF8_H
#define GEOFS_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid, shortest-form UTF-8 sequence at s, which has
 * n readable bytes, or 0 if s does not start one (a stray byte, an overlong
 * form, a surrogate, a sequence cut short). For a NUL-terminated string n
 * may be SIZE_MAX: the NUL is no continuation byte, so no read passes it. */
static inline size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len;

	if (n == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	cp = c & (0x3fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

#endif
