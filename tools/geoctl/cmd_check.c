/*
 * cmd_check.c — `geoctl check -c CONFIG [--json]`: validate a mount config
 * and print what it resolves to: site, meta root, data settings, backends
 * and, per category, where files may be stored and from where opened.
 *
 * Works offline: the config, then the checks geofs makes before mounting
 * (fs/preflight.h: keyring, meta root, audit directory, backend markers);
 * it changes nothing and never prints key material.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "appendf.h"
#include "config.h"
#include "geoctl.h"
#include "json.h"
#include "policy.h"
#include "preflight.h"
#include "store.h"
#include "table.h"

#define ERRBUF_LEN (64 * 1024)
#define CELL_MAX   (CFG_MAX_BACKENDS * CFG_NAME_MAX)
#define STR_(x)    #x
#define STR(x)     STR_(x)

static const char help[] =
"usage: geoctl check -c CONFIG [--json]\n"
"\n"
"Validate a geofs mount config and print the policy it resolves to, without\n"
"mounting anything. Run it after every edit of a config and before a mount.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config to check (required)\n"
"      --json           print the result as one JSON object on stdout\n"
"  -h, --help           show this help\n"
"\n"
"What is checked:\n"
"  Syntax (sections, key = value lines), that every key is known in its\n"
"  section and set once, required sections and keys ([site] name and country,\n"
"  [meta] path, [keys] keyring, at least one [backend NAME] with path and\n"
"  country, at least one [category NAME] with store_in and access_from),\n"
"  values (ISO 3166-1 alpha-2 country codes in upper case, sizes such as 1M,\n"
"  shard_size within 64K..16M, weight 1..1000, replicas 1.." STR(CFG_MAX_REPLICAS) ", lz4|off,\n"
"  close|fsync, yes|no), lists (`*` alone, or codes, `origin` and `site`),\n"
"  that the meta root, keyring, audit log and backend directories do not\n"
"  overlap (none inside another, symlinks resolved; no two backends in one\n"
"  directory), that [defaults] names a declared category, and that every\n"
"  category's replicas can be met for some origin by non-draining backends in\n"
"  allowed countries.\n"
"  Each problem is printed to stderr as FILE:LINE: what was wrong; expected\n"
"  what. All problems are listed, not just the first.\n"
"\n"
"  Then what geofs checks before it mounts, with the same code: the keyring\n"
"  (exists, regular, mode without group/other bits, owned by root or you, as\n"
"  ssh checks keys), the meta root and the audit log's directory exist, and\n"
"  every backend directory exists and carries its own marker. Each problem\n"
"  is printed to stderr with the command that fixes it, all at once. A\n"
"  missing admin_group is a warning.\n"
"\n"
"Output (text):\n"
"  A summary (config, site, meta root, keyring, audit log, data settings,\n"
"  defaults), then the backends with the columns\n"
"    BACKEND  COUNTRY  WEIGHT  DRAIN  PATH  STATUS\n"
"  where STATUS is `ok`, `MISSING` (no directory), `UNMARKED` (no valid\n"
"  marker), `MISMARKED` (another backend's or country's marker),\n"
"  `UNREACHABLE` (an S3 backend's endpoint or bucket cannot be read) or\n"
"  `UNUSABLE`; geofs mounts only when every backend is ok. Then the policy\n"
"  table:\n"
"    CATEGORY  STORE_IN  ORIGIN  ALLOWED  BACKENDS  REPLICAS  COMPRESS  ACCESS_FROM\n"
"  STORE_IN is the list as written (`site` shown as its country), ALLOWED the\n"
"  storage countries it resolves to for ORIGIN, BACKENDS the non-draining\n"
"  backends there (marked `(too few)` when fewer than REPLICAS), ACCESS_FROM\n"
"  the site countries that may open such files. The first row of a category\n"
"  is for the default origin; a further row follows for each other country\n"
"  that hosts a backend, when the result differs for files of that origin.\n"
"  The default category is marked with `*`.\n"
"\n"
"Output (--json): one object with the keys ok, config, errors, warnings,\n"
"  site, meta, keyring, audit, metrics_path, data, defaults, backends (each\n"
"  with its status) and policy; ok is false when geofs would refuse to\n"
"  mount. On config errors {\"ok\": false, \"errors\": [...]} (the errors\n"
"  also go to stderr).\n"
"\n"
"Exit status:\n"
"  0  the config is valid and geofs would mount it (warnings aside)\n"
"  2  the config has errors, geofs would refuse to mount it, it cannot be\n"
"     read, or the usage was wrong\n";

/* ---- arguments ----------------------------------------------------------- */

