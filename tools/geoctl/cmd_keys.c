/*
 * cmd_keys.c — `geoctl keys init|list|export|import|rotate -c CONFIG ...`:
 * manage the site keyring named by the config's [keys] keyring. rotate,
 * which also rewraps file keys in the meta root, is in keys_rotate.c.
 *
 * Works offline on the keyring file through fs/keys.h; it never prints a
 * key, and writes key material only to files it creates with mode 0600
 * (never replacing one) or to a non-terminal stdout (export).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appendf.h"
#include "config.h"
#include "crypto.h"
#include "geoctl.h"
#include "json.h"
#include "mkdirs.h"
#include "keys.h"
#include "store.h"
#include "keys_cmd.h"
#include "table.h"

#define ERRBUF_LEN (64 * 1024)

static const char keys_help[] =
"usage: geoctl keys VERB -c CONFIG [OPTIONS]\n"
"\n"
"Manage the keyring of a geofs site: the file named by `[keys] keyring` in the\n"
"mount config. Every file's data key is wrapped under the key of its domain,\n"
"ORIGIN:category (e.g. JP:medical). A keyring holds a master secret, from\n"
"which the key of every domain derives (HKDF-SHA256), and/or explicit domain\n"
"keys imported from another site. A site whose keyring cannot produce a\n"
"file's domain key cannot read that file, even with raw access to the meta\n"
"root and the backends.\n"
"\n"
"Verbs:\n"
"  init     create the keyring, with a new random master secret\n"
"  list     show whether a master is present and which domain keys are held\n"
"  export   write one domain's current key as a keyring file for another site\n"
"  import   add the domain keys of such a file to this site's keyring\n"
"  rotate   give a domain a new key version and rewrap its files' keys\n"
"\n"
"A typical hand-over: the home site (JP) keeps the master; a foreign site\n"
"that may read JP:media files gets only that domain:\n"
"  home#    geoctl keys export -c home.conf --domain JP:media -o jp-media.keyring\n"
"  (copy jp-media.keyring over a secure channel, keep it mode 0600)\n"
"  remote#  geoctl keys init -c remote.conf --no-master\n"
"  remote#  geoctl keys import -c remote.conf jp-media.keyring\n"
"\n"
"The keyring is a text file, mode 0600 (geofs refuses to load it if group or\n"
"others have any access). Back it up: files cannot be read without it.\n"
"No verb ever prints key bytes.\n"
"\n"
"Run `geoctl keys VERB --help` for a verb's options.\n"
"\n"
"Exit status: 0 success, 1 findings (rotate: files that could not be\n"
"rewrapped), 2 usage or runtime error.\n";

static const char init_help[] =
"usage: geoctl keys init -c CONFIG [--no-master]\n"
"\n"
"Create the site keyring at the path the config's [keys] keyring names, with\n"
"mode 0600, creating its parent directory (mode 0700) if missing. The file is\n"
"written to a temporary name, synced, then linked into place, so a crash\n"
"leaves either no keyring or a complete one.\n"
"\n"
"An existing keyring is never overwritten: its keys protect existing files,\n"
"and replacing it would make them unreadable. init then fails with status 2.\n"
"\n"
"After creating the keyring, init creates the meta root and the audit log's\n"
"directory if they are missing (mode 0700, missing parents 0755), then runs\n"
"`geoctl backend init --create` for every backend of the config: it creates\n"
"missing backend directories and writes the marker geofs requires before it\n"
"stores anything there.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config naming the keyring (required)\n"
"      --no-master      create an empty keyring without a master secret, for a\n"
"                       site that will only hold domain keys imported from the\n"
"                       home site (see geoctl keys import)\n"
"  -h, --help           show this help\n"
"\n"
"Exit status: 0 created, 2 the keyring exists, the config is invalid, or the\n"
"file or a backend marker could not be written.\n";

static const char list_help[] =
"usage: geoctl keys list -c CONFIG [--json]\n"
"\n"
"Show what the site keyring holds, without any key bytes: whether a master\n"
"secret is present (then the key of every domain, at every version, derives\n"
"from it), and each explicit domain key with its version and the domain's\n"
"current version (the one new files are wrapped under; 1 unless rotated).\n"
"An explicit key wins over the derived one for the same domain and version.\n"
"A rotated domain whose current key derives from the master also gets a row\n"
"for its current version, with source `master`.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config naming the keyring (required)\n"
"      --json           print one JSON object: {\"keyring\": PATH, \"master\":\n"
"                       BOOL, \"domains\": [{\"domain\", \"version\", \"current\",\n"
"                       \"source\": \"explicit\"|\"master\"}]}\n"
"  -h, --help           show this help\n"
"\n"
"Output (text): the keyring path, `master yes|no`, then the columns\n"
"  DOMAIN  VERSION  CURRENT  SOURCE\n"
"one row per explicit domain key (SOURCE explicit) and per rotated domain\n"
"whose current key derives from the master (SOURCE master).\n"
"\n"
"Exit status: 0 listed, 2 the keyring or config cannot be read.\n";

static const char export_help[] =
"usage: geoctl keys export -c CONFIG --domain CC:CATEGORY [-o FILE]\n"
"\n"
"Write a keyring file holding only the current key of one domain (explicit,\n"
"or derived from the master), for `geoctl keys import` on another site that\n"
"may read that domain's files. The master secret is never exported.\n"
"\n"
"The output is secret: it is written to FILE with mode 0600, never replacing\n"
"an existing file, or to standard output when that is a pipe or file. A\n"
"terminal is refused, so key material does not land in scrollback.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG    the mount config naming the keyring (required)\n"
"  -d, --domain CC:NAME   the domain, e.g. JP:medical (required)\n"
"  -o, --output FILE      write to FILE (mode 0600, must not exist)\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 exported, 2 the keyring cannot produce the domain's key,\n"
"FILE exists, stdout is a terminal, or a usage or I/O error.\n";

static const char import_help[] =
"usage: geoctl keys import -c CONFIG FILE\n"
"\n"
"Add the domain keys held in FILE (a keyring file, normally written by\n"
"`geoctl keys export`, mode 0600) to the site keyring, and raise each\n"
"domain's current version to FILE's where FILE's is higher. A master secret\n"
"in FILE is ignored with a warning. The site keyring is rewritten atomically\n"
"(temporary file, fsync, rename) with mode 0600.\n"
"\n"
"Keys already present are skipped. A key that differs from the one this\n"
"keyring already holds or derives for the same domain and version is a\n"
"conflict: nothing is imported and the status is 2, since replacing a key\n"
"would make the files wrapped under it unreadable.\n"
"\n"
"A mounted geofs reads its keyring when it mounts: remount it (or reload it\n"
"with SIGHUP) to use the imported keys. After a rotation on the home site,\n"
"import the exported new version the same way: the versions this keyring\n"
"already holds stay, so files not yet rewrapped remain readable.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config naming the site keyring (required)\n"
"  -h, --help           show this help\n"
"\n"
"Exit status: 0 imported (or nothing new), 2 conflict, unreadable file or\n"
"config, or a usage or I/O error.\n";

/* ---- arguments ----------------------------------------------------------- */

