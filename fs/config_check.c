/*
 * config_check.c — the mount config's whole-file checks: what only the whole
 * file can tell once every line is parsed (required sections and keys, the
 * values that follow the site or [data], the [defaults] category, paths that
 * overlap (meta root, keyring, audit log, backends), whether `replicas` can
 * ever be met). Problems go through config_problem_at() (config_report.c) like
 * the line parser's; the parser is config.c, the tables it reads config_keys.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "appendf.h"
#include "config.h"
#include "config_int.h"

/* Line where `key` was set in a section instance, or 0. */
static int keyline(const struct sect_inst *inst, int sec, const char *key)
{
	const struct section_def *def = &config_sections[sec];

	for (size_t i = 0; i < def->nkeys; i++)
		if (!strcmp(def->keys[i].name, key))
			return inst->keyline[i];
	return 0;
}

static void check_keys(struct parser *p, const struct section_def *def,
		       struct sect_inst *inst, const char *name)
{
	char label[CFG_NAME_MAX + 16];

	for (size_t i = 0; i < def->nkeys; i++) {
		if (!def->keys[i].required || inst->keyline[i])
			continue;
		config_problem_at(p, inst->line, "missing key '%s' in %s; expected %s = %s",
				  def->keys[i].name,
				  config_sect_label(def, name, label, sizeof(label)),
				  def->keys[i].name, def->keys[i].expect);
		inst->bad = true;
	}
}

/* How many instances of section s were declared. */
static int instances(const struct parser *p, int s)
{
	switch (config_sections[s].kind) {
	case SEC_BACKEND:
		return p->cfg->nbackends;
	case SEC_CATEGORY:
		return p->cfg->ncats;
	default:
		return p->single[s].line != 0;
	}
}

/* Instance i of section s (0 for a single section), and its NAME or NULL. */
static struct sect_inst *instance(struct parser *p, int s, int i, const char **name)
{
	switch (config_sections[s].kind) {
	case SEC_BACKEND:
		*name = p->cfg->backends[i].name;
		return &p->backend[i];
	case SEC_CATEGORY:
		*name = p->cfg->cats[i].name;
		return &p->cat[i];
	default:
		*name = NULL;
		return &p->single[s];
	}
}

static void check_required(struct parser *p)
{
	char req[128], label[CFG_NAME_MAX + 16];

	for (int s = 0; s < NSECTIONS; s++) {
		const struct section_def *def = &config_sections[s];
		bool single = def->kind == SEC_SINGLE;
		int n = instances(p, s);

		if (!n && def->required) {
			config_list_keys(def, true, req, sizeof(req));
			if (s == S_BACKEND)	/* path is required by kind (check_backend_kinds) */
				snprintf(req, sizeof(req), "path, country (or, with kind = s3: endpoint, bucket, credentials, country)");
			config_sect_label(def, single ? NULL : "NAME", label, sizeof(label));
			config_problem_at(p, 0,
					  "missing section %s; expected %s %s section setting %s",
					  label, single ? "a" : "at least one", label, req);
		}
		for (int i = 0; i < n; i++) {
			const char *name;
			struct sect_inst *inst = instance(p, s, i, &name);

			check_keys(p, def, inst, name);
		}
	}
}

/* Countries a list allows for a file of `origin` (-1: ignore `origin`). */
static void cspec_set(const struct cfg_cspec *spec, int origin, struct cset *out)
{
	if (spec->any) {
		cset_fill(out);
		return;
	}
	*out = spec->set;
	if (spec->origin)
		cset_add(out, origin);
}

/* Fills what the file left out: values that follow the site or [data]. */
static void resolve_defaults(struct parser *p)
{
	struct geo_config *cfg = p->cfg;

	for (int i = 0; i < cfg->ncats; i++)
		if (!keyline(&p->cat[i], S_CATEGORY, "compress"))
			cfg->cats[i].compress = cfg->compress;
	if (cfg->site_country < 0)
		return;		/* already reported */
	for (int i = 0; i < p->nsite_items; i++)
		cset_add(&p->site_items[i]->set, cfg->site_country);
	if (!keyline(&p->single[S_META], S_META, "country"))
		cfg->meta_country = cfg->site_country;
	if (p->origin_is_site || !keyline(&p->single[S_DEFAULTS], S_DEFAULTS, "origin"))
		cfg->default_origin = cfg->site_country;
}

/* Fail closed: the category allowing the fewest storage countries for the
 * default origin, then the fewest site countries, then the first declared. */
