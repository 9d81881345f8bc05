/*
 * keys_rotate.c — `geoctl keys rotate -c CONFIG --domain D`: give a key
 * domain a new key version, then rewrap the file key of each of the
 * domain's files under it (fs/rewrap.h does one file; this file finds
 * them, decides what to do, reports).
 *
 * Steps: (1) survey: read every manifest under META/.geofs/manifests,
 * keeping the id and key version of those of domain D; walk the namespace
 * to mark which of them a name refers to, and to find the small files
 * whose manifest is on their stub (meta.h). (2) decide: rotate (current + 1)
 * unless named files are still below the current version, in which case
 * finish that rotation first (--force overrides, --resume never rotates).
 * (3) write the keyring with the new current version. (4) walk the
 * namespace again and rewrap each named file below the target, under the
 * lock the daemon commits with.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "crypto.h"
#include "geoctl.h"
#include "idmap.h"
#include "json.h"
#include "keys_cmd.h"
#include "meta.h"
#include "progress.h"
#include "rewrap.h"
#include "walk.h"

#define MAX_VERSIONS_SHOWN 16

const char keys_rotate_help[] =
"usage: geoctl keys rotate -c CONFIG --domain CC:CATEGORY [--resume | --force]\n"
"                          [--dry-run] [--json]\n"
"\n"
"Give a key domain a new key and move every file of the domain to it. The\n"
"domain's current version N becomes N+1 in the keyring; then the data key of\n"
"each file of the domain, kept wrapped in the file's manifest in the meta\n"
"root, is unwrapped with the key of the version it is wrapped under and\n"
"wrapped again under version N+1. Shards are not rewritten: contents, data\n"
"keys and placement stay as they are, so a rotation costs one small manifest\n"
"write per file, not a copy of the data.\n"
"\n"
"With a master secret, version N+1 derives from it, as every version does.\n"
"Without one, or when the domain's current key is an explicit key imported\n"
"from another site, a fresh random key is added to the keyring as version\n"
"N+1. rotate then says so: that key exists only in this keyring until you\n"
"back the keyring up and export the key.\n"
"\n"
"Order of work, safe against a crash at any point:\n"
"  1. the keyring is rewritten (temporary file, fsync, rename) with\n"
"     `current DOMAIN N+1`: from then on new files use version N+1;\n"
"  2. each file of the domain still below N+1 is rewrapped: its manifest is\n"
"     replaced atomically and durably, under the lock a mounted geofs takes\n"
"     to commit that file, so neither overwrites the other's work.\n"
"Old versions are never removed from the keyring, so a file still wrapped\n"
"under one stays readable.\n"
"\n"
"Interrupted or incomplete rotations: run the same command again. While\n"
"named files of the domain are below its current version, rotate does not\n"
"add another version: it finishes the rotation in progress and says so; run\n"
"it once more to rotate again. --resume only ever finishes. --force adds a\n"
"new version anyway and moves every file, old or in progress, to it.\n"
"\n"
"While mounted: rotate may run while sites have the meta root mounted. A\n"
"running geofs wraps new files under the version its keyring had when it\n"
"mounted until it is reloaded (geoctl reload MOUNT, or SIGHUP: both reread\n"
"config and keyring) or remounted; such files, and files it had open during\n"
"the rotation, may come back at the old version. They stay readable. Check\n"
"with --dry-run and finish them with --resume once every site has reloaded.\n"
"\n"
"Other sites: a site holding an exported key of the domain has the old\n"
"versions only. It cannot open files moved to N+1 until it imports the new\n"
"one, so export it right after rotating and reload those sites:\n"
"  home#    geoctl keys export -c home.conf --domain JP:public -o jp.keyring\n"
"  remote#  geoctl keys import -c remote.conf jp.keyring\n"
"  remote#  geoctl reload /srv/data\n"
"Rotate only on the site that keeps the domain's keys (its home site).\n"
"\n"
"What a rotation does not do: a file's data key is unchanged, so whoever\n"
"holds an old domain key and kept copies of the old manifests can still\n"
"read those files. To cut such a holder off, rotate, then rewrite the files\n"
"(copy each to a new file and rename it over the old one).\n"
"\n"
"Manifests that no name in the namespace refers to (a file deleted while\n"
"still open somewhere, or an orphan a crash left; geoctl fsck --repair\n"
"collects those) are left at their version and counted as unnamed.\n"
"\n"
"Options:\n"
"  -c, --config CONFIG    the mount config: its keyring and meta root (required)\n"
"  -d, --domain CC:NAME   the key domain, e.g. JP:personal (required)\n"
"      --resume           only finish a rotation in progress; never add a version\n"
"      --force            add a new version even while files are still below\n"
"                         the current one\n"
"      --dry-run          change nothing: count the domain's files per key\n"
"                         version and say what would be done\n"
"      --json             print the summary as one JSON object: {\"domain\",\n"
"                         \"keyring\", \"action\": \"rotate\"|\"finish\"|\"none\",\n"
"                         \"from\", \"version\", \"fresh_key\", \"dry_run\",\n"
"                         \"files\": [{\"version\", \"count\"}] (named files found,\n"
"                         before any change), \"behind\" (named files below\n"
"                         the current version), \"pending\" (to rewrap),\n"
"                         \"rewrapped\", \"already\", \"failed\", \"unnamed\",\n"
"                         \"unreadable\", \"interrupted\"}\n"
"  -h, --help             show this help\n"
"\n"
"Output: a progress bar on stderr when it is a terminal; each file that\n"
"could not be rewrapped as `PATH: reason` on stderr; then a summary (the\n"
"action, the files per version found, and the counts: rewrapped, already at\n"
"the target, failed, unnamed). No key bytes are ever printed.\n"
"\n"
"Exit status: 0 every named file of the domain is at the target version\n"
"(--dry-run: nothing is left to finish); 1 some files could not be rewrapped\n"
"(the keyring lacks their version, their key does not authenticate, or their\n"
"manifest is damaged: see geoctl fsck), or --dry-run found files below the\n"
"current version; 2 usage or runtime error: unreadable config, keyring or\n"
"meta root, a keyring without the domain's key, a failed write, or an\n"
"interruption (run the command again to finish).\n"
"\n"
"Examples:\n"
"  geoctl keys rotate -c /etc/geofs/tokyo.conf --domain JP:personal\n"
"  geoctl keys rotate -c /etc/geofs/tokyo.conf --domain JP:personal --dry-run\n";

/* One manifest of the domain, found by the survey. */
struct rot_file {
	struct geo_id id;
	uint32_t version;	/* as surveyed */
	bool named;		/* some stub in the namespace carries its id */
	bool done;		/* handled in this run (a hard link's other names) */
};

