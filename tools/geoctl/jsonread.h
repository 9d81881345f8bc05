/*
 * jsonread.h — a small JSON reader for documents the daemon serves (the
 * user.geo.stats status): parses text into a tree of struct jval.
 *
 * Strict RFC 8259 syntax, nesting at most JREAD_MAX_DEPTH, strings decoded
 * to UTF-8 (a \u0000 escape is refused: values are C strings). Numbers keep
 * their text, so 64-bit counters read back exactly (jread_u64).
 */
#ifndef GEOCTL_JSONREAD_H
#define GEOCTL_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JREAD_MAX_DEPTH 32

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	char *key;		/* member name when inside an object, else NULL */
	char *text;		/* J_STR: the string; J_NUM: the number as written */
	bool b;			/* J_BOOL */
	struct jval *kids;	/* J_ARR, J_OBJ: n children */
	size_t n;
};

/* Parses len bytes (trailing whitespace allowed). 0 and *out (free with
 * jread_free), -EINVAL on a syntax error, -ENOMEM. */
int jread_parse(const char *text, size_t len, struct jval **out);
void jread_free(struct jval *v);		/* NULL ok */

/* Member `key` of object o, or NULL (also when o is NULL or no object). */
const struct jval *jread_get(const struct jval *o, const char *key);

/* Typed members with a fallback when missing or of another type. */
const char *jread_str(const struct jval *o, const char *key, const char *dflt);
uint64_t jread_u64(const struct jval *o, const char *key);	/* 0 if none */
double jread_num(const struct jval *o, const char *key);	/* 0 if none */
bool jread_bool(const struct jval *o, const char *key);		/* false if none */

#endif