static int most_restrictive(const struct geo_config *cfg)
{
	int best = -1, best_store = 0, best_access = 0;

	for (int i = 0; i < cfg->ncats; i++) {
		struct cset s, a;
		int ns, na;

		cspec_set(&cfg->cats[i].store_in, cfg->default_origin, &s);
		cspec_set(&cfg->cats[i].access_from, cfg->default_origin, &a);
		ns = cset_count(&s);
		na = cset_count(&a);
		if (best < 0 || ns < best_store || (ns == best_store && na < best_access)) {
			best = i;
			best_store = ns;
			best_access = na;
		}
	}
	return best;
}

static void resolve_default_category(struct parser *p)
{
	struct geo_config *cfg = p->cfg;
	char names[MSG_MAX / 2];
	size_t pos = 0;

	if (!p->defcat[0]) {
		if (cfg->default_origin >= 0)
			cfg->default_category = most_restrictive(cfg);
		return;
	}
	cfg->default_category = config_category(cfg, p->defcat);
	if (cfg->default_category >= 0 || !cfg->ncats)
		return;
	names[0] = '\0';
	for (int i = 0; i < cfg->ncats; i++)
		appendf(names, sizeof(names), &pos, "%s%s", i ? ", " : "", cfg->cats[i].name);
	config_problem_at(p, keyline(&p->single[S_DEFAULTS], S_DEFAULTS, "category"),
			  "unknown category '%s' in [defaults]; expected one of: %s",
			  p->defcat, names);
}

/* ---- where geofs keeps its own things ---------------------------------- */

/* One path of the config that must not overlap another. */
struct place {
	char what[CFG_NAME_MAX + 16];	/* "meta root", "backend tokyo-1" */
	const char *path;		/* as configured (absolute) */
	char *real;			/* resolved as far as it exists */
	bool dir;			/* a directory tree, not a single file */
	int line;
	int backend;			/* index, or -1 */
};

/* path with symlinks resolved as far as it exists, the rest appended
 * lexically (without "." and ".." handling: config paths are plain); no
 * trailing slash. NULL on ENOMEM. */
static char *resolve_existing(const char *path)
{
	size_t n = strlen(path);
	char *copy = strdup(path), *real = NULL, *out = NULL;

	if (!copy)
		return NULL;
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	for (size_t cut = n;;) {
		char save = copy[cut];

		copy[cut] = '\0';
		real = realpath(cut ? copy : "/", NULL);
		copy[cut] = save;
		if (real || !cut) {
			if (real && asprintf(&out, "%s%s", strcmp(real, "/") ? real : "",
					     copy + cut) < 0)
				out = NULL;
			break;
		}
		while (cut > 0 && copy[--cut] != '/')
			;
	}
	if (!real)	/* nothing of it exists, not even "/": keep it lexical */
		out = strdup(copy);
	free(real);
	free(copy);
	return out;
}

/* inner is outer, or lies in the tree of the directory outer. */
static bool inside(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	if (!strcmp(outer, "/"))
		return true;
	return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/');
}

static int places_of(struct parser *p, struct place *pl)
{
	const struct geo_config *cfg = p->cfg;
	int n = 0;

#define PLACE(w, pa, d, l, b) do { \
		snprintf(pl[n].what, sizeof(pl[n].what), "%s", w); \
		pl[n].path = pa; pl[n].dir = d; pl[n].line = l; pl[n].backend = b; \
		pl[n].real = resolve_existing(pa); \
		n += pl[n].real != NULL; \
	} while (0)
	if (cfg->meta_path)
		PLACE("meta root", cfg->meta_path, true, keyline(&p->single[S_META], S_META, "path"), -1);
	if (cfg->keyring_path)
		PLACE("keyring", cfg->keyring_path, false,
		      keyline(&p->single[S_KEYS], S_KEYS, "keyring"), -1);
	if (cfg->audit_path)
		PLACE("audit log", cfg->audit_path, false,
		      keyline(&p->single[S_AUDIT], S_AUDIT, "path"), -1);
	for (int b = 0; b < cfg->nbackends; b++) {
		char what[CFG_NAME_MAX + 16];

		if (!cfg->backends[b].path)
			continue;	/* a backend kind without a directory */
		snprintf(what, sizeof(what), "backend %s", cfg->backends[b].name);
		PLACE(what, cfg->backends[b].path, true,
		      keyline(&p->backend[b], S_BACKEND, "path"), b);
	}