enum {
	OPT_JSON = 1 << 0,
	OPT_NO_MASTER = 1 << 1,
	OPT_DOMAIN = 1 << 2,
	OPT_OUTPUT = 1 << 3,
	OPT_FILE = 1 << 4,	/* one positional FILE */
	OPT_ROTATE = 1 << 5,	/* --resume, --force, --dry-run */
};

/* Value of an option given as "-x V", "--long V", "--long=V" or "-xV";
 * NULL if argv[*i] is not that option. *bad set when V is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *s, const char *l,
			     bool *bad)
{
	const char *a = argv[*i];
	size_t ln = strlen(l);

	if (!strcmp(a, s) || !strcmp(a, l)) {
		if (*i + 1 == argc) {
			*bad = true;
			return a;
		}
		return argv[++*i];
	}
	if (!strncmp(a, l, ln) && a[ln] == '=')
		return a + ln + 1;
	if (!strncmp(a, s, 2) && a[2])
		return a + 2;
	return NULL;
}

/* Parses argv (argv[0] is the sub-verb) allowing the options in mask. */
static int parse_args(int argc, char **argv, unsigned mask, struct keys_args *ka)
{
	bool only_files = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool bad = false;

		if (!only_files && !strcmp(a, "--")) {
			only_files = true;
		} else if (!only_files && (v = opt_value(argc, argv, &i, "-c", "--config", &bad))) {
			ka->config = v;
		} else if (!only_files && (mask & OPT_DOMAIN) &&
			   (v = opt_value(argc, argv, &i, "-d", "--domain", &bad))) {
			ka->domain = v;
		} else if (!only_files && (mask & OPT_OUTPUT) &&
			   (v = opt_value(argc, argv, &i, "-o", "--output", &bad))) {
			ka->output = v;
		} else if (!only_files && (mask & OPT_JSON) && !strcmp(a, "--json")) {
			ka->json = true;
		} else if (!only_files && (mask & OPT_NO_MASTER) && !strcmp(a, "--no-master")) {
			ka->no_master = true;
		} else if (!only_files && (mask & OPT_ROTATE) && !strcmp(a, "--resume")) {
			ka->resume = true;
		} else if (!only_files && (mask & OPT_ROTATE) && !strcmp(a, "--force")) {
			ka->force = true;
		} else if (!only_files && (mask & OPT_ROTATE) && !strcmp(a, "--dry-run")) {
			ka->dry_run = true;
		} else if ((mask & OPT_FILE) && !ka->file && (only_files || a[0] != '-' || !a[1])) {
			ka->file = a;
		} else {
			geoctl_err("keys %s: unexpected argument '%s' (see geoctl keys %s --help)",
				   ka->verb, a, ka->verb);
			return -EINVAL;
		}
		if (bad) {
			geoctl_err("keys %s: %s needs a value", ka->verb, a);
			return -EINVAL;
		}
	}
	if (!ka->config || !*ka->config) {
		geoctl_err("keys %s: no config given (-c CONFIG)", ka->verb);
		return -EINVAL;
	}
	if ((mask & OPT_DOMAIN) && (!ka->domain || !keys_domain_valid(ka->domain))) {
		geoctl_err("keys %s: --domain needs CC:category with an ISO 3166-1 code and a "
			   "category of letters, digits, '_', '.', '-' (e.g. JP:medical)", ka->verb);
		return -EINVAL;
	}
	if ((mask & OPT_FILE) && !ka->file) {
		geoctl_err("keys %s: no FILE given", ka->verb);
		return -EINVAL;
	}
	if (ka->resume && ka->force) {
		geoctl_err("keys %s: --resume and --force contradict each other", ka->verb);
		return -EINVAL;
	}
	return 0;
}