static int parse_args(int argc, char **argv, const char **file, bool *json)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json")) {
			*json = true;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (++i == argc) {
				geoctl_err("check: %s needs a CONFIG argument", a);
				return -EINVAL;
			}
			*file = argv[i];
		} else if (!strncmp(a, "--config=", 9)) {
			*file = a + 9;
		} else if (!strncmp(a, "-c", 2)) {
			*file = a + 2;
		} else {
			geoctl_err("check: unexpected argument '%s' (see geoctl check --help)", a);
			return -EINVAL;
		}
	}
	if (!*file || !**file) {
		geoctl_err("check: no config given; usage: geoctl check -c CONFIG [--json]");
		return -EINVAL;
	}
	return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* "1M" when exact, else bytes. */
static const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		int shift = 10 * (3 - i);

		if (v && !(v & ((UINT64_C(1) << shift) - 1))) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(v >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* A list as written: "*", or "origin" and the codes ("site" resolved). */
static const char *fmt_spec(const struct cfg_cspec *spec, char *buf, size_t len)
{
	int n;

	if (spec->any) {
		snprintf(buf, len, "*");
		return buf;
	}
	n = snprintf(buf, len, "%s", spec->origin ? "origin" : "");
	if (!cset_empty(&spec->set) && n >= 0 && (size_t)n + 1 < len) {
		if (n)
			buf[n++] = ',';
		cset_format(&spec->set, buf + n, len - (size_t)n);
	}
	return buf;
}

/* What a category resolves to for one origin. */
struct view {
	struct cset allowed, access;
	int qual[CFG_MAX_BACKENDS];
	int nq;
};

static void view_of(const struct geo_config *cfg, int cat, int origin, struct view *v)
{
	policy_store_set(cfg, cat, origin, &v->allowed);
	policy_access_set(cfg, cat, origin, &v->access);
	v->nq = policy_qualified(cfg, cat, origin, v->qual, CFG_MAX_BACKENDS);
}

static bool view_equal(const struct view *a, const struct view *b)
{
	return cset_equal(&a->allowed, &b->allowed) && cset_equal(&a->access, &b->access) &&
	       a->nq == b->nq && !memcmp(a->qual, b->qual, (size_t)a->nq * sizeof(a->qual[0]));
}

static const char *fmt_backends(const struct geo_config *cfg, const struct view *v,
				int replicas, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < v->nq; i++)
		appendf(buf, len, &pos, "%s%s", i ? "," : "", cfg->backends[v->qual[i]].name);
	appendf(buf, len, &pos, "%s%s", v->nq ? "" : "none", v->nq < replicas ? " (too few)" : "");
	return buf;
}

/* True if some other backend country changes what category `cat` allows. */
static bool origin_matters(const struct geo_config *cfg, int cat, int origin,
			   const struct view *base)
{
	struct view v;

	if (origin == cfg->default_origin)
		return false;
	view_of(cfg, cat, origin, &v);
	return !view_equal(&v, base);
}

/* Countries that host a backend, each once, in table order. */
static void backend_countries(const struct geo_config *cfg, struct cset *out)
{
	cset_clear(out);
	for (int i = 0; i < cfg->nbackends; i++)
		cset_add(out, cfg->backends[i].country);
}

/* A backend's state as the mount sees it (preflight.h): "ok", "MISSING"
 * (no directory), "UNMARKED" (no valid marker), "MISMARKED" (another
 * backend's or country's marker) or "UNUSABLE". */
static const char *backend_status(const struct geo_config *cfg, int b)
{
	char msg[1024];
	bool missing;
	int rc = preflight_backend(cfg, b, &missing, msg, sizeof(msg));

	if (!rc)
		return "ok";
	if (missing)
		return "MISSING";
	if (rc == -ENOENT || rc == -EINVAL)
		return "UNMARKED";
	if (rc == -EMEDIUMTYPE)
		return "MISMARKED";
	return cfg->backends[b].path ? "UNUSABLE" : "UNREACHABLE";
}

/* ---- text output --------------------------------------------------------- */