#undef PLACE
	return n;
}

/* Two backends in one directory: the first check of this kind, with its
 * own wording. */
static void same_backend_dir(struct parser *p, const struct place *a, const struct place *b)
{
	const struct geo_config *cfg = p->cfg;

	config_problem_at(p, b->line,
			  "backend %s uses the same path as backend %s (line %d); expected a distinct directory per backend",
			  cfg->backends[b->backend].name, cfg->backends[a->backend].name, a->line);
	p->backend[b->backend].bad = true;
}

/*
 * The meta root, the keyring, the audit log and the backend directories
 * must not overlap: a meta root or audit log in a backend would put names
 * and paths in that backend's country, a backend in the meta root would
 * show its objects in the namespace. Paths are compared after resolving
 * symlinks where they exist. Only the backends' trees and the meta root's
 * are trees; the keyring and the audit log are single files.
 */
static void check_overlaps(struct parser *p)
{
	struct place pl[CFG_MAX_BACKENDS + 3];
	int n = places_of(p, pl);

	for (int j = 0; j < n; j++)
		for (int i = 0; i < j; i++)
			if (pl[i].backend >= 0 && pl[j].backend >= 0 &&
			    !strcmp(pl[i].real, pl[j].real)) {
				same_backend_dir(p, &pl[i], &pl[j]);
				break;
			}
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < j; i++) {
			const struct place *a = &pl[i], *b = &pl[j], *in, *out;

			if (a->backend >= 0 && b->backend >= 0 && !strcmp(a->real, b->real))
				continue;	/* reported above */
			if (a->dir && inside(b->real, a->real))
				in = b, out = a;
			else if (b->dir && inside(a->real, b->real))
				in = a, out = b;
			else if (!strcmp(a->real, b->real))
				in = b, out = a;
			else
				continue;
			config_problem_at(p, in->line > out->line ? in->line : out->line,
					  "%s %s lies inside %s %s (line %d)%s; expected the meta root, the keyring, the audit log and every backend directory apart, none inside another",
					  in->what, in->path, out->what, out->path, out->line,
					  out->backend >= 0 && in->backend < 0 ?
					  ": names and keys must stay out of the backends" : "");
			if (b->backend >= 0)
				p->backend[b->backend].bad = true;
		}
	}
	for (int i = 0; i < n; i++)
		free(pl[i].real);
}

/* The endpoint as a store is reached: host in lower case (names are
 * case-blind) and port, the scheme's default when none is given; http and
 * https on one port are one server. Two spellings of one store give one
 * string. */
static void endpoint_id(const char *ep, char *out, size_t len)
{
	bool tls = !strncmp(ep, "https://", 8);
	const char *host = ep + (tls ? 8 : 7);
	size_t hl = strcspn(host, ":/"), n = 0;

	for (size_t k = 0; k < hl && n + 1 < len; k++)
		out[n++] = (char)(host[k] >= 'A' && host[k] <= 'Z' ? host[k] - 'A' + 'a' : host[k]);
	out[n < len ? n : len - 1] = '\0';
	if (n < len)
		snprintf(out + n, len - n, ":%s", host[hl] == ':' ? host + hl + 1 : tls ? "443" : "80");
}

/* True if the keys of a backend with prefix `inner` fall among the objects
 * of one with prefix `outer`: its listing ("OUTER/objects/") would show
 * them (and the inner marker) as keys it never wrote, so fsck could never
 * come clean and the two backends' keys would mix. */
static bool under_objects(const char *outer, const char *inner)
{
	char area[CFG_S3_PREFIX_MAX + 16];
	size_t n;

	snprintf(area, sizeof(area), "%s%sobjects", outer, outer[0] ? "/" : "");
	n = strlen(area);
	return !strncmp(inner, area, n) && (inner[n] == '\0' || inner[n] == '/');
}

/* Two S3 backends on one bucket and prefix of one endpoint would see each
 * other's objects as orphans, like two backends on one directory; so would
 * one whose prefix lies under the other's objects/ (prefix "" and
 * "objects", or "a" and "a/objects/b"). Nested prefixes otherwise ("a" and
 * "a/b") keep apart: each lists only its own PREFIX/objects/. */