/* ---- shared steps -------------------------------------------------------- */

static struct geo_config *load_config(const char *file)
{
	struct geo_config *cfg = NULL;
	char *err = calloc(1, ERRBUF_LEN);

	if (!err) {
		geoctl_err("out of memory");
		return NULL;
	}
	if (config_load(file, &cfg, err, ERRBUF_LEN) != 0) {
		fprintf(stderr, "%s\n", err);
		geoctl_err("%s: invalid config (see geoctl check -c %s)", file, file);
		cfg = NULL;
	}
	free(err);
	return cfg;
}

/* Creates the missing directories above file path, mode 0700 (the keyring's).
 * 0 or -errno (reported). */
static int make_parents(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash || slash == path)
		return 0;
	dir = strndup(path, (size_t)(slash - path));
	ret = dir ? mkdir_p(dir, 0700, 0700) : -ENOMEM;
	if (ret)
		geoctl_err("cannot create directory %s: %s", dir ? dir : path, strerror(-ret));
	free(dir);
	return ret;
}

/* Creates dir with mode 0700 (missing parents 0755) unless it exists. 0 or
 * -errno (reported). */
static int make_site_dir(const char *what, const char *dir)
{
	struct stat st;
	int ret;

	if (stat(dir, &st) == 0)
		return 0;
	ret = mkdir_p(dir, 0755, 0700);
	if (ret) {
		geoctl_err("cannot create %s %s: %s", what, dir, strerror(-ret));
		return ret;
	}
	printf("created %s %s (mode 0700)\n", what, dir);
	return 0;
}

/* The meta root and the audit log's directory of a new site, mode 0700:
 * names, tags and access records are personal data too. */
static int make_site_dirs(const struct geo_config *cfg)
{
	char *dir, *slash;
	int ret = make_site_dir("meta root", cfg->meta_path);

	if (ret || !cfg->audit_path)
		return ret;
	dir = strdup(cfg->audit_path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		ret = make_site_dir("audit directory", dir);
	}
	free(dir);
	return ret;
}

/* ---- verbs --------------------------------------------------------------- */

