/*
 * s3_xml.c — a small, strict reader for S3's XML answers (see s3_xml.h).
 * It scans for "<TAG>" ... "</TAG>" pairs of element names it knows; text
 * content never holds '<' in well-formed XML, so the end tag is the first
 * '<' after the start tag. Attributes on those elements are not expected
 * (S3 writes none), so "<Key " does not match.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "s3_xml.h"

/* Finds "<tag>" in [p, end); returns the first byte after it, or NULL. */
static const char *find_open(const char *p, const char *end, const char *tag)
{
	size_t tl = strlen(tag);

	while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= tl + 2 && !memcmp(p + 1, tag, tl) && p[tl + 1] == '>')
			return p + tl + 2;
		p++;
	}
	return NULL;
}

/* The text of an element whose content starts at p: its end in *tend (the
 * '<' of "</tag>"), and the byte after the end tag as the return; NULL if
 * the end tag is not there. */
static const char *close_of(const char *p, const char *end, const char *tag, const char **tend)
{
	size_t tl = strlen(tag);
	const char *lt = memchr(p, '<', (size_t)(end - p));

	if (!lt || (size_t)(end - lt) < tl + 3 || lt[1] != '/' || memcmp(lt + 2, tag, tl) ||
	    lt[tl + 2] != '>')
		return NULL;
	*tend = lt;
	return lt + tl + 3;
}

/* The "</tag>" that ends an element with children, searched from p; NULL
 * if absent. */
static const char *find_end_tag(const char *p, const char *end, const char *tag)
{
	size_t tl = strlen(tag);

	while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= tl + 3 && p[1] == '/' && !memcmp(p + 2, tag, tl) &&
		    p[tl + 2] == '>')
			return p;
		p++;
	}
	return NULL;
}

/* Appends code point cp as UTF-8; false if it does not fit or is invalid. */
static bool put_utf8(unsigned long cp, char *out, size_t cap, size_t *n)
{
	unsigned char b[4];
	size_t k;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k >= cap)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

/* Decodes one reference starting after '&' in [p, end); returns the byte
 * after ';', or NULL. */
static const char *entity(const char *p, const char *end, char *out, size_t cap, size_t *n)
{
	static const struct { const char *name; char c; } named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	};
	const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
	size_t len;

	if (!semi)
		return NULL;
	len = (size_t)(semi - p);
	if (len >= 2 && p[0] == '#') {
		bool hex = p[1] == 'x';
		unsigned long cp = 0;
		const char *d = p + 1 + hex;

		if (d == semi)
			return NULL;
		for (; d < semi; d++) {
			int v = *d >= '0' && *d <= '9' ? *d - '0' :
				hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10 :
				hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10 : -1;
			if (v < 0 || cp > 0x10ffff)
				return NULL;
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
		}
		return put_utf8(cp, out, cap, n) ? semi + 1 : NULL;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == len && !memcmp(p, named[i].name, len)) {
			if (*n + 1 >= cap)
				return NULL;
			out[(*n)++] = named[i].c;
			return semi + 1;
		}
	}
	return NULL;
}

/* Decodes text [p, end) into out (NUL-terminated). 0 or -EINVAL. */
static int decode(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return -EINVAL;
	while (p < end) {
		if (*p == '&') {
			p = entity(p + 1, end, out, cap, &n);
			if (!p)
				return -EINVAL;
			continue;
		}
		if (*p == '\0' || n + 1 >= cap)
			return -EINVAL;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return 0;
}

/* The decoded text of the first <tag> in [p, end); *next after its end. */
static int element(const char *p, const char *end, const char *tag, char *out, size_t cap,
		   const char **next)
{
	const char *s = find_open(p, end, tag), *tend, *after;

	if (!s)
		return -ENOENT;
	after = close_of(s, end, tag, &tend);
	if (!after)
		return -EINVAL;
	if (next)
		*next = after;
	return decode(s, tend, out, cap);
}

int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t cap)
{
	return element(xml, xml + len, tag, out, cap, NULL);
}

static int parse_u64(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || *v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	return 0;
}

int s3_list_parse(const char *xml, size_t len, s3_list_fn fn, void *arg, bool *truncated,
		  char *token, size_t cap)
{
	const char *end = xml + len, *p, *body, *cend;
	char text[S3_KEY_MAX + 1], flag[8];
	int rc;

	*truncated = false;
	if (cap)
		token[0] = '\0';
	/* The root carries an xmlns attribute: "<ListBucketResult" then a
	 * blank or '>'. */
	const char *root = memmem(xml, len, "<ListBucketResult", 17);
	if (!root || root + 17 >= end || (root[17] != '>' && root[17] != ' '))
		return -EINVAL;
	/* Every <Contents> element: its Key and Size, looked for inside it. */
	for (p = xml; (body = find_open(p, end, "Contents")) != NULL;
	     p = cend + sizeof("</Contents>") - 1) {
		uint64_t size;

		cend = find_end_tag(body, end, "Contents");
		if (!cend)
			return -EINVAL;
		if (element(body, cend, "Key", text, sizeof(text), NULL) != 0)
			return -EINVAL;
		char num[24];
		if (element(body, cend, "Size", num, sizeof(num), NULL) != 0 ||
		    parse_u64(num, &size) != 0)
			return -EINVAL;
		rc = fn(text, size, arg);
		if (rc)
			return rc;
	}
	rc = element(xml, end, "IsTruncated", flag, sizeof(flag), NULL);
	if (rc == 0 && !strcmp(flag, "true")) {
		*truncated = true;
		rc = element(xml, end, "NextContinuationToken", token, cap, NULL);
		return rc == 0 && token[0] ? 0 : -EINVAL;
	}
	if (rc == 0 && strcmp(flag, "false"))
		return -EINVAL;
	return rc == -ENOENT ? 0 : rc;
}
