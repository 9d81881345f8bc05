/*
 * keys_load.c — loading a keyring for the keys verbs (keys_cmd.h), saying
 * on stderr why it cannot be: below both cmd_keys.c and keys_rotate.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "geoctl.h"
#include "keys.h"
#include "keys_cmd.h"

struct keyring *keys_load_keyring(const char *path, bool site)
{
	struct keyring *kr = NULL;
	char err[CFG_ERR_MAX] = "";
	int ret = keyring_load(path, &kr, err, sizeof(err));

	if (ret == -ENOENT && !site)
		geoctl_err("%s: %s", path, strerror(ENOENT));
	else if (ret)
		fprintf(stderr, "%s\n", err);
	return kr;
}
