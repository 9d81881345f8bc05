/*
 * cmd_backend.c — `geoctl backend init|check -c CONFIG [NAME...]`: write and
 * check the markers that tell geofs a directory is the backend the config
 * means (fs/marker.h). Works offline on the backend directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "geoctl.h"
#include "marker.h"
#include "store.h"

static const char help[] =
"usage: geoctl backend init -c CONFIG [--create] [--force] [NAME...]\n"
"       geoctl backend check -c CONFIG [NAME...]\n"
"\n"
"geofs stores shards only in a backend directory that carries the marker file\n"
"geofs-backend naming that backend and its country:\n"
"    geofs-backend 1\n"
"    name tokyo-1\n"
"    country JP\n"
"so that an unmounted share (an empty mount point) is never filled, and a\n"
"share of one country is never used where the config expects another. geofs\n"
"refuses to mount while any backend lacks its marker or its marker names\n"
"another backend or country, and a reload refuses new backends likewise.\n"
"\n"
"Verbs (each works on every backend of CONFIG, or on the NAMEs given):\n"
"  init    write the marker (atomically) and create objects/ and tmp/; a\n"
"          directory already marked for this backend is left as it is\n"
"  check   report each backend's directory and marker without changing anything\n"
"\n"
"Options:\n"
"  -c, --config CONFIG  the mount config (required)\n"
"      --create         init: create a missing backend directory (mode 0700)\n"
"                       and its parents; without it a missing directory is an\n"
"                       error, since it usually means storage that is not mounted\n"
"      --force          init: replace a marker that names another backend or\n"
"                       country (after moving storage, or renaming a backend)\n"
"  -h, --help           this text\n"
"\n"
"`geoctl keys init` also runs `backend init --create` for every backend.\n"
"\n"
"Exit status: 0 every backend is (now) marked; 1 check found a backend\n"
"missing, unmarked or marked for another backend or country; 2 usage error,\n"
"invalid config, unknown NAME, or init failed for some backend.\n"
"\n"
"Examples:\n"
"  mount /mnt/geofs/seoul-1 && geoctl backend init -c /etc/geofs/geofs.conf seoul-1\n"
"  geoctl backend check -c /etc/geofs/geofs.conf\n";

struct geo_config *geoctl_config_load(const char *file)
{
	struct geo_config *cfg = NULL;
	char *err = calloc(1, 64 * 1024);

	if (!err) {
		geoctl_err("out of memory");
		return NULL;
	}
	if (config_load(file, &cfg, err, 64 * 1024) != 0) {
		fprintf(stderr, "%s\n", err);
		geoctl_err("%s: invalid config (see geoctl check -c %s)", file, file);
		cfg = NULL;
	}
	free(err);
	return cfg;
}

/* Bit per backend of cfg: the NAMEs, or all when none. -ENOENT on an
 * unknown name (reported). */
static int pick(const struct geo_config *cfg, char **names, int n, uint64_t *mask)
{
	*mask = 0;
	for (int b = 0; b < cfg->nbackends && !n; b++)
		*mask |= UINT64_C(1) << b;
	for (int i = 0; i < n; i++) {
		int b = config_backend(cfg, names[i]);

		if (b < 0) {
			geoctl_err("backend: %s declares no backend '%s'", cfg->file, names[i]);
			return -ENOENT;
		}
		*mask |= UINT64_C(1) << b;
	}
	return 0;
}

int geoctl_backend_init(const struct geo_config *cfg, uint64_t which, unsigned flags)
{
	int status = GEOCTL_OK;

	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];
		char err[1024];
		int rc;

		if (!(which & (UINT64_C(1) << i)))
			continue;
		rc = store_init_backend(b, cfg->file, flags, err, sizeof(err));
		if (rc < 0) {
			geoctl_err("%s", err);
			status = GEOCTL_ERROR;
		} else {
			printf("backend %s (%s): %s %s\n", b->name, country_code(b->country),
			       rc ? "already marked," : "marked", b->where);
		}
	}
	return status;
}

/* One line per backend; returns findings. */
static int check(const struct geo_config *cfg, uint64_t which)
{
	int findings = 0;

	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];
		char err[1024];
		int rc;

		if (!(which & (UINT64_C(1) << i)))
			continue;
		rc = store_check_backend(b, cfg->file, err, sizeof(err));
		if (rc) {
			printf("%s\n", err);
			findings++;
		} else {
			printf("backend %s (%s): ok, %s\n", b->name, country_code(b->country),
			       b->where);
		}
	}
	return findings ? GEOCTL_FINDINGS : GEOCTL_OK;
}

int cmd_backend(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "create", no_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *verb;
	struct geo_config *cfg;
	unsigned flags = 0;
	uint64_t which;
	int c, status;

	if (geoctl_wants_help(argc, argv)) {
		fputs(help, stdout);
		return GEOCTL_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "check") != 0)) {
		geoctl_err("backend: expected init or check (see geoctl backend --help)");
		return GEOCTL_ERROR;
	}
	verb = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'C':
			flags |= STORE_INIT_CREATE;
			break;
		case 'F':
			flags |= STORE_INIT_FORCE;
			break;
		default:
			geoctl_err("backend %s: see geoctl backend --help", verb);
			return GEOCTL_ERROR;
		}
	}
	if (!file) {
		geoctl_err("backend %s: no config given (-c CONFIG)", verb);
		return GEOCTL_ERROR;
	}
	if (flags && strcmp(verb, "init") != 0) {
		geoctl_err("backend check: --create and --force belong to init");
		return GEOCTL_ERROR;
	}
	cfg = geoctl_config_load(file);
	if (!cfg)
		return GEOCTL_ERROR;
	if (pick(cfg, argv + optind, argc - optind, &which) != 0)
		status = GEOCTL_ERROR;
	else if (strcmp(verb, "init") == 0)
		status = geoctl_backend_init(cfg, which, flags);
	else
		status = check(cfg, which);
	config_free(cfg);
	return status;
}