static void check_same_bucket(struct parser *p)
{
	const struct geo_config *cfg = p->cfg;

	for (int j = 0; j < cfg->nbackends; j++) {
		const struct cfg_backend *bj = &cfg->backends[j];

		for (int i = 0; i < j; i++) {
			const struct cfg_backend *bi = &cfg->backends[i];
			char ei[512], ej[512];

			if (bi->path || bj->path || !bi->s3.endpoint || !bj->s3.endpoint ||
			    strcmp(bi->s3.bucket, bj->s3.bucket))
				continue;
			endpoint_id(bi->s3.endpoint, ei, sizeof(ei));
			endpoint_id(bj->s3.endpoint, ej, sizeof(ej));
			if (strcmp(ei, ej))
				continue;
			if (!strcmp(bi->s3.prefix, bj->s3.prefix))
				config_problem_at(p, keyline(&p->backend[j], S_BACKEND, "bucket"),
						  "backend %s uses the same bucket and prefix as backend %s (line %d); expected a distinct bucket or prefix per backend",
						  bj->name, bi->name,
						  keyline(&p->backend[i], S_BACKEND, "bucket"));
			else if (under_objects(bi->s3.prefix, bj->s3.prefix) ||
				 under_objects(bj->s3.prefix, bi->s3.prefix))
				config_problem_at(p, keyline(&p->backend[j], S_BACKEND, "prefix") ?
						  keyline(&p->backend[j], S_BACKEND, "prefix") :
						  keyline(&p->backend[j], S_BACKEND, "bucket"),
						  "prefix '%s' of backend %s and prefix '%s' of backend %s (line %d) share bucket %s, and one lies under the other's objects/, so the outer one would list the inner one's keys as names it never wrote; expected prefixes where neither is under PREFIX/objects of the other",
						  bj->s3.prefix, bj->name, bi->s3.prefix, bi->name,
						  bi->line, bj->s3.bucket);
			else
				continue;
			p->backend[j].bad = true;
			break;
		}
	}
}

/* Keys only one kind takes; `path` is dir's, the rest s3's. */
static const char *const s3_only[] = { "endpoint", "bucket", "prefix", "region", "credentials",
				       "profile", "ca_file", "connect_timeout", "request_timeout" };
static const char *const s3_required[] = { "endpoint", "bucket", "credentials" };

static void refuse_key(struct parser *p, int i, const char *key, const char *kind)
{
	int line = keyline(&p->backend[i], S_BACKEND, key);

	if (!line)
		return;
	config_problem_at(p, line, "key '%s' does not apply to [backend %s] of kind %s; expected %s",
			  key, p->cfg->backends[i].name, kind,
			  strcmp(kind, "s3") ? "it only with kind = s3" : "endpoint and bucket instead (path is for kind = dir)");
	p->backend[i].bad = true;
}

static void require_key(struct parser *p, int i, const char *key, const char *expect)
{
	if (keyline(&p->backend[i], S_BACKEND, key))
		return;
	config_problem_at(p, p->backend[i].line, "missing key '%s' in [backend %s] (kind %s); expected %s = %s",
			  key, p->cfg->backends[i].name, p->cfg->backends[i].kind, key, expect);
	p->backend[i].bad = true;
}

/* What a stat can tell of the files an S3 backend names, at their lines:
 * one that is not there, not a regular file, readable by group or others
 * (credentials) or owned by another user (credentials, as the keyring).
 * A file this process may not even stat is left to the mount's own open. */
static void check_s3_file(struct parser *p, int i, const char *key, const char *what,
			  const char *path, const char *expect, bool secret)
{
	const struct cfg_backend *b = &p->cfg->backends[i];
	int line = keyline(&p->backend[i], S_BACKEND, key);
	struct stat st;

	if (!path)
		return;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			config_problem_at(p, line, "%s %s of [backend %s] does not exist; expected %s",
					  what, path, b->name, expect);
			p->backend[i].bad = true;
		}
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		config_problem_at(p, line, "%s %s of [backend %s] is not a regular file; expected %s",
				  what, path, b->name, expect);
	} else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		config_problem_at(p, line,
				  "%s %s of [backend %s] has mode %04o, which gives group or others access to the S3 keys; expected mode 0600 (run: chmod 600 %s)",
				  what, path, b->name, (unsigned)(st.st_mode & 07777), path);
	} else if (secret && st.st_uid != 0 && st.st_uid != geteuid()) {
		config_problem_at(p, line,
				  "%s %s of [backend %s] is owned by uid %u, not by root or the user geofs runs as (uid %u); expected it owned by one of them (run: chown %u %s)",
				  what, path, b->name, (unsigned)st.st_uid, (unsigned)geteuid(),
				  (unsigned)geteuid(), path);
	} else {
		return;
	}
	p->backend[i].bad = true;
}