static int keys_init(struct keys_args *ka, struct geo_config *cfg)
{
	const char *path = cfg->keyring_path;
	struct keyring *kr;
	char err[CFG_ERR_MAX] = "";
	int ret;

	if (access(path, F_OK) == 0) {
		geoctl_err("%s exists and will not be overwritten: its keys protect existing "
			   "files (see geoctl keys list -c %s)", path, ka->config);
		return GEOCTL_ERROR;
	}
	if ((ret = make_parents(path)) != 0)
		return GEOCTL_ERROR;
	ret = keyring_new(!ka->no_master, &kr);
	if (ret) {
		geoctl_err("cannot create a keyring: %s", strerror(-ret));
		return GEOCTL_ERROR;
	}
	ret = keyring_save(kr, path, true, err, sizeof(err));
	keyring_free(kr);
	if (ret == -EEXIST) {
		geoctl_err("%s exists and will not be overwritten", path);
		return GEOCTL_ERROR;
	}
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return GEOCTL_ERROR;
	}
	if (ka->no_master)
		printf("created %s (mode 0600) without a master secret; add domain keys with: "
		       "geoctl keys import -c %s FILE\n", path, ka->config);
	else
		printf("created %s (mode 0600) with a new master secret; back it up: files "
		       "cannot be read without it\n", path);
	/* A new site: its directories and backend markers, so that it mounts. */
	if (make_site_dirs(cfg) != 0)
		return GEOCTL_ERROR;
	return geoctl_backend_init(cfg, UINT64_MAX, STORE_INIT_CREATE);
}

struct domain_list {
	struct {
		char name[KEYS_DOMAIN_MAX];
		uint32_t version;
		bool derived;	/* a current version that derives from the master */
	} *v;
	size_t n, cap;
	bool oom;
};

static void collect_domain(const char *domain, uint32_t version, void *arg)
{
	struct domain_list *dl = arg;

	if (dl->n == dl->cap) {
		size_t ncap = dl->cap ? 2 * dl->cap : 16;
		void *nv = realloc(dl->v, ncap * sizeof(*dl->v));

		if (!nv) {
			dl->oom = true;
			return;
		}
		dl->v = nv;
		dl->cap = ncap;
	}
	snprintf(dl->v[dl->n].name, KEYS_DOMAIN_MAX, "%s", domain);
	dl->v[dl->n].derived = false;
	dl->v[dl->n++].version = version;
}

struct derived_ctx {
	struct domain_list *dl;
	const struct keyring *kr;
};

/* A domain's current version, unless an explicit entry already lists it. */
static void collect_derived(const char *domain, uint32_t version, void *arg)
{
	struct derived_ctx *dc = arg;
	size_t n = dc->dl->n;

	if (keyring_has_explicit(dc->kr, domain, version))
		return;
	collect_domain(domain, version, dc->dl);
	if (dc->dl->n > n)
		dc->dl->v[n].derived = true;
}

/* The explicit domain entries of kr (with_derived: and the current
 * versions that derive from its master), or false (message printed) on
 * ENOMEM. */
static bool list_domains(const struct keyring *kr, bool with_derived, struct domain_list *dl)
{
	struct derived_ctx dc = { dl, kr };

	memset(dl, 0, sizeof(*dl));
	keyring_foreach_domain(kr, collect_domain, dl);
	if (with_derived && keyring_has_master(kr))
		keyring_foreach_current(kr, collect_derived, &dc);
	if (dl->oom) {
		geoctl_err("out of memory");
		free(dl->v);
		dl->v = NULL;
	}
	return !dl->oom;
}

static int keys_list(struct keys_args *ka, struct geo_config *cfg)
{
	static const char *const heads[] = { "DOMAIN", "VERSION", "CURRENT", "SOURCE", NULL };
	struct keyring *kr = keys_load_keyring(cfg->keyring_path, true);
	struct domain_list dl;
	struct table t;
	struct json j;

	if (!kr)
		return GEOCTL_ERROR;
	if (!list_domains(kr, true, &dl)) {
		keyring_free(kr);
		return GEOCTL_ERROR;
	}
	if (ka->json) {
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "keyring", cfg->keyring_path);
		json_bool(&j, "master", keyring_has_master(kr));
		json_arr_begin(&j, "domains");
		for (size_t i = 0; i < dl.n; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "domain", dl.v[i].name);
			json_u64(&j, "version", dl.v[i].version);
			json_u64(&j, "current", keyring_current(kr, dl.v[i].name));
			json_str(&j, "source", dl.v[i].derived ? "master" : "explicit");
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		json_finish(&j);
	} else {
		printf("keyring  %s\n", cfg->keyring_path);
		printf("master   %s\n", keyring_has_master(kr)
		       ? "yes (every domain's key derives from it)"
		       : "no (only the domain keys below)");
		if (dl.n) {
			table_init(&t, heads, 0x6);
			for (size_t i = 0; i < dl.n; i++) {
				table_row(&t);
				table_cell(&t, "%s", dl.v[i].name);
				table_cell(&t, "%u", (unsigned)dl.v[i].version);
				table_cell(&t, "%u", (unsigned)keyring_current(kr, dl.v[i].name));
				table_cell(&t, "%s", dl.v[i].derived ? "master" : "explicit");
			}
			putchar('\n');
			table_print(&t, stdout, 0);
			table_free(&t);
		} else {
			printf("domains  none held explicitly\n");
		}
	}
	free(dl.v);
	keyring_free(kr);
	return GEOCTL_OK;
}

