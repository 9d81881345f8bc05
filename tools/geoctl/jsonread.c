/*
 * jsonread.c — recursive-descent JSON parser into struct jval (jsonread.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json_esc.h"
#include "jsonread.h"

struct parser {
	const char *p, *end;
	int depth;
};

static int parse_value(struct parser *ps, struct jval *v);

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int hex4(struct parser *ps, unsigned *out)
{
	*out = 0;
	if (ps->end - ps->p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		char ch = *ps->p++;
		unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
			   : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
			   : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16;
		if (d > 15)
			return -EINVAL;
		*out = *out << 4 | d;
	}
	return 0;
}

/* A \u escape (after the 'u'), joining surrogate pairs; a lone
 * \udc80..\udcff is the raw byte it escapes (json_esc.h). Writes the
 * bytes to o; returns how many, or -EINVAL. */
static int unicode_escape(struct parser *ps, char *o)
{
	unsigned cp, lo;
	size_t n;

	if (hex4(ps, &cp))
		return -EINVAL;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (!literal(ps, "\\u") || hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return -EINVAL;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	n = json_esc_decode_cp(cp, false, o);
	return n ? (int)n : -EINVAL;
}

/* A string at ps->p (the opening quote) into a new buffer. */
static int parse_string(struct parser *ps, char **out)
{
	/* Decoded text is never longer than the source. */
	const char *q = ++ps->p;
	char *o, *buf;

	while (q < ps->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= ps->end)
		return -EINVAL;
	buf = o = malloc((size_t)(q - ps->p) + 4);
	if (!buf)
		return -ENOMEM;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char ch = (unsigned char)*ps->p++;
		int n;

		if (ch < 0x20)
			goto bad;
		if (ch != '\\') {
			*o++ = (char)ch;
			continue;
		}
		if (ps->p >= ps->end)
			goto bad;
		switch (*ps->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if ((n = unicode_escape(ps, o)) < 0)
				goto bad;
			o += n;
			break;
		default:
			goto bad;
		}
	}
	if (ps->p >= ps->end)
		goto bad;
	ps->p++;
	*o = '\0';
	*out = buf;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

static int parse_number(struct parser *ps, struct jval *v)
{
	const char *s = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return -EINVAL;
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return -EINVAL;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return -EINVAL;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	v->type = J_NUM;
	v->text = strndup(s, (size_t)(ps->p - s));
	return v->text ? 0 : -ENOMEM;
}

/* Appends a zeroed child to v and returns it. */
static struct jval *add_kid(struct jval *v)
{
	struct jval *k = realloc(v->kids, (v->n + 1) * sizeof(*k));

	if (!k)
		return NULL;
	v->kids = k;
	memset(&k[v->n], 0, sizeof(*k));
	return &k[v->n++];
}

/* An array or object; ps->p is at its opening bracket. */
static int parse_container(struct parser *ps, struct jval *v, bool obj)
{
	char close = obj ? '}' : ']';
	int rc;

	if (++ps->depth > JREAD_MAX_DEPTH)
		return -EINVAL;
	v->type = obj ? J_OBJ : J_ARR;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		struct jval *k = add_kid(v);

		if (!k)
			return -ENOMEM;
		skip_ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"')
				return -EINVAL;
			rc = parse_string(ps, &k->key);
			if (rc)
				return rc;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p++ != ':')
				return -EINVAL;
		}
		rc = parse_value(ps, k);
		if (rc)
			return rc;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return -EINVAL;
	}
}

static int parse_value(struct parser *ps, struct jval *v)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return -EINVAL;
	switch (*ps->p) {
	case '{':
		return parse_container(ps, v, true);
	case '[':
		return parse_container(ps, v, false);
	case '"':
		v->type = J_STR;
		return parse_string(ps, &v->text);
	case 't':
	case 'f':
		v->type = J_BOOL;
		v->b = *ps->p == 't';
		return literal(ps, v->b ? "true" : "false") ? 0 : -EINVAL;
	case 'n':
		v->type = J_NULL;
		return literal(ps, "null") ? 0 : -EINVAL;
	default:
		return parse_number(ps, v);
	}
}

static void free_kids(struct jval *v)
{
	for (size_t i = 0; i < v->n; i++)
		free_kids(&v->kids[i]);
	free(v->kids);
	free(v->key);
	free(v->text);
}

void jread_free(struct jval *v)
{
	if (!v)
		return;
	free_kids(v);
	free(v);
}

int jread_parse(const char *text, size_t len, struct jval **out)
{
	struct parser ps = { text, text + len, 0 };
	struct jval *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	rc = parse_value(&ps, v);
	if (!rc) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			rc = -EINVAL;
	}
	if (rc) {
		jread_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

const struct jval *jread_get(const struct jval *o, const char *key)
{
	if (!o || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->kids[i].key, key) == 0)
			return &o->kids[i];
	return NULL;
}

const char *jread_str(const struct jval *o, const char *key, const char *dflt)
{
	const struct jval *v = jread_get(o, key);

	return v && v->type == J_STR ? v->text : dflt;
}

uint64_t jread_u64(const struct jval *o, const char *key)
{
	const struct jval *v = jread_get(o, key);

	return v && v->type == J_NUM && v->text[0] != '-' ? strtoull(v->text, NULL, 10) : 0;
}

double jread_num(const struct jval *o, const char *key)
{
	const struct jval *v = jread_get(o, key);

	return v && v->type == J_NUM ? strtod(v->text, NULL) : 0;
}

bool jread_bool(const struct jval *o, const char *key)
{
	const struct jval *v = jread_get(o, key);

	return v && v->type == J_BOOL && v->b;
}
