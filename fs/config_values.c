/*
 * config_values.c — the mount config's value parsers: each turns the value
 * string of one `key = value` line into its field (a name, a country, a path
 * resolved against the config file's directory, a ranged number or size, a
 * choice, a country list, the [defaults] category and origin). The key tables
 * that name them are in config_keys.c, the line parser that calls them in
 * config.c; a bad value is reported through config_problem_at()
 * (config_report.c) like every other problem.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

/* ---- problems ------------------------------------------------------------ */

static void bad_value(struct parser *p, const char *val, const char *why)
{
	char b[SHOW_MAX + 4];

	problem(p, "bad %s '%s'%s%s; expected %s", p->key->name, config_shown(val, b),
		why ? ": " : "", why ? why : "", p->key->expect);
}

/* ---- value parsers ------------------------------------------------------- */

char *config_trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

bool config_valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n < CFG_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool is_lower_code(const char *s)
{
	char up[3] = { (char)(s[0] & ~0x20), (char)(s[1] & ~0x20), '\0' };

	return s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' && !s[2] &&
	       country_index(up) >= 0;
}

/* Country index of an upper-case code, or -1 after reporting why not. */
static int country_or_report(struct parser *p, const char *val, const char *expect)
{
	char b[SHOW_MAX + 4];
	int idx = country_index(val);

	if (idx >= 0)
		return idx;
	problem(p, "bad country '%s'%s%s: %s; expected %s", config_shown(val, b),
		strcmp(p->key->name, "country") ? " in " : "",
		strcmp(p->key->name, "country") ? p->key->name : "",
		is_lower_code(val) ? "country codes are written in upper case" :
				     "not an ISO 3166-1 alpha-2 code", expect);
	return -1;
}

bool cfgval_country(struct parser *p, const char *val, void *field)
{
	int idx = country_or_report(p, val, p->key->expect);

	*(int *)field = idx;
	return idx >= 0;
}

bool cfgval_name(struct parser *p, const char *val, void *field)
{
	if (!config_valid_name(val)) {
		bad_value(p, val, NULL);
		return false;
	}
	strcpy(field, val);
	return true;
}

/* Length of the parent of dir[0..n), an absolute path; "/" stays "/". */
static size_t parent_len(const char *dir, size_t n)
{
	const char *slash = memrchr(dir, '/', n);
	size_t k = slash ? (size_t)(slash - dir) : 0;

	return k ? k : 1;
}

/* Makes a relative path absolute against the config file's directory. */
static char *resolve_path(struct parser *p, const char *val)
{
	size_t n = strlen(p->dir);
	char *out;

	if (val[0] == '/')
		return strdup(val);
	/* p->dir has no symlinks when it exists (realpath), so leading
	 * "./" and "../" can be folded into it without changing the meaning. */
	for (;;) {
		if (val[0] == '.' && (val[1] == '/' || !val[1])) {
			val += 1 + strspn(val + 1, "/");
		} else if (val[0] == '.' && val[1] == '.' && (val[2] == '/' || !val[2])) {
			val += 2 + strspn(val + 2, "/");
			n = parent_len(p->dir, n);
		} else {
			break;
		}
	}
	if (asprintf(&out, "%.*s%s%s", (int)n, p->dir, *val && n > 1 ? "/" : "", val) < 0)
		return NULL;
	return out;
}

bool cfgval_path(struct parser *p, const char *val, void *field)
{
	char *path = resolve_path(p, val);

	if (!path) {
		p->oom = true;
		return false;
	}
	*(char **)field = path;
	return true;
}