struct rotation {
	const struct keys_args *ka;
	struct geo_config *cfg;
	struct keyring *kr;
	struct meta *meta;
	const char *domain;
	struct rot_file *f;
	size_t n, cap;
	struct rot_file *onstub;	/* found by the survey walk, added after it */
	size_t nonstub, onstub_cap;
	struct idmap *byid;	/* file id -> struct rot_file * */
	bool process;		/* walk: rewrap (else only mark names) */
	const char *action;	/* "rotate", "finish", "none" */
	uint32_t from, target;
	bool fresh;
	uint64_t behind;	/* named files below the current version */
	uint64_t pending, rewrapped, already, failed, unnamed, unreadable;
	int errors;		/* runtime errors (exit 2) */
	struct progress prog;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	walk_stop = 1;
}

/* ---- survey -------------------------------------------------------------- */

static int scan_one(const struct geo_id *id, void *arg)
{
	struct rotation *rt = arg;
	char dom[KEYS_DOMAIN_MAX];
	struct manifest *mf;
	struct rot_file *f;

	if (stop)
		return -EINTR;
	if (meta_manifest_load(rt->meta, id, &mf) != 0) {
		rt->unreadable++;	/* logged by meta; fsck's business */
		return 0;
	}
	rewrap_domain_of(mf, dom);
	if (strcmp(dom, rt->domain) == 0) {
		f = array_grow(rt->f, &rt->cap, rt->n, sizeof(*f));
		if (!f) {
			manifest_free(mf);
			return -ENOMEM;
		}
		rt->f = f;
		f[rt->n++] = (struct rot_file){ .id = *id, .version = mf->key_version };
	}
	manifest_free(mf);
	return 0;
}

