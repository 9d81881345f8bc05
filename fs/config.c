/*
 * config.c — the mount config: INI parsing, problem reporting, entry points.
 *
 * One pass over the lines fills a struct geo_config through a table of
 * sections, each with a table of keys and a parse function per key (those
 * functions, which turn one value into its field, are in config_values.c); a
 * second pass, in config_check.c, checks what only the whole file can tell
 * (required keys, `site` items, [defaults], duplicate paths, whether
 * `replicas` can ever be met). Every problem is appended to the caller's
 * buffer as "FILE:LINE: message; expected ..." and parsing goes on, so one
 * run shows them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"

#define FILE_MAX_LEN  (4u << 20)	/* largest accepted config file */

#define STR_(x) #x
#define STR(x) STR_(x)
#define NAME_EXPECT   "1..63 characters from A-Z a-z 0-9 _ . -"

/* ---- problems ------------------------------------------------------------ */

/* Appends "FILE:LINE: message\n" whole, or not at all if it does not fit. */
void config_problem_at(struct parser *p, int line, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	int n;

	p->nerr++;
	if (p->inst && line == p->line)
		p->inst->bad = true;
	n = snprintf(msg, sizeof(msg), "%s:%d: ", p->file, line);
	if (n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	n = (int)strlen(msg);
	if (p->err && p->errused + (size_t)n + 2 <= p->errlen) {
		memcpy(p->err + p->errused, msg, (size_t)n);
		p->errused += (size_t)n;
		p->err[p->errused++] = '\n';
		p->err[p->errused] = '\0';
	}
}

/* A printable, bounded copy of a value for messages. */
const char *config_shown(const char *s, char buf[SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

/* ---- the tables ---------------------------------------------------------- */

static const struct word bool_words[] = {
	{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
	{ "on", true }, { "off", false }, { NULL, false },
};
static const struct word compress_words[] = { { "lz4", true }, { "off", false }, { NULL, false } };
static const struct word pad_words[] = { { "padme", true }, { "off", false }, { NULL, false } };
static const struct word durability_words[] = { { "close", true }, { "fsync", false }, { NULL, false } };

/* Offset and size of a field, the two key_def members they fill. */
#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)
#define G(f) FIELD(struct geo_config, f)
#define B(f) FIELD(struct cfg_backend, f)
#define C(f) FIELD(struct cfg_category, f)

static const struct key_def site_keys[] = {
	{ "name", true, cfgval_name, G(site_name), NAME_EXPECT, 0, 0, NULL },
	{ "country", true, cfgval_country, G(site_country), CODE_EXPECT, 0, 0, NULL },
};
static const struct key_def meta_keys[] = {
	{ "path", true, cfgval_path, G(meta_path), "a directory path", 0, 0, NULL },
	{ "country", false, cfgval_country, G(meta_country), CODE_EXPECT, 0, 0, NULL },
};
static const struct key_def keys_keys[] = {
	{ "keyring", true, cfgval_path, G(keyring_path), "a keyring file path", 0, 0, NULL },
};
static const struct key_def audit_keys[] = {
	{ "path", false, cfgval_path, G(audit_path), "a log file path", 0, 0, NULL },
	{ "sync_ms", false, cfgval_number, G(audit_sync_ms), "milliseconds from 0 to 60000", 0, 60000, NULL },
};
static const struct key_def data_keys[] = {
	{ "shard_size", false, cfgval_size, G(shard_size), "a size from 64K to 16M such as 1M",
	  CFG_SHARD_MIN, CFG_SHARD_MAX, NULL },
	{ "compress", false, cfgval_choice, G(compress), "lz4 or off", 0, 0, compress_words },
	{ "pad", false, cfgval_choice, G(pad), "padme or off", 0, 0, pad_words },
	{ "cache_size", false, cfgval_size, G(cache_size), "a size such as 256M", 0, UINT64_MAX, NULL },
	{ "dirty_size", false, cfgval_size, G(dirty_size), "a size of at least 16M such as 256M",
	  16u << 20, UINT64_MAX, NULL },
	{ "durability", false, cfgval_choice, G(durable_close), "close or fsync", 0, 0, durability_words },
};
/* Which keys belong to which kind is checked once the section is read
 * (config_check.c); `path` is required for dir, `endpoint` etc. for s3. */
static const struct key_def backend_keys[] = {
	{ "path", false, cfgval_path, B(path), "a directory path", 0, 0, NULL },
	{ "country", true, cfgval_country, B(country), CODE_EXPECT, 0, 0, NULL },
	{ "weight", false, cfgval_number, B(weight), "a number from 1 to 1000", 1, 1000, NULL },
	{ "drain", false, cfgval_choice, B(drain), "yes or no", 0, 0, bool_words },
	{ "kind", false, cfgval_kind, B(kind), "dir or s3", 0, 0, NULL },
	{ "endpoint", false, cfgval_endpoint, B(s3.endpoint),
	  "http://HOST[:PORT] or https://HOST[:PORT], with no path", 0, 0, NULL },
	{ "bucket", false, cfgval_bucket, B(s3.bucket),
	  "an S3 bucket name: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit", 0, 0, NULL },
	{ "prefix", false, cfgval_prefix, B(s3.prefix),
	  "a key prefix of up to 200 of A-Z a-z 0-9 . _ - / with no leading, trailing or double /, and no . or .. part", 0, 0, NULL },
	{ "region", false, cfgval_region, B(s3.region), "a signing region such as us-east-1 (a-z 0-9 -)", 0, 0, NULL },
	{ "credentials", false, cfgval_path, B(s3.credentials), "an AWS shared-credentials file path", 0, 0, NULL },
	{ "profile", false, cfgval_name, B(s3.profile), "a profile name of " NAME_EXPECT, 0, 0, NULL },
	{ "ca_file", false, cfgval_path, B(s3.ca_file), "a PEM CA certificate file path", 0, 0, NULL },
	{ "connect_timeout", false, cfgval_number, B(s3.connect_timeout), "seconds from 1 to 60", 1, 60, NULL },
	{ "request_timeout", false, cfgval_number, B(s3.request_timeout), "seconds from 1 to 3600", 1, 3600, NULL },
};
static const struct key_def category_keys[] = {
	{ "store_in", true, cfgval_list, C(store_in), LIST_EXPECT, 0, 0, NULL },
	{ "access_from", true, cfgval_list, C(access_from), LIST_EXPECT, 0, 0, NULL },
	{ "replicas", false, cfgval_number, C(replicas), "a number from 1 to " STR(CFG_MAX_REPLICAS),
	  1, CFG_MAX_REPLICAS, NULL },
	{ "compress", false, cfgval_choice, C(compress), "lz4 or off", 0, 0, compress_words },
};
static const struct key_def defaults_keys[] = {
	{ "category", false, cfgval_defcat, 0, 0, "the name of a declared category", 0, 0, NULL },
	{ "origin", false, cfgval_origin, G(default_origin), CODE_EXPECT ", or site", 0, 0, NULL },
	{ "admin_group", false, cfgval_name, G(admin_group), "a group name of " NAME_EXPECT, 0, 0, NULL },
};
static const struct key_def status_keys[] = {
	{ "metrics_path", false, cfgval_path, G(metrics_path), "a file path", 0, 0, NULL },
};

#define NKEYS(keys) (sizeof(keys) / sizeof(keys[0]))
#define SEC(name, kind, req, keys) { name, kind, req, keys, NKEYS(keys) }

const struct section_def config_sections[NSECTIONS] = {
	[S_SITE] = SEC("site", SEC_SINGLE, true, site_keys),
	[S_META] = SEC("meta", SEC_SINGLE, true, meta_keys),
	[S_KEYS] = SEC("keys", SEC_SINGLE, true, keys_keys),
	[S_AUDIT] = SEC("audit", SEC_SINGLE, false, audit_keys),
	[S_DATA] = SEC("data", SEC_SINGLE, false, data_keys),
	[S_BACKEND] = SEC("backend", SEC_BACKEND, true, backend_keys),
	[S_CATEGORY] = SEC("category", SEC_CATEGORY, true, category_keys),
	[S_DEFAULTS] = SEC("defaults", SEC_SINGLE, false, defaults_keys),
	[S_STATUS] = SEC("status", SEC_SINGLE, false, status_keys),
};

_Static_assert(NSECTIONS <= 16, "struct parser: single[] too small");
_Static_assert(sizeof(unsigned) == sizeof(uint32_t) && sizeof(int) == sizeof(uint32_t),
	       "store_number() writes 4-byte fields");
_Static_assert(NKEYS(data_keys) <= KEYS_MAX && NKEYS(backend_keys) <= KEYS_MAX &&
	       NKEYS(category_keys) <= KEYS_MAX, "struct sect_inst: keyline[] too small");

#define SECTIONS_EXPECT "[site], [meta], [keys], [audit], [data], [backend NAME], " \
			"[category NAME], [defaults] or [status]"

/* ---- lines --------------------------------------------------------------- */

/* "[backend tokyo-1]" or "[data]", for messages. */
const char *config_sect_label(const struct section_def *def, const char *name,
			      char *buf, size_t len)
{
	snprintf(buf, len, "[%s%s%s]", def->name, name ? " " : "", name ? name : "");
	return buf;
}

/* "path, country, ..." of a section's keys, or only its required ones. */
void config_list_keys(const struct section_def *def, bool required, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < def->nkeys && pos < len; i++)
		if (!required || def->keys[i].required)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "",
						def->keys[i].name);
}

static void set_key(struct parser *p, const char *key, const char *val)
{
	const struct section_def *def = p->sec;
	char b[SHOW_MAX + 4], label[CFG_NAME_MAX + 16], keys[128];

	for (size_t i = 0; i < def->nkeys; i++) {
		if (strcmp(def->keys[i].name, key))
			continue;
		p->key = &def->keys[i];
		if (p->inst->keyline[i]) {
			problem(p, "duplicate key '%s' in %s, first set at line %d; expected each key once per section",
				key, config_sect_label(def, p->sec_name, label, sizeof(label)),
				p->inst->keyline[i]);
			return;
		}
		p->inst->keyline[i] = p->line;
		if (!*val)
			problem(p, "%s is empty; expected %s", key, p->key->expect);
		else
			p->key->parse(p, val, (char *)p->base + p->key->offset);
		return;
	}
	config_list_keys(def, false, keys, sizeof(keys));
	problem(p, "unknown key '%s' in %s; expected one of: %s", config_shown(key, b),
		config_sect_label(def, p->sec_name, label, sizeof(label)), keys);
}

/* Index of an earlier [backend NAME] / [category NAME] of that name, or -1. */
static int find_named(const struct geo_config *cfg, enum sec_kind kind, const char *name)
{
	int n = kind == SEC_BACKEND ? cfg->nbackends : cfg->ncats;

	for (int i = 0; i < n; i++)
		if (!strcmp(kind == SEC_BACKEND ? cfg->backends[i].name : cfg->cats[i].name, name))
			return i;
	return -1;
}

/* Starts a new backend or category with its defaults; sets base and name. */
static void init_named(struct parser *p, enum sec_kind kind, int i, const char *name)
{
	if (kind == SEC_BACKEND) {
		struct cfg_backend *b = &p->cfg->backends[i];

		*b = (struct cfg_backend){ .country = -1, .weight = 1, .line = p->line,
					   .kind = "dir", .s3 = { .region = "us-east-1",
					   .profile = "default", .connect_timeout = 5,
					   .request_timeout = 60 } };
		strcpy(b->name, name);
		p->base = b;
		p->sec_name = b->name;
	} else {
		struct cfg_category *c = &p->cfg->cats[i];

		*c = (struct cfg_category){ .replicas = 1, .line = p->line };
		strcpy(c->name, name);
		p->base = c;
		p->sec_name = c->name;
	}
}

static struct sect_inst *open_named(struct parser *p, const struct section_def *def,
				    const char *name)
{
	char b[SHOW_MAX + 4];
	bool backend = def->kind == SEC_BACKEND;
	int *n = backend ? &p->cfg->nbackends : &p->cfg->ncats;
	int max = backend ? CFG_MAX_BACKENDS : CFG_MAX_CATEGORIES, dup;
	struct sect_inst *insts = backend ? p->backend : p->cat;

	if (!config_valid_name(name)) {
		problem(p, "bad section name '%s' in [%s]; expected [%s NAME] with NAME of " NAME_EXPECT,
			config_shown(name, b), def->name, def->name);
		return NULL;
	}
	if ((dup = find_named(p->cfg, def->kind, name)) >= 0) {
		problem(p, "duplicate section [%s %s], first declared at line %d; expected each %s name once",
			def->name, name, insts[dup].line, def->name);
		return NULL;
	}
	if (*n >= max) {
		problem(p, "too many [%s] sections; expected at most %d", def->name, max);
		return NULL;
	}
	init_named(p, def->kind, *n, name);
	return &insts[(*n)++];
}

static struct sect_inst *open_single(struct parser *p, const struct section_def *def,
				     const char *name)
{
	struct sect_inst *inst = &p->single[def - config_sections];

	if (*name) {
		problem(p, "section [%s] takes no name; expected [%s]", def->name, def->name);
		return NULL;
	}
	if (inst->line) {
		problem(p, "duplicate section [%s], first declared at line %d; expected each section once",
			def->name, inst->line);
		return NULL;
	}
	p->base = p->cfg;
	p->sec_name = NULL;
	return inst;
}

/* Handles "[kind]" or "[kind NAME]"; on error, keys up to the next header
 * are skipped so one mistake gives one message. */
static void section_header(struct parser *p, char *s)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(s);
	char *kind, *name;

	p->sec = NULL;
	p->inst = NULL;
	p->skipping = true;
	if (s[n - 1] != ']') {
		problem(p, "section header '%s' does not end with ]; expected [section] or [section NAME] alone on the line",
			config_shown(s, b));
		return;
	}
	s[n - 1] = '\0';
	kind = config_trim(s + 1);
	name = kind + strcspn(kind, " \t");
	if (*name)
		*name++ = '\0';
	name = config_trim(name);
	for (int i = 0; i < NSECTIONS; i++) {
		const struct section_def *def = &config_sections[i];

		if (strcmp(kind, def->name))
			continue;
		p->inst = def->kind == SEC_SINGLE ? open_single(p, def, name) : open_named(p, def, name);
		if (p->inst) {
			p->inst->line = p->line;
			p->sec = def;
		}
		return;
	}
	problem(p, "unknown section [%s]; expected " SECTIONS_EXPECT, config_shown(kind, b));
}

static void parse_line(struct parser *p, char *line)
{
	char b[SHOW_MAX + 4];
	char *s = config_trim(line), *eq;

	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		section_header(p, s);
		return;
	}
	eq = strchr(s, '=');
	if (!eq || eq == s) {
		problem(p, "'%s' is neither a [section] header nor key = value; expected one of those, or a # comment",
			config_shown(s, b));
		return;
	}
	*eq = '\0';
	if (p->inst)
		set_key(p, config_trim(s), config_trim(eq + 1));
	else if (!p->skipping)
		problem(p, "key '%s' outside any section; expected a [section] header first",
			config_shown(config_trim(s), b));
}