static void check_s3_files(struct parser *p, int i)
{
	const struct cfg_backend *b = &p->cfg->backends[i];

	check_s3_file(p, i, "credentials", "credentials file", b->s3.credentials,
		      "an AWS shared-credentials file of mode 0600", true);
	check_s3_file(p, i, "ca_file", "ca_file", b->s3.ca_file, "a PEM CA certificate file", false);
}

/* Each backend has exactly its kind's keys; `where` names it in messages. */
static void check_backend_kinds(struct parser *p)
{
	struct geo_config *cfg = p->cfg;

	for (int i = 0; i < cfg->nbackends; i++) {
		struct cfg_backend *b = &cfg->backends[i];
		bool s3 = !strcmp(b->kind, "s3");
		int rc;

		if (s3) {
			refuse_key(p, i, "path", "s3");
			for (size_t k = 0; k < sizeof(s3_required) / sizeof(s3_required[0]); k++)
				require_key(p, i, s3_required[k], s3_required[k][0] == 'e' ?
					    "http[s]://HOST[:PORT]" : s3_required[k][0] == 'b' ?
					    "a bucket name" : "an AWS shared-credentials file path");
		} else {
			for (size_t k = 0; k < sizeof(s3_only) / sizeof(s3_only[0]); k++)
				refuse_key(p, i, s3_only[k], b->kind);
			require_key(p, i, "path", "a directory path");
		}
		if (s3)
			check_s3_files(p, i);
		if (s3 && b->s3.endpoint)
			rc = asprintf(&b->where, "%s/%s%s%s", b->s3.endpoint, b->s3.bucket,
				      b->s3.prefix[0] ? "/" : "", b->s3.prefix);
		else
			rc = asprintf(&b->where, "%s", b->path ? b->path : "?");
		if (rc < 0) {
			b->where = NULL;
			p->oom = true;
		}
	}
}

/* Non-draining backends in countries `store` allows. */
static int count_in(const struct geo_config *cfg, const struct cset *store)
{
	int n = 0;

	for (int i = 0; i < cfg->nbackends; i++)
		n += !cfg->backends[i].drain && cset_has(store, cfg->backends[i].country);
	return n;
}

/* The most backends that qualify for category c, over every origin. Only an
 * origin where some backend sits can add to the fixed part of the list. */
static int max_qualifying(const struct geo_config *cfg, const struct cfg_category *c)
{
	struct cset s;
	int best;

	cspec_set(&c->store_in, -1, &s);
	best = count_in(cfg, &s);
	for (int i = 0; c->store_in.origin && i < cfg->nbackends; i++) {
		int n;

		cspec_set(&c->store_in, cfg->backends[i].country, &s);
		n = count_in(cfg, &s);
		best = n > best ? n : best;
	}
	return best;
}

static void check_replicas(struct parser *p)
{
	const struct geo_config *cfg = p->cfg;
	char allowed[MSG_MAX / 2];

	for (int i = 0; i < cfg->nbackends; i++)
		if (p->backend[i].bad)
			return;		/* counts would be wrong; already reported */
	for (int i = 0; i < cfg->ncats; i++) {
		const struct cfg_category *c = &cfg->cats[i];
		int max = max_qualifying(cfg, c), line = keyline(&p->cat[i], S_CATEGORY, "replicas");
		bool set = !cset_empty(&c->store_in.set);

		if (p->cat[i].bad || max >= c->replicas || cfg->site_country < 0)
			continue;
		cset_format(&c->store_in.set, allowed, sizeof(allowed));
		config_problem_at(p, line ? line : c->line,
				  "category %s wants %d replica%s but at most %d non-draining backend%s could ever qualify (store_in: %s%s%s); expected replicas <= %d or more backends in allowed countries",
				  c->name, c->replicas, c->replicas == 1 ? "" : "s",
				  max, max == 1 ? "" : "s", c->store_in.origin ? "origin" : "",
				  c->store_in.origin && set ? "," : "", set ? allowed : "", max);
	}
}

void config_validate(struct parser *p)
{
	check_required(p);
	check_backend_kinds(p);
	resolve_defaults(p);
	resolve_default_category(p);
	check_overlaps(p);
	check_same_bucket(p);
	check_replicas(p);
}