static void print_summary(const struct geo_config *cfg, int problems)
{
	char a[32], b[32];

	if (problems)
		printf("config    %s: valid, but the mount would refuse it: %d problem%s "
		       "(on stderr)\n", cfg->file, problems, problems == 1 ? "" : "s");
	else
		printf("config    %s: ok\n", cfg->file);
	printf("site      %s (%s)\n", cfg->site_name, country_code(cfg->site_country));
	printf("meta      %s (%s)\n", cfg->meta_path, country_code(cfg->meta_country));
	printf("keyring   %s\n", cfg->keyring_path);
	if (cfg->audit_path)
		printf("audit     %s (fsync within %u ms)\n", cfg->audit_path, cfg->audit_sync_ms);
	else
		printf("audit     off\n");
	if (cfg->metrics_path)
		printf("metrics   %s\n", cfg->metrics_path);
	printf("data      shard_size %s, compress %s, pad %s, cache_size %s, durability %s\n",
	       fmt_size(cfg->shard_size, a, sizeof(a)), cfg->compress ? "lz4" : "off",
	       cfg->pad ? "padme" : "off",
	       fmt_size(cfg->cache_size, b, sizeof(b)), cfg->durable_close ? "close" : "fsync");
	printf("defaults  category %s, origin %s, admin_group %s\n\n",
	       cfg->cats[cfg->default_category].name, country_code(cfg->default_origin),
	       cfg->admin_group[0] ? cfg->admin_group : "(none: root only)");
}

/* Fills one table row, cell by cell; -ENOMEM if any cell failed. */
static int add_row(struct table *t, const char *const *cells, int n)
{
	int rc = table_row(t);

	for (int i = 0; !rc && i < n; i++)
		rc = table_cell(t, "%s", cells[i]);
	return rc;
}

static int print_backends(const struct geo_config *cfg)
{
	static const char *const head[] = { "BACKEND", "COUNTRY", "WEIGHT", "DRAIN", "PATH",
					    "STATUS", NULL };
	struct table t;
	int rc = 0;
	char weight[16];

	table_init(&t, head, 1u << 2);
	for (int i = 0; !rc && i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];
		const char *row[] = { b->name, country_code(b->country), weight,
				      b->drain ? "yes" : "no", b->where, backend_status(cfg, i) };

		snprintf(weight, sizeof(weight), "%u", b->weight);
		rc = add_row(&t, row, 6);
	}
	if (!rc)
		table_print(&t, stdout, 0);
	table_free(&t);
	return rc;
}

/* One policy row; category and store_in are blank on an origin's extra row. */
static int policy_row(struct table *t, const struct geo_config *cfg, int cat, int origin,
		      const struct view *v, bool first)
{
	const struct cfg_category *c = &cfg->cats[cat];
	char name[CFG_NAME_MAX + 2], store[4 * COUNTRY_MAX], allowed[4 * COUNTRY_MAX];
	char access[4 * COUNTRY_MAX], backends[CELL_MAX], reps[16];
	const char *row[] = { name, store, country_code(origin), allowed, backends,
			      reps, c->compress ? "lz4" : "off", access };

	snprintf(name, sizeof(name), "%s%s", first ? c->name : "",
		 first && cat == cfg->default_category ? "*" : "");
	if (first)
		fmt_spec(&c->store_in, store, sizeof(store));
	else
		store[0] = '\0';
	cset_format(&v->allowed, allowed, sizeof(allowed));
	cset_format(&v->access, access, sizeof(access));
	fmt_backends(cfg, v, c->replicas, backends, sizeof(backends));
	snprintf(reps, sizeof(reps), "%d", c->replicas);
	return add_row(t, row, 8);
}

static int print_policy(const struct geo_config *cfg)
{
	static const char *const head[] = { "CATEGORY", "STORE_IN", "ORIGIN", "ALLOWED",
					    "BACKENDS", "REPLICAS", "COMPRESS", "ACCESS_FROM", NULL };
	struct table t;
	struct cset hosts;
	int rc = 0;

	table_init(&t, head, 1u << 5);
	backend_countries(cfg, &hosts);
	for (int c = 0; !rc && c < cfg->ncats; c++) {
		struct view base, v;

		view_of(cfg, c, cfg->default_origin, &base);
		rc = policy_row(&t, cfg, c, cfg->default_origin, &base, true);
		for (int o = 0; !rc && o < country_count(); o++) {
			if (!cset_has(&hosts, o) || !origin_matters(cfg, c, o, &base))
				continue;
			view_of(cfg, c, o, &v);
			rc = policy_row(&t, cfg, c, o, &v, false);
		}
	}
	if (!rc) {
		printf("\n");
		table_print(&t, stdout, 0);
	}
	table_free(&t);
	return rc;
}

