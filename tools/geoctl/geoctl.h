/*
 * geoctl.h — the admin tool's verbs, one cmd_<verb>.c each, dispatched by
 * main.c. Each returns the process exit status: 0 all well, 1 findings,
 * 2 usage or runtime error (GEOCTL_OK / GEOCTL_FINDINGS / GEOCTL_ERROR).
 */
#ifndef GEOCTL_H
#define GEOCTL_H

#include <stdbool.h>
#include <stdio.h>

#define GEOCTL_OK       0
#define GEOCTL_FINDINGS 1
#define GEOCTL_ERROR    2

struct geoctl_verb {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);	/* argv[0] is the verb */
};

int cmd_check(int argc, char **argv);
int cmd_keys(int argc, char **argv);

/* Prints "geoctl: " + message to stderr. */
void geoctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True if argv contains --help or -h (verbs print their help and exit 0). */
bool geoctl_wants_help(int argc, char **argv);

#endif
