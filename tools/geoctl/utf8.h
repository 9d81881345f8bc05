/*
 * utf8.h — validating one UTF-8 sequence (file names are bytes, and both
 * the JSON writer and the text tables must cope with any of them).
 */
#ifndef GEOCTL_UTF8_H
#define GEOCTL_UTF8_H

/* Length (1-4) of the valid, shortest-form UTF-8 sequence at s, or 0 if
 * s does not start one (a stray byte, an overlong form, a surrogate). */
static inline int utf8_len(const unsigned char *s)
{
	unsigned c = s[0], cp, min;
	int n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	cp = c & (0x3fu >> (n - 1));
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

#endif
