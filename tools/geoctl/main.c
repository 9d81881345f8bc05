/*
 * main.c — geoctl: dispatch to one cmd_<verb>.c per subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "geoctl.h"
#include "version.h"

static const struct geoctl_verb verbs[] = {
	{ "check", "validate a mount config and print the resolved policy", cmd_check },
	{ "keys", "create, list, export, import and rotate keyring keys", cmd_keys },
	{ "show", "tags, allowed countries, placement and status of paths", cmd_show },
	{ "tag", "set the category and/or origin of paths (-R: everything below)", cmd_tag },
	{ "verify", "list misplaced files and files tagged looser than their directory", cmd_verify },
	{ "rebalance", "move misplaced files to compliant backends, with a plan and progress", cmd_rebalance },
	{ "report", "transparency report: bytes per category, origin and country (text, JSON, HTML)", cmd_report },
	{ "fsck", "offline check of meta root and backends; --repair deletes orphans", cmd_fsck },
	{ "audit", "verify the audit log's hash chain and show its records", cmd_audit },
	{ "status", "what a running geofs reports: backends, policy, counters, rates", cmd_status },
	{ "reload", "make a running geofs reread its config without unmounting", cmd_reload },
	{ "backend", "write or check the marker of each backend directory", cmd_backend },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: geoctl VERB [OPTIONS] [ARGS]\n\n"
		"geoctl inspects and administers geofs: tags, placement, keys, audit.\n\n"
		"Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nRun `geoctl help VERB` (or `geoctl VERB --help`) for a verb's options;\n"
		"`geoctl --version` prints the version.\n"
		"Exit status: 0 all well, 1 findings (e.g. misplaced files), 2 usage or runtime error.\n");
}

/* `geoctl help VERB`: the verb's own --help. */
static int help_verb(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(name, verbs[i].name) == 0) {
			char *args[] = { (char *)name, (char *)"--help", NULL };

			return verbs[i].run(2, args);
		}
	}
	geoctl_err("help: unknown verb '%s' (see geoctl --help)", name);
	return GEOCTL_ERROR;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return GEOCTL_ERROR;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("geoctl %s\n", GEOFS_VERSION);
		return GEOCTL_OK;
	}
	if (strcmp(argv[1], "help") == 0 && argc > 2)
		return help_verb(argv[2]);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return GEOCTL_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	geoctl_err("unknown verb '%s' (see geoctl --help)", argv[1]);
	return GEOCTL_ERROR;
}