static int keys_export(struct keys_args *ka, struct geo_config *cfg)
{
	struct keyring *kr, *out = NULL;
	uint8_t key[AEAD_KEY_LEN];
	char err[CFG_ERR_MAX] = "";
	int ret, status = GEOCTL_ERROR;
	uint32_t ver;

	if (!ka->output && isatty(STDOUT_FILENO)) {
		geoctl_err("keys export: refusing to write key material to a terminal; "
			   "use -o FILE or redirect stdout");
		return GEOCTL_ERROR;
	}
	kr = keys_load_keyring(cfg->keyring_path, true);
	if (!kr)
		return GEOCTL_ERROR;
	ver = keyring_current(kr, ka->domain);
	ret = keyring_domain_key(kr, ka->domain, ver, key);
	if (ret) {
		geoctl_err("%s holds no key for %s version %u%s", cfg->keyring_path, ka->domain,
			   (unsigned)ver, ret == -ENOKEY ? " (no master, no explicit key)" : "");
		goto out_kr;
	}
	ret = keyring_new(false, &out);
	if (!ret)
		ret = keyring_add_domain(out, ka->domain, ver, key);
	if (!ret)
		ret = keyring_set_current(out, ka->domain, ver);
	crypto_wipe(key, sizeof(key));
	if (ret) {
		geoctl_err("keys export: %s", strerror(-ret));
		goto out_kr;
	}
	if (ka->output) {
		ret = keyring_save(out, ka->output, true, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "%s\n", err);
			goto out_kr;
		}
		fprintf(stderr, "geoctl: exported %s version %u to %s (mode 0600)\n",
			ka->domain, (unsigned)ver, ka->output);
	} else {
		ret = keyring_write(out, STDOUT_FILENO);
		if (ret) {
			geoctl_err("keys export: writing stdout: %s", strerror(-ret));
			goto out_kr;
		}
	}
	status = GEOCTL_OK;
out_kr:
	keyring_free(out);
	keyring_free(kr);
	return status;
}

