/*
 * audit_int.h — what the audit log's writer (audit.c) and its reader and
 * verifier (audit_read.c) share; not an interface for anything else.
 */
#ifndef GEOFS_AUDIT_INT_H
#define GEOFS_AUDIT_INT_H

#include <stddef.h>

#include "crypto.h"

#define HEX_LEN (2 * SHA256_LEN)

/* The "prev" of the first record of a chain. */
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

/* Length of the valid UTF-8 sequence (2..4 bytes) at s, or 0. */
static inline size_t audit_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len;

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
