/*
 * fuzz_s3list.c — s3_list_parse() and s3_xml_text(), the reader of S3's
 * XML answers (fs/s3_xml.h).
 *
 * Checks: the result is 0 or -EINVAL; every key handed out is a
 * NUL-terminated string shorter than S3_KEY_MAX + 1 with no NUL inside; a
 * truncated page comes with a non-empty token that fits; s3_xml_text gives
 * 0 / -ENOENT / -EINVAL and a bounded string.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3_xml.h"

static int seen(const char *name, uint64_t size, void *arg)
{
	FUZZ_CHECK(strlen(name) <= S3_KEY_MAX);
	(*(int *)arg)++;
	return 0;
}

int fuzz_s3list(const uint8_t *data, size_t size)
{
	char token[64], code[32];
	bool more = true;
	int n = 0;
	int rc = s3_list_parse((const char *)data, size, seen, &n, &more, token, sizeof(token));

	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0 && more)
		FUZZ_CHECK(token[0] && strlen(token) < sizeof(token));
	if (rc == 0 && !more)
		FUZZ_CHECK(token[0] == '\0');
	rc = s3_xml_text((const char *)data, size, "Code", code, sizeof(code));
	FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc == 0)
		FUZZ_CHECK(strlen(code) < sizeof(code));
	return 0;
}

FUZZ_ENTRY(fuzz_s3list)