/* ---- JSON output --------------------------------------------------------- */

/* Each line of text on f, after prefix. */
static void print_lines(FILE *f, const char *prefix, const char *text)
{
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		int n = e ? (int)(e - l) : (int)strlen(l);

		fprintf(f, "%s%.*s\n", prefix, n, l);
		l += n + (e != NULL);
	}
}

/* A JSON array of the lines of text. */
static void emit_lines(struct json *j, const char *key, const char *text)
{
	json_arr_begin(j, key);
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char *line = strndup(l, n);

		if (line)
			json_str(j, NULL, line);
		free(line);
		l += n + (e != NULL);
	}
	json_arr_end(j);
}

static void emit_set(struct json *j, const char *key, const struct cset *s)
{
	json_arr_begin(j, key);
	if (cset_full(s))
		json_str(j, NULL, "*");
	for (int i = 0; !cset_full(s) && i < country_count(); i++)
		if (cset_has(s, i))
			json_str(j, NULL, country_code(i));
	json_arr_end(j);
}

static void emit_view(struct json *j, const struct geo_config *cfg, int origin,
		      const struct view *v)
{
	json_obj_begin(j, NULL);
	json_str(j, "origin", country_code(origin));
	emit_set(j, "allowed", &v->allowed);
	json_arr_begin(j, "backends");
	for (int i = 0; i < v->nq; i++)
		json_str(j, NULL, cfg->backends[v->qual[i]].name);
	json_arr_end(j);
	emit_set(j, "access_from", &v->access);
	json_obj_end(j);
}

/* A store_in / access_from list as written, as an array of its words:
 * ["origin", "KR"], ["*"]. */
static void emit_spec(struct json *j, const char *key, const struct cfg_cspec *spec)
{
	json_arr_begin(j, key);
	if (spec->any)
		json_str(j, NULL, "*");
	if (!spec->any && spec->origin)
		json_str(j, NULL, "origin");
	for (int i = 0; !spec->any && i < country_count(); i++)
		if (cset_has(&spec->set, i))
			json_str(j, NULL, country_code(i));
	json_arr_end(j);
}

