/*
 * json.h — a small streaming JSON writer for geoctl's --json output.
 *
 * The writer tracks nesting and commas, so callers only say what comes
 * next. Every string goes through json_write_string(), so no path or
 * reason text can break the document: control characters and quotes are
 * escaped, and bytes that are not valid UTF-8 (file names are bytes) are
 * written as \udcXX, the "surrogateescape" convention, so that
 * os.fsencode(json.loads(...)) in Python gives back the exact bytes.
 *
 * Output is indented two spaces per level and ends with a newline
 * (json_finish). Nesting deeper than JSON_MAX_DEPTH is a programming error
 * (asserted).
 */
#ifndef GEOCTL_JSON_H
#define GEOCTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool nonempty[JSON_MAX_DEPTH];	/* a member was written at this level */
};

void json_init(struct json *j, FILE *f);

/* Containers. key is the member name inside an object, NULL inside an
 * array or at the top level. */
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);

/* Scalars; same key rule. json_str with val NULL writes null. */
void json_str(struct json *j, const char *key, const char *val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_int(struct json *j, const char *key, long long val);
void json_double(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, bool val);

/* A comma-separated list ("JP,KR"; "-" means none) as an array of
 * strings. */
void json_str_list(struct json *j, const char *key, const char *list);

/* Ends the document with a newline and flushes. */
void json_finish(struct json *j);

/* Writes s as a quoted, escaped JSON string (see above). */
void json_write_string(FILE *f, const char *s);

#endif
