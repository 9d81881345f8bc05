/*
 * cmd_reload.c — `geoctl reload MOUNT`: have the daemon serving MOUNT
 * reread its config (setxattr user.geo.reload on the mount root, the same
 * as SIGHUP), and explain a rejection.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "config.h"
#include "geoctl.h"
#include "jsonread.h"
#include "mountinfo.h"
#include "xattrs.h"

static const char help[] =
"usage: geoctl reload MOUNT\n"
"\n"
"Makes the geofs daemon serving MOUNT (its mount point, or any path on it)\n"
"reread its config file without unmounting, as `kill -HUP PID` does. The\n"
"new config is validated first, the keyring is reloaded (keys imported\n"
"since mount become usable), and backends the running config did not have\n"
"must be present and carry their marker (geoctl backend init). If anything\n"
"is wrong, the daemon keeps the config it runs with and logs why; geoctl\n"
"then checks the file itself and prints its errors.\n"
"\n"
"Takes effect for new writes and opens: categories (new ones, changed\n"
"store_in, access_from, replicas, compress), backends added, reweighted or\n"
"set to drain = yes (nothing new is placed there; geoctl rebalance empties\n"
"them), [defaults]. Files whose shards the new policy no longer allows\n"
"where they are become misplaced (geoctl verify, geoctl rebalance). Needs a\n"
"remount: [meta] path (a reload changing it is refused), [site] name,\n"
"[audit], [data] cache_size (warned about in the daemon's log).\n"
"\n"
"Only root and members of the config's admin_group may reload. A mount with\n"
"-o ro refuses the attribute write (EROFS): send SIGHUP to the daemon\n"
"instead (its pid is in geoctl status).\n"
"\n"
"Options:\n"
"  -h, --help   this text\n"
"\n"
"Exit status: 0 the new config is in force; 2 usage error, MOUNT is not a\n"
"geofs mount, permission denied, or the new config was rejected (the old one\n"
"stays in force).\n";

/* After a rejection: the config the daemon reads, checked here too. */
static void explain(const char *root)
{
	char *text = NULL, mnt[4096];
	struct jval *s = NULL;
	struct geo_config *cfg;
	const char *file;

	if (geoctl_fetch_stats(root, mnt, sizeof(mnt), &text) != 0)
		return;
	if (jread_parse(text, strlen(text), &s) == 0 &&
	    (file = jread_str(s, "config", NULL)) != NULL) {
		cfg = geoctl_config_load(file);
		if (cfg) {
			geoctl_err("%s itself is valid: the daemon rejected something else (a "
				   "changed [meta] path, the keyring, or a new backend's directory "
				   "or marker); see its log, e.g. journalctl -t geofs", file);
			config_free(cfg);
		}
	}
	jread_free(s);
	free(text);
}

int cmd_reload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char root[4096];
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return GEOCTL_OK;
		}
		geoctl_err("reload: see geoctl reload --help");
		return GEOCTL_ERROR;
	}
	if (optind != argc - 1) {
		geoctl_err("reload: expected one MOUNT (see geoctl reload --help)");
		return GEOCTL_ERROR;
	}
	rc = mountinfo_point_of(argv[optind], root, sizeof(root));
	if (rc) {
		geoctl_err("%s: %s", argv[optind],
			   rc == -ENOENT ? "not on a mounted geofs" : strerror(-rc));
		return GEOCTL_ERROR;
	}
	if (setxattr(root, XA_RELOAD, "1", 1, 0) == 0) {
		printf("%s: config reloaded\n", root);
		return GEOCTL_OK;
	}
	switch (errno) {
	case EINVAL:
		geoctl_err("%s: the daemon rejected the new config and keeps the old one", root);
		explain(root);
		break;
	case EPERM:
	case EACCES:
		geoctl_err("%s: reloading needs root or the config's admin_group", root);
		break;
	case EROFS:
		geoctl_err("%s is mounted read-only: send SIGHUP to the daemon instead "
			   "(its pid: geoctl status %s)", root, root);
		break;
	default:
		geoctl_err("%s: %s: %s", root, XA_RELOAD, strerror(errno));
	}
	return GEOCTL_ERROR;
}