static void emit_category(struct json *j, const struct geo_config *cfg, int c,
			  const struct cset *hosts)
{
	const struct cfg_category *cat = &cfg->cats[c];
	struct view base, v;

	json_obj_begin(j, NULL);
	json_str(j, "category", cat->name);
	emit_spec(j, "store_in", &cat->store_in);
	emit_spec(j, "access_from", &cat->access_from);
	json_int(j, "replicas", cat->replicas);
	json_str(j, "compress", cat->compress ? "lz4" : "off");
	json_bool(j, "default", c == cfg->default_category);
	json_arr_begin(j, "origins");
	view_of(cfg, c, cfg->default_origin, &base);
	emit_view(j, cfg, cfg->default_origin, &base);
	for (int o = 0; o < country_count(); o++) {
		if (!cset_has(hosts, o) || !origin_matters(cfg, c, o, &base))
			continue;
		view_of(cfg, c, o, &v);
		emit_view(j, cfg, o, &v);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void emit_backends(struct json *j, const struct geo_config *cfg)
{
	json_arr_begin(j, "backends");
	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];

		json_obj_begin(j, NULL);
		json_str(j, "name", b->name);
		json_str(j, "country", country_code(b->country));
		json_str(j, "kind", b->kind);
		json_str(j, "path", b->where);
		json_u64(j, "weight", b->weight);
		json_bool(j, "drain", b->drain);
		json_str(j, "status", backend_status(cfg, i));
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* Site, meta, keyring, audit, metrics, data and defaults members. */
static void emit_settings(struct json *j, const struct geo_config *cfg)
{
	json_obj_begin(j, "site");
	json_str(j, "name", cfg->site_name);
	json_str(j, "country", country_code(cfg->site_country));
	json_obj_end(j);
	json_obj_begin(j, "meta");
	json_str(j, "path", cfg->meta_path);
	json_str(j, "country", country_code(cfg->meta_country));
	json_obj_end(j);
	json_str(j, "keyring", cfg->keyring_path);
	json_obj_begin(j, "audit");
	json_str(j, "path", cfg->audit_path);
	json_u64(j, "sync_ms", cfg->audit_sync_ms);
	json_obj_end(j);
	json_str(j, "metrics_path", cfg->metrics_path);
	json_obj_begin(j, "data");
	json_u64(j, "shard_size", cfg->shard_size);
	json_str(j, "compress", cfg->compress ? "lz4" : "off");
	json_str(j, "pad", cfg->pad ? "padme" : "off");
	json_u64(j, "cache_size", cfg->cache_size);
	json_str(j, "durability", cfg->durable_close ? "close" : "fsync");
	json_obj_end(j);
	json_obj_begin(j, "defaults");
	json_str(j, "category", cfg->cats[cfg->default_category].name);
	json_str(j, "origin", country_code(cfg->default_origin));
	json_str(j, "admin_group", cfg->admin_group[0] ? cfg->admin_group : NULL);
	json_obj_end(j);
}

static void print_json(const struct geo_config *cfg, const struct preflight *pf)
{
	struct json j;
	struct cset hosts;

	backend_countries(cfg, &hosts);
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_bool(&j, "ok", pf->nerrors == 0);
	json_str(&j, "config", cfg->file);
	emit_lines(&j, "errors", pf->errors);
	emit_lines(&j, "warnings", pf->warnings);
	emit_settings(&j, cfg);
	emit_backends(&j, cfg);
	json_arr_begin(&j, "policy");
	for (int c = 0; c < cfg->ncats; c++)
		emit_category(&j, cfg, c, &hosts);
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

/* {"ok": false, "errors": [...]}, one entry per line of err. */
static void print_json_errors(const char *err)
{
	char *copy = strdup(err), *save = NULL;
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_bool(&j, "ok", false);
	json_arr_begin(&j, "errors");
	for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
		json_str(&j, NULL, l);
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
	free(copy);
}

/* ---- the verb ------------------------------------------------------------ */

#define PF_LEN (32 * 1024)

/* Prints a valid config's settings, tables and what the mount would refuse
 * (preflight.h). Returns the exit status. */
static int site_problems(const struct geo_config *cfg, bool json)
{
	struct preflight pf = { .errors_len = PF_LEN, .warnings_len = PF_LEN };
	int rc = 0;

	pf.errors = calloc(1, PF_LEN);
	pf.warnings = calloc(1, PF_LEN);
	if (!pf.errors || !pf.warnings) {
		rc = -ENOMEM;
		goto out;
	}
	preflight_run(cfg, &pf);
	if (json) {
		print_json(cfg, &pf);
	} else {
		print_summary(cfg, pf.nerrors);
		rc = print_backends(cfg);
		rc = rc ? rc : print_policy(cfg);
	}
	if (pf.nwarnings)
		print_lines(stderr, "warning: ", pf.warnings);
	if (pf.nerrors) {
		print_lines(stderr, "", pf.errors);
		geoctl_err("check: %d problem%s the mount would refuse (fix each as shown)",
			   pf.nerrors, pf.nerrors == 1 ? "" : "s");
	}
out:
	free(pf.errors);
	free(pf.warnings);
	if (rc < 0)
		geoctl_err("check: %s", strerror(-rc));
	return rc < 0 || pf.nerrors ? GEOCTL_ERROR : GEOCTL_OK;
}

int cmd_check(int argc, char **argv)
{
	struct geo_config *cfg = NULL;
	const char *file = NULL;
	bool json = false;
	char *err;
	int rc;

	if (geoctl_wants_help(argc, argv)) {
		fputs(help, stdout);
		return GEOCTL_OK;
	}
	if (parse_args(argc, argv, &file, &json) < 0)
		return GEOCTL_ERROR;
	if (!(err = calloc(1, ERRBUF_LEN))) {
		geoctl_err("check: %s", strerror(ENOMEM));
		return GEOCTL_ERROR;
	}
	rc = config_load(file, &cfg, err, ERRBUF_LEN);
	if (rc < 0) {
		fputs(err, stderr);
		if (json)
			print_json_errors(err);
		free(err);
		return GEOCTL_ERROR;
	}
	free(err);
	rc = site_problems(cfg, json);
	config_free(cfg);
	return rc;
}
