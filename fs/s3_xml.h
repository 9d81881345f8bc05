/*
 * s3_xml.h — the few things geofs reads from S3's XML answers, without an
 * XML library: the keys and sizes of a ListObjectsV2 page, whether it is
 * truncated and its NextContinuationToken, and the <Code> of an error.
 *
 * The parser only looks for the elements it knows, by exact tag, inside a
 * bounded buffer; it decodes the five predefined entities and numeric
 * character references (&#NN; &#xHH;, UTF-8 out), refuses anything else
 * (-EINVAL), and never reads past len. Safe on any input (fuzzed).
 * Depends on nothing.
 */
#ifndef GEOFS_S3_XML_H
#define GEOFS_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_KEY_MAX   1024	/* S3's limit on a key, bytes */
#define S3_TOKEN_MAX 2048	/* longest continuation token we keep */
#define S3_LIST_PAGE_MAX (4u << 20)	/* longest ListObjectsV2 page accepted */

/* Called for each <Contents> with its decoded <Key> and <Size>; returns
 * nonzero to stop (s3_list_parse then returns that value). */
typedef int (*s3_list_fn)(const char *key, uint64_t size, void *arg);

/* Parses one ListObjectsV2 result page. *truncated says whether more
 * pages follow, and token (of cap bytes) then holds the next one. 0, fn's
 * nonzero value, or -EINVAL when the text is no such page (or a key,
 * size or token is malformed or too long). */
int s3_list_parse(const char *xml, size_t len, s3_list_fn fn, void *arg, bool *truncated,
		  char *token, size_t cap);

/* The decoded text of the first <TAG> element in xml (tag given without
 * brackets), into out of cap bytes. 0, -ENOENT if there is none, -EINVAL if
 * malformed or too long. */
int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t cap);

#endif