/* Decimal digits only: no sign, no spaces, no overflow. */
static int parse_digits(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	const char *c = *s;

	if (*c < '0' || *c > '9')
		return -EINVAL;
	for (; *c >= '0' && *c <= '9'; c++) {
		if (v > (UINT64_MAX - (unsigned)(*c - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned)(*c - '0');
	}
	*s = c;
	*out = v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMG";
	uint64_t v;
	const char *u;
	int shift = 0;

	if (!s || parse_digits(&s, &v) < 0)
		return -EINVAL;
	if (*s) {
		u = strchr(units, *s & ~0x20);
		if (!u || !*u || s[1])
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		if (v > (UINT64_MAX >> shift))
			return -EINVAL;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

static bool ranged(struct parser *p, const char *val, bool size, uint64_t *v)
{
	const char *s = val;
	int rc = size ? config_parse_size(val, v) : parse_digits(&s, v);

	if (rc < 0 || (!size && *s)) {
		bad_value(p, val, size ? "not a size" : "not a number");
		return false;
	}
	if (*v < p->key->lo || *v > p->key->hi) {
		bad_value(p, val, "out of range");
		return false;
	}
	return true;
}

/* Stores a range-checked number into a 4- or 8-byte integer field. */
static void store_number(const struct key_def *key, void *field, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;

	if (key->width == sizeof(uint64_t))
		memcpy(field, &v, sizeof(v));
	else
		memcpy(field, &v32, sizeof(v32));
}

/* A number in the key's range; with size, a unit suffix (K, M, ...) is allowed. */
static bool number_field(struct parser *p, const char *val, void *field, bool size)
{
	uint64_t v;

	if (!ranged(p, val, size, &v))
		return false;
	store_number(p->key, field, v);
	return true;
}

bool cfgval_number(struct parser *p, const char *val, void *field)
{
	return number_field(p, val, field, false);
}

bool cfgval_size(struct parser *p, const char *val, void *field)
{
	return number_field(p, val, field, true);
}

bool cfgval_choice(struct parser *p, const char *val, void *field)
{
	for (const struct word *w = p->key->words; w->word; w++) {
		if (strcasecmp(val, w->word) == 0) {
			*(bool *)field = w->value;
			return true;
		}
	}
	bad_value(p, val, NULL);
	return false;
}

/* One list item: `*`, `origin`, `site` or a country code. */
static bool parse_item(struct parser *p, const char *item, struct cfg_cspec *spec, bool *site)
{
	char b[SHOW_MAX + 4];
	int idx;

	if (strcmp(item, "*") == 0) {
		spec->any = true;
	} else if (strcmp(item, "origin") == 0) {
		spec->origin = true;
	} else if (strcmp(item, "site") == 0) {
		*site = true;
	} else if (strlen(item) == 2 && strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 2) {
		if ((idx = country_or_report(p, item, CODE_EXPECT)) < 0)
			return false;
		cset_add(&spec->set, idx);
	} else if (!*item) {
		problem(p, "empty item in %s; expected " LIST_EXPECT, p->key->name);
		return false;
	} else {
		problem(p, "unknown item '%s' in %s; expected " LIST_EXPECT,
			config_shown(item, b), p->key->name);
		return false;
	}
	return true;
}

bool cfgval_list(struct parser *p, const char *val, void *field)
{
	struct cfg_cspec *spec = field;
	char buf[LINE_MAX_LEN + 1];
	bool ok = true, site = false;
	int items = 0;

	memset(spec, 0, sizeof(*spec));
	snprintf(buf, sizeof(buf), "%s", val);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), items++)
		ok &= parse_item(p, config_trim(tok), spec, &site);
	if (ok && (strstr(val, ",,") || val[0] == ',' || val[strlen(val) - 1] == ','))
		ok = parse_item(p, "", spec, &site);
	if (ok && spec->any && items > 1) {
		problem(p, "'*' cannot be combined with other items in %s; expected * alone or a list without *",
			p->key->name);
		ok = false;
	}
	if (ok && site && p->nsite_items < (int)(sizeof(p->site_items) / sizeof(p->site_items[0])))
		p->site_items[p->nsite_items++] = spec;
	return ok;
}

/* [defaults] category: only a name now; it may be declared further down. */
bool cfgval_defcat(struct parser *p, const char *val, void *field)
{
	return cfgval_name(p, val, p->defcat);
}

bool cfgval_origin(struct parser *p, const char *val, void *field)
{
	if (strcmp(val, "site") == 0) {
		p->origin_is_site = true;
		return true;
	}
	return cfgval_country(p, val, field);
}

/* ---- object-store backends (kind = s3) ----------------------------------- */

static bool all_of(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

bool cfgval_kind(struct parser *p, const char *val, void *field)
{
	if (strcmp(val, "dir") && strcmp(val, "s3")) {
		bad_value(p, val, NULL);
		return false;
	}
	strcpy(field, val);
	return true;
}

/* http[s]://HOST[:PORT] with HOST a name or an IPv4 address; a trailing
 * slash is dropped, any other path refused (keys are path-style). */
bool cfgval_endpoint(struct parser *p, const char *val, void *field)
{
	const char *host = NULL, *why = NULL;
	size_t n = strlen(val);
	char *copy;

	if (!strncmp(val, "http://", 7))
		host = val + 7;
	else if (!strncmp(val, "https://", 8))
		host = val + 8;
	if (!host) {
		why = "only http:// and https:// are understood";
	} else {
		size_t hl = strcspn(host, ":/");
		const char *rest = host + hl;

		if (n > 0 && val[n - 1] == '/')
			n--;
		if (!hl || strspn(host, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-") != hl)
			why = "the host is empty or has characters a host name cannot have";
		else if (*rest == ':') {
			uint64_t port;
			const char *d = rest + 1;

			if (parse_digits(&d, &port) < 0 || port < 1 || port > 65535 ||
			    (size_t)(d - val) != n)
				why = "the port must be a number from 1 to 65535, and no path may follow";
		} else if ((size_t)(rest - val) != n) {
			why = "an endpoint has no path (the bucket is its own key)";
		}
	}
	if (why) {
		bad_value(p, val, why);
		return false;
	}
	copy = strndup(val, n);
	if (!copy) {
		p->oom = true;
		return false;
	}
	*(char **)field = copy;
	return true;
}

bool cfgval_bucket(struct parser *p, const char *val, void *field)
{
	size_t n = strlen(val);

	if (n < 3 || n > 63 || !all_of(val, LOWER_DIGITS ".-") || !strchr(LOWER_DIGITS, val[0]) ||
	    !strchr(LOWER_DIGITS, val[n - 1]) || strstr(val, "..")) {
		bad_value(p, val, NULL);
		return false;
	}
	strcpy(field, val);
	return true;
}

bool cfgval_prefix(struct parser *p, const char *val, void *field)
{
	size_t n = strlen(val);
	bool ok = n <= 200 && all_of(val, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-/") &&
		  val[0] != '/' && val[n - 1] != '/' && !strstr(val, "//");

	/* No "." or ".." component: an S3 key is no path, but a proxy in
	 * front of the store may normalise one. */
	for (const char *c = val; ok && *c; c += strcspn(c, "/"), c += *c == '/') {
		size_t len = strcspn(c, "/");
		ok = !((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'));
	}
	if (!ok) {
		bad_value(p, val, NULL);
		return false;
	}
	strcpy(field, val);
	return true;
}

bool cfgval_region(struct parser *p, const char *val, void *field)
{
	if (strlen(val) >= 32 || !all_of(val, LOWER_DIGITS "-")) {
		bad_value(p, val, NULL);
		return false;
	}
	strcpy(field, val);
	return true;
}
