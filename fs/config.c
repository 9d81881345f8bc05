/*
 * config.c — the mount config: INI line parsing and the entry points.
 *
 * One pass over the lines fills a struct geo_config through the table of
 * sections in config_keys.c, each with a table of keys and a parse function
 * per key (those functions, which turn one value into its field, are in
 * config_values.c); a
 * second pass, in config_check.c, checks what only the whole file can tell
 * (required keys, `site` items, [defaults], duplicate paths, whether
 * `replicas` can ever be met). Every problem is appended to the caller's
 * buffer as "FILE:LINE: message; expected ..." and parsing goes on, so one
 * run shows them all (config_report.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"
#include "fileio.h"

#define FILE_MAX_LEN  (4u << 20)	/* largest accepted config file */

#define SECTIONS_EXPECT "[site], [meta], [keys], [audit], [data], [backend NAME], " \
			"[category NAME], [defaults] or [status]"

/* ---- lines --------------------------------------------------------------- */

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
	if ((dup = config_find_named(p->cfg, def->kind, name)) >= 0) {
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

int config_load(const char *file, struct geo_config **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	rc = fd < 0 ? -errno : fileio_read_whole(fd, FILE_MAX_LEN, &text, &len);
	if (fd >= 0)
		close(fd);
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
