/*
 * cmd_fsck.c — geoctl fsck: offline check of a meta root and its backends
 * (see fsck.h for the parts). Sets up from the mount config, runs the
 * file check and the orphan search, has the findings printed
 * (fsck_report.c), chooses the exit.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "geoctl.h"
#include "walk.h"
#include "mountinfo.h"

static const char fsck_help[] =
"usage: geoctl fsck -c CONFIG [--repair] [--json]\n"
"\n"
"Checks, offline, the meta root and the backends named in the mount config:\n"
"\n"
"  * every file of the namespace has a file id and a manifest that parses;\n"
"  * every object a manifest refers to exists on its backend, has the size\n"
"    the manifest records, and authenticates under the file's key (the key\n"
"    is unwrapped with the keyring's key for the file's domain ORIGIN:category;\n"
"    a file whose domain this keyring lacks is listed as NO-KEY and its\n"
"    objects are checked for presence only: that is not damage);\n"
"  * every replica sits in a country the policy allows, and each shard has\n"
"    the replicas the policy requires;\n"
"  * nothing is left over: objects and temp files on the backends that no\n"
"    file's manifest refers to, manifests no file refers to, and temp files\n"
"    in the meta root (all left by crashes; harmless, but they take space).\n"
"\n"
"The filesystem must be unmounted on every site that shares this meta root\n"
"and these backends: a write in progress elsewhere looks like an orphan.\n"
"fsck warns when it sees a geofs mount on this machine (it cannot tell which\n"
"meta root a mount serves, only its site name).\n"
"\n"
"Options:\n"
"  -c, --config CONFIG   the mount config (as given to geofs -c)\n"
"      --repair          delete the orphans found (orphan manifests with their\n"
"                        objects), each by the exact name it was found under;\n"
"                        MISNAMED entries are never deleted; damaged files\n"
"                        are only named: restore them\n"
"                        from a backup. Orphan objects are kept if some\n"
"                        file's manifest could not be read.\n"
"      --json            one JSON object: config, meta, files, objects,\n"
"                        object_bytes, findings [{kind, what, detail, bytes,\n"
"                        repaired}], counts {KIND: n}, errors\n"
"  -h, --help            this text\n"
"\n"
"Findings, one per line: KIND  WHAT: DETAIL\n"
"  DAMAGED           a file that cannot be read back in full (a shard with no\n"
"                    good replica, a missing or malformed manifest, a file key\n"
"                    that does not authenticate), named by path\n"
"  DEGRADED          a file with a bad replica of some shard and a good one\n"
"  MISPLACED         replicas in a country the policy does not allow, or too\n"
"                    few replicas (geoctl rebalance on the mount fixes it)\n"
"  NO-ID, SHARED-ID  regular files in the meta root without a file id, or two\n"
"                    files with one id\n"
"  ORPHAN-OBJECT, ORPHAN-TEMP, ORPHAN-MANIFEST, META-TEMP\n"
"                    leftovers (WHAT is \"BACKEND objects/ab/ID\", \"manifest\n"
"                    ID\" or \"meta .geofs/tmp/NAME\"); \"(deleted)\" with --repair\n"
"                    once that very file is gone; a file that could not be\n"
"                    deleted is an error (exit 2) and stays a finding\n"
"  STUB-SIZE         a file whose stub in the meta root has another size than\n"
"                    its manifest (left by a crash between a write and its\n"
"                    commit): stat would show the wrong size; \"(set)\" once\n"
"                    --repair set the stub's size to the manifest's\n"
"  MISNAMED          an entry where objects or manifests live whose name or\n"
"                    depth geofs never writes (not 32 hex digits, an id in the\n"
"                    wrong fan-out directory of the meta root, a directory or\n"
"                    symlink among objects): nothing reads it, and --repair\n"
"                    leaves it in place for a person to look at\n"
"  NO-KEY            a note, not a finding (see above)\n"
"Progress is shown on stderr when it is a terminal.\n"
"\n"
"Exit status: 0 clean (with --repair: nothing left that repair cannot fix);\n"
"1 findings remain; 2 usage or runtime error (config, keyring, meta root or a\n"
"backend unreadable).\n"
"\n"
"Examples:\n"
"  geoctl fsck -c /etc/geofs/tokyo.conf\n"
"  geoctl fsck -c /etc/geofs/tokyo.conf --repair\n";

struct mounted {
	char own[CFG_NAME_MAX + 8];	/* "geofs:SITE", the fsname geofs mounts with */
};