/* Compares without an early exit, as key comparisons should. */
static bool same_key(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (int i = 0; i < AEAD_KEY_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* Adds each entry of `from` to `site`. Returns how many keys were new, or
 * -1 (message printed) on a conflict or error: site may then be partly
 * updated and must not be saved. *bumped counts raised current versions. */
static int merge(struct keyring *site, const struct keyring *from, const struct domain_list *dl,
		 const char *file, int *bumped)
{
	uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN];
	int added = 0, ret = 0;

	for (size_t i = 0; i < dl->n && ret == 0; i++) {
		const char *d = dl->v[i].name;
		uint32_t v = dl->v[i].version, fcur = keyring_current(from, d);

		ret = keyring_domain_key(from, d, v, k1);
		if (ret)
			break;
		ret = keyring_domain_key(site, d, v, k2);
		if (ret == 0 && !same_key(k1, k2)) {
			geoctl_err("%s: the key for %s version %u differs from the one this site "
				   "already has; refusing to replace it (files wrapped under it "
				   "would become unreadable)", file, d, (unsigned)v);
			ret = -EEXIST;
		} else if (ret == -ENOKEY) {
			ret = keyring_add_domain(site, d, v, k1);
			added++;
		}
		if (ret == 0 && fcur > keyring_current(site, d)) {
			ret = keyring_set_current(site, d, fcur);
			(*bumped)++;
		}
		if (ret && ret != -EEXIST)
			geoctl_err("%s: importing %s version %u: %s", file, d, (unsigned)v,
				   strerror(-ret));
	}
	crypto_wipe(k1, sizeof(k1));
	crypto_wipe(k2, sizeof(k2));
	return ret ? -1 : added;
}

static int keys_import(struct keys_args *ka, struct geo_config *cfg)
{
	struct keyring *site = NULL, *from;
	struct domain_list dl = { 0 };
	char err[CFG_ERR_MAX] = "";
	int status = GEOCTL_ERROR, added, bumped = 0;

	from = keys_load_keyring(ka->file, false);
	if (!from)
		return GEOCTL_ERROR;
	if (!list_domains(from, false, &dl))
		goto out;
	if (dl.n == 0) {
		geoctl_err("%s holds no domain keys to import", ka->file);
		goto out;
	}
	if (keyring_has_master(from))
		geoctl_err("warning: %s holds a master secret; it is not imported, only its "
			   "domain keys are", ka->file);
	site = keys_load_keyring(cfg->keyring_path, true);
	if (!site)
		goto out;
	added = merge(site, from, &dl, ka->file, &bumped);
	if (added < 0)
		goto out;
	status = GEOCTL_OK;
	if (added == 0 && bumped == 0) {
		printf("nothing to import: %s already holds the %zu domain key%s of %s\n",
		       cfg->keyring_path, dl.n, plural(dl.n), ka->file);
		goto out;
	}
	if (keyring_save(site, cfg->keyring_path, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		status = GEOCTL_ERROR;
		goto out;
	}
	printf("imported %d of %zu domain key%s from %s into %s (%zu already present); "
	       "reload (geoctl reload MOUNT) or remount geofs to use %s\n", added, dl.n,
	       plural(dl.n), ka->file, cfg->keyring_path, dl.n - (size_t)added,
	       added == 1 ? "it" : "them");
out:
	free(dl.v);
	keyring_free(site);
	keyring_free(from);
	return status;
}

/* ---- dispatch ------------------------------------------------------------ */

/* A domain names a category the config declares: a key for any other
 * protects no file, and a rotation would write it into the keyring. */
static bool domain_declared(const struct keys_args *ka, const struct geo_config *cfg)
{
	const char *cat = strchr(ka->domain, ':') + 1;	/* keys_domain_valid() */
	char names[1024];
	size_t pos = 0;

	if (config_category(cfg, cat) >= 0)
		return true;
	names[0] = '\0';
	for (int i = 0; i < cfg->ncats; i++)
		appendf(names, sizeof(names), &pos, "%s%s", i ? ", " : "", cfg->cats[i].name);
	geoctl_err("keys %s: --domain %s: %s declares no category '%s'; expected one of: %s",
		   ka->verb, ka->domain, cfg->file, cat, names);
	return false;
}

struct keys_verb {
	const char *name;
	const char *help;
	unsigned opts;
	int (*run)(struct keys_args *ka, struct geo_config *cfg);
};

static const struct keys_verb keys_verbs[] = {
	{ "init", init_help, OPT_NO_MASTER, keys_init },
	{ "list", list_help, OPT_JSON, keys_list },
	{ "export", export_help, OPT_DOMAIN | OPT_OUTPUT, keys_export },
	{ "import", import_help, OPT_FILE, keys_import },
	{ "rotate", keys_rotate_help, OPT_DOMAIN | OPT_JSON | OPT_ROTATE, keys_rotate },
};

int cmd_keys(int argc, char **argv)
{
	const struct keys_verb *kv = NULL;
	struct keys_args ka = { 0 };
	struct geo_config *cfg;
	int status;

	if (argc < 2 || (argv[1][0] == '-' && geoctl_wants_help(2, argv))) {
		fputs(keys_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? GEOCTL_ERROR : GEOCTL_OK;
	}
	for (size_t i = 0; i < sizeof(keys_verbs) / sizeof(keys_verbs[0]); i++)
		if (!strcmp(argv[1], keys_verbs[i].name))
			kv = &keys_verbs[i];
	if (!kv) {
		geoctl_err("keys: unknown verb '%s'; expected init, list, export, import or "
			   "rotate (see geoctl keys --help)", argv[1]);
		return GEOCTL_ERROR;
	}
	if (geoctl_wants_help(argc - 1, argv + 1)) {
		fputs(kv->help, stdout);
		return GEOCTL_OK;
	}
	ka.verb = kv->name;
	if (parse_args(argc - 1, argv + 1, kv->opts, &ka) != 0)
		return GEOCTL_ERROR;
	cfg = load_config(ka.config);
	if (!cfg)
		return GEOCTL_ERROR;
	if ((kv->opts & OPT_DOMAIN) && !domain_declared(&ka, cfg)) {
		config_free(cfg);
		return GEOCTL_ERROR;
	}
	status = kv->run(&ka, cfg);
	config_free(cfg);
	return status;
}
