/*
 * geoctl.h — the admin tool's verbs, one cmd_<verb>.c each, dispatched by
 * main.c. Each returns the process exit status: 0 all well, 1 findings,
 * 2 usage or runtime error (GEOCTL_OK / GEOCTL_FINDINGS / GEOCTL_ERROR).
 */
#ifndef GEOCTL_H
#define GEOCTL_H

#include <stdbool.h>
#include <stdint.h>
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
int cmd_show(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rebalance(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_backend(int argc, char **argv);

struct geo_config;

/* Loads and validates a config, printing every problem. NULL on failure
 * (cmd_backend.c). */
struct geo_config *geoctl_config_load(const char *file);

/* `backend init` for the backends whose bit is set in which (flags:
 * STORE_INIT_*), one line each. GEOCTL_OK or GEOCTL_ERROR (cmd_backend.c). */
int geoctl_backend_init(const struct geo_config *cfg, uint64_t which, unsigned flags);

/* The status document of the geofs mounted at or above path, with that
 * mount point in root, into a new *json (caller frees). 0, or -errno after
 * printing why (cmd_status.c). */
int geoctl_fetch_stats(const char *path, char *root, size_t rootlen, char **json);

/* "s" after a count other than 1: "%llu file%s", n, plural(n). */
static inline const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* Prints "geoctl: " + message to stderr, escaped (escape.h) (cli.c). */
void geoctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True if argv contains --help or -h before any "--" (verbs print their
 * help and exit 0) (cli.c). */
bool geoctl_wants_help(int argc, char **argv);

#endif