/* Indexes rt->f by id (again, after it grew). */
static int index_files(struct rotation *rt)
{
	idmap_free(rt->byid, NULL);
	rt->byid = idmap_new();
	if (!rt->byid)
		return -ENOMEM;
	for (size_t i = 0; i < rt->n; i++)
		if (idmap_put(rt->byid, 0, &rt->f[i].id, &rt->f[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* Reads every manifest; keeps the domain's in rt->f, indexed by id. */
static int scan_manifests(struct rotation *rt)
{
	int ret = meta_walk_manifests(rt->meta, scan_one, NULL, rt);

	return ret ? ret : index_files(rt);
}

/* Survey walk: a file the manifest scan did not find may keep its manifest
 * on its stub; remembers it if it is of the domain. */
static int survey_stub(struct rotation *rt, int fd, const struct geo_id *id)
{
	char dom[KEYS_DOMAIN_MAX];
	struct manifest *mf;
	struct rot_file *f;
	bool on_stub;
	/* Tag 1 of the index: stubs already surveyed (a hard link's names). */
	int ret = idmap_put(rt->byid, 1, id, NULL);

	if (ret <= 0)
		return ret;
	if (meta_manifest_load_stub(rt->meta, fd, id, &mf, &on_stub) != 0) {
		rt->unreadable++;	/* logged by meta; fsck's business */
		return 0;
	}
	rewrap_domain_of(mf, dom);
	if (on_stub && strcmp(dom, rt->domain) == 0) {
		f = array_grow(rt->onstub, &rt->onstub_cap, rt->nonstub, sizeof(*f));
		if (!f) {
			manifest_free(mf);
			return -ENOMEM;
		}
		rt->onstub = f;
		f[rt->nonstub++] = (struct rot_file){ .id = *id, .version = mf->key_version,
						      .named = true };
	}
	manifest_free(mf);
	return 0;
}

/* After the survey walk: the files found on their stubs join rt->f. */
static int add_onstub(struct rotation *rt)
{
	for (size_t i = 0; i < rt->nonstub; i++) {
		struct rot_file *f = array_grow(rt->f, &rt->cap, rt->n, sizeof(*f));

		if (!f)
			return -ENOMEM;
		rt->f = f;
		f[rt->n++] = rt->onstub[i];
	}
	free(rt->onstub);
	rt->onstub = NULL;
	rt->nonstub = rt->onstub_cap = 0;
	return index_files(rt);
}

/* ---- the namespace walk (marking names, then rewrapping) ------------------ */

/* The path inside the mount, for messages: the meta root prefix cut off. */
static const char *mount_path(const struct rotation *rt, const char *path)
{
	size_t n = strlen(rt->cfg->meta_path);

	while (n > 1 && rt->cfg->meta_path[n - 1] == '/')
		n--;
	return strncmp(path, rt->cfg->meta_path, n) == 0 && path[n] == '/' ? path + n : path;
}

static void rewrap_failed(struct rotation *rt, const char *path, uint32_t was, int err)
{
	const char *p = mount_path(rt, path);

	switch (err) {
	case -ENOKEY:
		progress_note(&rt->prog, "%s: this keyring has no key for %s version %u", p,
			      rt->domain, (unsigned)was);
		break;
	case -EIO:
		progress_note(&rt->prog, "%s: its file key does not authenticate under %s "
			      "version %u (wrong key, or a damaged or swapped manifest)", p,
			      rt->domain, (unsigned)was);
		break;
	case -EINVAL:
	case -ENOENT:
	case -ENODATA:
		progress_note(&rt->prog, "%s: %s (see geoctl fsck)", p,
			      err == -EINVAL ? "its manifest is damaged" :
			      err == -ENOENT ? "its manifest is missing" : "it has no file id");
		break;
	default:
		progress_note(&rt->prog, "%s: rewrapping failed: %s", p, strerror(-err));
		rt->errors++;
		return;
	}
	rt->failed++;
}

static void rewrap_one(struct rotation *rt, struct rot_file *f, int fd, const char *path)
{
	uint32_t was = f->version;
	int ret = rewrap_file(rt->meta, rt->kr, fd, rt->domain, rt->target, &was);

	if (ret == 0)
		rt->rewrapped++;
	else if (ret == REWRAP_SKIPPED)
		rt->already++;	/* committed or retagged meanwhile */
	else
		rewrap_failed(rt, path, was, ret);
	progress_step(&rt->prog, 0, mount_path(rt, path));
}

static int visit(struct walk_node *n, void *arg)
{
	struct rotation *rt = arg;
	struct rot_file *f;
	struct geo_id id;
	int fd;

	if (!S_ISREG(n->st.st_mode))
		return 0;
	/* O_RDWR: rewrap_file() takes LOCK_EX on it, which NFS refuses
	 * (EBADF) on a file open read-only. */
	fd = open(n->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;	/* gone meanwhile */
	if (fd < 0) {
		progress_note(&rt->prog, "%s: %s", mount_path(rt, n->path), strerror(errno));
		rt->errors++;
		return 0;
	}
	if (meta_stub_id(fd, &id) != 0) {
		close(fd);
		return 0;
	}
	f = idmap_get(rt->byid, 0, &id);
	if (!f && !rt->process) {
		int ret = survey_stub(rt, fd, &id);
		close(fd);
		return ret;
	}
	if (!f || f->done) {
		close(fd);
		return 0;
	}
	if (!rt->process) {
		f->named = true;
	} else if (f->version >= rt->target) {
		rt->already++;
		f->done = true;
	} else {
		rewrap_one(rt, f, fd, n->path);
		f->done = true;
	}
	close(fd);
	return 0;
}

static int walk_error(const char *path, int err, void *arg)
{
	struct rotation *rt = arg;

	progress_note(&rt->prog, "%s: %s", path, strerror(-err));
	rt->errors++;
	return 0;
}

static int walk_namespace(struct rotation *rt, bool process)
{
	static const struct walk_ops ops = { .visit = visit, .error = walk_error };
	int ret;

	rt->process = process;
	ret = walk(rt->cfg->meta_path, WALK_RECURSE | WALK_SKIP_META, &ops, rt);
	return ret < 0 ? ret : 0;
}

/* ---- decide, rotate, report ------------------------------------------------ */

/* Named files below version v. */
static uint64_t named_below(const struct rotation *rt, uint32_t v)
{
	uint64_t k = 0;

	for (size_t i = 0; i < rt->n; i++)
		k += rt->f[i].named && rt->f[i].version < v;
	return k;
}

/* Chooses the action and target version; prints why when it does not
 * rotate as asked. */
static void decide(struct rotation *rt)
{
	uint32_t cur = keyring_current(rt->kr, rt->domain);
	uint64_t behind = rt->behind = named_below(rt, cur);

	rt->from = cur;
	if (rt->ka->force || (!rt->ka->resume && behind == 0)) {
		rt->action = "rotate";
		rt->target = cur == UINT32_MAX ? cur : cur + 1;
	} else {
		rt->action = behind ? "finish" : "none";
		rt->target = cur;
	}
	if (!rt->ka->resume && !rt->ka->force && behind && !rt->ka->json)
		printf("%s: %llu file%s %s still below the current version %u: an earlier "
		       "rotation did not finish.\n%s; no new version is added (run this command "
		       "again afterwards to rotate, or use --force).\n", rt->domain,
		       (unsigned long long)behind, plural(behind), behind == 1 ? "is" : "are",
		       (unsigned)cur,
		       rt->ka->dry_run ? "This run would finish it" : "Finishing it");
	for (size_t i = 0; i < rt->n; i++)
		if (rt->f[i].version < rt->target)
			*(rt->f[i].named ? &rt->pending : &rt->unnamed) += 1;
}

/* Every action needs the domain's current key (to rotate from it, or to
 * finish moving files to it); says so when the keyring lacks it. */
static bool can_produce_current(const struct rotation *rt)
{
	uint32_t cur = keyring_current(rt->kr, rt->domain);
	uint8_t key[AEAD_KEY_LEN];
	int ret = keyring_domain_key(rt->kr, rt->domain, cur, key);

	crypto_wipe(key, sizeof(key));
	if (ret == -ENOKEY)
		geoctl_err("%s cannot produce the key of %s version %u (no master, no explicit "
			   "key): rotate a domain on the site that keeps its keys",
			   rt->cfg->keyring_path, rt->domain, (unsigned)cur);
	else if (ret)
		geoctl_err("keys rotate: %s: %s", rt->domain, strerror(-ret));
	return ret == 0;
}

/* Adds the new version to the keyring and writes it. 0 or GEOCTL_ERROR. */
static int bump(struct rotation *rt)
{
	char err[CFG_ERR_MAX] = "";
	uint32_t nv = 0;
	int ret = keyring_rotate(rt->kr, rt->domain, &nv, &rt->fresh);

	if (ret) {
		geoctl_err("keys rotate: %s: %s", rt->domain, strerror(-ret));
		return GEOCTL_ERROR;
	}
	if (keyring_save(rt->kr, rt->cfg->keyring_path, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		geoctl_err("keys rotate: the keyring was not changed and no file was rewrapped");
		return GEOCTL_ERROR;
	}
	rt->target = nv;
	return GEOCTL_OK;
}

/* Version counts of the named files, before any change, ascending. */
static size_t version_counts(const struct rotation *rt, uint32_t *ver, uint64_t *cnt)
{
	size_t nv = 0;

	for (size_t i = 0; i < rt->n; i++) {
		size_t k;

		if (!rt->f[i].named)
			continue;
		for (k = 0; k < nv && ver[k] != rt->f[i].version; k++)
			;
		if (k == nv) {
			if (nv == MAX_VERSIONS_SHOWN)
				continue;
			for (k = nv++; k > 0 && ver[k - 1] > rt->f[i].version; k--) {
				ver[k] = ver[k - 1];
				cnt[k] = cnt[k - 1];
			}
			ver[k] = rt->f[i].version;
			cnt[k] = 0;
		}
		cnt[k]++;
	}
	return nv;
}

static void report_json(const struct rotation *rt, const uint32_t *ver, const uint64_t *cnt,
			size_t nv)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "domain", rt->domain);
	json_str(&j, "keyring", rt->cfg->keyring_path);
	json_str(&j, "action", rt->action);
	json_u64(&j, "from", rt->from);
	json_u64(&j, "version", rt->target);
	json_bool(&j, "fresh_key", rt->fresh);
	json_bool(&j, "dry_run", rt->ka->dry_run);
	json_arr_begin(&j, "files");
	for (size_t i = 0; i < nv; i++) {
		json_obj_begin(&j, NULL);
		json_u64(&j, "version", ver[i]);
		json_u64(&j, "count", cnt[i]);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_u64(&j, "behind", rt->behind);
	json_u64(&j, "pending", rt->pending);
	json_u64(&j, "rewrapped", rt->rewrapped);
	json_u64(&j, "already", rt->already);
	json_u64(&j, "failed", rt->failed);
	json_u64(&j, "unnamed", rt->unnamed);
	json_u64(&j, "unreadable", rt->unreadable);
	json_bool(&j, "interrupted", stop != 0);
	json_obj_end(&j);
	json_finish(&j);
}

static void report_text(const struct rotation *rt, const uint32_t *ver, const uint64_t *cnt,
			size_t nv)
{
	const char *verb = rt->ka->dry_run ? "would rotate" : "rotated";

	if (strcmp(rt->action, "rotate") == 0)
		printf("%s: %s from version %u to %u (%s)%s\n", rt->domain, verb,
		       (unsigned)rt->from, (unsigned)rt->target,
		       rt->ka->dry_run ? "the keyring is not changed" :
		       rt->fresh ? "a new random key" : "derived from the master",
		       rt->ka->dry_run ? "" : "; keyring written");
	else
		printf("%s: current version %u; %s\n", rt->domain, (unsigned)rt->target,
		       strcmp(rt->action, "none") == 0 ? "no rotation in progress, nothing to do"
		       : rt->ka->dry_run ? "would finish the rotation in progress"
		       : "finished the rotation in progress");
	printf("files found:");
	for (size_t i = 0; i < nv; i++)
		printf(" %llu at version %u%s", (unsigned long long)cnt[i], (unsigned)ver[i],
		       i + 1 < nv ? "," : "");
	printf("%s\n", nv ? "" : " none");
	if (rt->ka->dry_run)
		printf("to rewrap: %llu\n", (unsigned long long)rt->pending);
	else if (strcmp(rt->action, "none") != 0)
		printf("rewrapped: %llu   already at version %u: %llu   failed: %llu\n",
		       (unsigned long long)rt->rewrapped, (unsigned)rt->target,
		       (unsigned long long)rt->already, (unsigned long long)rt->failed);
	if (rt->unnamed)
		printf("unnamed: %llu manifest%s of %s that no name refers to stay%s at older "
		       "versions (open-but-deleted files or crash leftovers: geoctl fsck)\n",
		       (unsigned long long)rt->unnamed, plural(rt->unnamed), rt->domain,
		       rt->unnamed == 1 ? "s" : "");
	if (rt->unreadable)
		printf("unreadable: %llu manifest%s could not be read (see geoctl fsck)\n",
		       (unsigned long long)rt->unreadable, plural(rt->unreadable));
	if (rt->fresh && !rt->ka->dry_run)
		printf("note: version %u of %s is a new random key that exists only in %s: back "
		       "it up, and export it to every site that reads %s\n", (unsigned)rt->target,
		       rt->domain, rt->cfg->keyring_path, rt->domain);
	else if (strcmp(rt->action, "rotate") == 0 && !rt->ka->dry_run)
		printf("note: sites that hold an exported key of %s must import version %u "
		       "(geoctl keys export --domain %s); mounted sites use it for new files "
		       "after geoctl reload MOUNT or a remount\n", rt->domain,
		       (unsigned)rt->target, rt->domain);
	if (stop)
		printf("interrupted: run the same command again to finish\n");
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int exit_status(const struct rotation *rt)
{
	if (rt->errors || stop)
		return GEOCTL_ERROR;
	if (rt->failed || (rt->ka->dry_run && rt->behind))
		return GEOCTL_FINDINGS;
	return GEOCTL_OK;
}

int keys_rotate(struct keys_args *ka, struct geo_config *cfg)
{
	struct rotation rt = { .ka = ka, .cfg = cfg, .domain = ka->domain };
	uint32_t ver[MAX_VERSIONS_SHOWN];
	uint64_t cnt[MAX_VERSIONS_SHOWN];
	char err[CFG_ERR_MAX] = "";
	int status = GEOCTL_ERROR, ret;
	size_t nv;

	catch_signals();
	progress_start(&rt.prog, "surveyed", 0, 0, false);	/* notes only */
	rt.kr = keys_load_keyring(cfg->keyring_path, true);
	if (!rt.kr)
		return GEOCTL_ERROR;
	if (!can_produce_current(&rt))
		goto out;
	ret = meta_open(cfg->meta_path, false, &rt.meta, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	ret = scan_manifests(&rt);
	if (!ret)
		ret = walk_namespace(&rt, false);
	if (!ret)
		ret = add_onstub(&rt);
	if (ret) {
		geoctl_err("keys rotate: surveying %s: %s%s", cfg->meta_path, strerror(-ret),
			   ret == -EINTR ? "; nothing was changed" : "");
		goto out;
	}
	if (rt.errors) {
		geoctl_err("keys rotate: parts of %s could not be read; nothing was changed",
			   cfg->meta_path);
		goto out;
	}
	decide(&rt);
	nv = version_counts(&rt, ver, cnt);
	if (!ka->dry_run && strcmp(rt.action, "rotate") == 0 && bump(&rt) != GEOCTL_OK)
		goto out;
	if (!ka->dry_run && strcmp(rt.action, "none") != 0) {
		progress_start(&rt.prog, "rewrapped", rt.pending, 0, false);
		ret = walk_namespace(&rt, true);
		progress_end(&rt.prog);
		if (ret && ret != -EINTR) {
			geoctl_err("keys rotate: walking %s: %s", cfg->meta_path, strerror(-ret));
			rt.errors++;
		}
	}
	if (ka->json)
		report_json(&rt, ver, cnt, nv);
	else
		report_text(&rt, ver, cnt, nv);
	status = exit_status(&rt);
out:
	idmap_free(rt.byid, NULL);
	free(rt.f);
	free(rt.onstub);
	meta_close(rt.meta);
	keyring_free(rt.kr);
	return status;
}
