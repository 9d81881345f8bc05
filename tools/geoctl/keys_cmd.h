/*
 * keys_cmd.h — what `geoctl keys` (cmd_keys.c: dispatch, init, list,
 * export, import) shares with its rotate verb (keys_rotate.c), and the
 * keyring loading both use (keys_load.c).
 */
#ifndef GEOCTL_KEYS_CMD_H
#define GEOCTL_KEYS_CMD_H

#include <stdbool.h>

#include "config.h"
#include "keys.h"

/* The parsed command line of one keys verb. */
struct keys_args {
	const char *verb;
	const char *config, *domain, *output, *file;
	bool json, no_master;
	bool resume, force, dry_run;	/* rotate */
};

/* Loads a keyring, printing why it cannot (keys_load.c). site: it is the config's (a
 * missing one names `keys init`), else a file given on the command line.
 * NULL on failure; free with keyring_free(). */
struct keyring *keys_load_keyring(const char *path, bool site);

extern const char keys_rotate_help[];

/* `geoctl keys rotate`: returns the exit status. */
int keys_rotate(struct keys_args *ka, struct geo_config *cfg);

#endif