static int warn_mounted(const struct mount_entry *m, void *arg)
{
	struct mounted *mt = arg;

	if (strcmp(m->source, mt->own) == 0) {
		geoctl_err("warning: this config's site (%s) is mounted on %s; fsck must run "
			   "with the meta root unmounted everywhere, or writes in progress look "
			   "like orphans (and --repair deletes them)", m->source + 6, m->point);
		return 0;
	}
	geoctl_err("warning: a geofs filesystem is mounted on %s (%s); if it shares this "
		   "meta root, unmount it first: writes in progress look like orphans",
		   m->point, m->source);
	return 0;
}

static int count_file(struct walk_node *n, void *arg)
{
	*(uint64_t *)arg += S_ISREG(n->st.st_mode);
	return 0;
}

/* The regular files of the namespace, for the progress bar's total (a
 * small file has no manifest file to count). */
static uint64_t count_files(const char *meta_path)
{
	static const struct walk_ops ops = { .visit = count_file };
	uint64_t n = 0;

	walk(meta_path, WALK_RECURSE | WALK_SKIP_META, &ops, &n);
	return n;
}

static int open_all(struct fsck *fk, const char *config)
{
	char err[CFG_ERR_MAX];
	int r;

	r = config_load(config, &fk->cfg, err, sizeof(err));
	if (r < 0) {
		geoctl_err("fsck: %s", err[0] ? err : strerror(-r));
		return r;
	}
	err[0] = '\0';
	r = keyring_load(fk->cfg->keyring_path, &fk->kr, err, sizeof(err));
	if (r < 0) {
		geoctl_err("fsck: keyring %s: %s", fk->cfg->keyring_path, err[0] ? err : strerror(-r));
		return r;
	}
	err[0] = '\0';
	r = meta_open(fk->cfg->meta_path, false, &fk->meta, err, sizeof(err));
	if (r < 0) {
		geoctl_err("fsck: meta root %s: %s", fk->cfg->meta_path, err[0] ? err : strerror(-r));
		return r;
	}
	/* Every mounted daemon holds the meta root's lock shared. */
	r = meta_hold(fk->meta, true);
	if (r == -EBUSY && fk->repair) {
		geoctl_err("fsck: meta root %s is in use by a mounted geofs; unmount it "
			   "everywhere before --repair", fk->cfg->meta_path);
		return r;
	}
	if (r == -EBUSY)
		geoctl_err("warning: meta root %s is in use by a mounted geofs: writes in "
			   "progress may show as orphans", fk->cfg->meta_path);
	else if (r < 0)
		geoctl_err("warning: meta root %s: cannot take its lock: %s", fk->cfg->meta_path,
			   strerror(-r));
	err[0] = '\0';
	r = store_open(fk->cfg, false, &fk->st, err, sizeof(err));
	if (r < 0)
		geoctl_err("fsck: backends: %s", err[0] ? err : strerror(-r));
	return r;
}

static void close_all(struct fsck *fk)
{
	fsck_free_files(fk);
	fsck_free_findings(fk);
	free(fk->obj);
	free(fk->raw);
	store_close(fk->st);
	meta_close(fk->meta);
	keyring_free(fk->kr);
	config_free(fk->cfg);
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "repair", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct fsck fk = { 0 };
	struct mounted mt = { 0 };
	const char *config = NULL;
	bool json = false, open_findings = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'r': fk.repair = true; break;
		case 'j': json = true; break;
		case 'h': fputs(fsck_help, stdout); return GEOCTL_OK;
		default: fputs("usage: geoctl fsck -c CONFIG [--repair] [--json]\n", stderr); return GEOCTL_ERROR;
		}
	}
	if (!config || optind < argc) {
		geoctl_err("fsck: %s (see geoctl fsck --help)", config ? "unexpected argument" :
			   "-c CONFIG is required");
		return GEOCTL_ERROR;
	}
	r = open_all(&fk, config);
	if (r == 0) {
		snprintf(mt.own, sizeof(mt.own), "geofs:%s", fk.cfg->site_name);
		mountinfo_geofs(warn_mounted, &mt);
	}
	if (r == 0) {
		progress_start(&fk.prog, "checked", count_files(fk.cfg->meta_path), 0, false);
		r = fsck_files(&fk);
		progress_end(&fk.prog);
	}
	if (r == 0)
		r = fsck_orphans(&fk);
	if (r < 0 && fk.cfg && fk.meta && fk.st)
		geoctl_err("fsck: %s", strerror(-r));
	if (r == 0 && json)
		fsck_print_json(&fk);
	else if (r == 0)
		fsck_print_text(&fk);
	if (r == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		geoctl_err("fsck: writing the report: %s", strerror(errno));
		fk.errors++;
	}
	for (size_t i = 0; i < fk.nf; i++)
		open_findings |= fsck_is_finding(&fk.f[i]);
	c = r < 0 || fk.errors ? GEOCTL_ERROR : open_findings ? GEOCTL_FINDINGS : GEOCTL_OK;
	close_all(&fk);
	return c;
}