/* Splits the text into bounded, NUL-free lines and parses each. */
static int parse_text(struct parser *p, const char *text, size_t len)
{
	char *line = malloc(LINE_MAX_LEN + 1);
	size_t pos = 0;

	if (!line)
		return -ENOMEM;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	for (p->line = 1; pos < len; p->line++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;

		if (n && text[pos + n - 1] == '\r')
			n--;
		if (n > LINE_MAX_LEN) {
			problem(p, "line is %zu bytes long; expected at most %d", n, LINE_MAX_LEN);
		} else if (memchr(text + pos, '\0', n)) {
			problem(p, "line contains a NUL byte; expected text");
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			parse_line(p, line);
		}
		pos = nl ? (size_t)(nl - text) + 1 : len;
	}
	p->inst = NULL;
	free(line);
	return 0;
}

/* ---- reporting in line order --------------------------------------------- */

struct msg_ref {
	long line;
	size_t off, len;
};

static int msg_cmp(const void *a, const void *b)
{
	const struct msg_ref *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Reorders the collected "FILE:LINE: ..." messages by line (stable), so
 * problems found by the whole-file checks land among the others. */
static void sort_problems(struct parser *p)
{
	size_t n = 0, skip = strlen(p->file) + 1, pos = 0;
	struct msg_ref *refs;
	char *copy;

	for (size_t i = 0; i < p->errused; i++)
		n += p->err[i] == '\n';
	refs = calloc(n ? n : 1, sizeof(*refs));
	copy = malloc(p->errused + 1);
	if (!refs || !copy)
		goto out;
	memcpy(copy, p->err, p->errused + 1);
	for (size_t i = 0, off = 0; i < n; i++) {
		size_t len = (size_t)(strchr(copy + off, '\n') - (copy + off)) + 1;

		refs[i] = (struct msg_ref){ strtol(copy + off + skip, NULL, 10), off, len };
		off += len;
	}
	qsort(refs, n, sizeof(*refs), msg_cmp);
	for (size_t i = 0; i < n; i++, pos += refs[i - 1].len)
		memcpy(p->err + pos, copy + refs[i].off, refs[i].len);
out:
	free(refs);
	free(copy);
}

/* ---- entry points -------------------------------------------------------- */

/* dir + "/" + rel, in a new string. */
static char *join(const char *dir, const char *rel)
{
	char *out;
	size_t n = strlen(dir);

	if (asprintf(&out, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", rel) < 0)
		return NULL;
	return out;
}

/* Absolute directory holding `file`, against the working directory. */
static char *config_dir(const char *file)
{
	const char *slash;
	char *cwd, *dir, *real;

	while (file[0] == '.' && file[1] == '/')
		file += 2 + strspn(file + 2, "/");
	slash = strrchr(file, '/');
	if (file[0] == '/') {
		dir = strndup(file, slash == file ? 1 : (size_t)(slash - file));
	} else if (!(cwd = get_current_dir_name()) || !slash) {
		dir = cwd;
	} else {
		real = strndup(file, (size_t)(slash - file));
		dir = real ? join(cwd, real) : NULL;
		free(real);
		free(cwd);
	}
	real = dir ? realpath(dir, NULL) : NULL;
	if (real) {
		free(dir);
		dir = real;
	}
	return dir;
}

static struct geo_config *config_new(const char *name)
{
	struct geo_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->file = strdup(name);
	cfg->site_country = cfg->meta_country = cfg->default_origin = -1;
	cfg->default_category = -1;
	cfg->audit_sync_ms = 1000;
	cfg->shard_size = 1u << 20;
	cfg->compress = true;
	cfg->pad = true;
	cfg->cache_size = 256u << 20;
	cfg->dirty_size = 256u << 20;
	cfg->durable_close = true;
	if (!cfg->file) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

int config_parse(const char *name, const char *text, size_t len,
		 struct geo_config **out, char *err, size_t errlen)
{
	struct parser *p = calloc(1, sizeof(*p));
	int rc = -ENOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!name)
		name = "config";
	if (!p)
		goto out_nomem;
	*p = (struct parser){ .file = name, .err = err, .errlen = errlen };
	p->cfg = config_new(name);
	p->dir = config_dir(name);
	if (!p->cfg || !p->dir || parse_text(p, text ? text : "", text ? len : 0) < 0)
		goto out_free;
	config_validate(p);
	if (p->oom)
		goto out_free;
	rc = p->nerr ? -EINVAL : 0;
	if (rc && p->err && p->errused)
		sort_problems(p);
	if (!rc) {
		*out = p->cfg;
		p->cfg = NULL;
	}
out_free:
	config_free(p->cfg);
	free(p->dir);
	free(p);
out_nomem:
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: %s\n", name, strerror(ENOMEM));
	return rc;
}

/* Reads the whole file (at most FILE_MAX_LEN bytes) into a new buffer;
 * -errno on failure, -EFBIG if it is larger. */
static int read_file(const char *file, char **buf, size_t *len)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), rc = 0;
	size_t cap = 0, n = 0;
	char *b = NULL;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > FILE_MAX_LEN) {
				rc = -EFBIG;
				break;
			}
			cap = cap ? (cap * 2 < FILE_MAX_LEN + 1 ? cap * 2 : FILE_MAX_LEN + 1) : 4096;
			if (!(nb = realloc(b, cap))) {
				rc = -ENOMEM;
				break;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

int config_load(const char *file, struct geo_config **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_file(file, &text, &len);
	if (rc < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s%s\n", file, strerror(-rc),
				 rc == -EFBIG ? " (a mount config is at most 4 MiB)" : "");
		return rc;
	}
	rc = config_parse(file, text, len, out, err, errlen);
	free(text);
	return rc;
}

void config_free(struct geo_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->nbackends; i++) {
		struct cfg_backend *b = &cfg->backends[i];

		free(b->path);
		free(b->s3.endpoint);
		free(b->s3.credentials);
		free(b->s3.ca_file);
		free(b->where);
	}
	free(cfg->file);
	free(cfg->meta_path);
	free(cfg->keyring_path);
	free(cfg->audit_path);
	free(cfg->metrics_path);
	free(cfg);
}

int config_category(const struct geo_config *cfg, const char *name)
{
	int i = name ? find_named(cfg, SEC_CATEGORY, name) : -1;

	return i >= 0 ? i : -ENOENT;
}

int config_backend(const struct geo_config *cfg, const char *name)
{
	int i = name ? find_named(cfg, SEC_BACKEND, name) : -1;

	return i >= 0 ? i : -ENOENT;
}
