/*
 * cmd_rebalance.c — geoctl rebalance: options, plan, migration, a second
 * look at the paths, the outcome (see rebalance.h for the parts).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "geoctl.h"
#include "json.h"
#include "rebalance.h"
#include "table.h"

static const char rebalance_help[] =
"usage: geoctl rebalance [--dry-run] [--bandwidth MB/s] [--spread] [--json]\n"
"                        PATH...\n"
"\n"
"Moves every misplaced file below each PATH on a mounted geofs to a placement\n"
"the policy in force allows: after a retag, or after a config change that\n"
"took a country out of a category's store_in.\n"
"\n"
"First it prints a plan: the files and bytes to move, per source country\n"
"(a country holding shards that the file's tags no longer allow; \"-\" when\n"
"only replicas are missing, or with --spread) and target (the countries the\n"
"policy allows). --dry-run stops there. Then it asks the daemon to migrate\n"
"each file (setxattr user.geo.migrate): the daemon writes the shards to\n"
"compliant backends, checks them, replaces the manifest atomically and only\n"
"then deletes the old objects, so each file is either still where it was or\n"
"fully moved, and applications may keep reading and writing it meanwhile.\n"
"\n"
"Interrupting (Ctrl-C, SIGTERM) lets the current file finish, then prints\n"
"what remains; kill -9 of geoctl or of the daemon loses nothing either.\n"
"Running the same command again finishes the job. At the end the paths are\n"
"verified again (as geoctl verify does for placement).\n"
"\n"
"--spread re-places files that are not misplaced, so their placement cannot\n"
"tell a rerun which ones are done: a journal does, one per command (mount and\n"
"PATHs) in $XDG_STATE_HOME/geoctl (default ~/.local/state/geoctl), listing\n"
"each file as soon as it is spread. Running the same command again after an\n"
"interrupt (or kill -9) skips those files; a run that leaves nothing to do\n"
"removes the journal, so the next --spread re-places every file again.\n"
"Remove the journal by hand to start a round over.\n"
"\n"
"Options:\n"
"  -n, --dry-run          print the plan only\n"
"  -b, --bandwidth MB/s   average at most this many megabytes (10^6 bytes) of\n"
"                         shard data moved per second, e.g. 50 or 0.5\n"
"      --spread           re-place every file (not only misplaced ones) by\n"
"                         backend weight and free space, evening usage across\n"
"                         each file's allowed backends\n"
"      --json             print the plan and the outcome as one JSON object\n"
"                         (plan {files, bytes, already_spread, moves [{from, to,\n"
"                         files, bytes}]},\n"
"                         dry_run, moved {files, bytes}, failed [{path, errno,\n"
"                         reason}], interrupted, remaining {files, bytes},\n"
"                         misplaced_after, errors)\n"
"  -h, --help             this text\n"
"\n"
"Progress goes to stderr: a bar on a terminal (files, bytes, rate, ETA),\n"
"otherwise one line per file moved (\"migrated PATH (3/40 files, ...)\").\n"
"\n"
"Plan columns: FROM (source country), TO (allowed countries), FILES, BYTES\n"
"(stored bytes to move).\n"
"\n"
"Exit status: 0 everything below PATH is placed as the policy requires at the\n"
"end (with --dry-run: nothing to move); 1 files remain misplaced: some could\n"
"not be moved (each named with the reason), the run was interrupted, or\n"
"(--dry-run) there is something to move; 2 usage or runtime error (a path\n"
"not on geofs, unreadable).\n"
"\n"
"Examples:\n"
"  geoctl rebalance --dry-run /srv/app\n"
"  geoctl rebalance --bandwidth 50 /srv/app/photos\n"
"  geoctl rebalance /srv/app/clinic/scan-0042.png\n";

/* "PREFIX PATH: WHY" with the path escaped. */
static void print_named(const char *prefix, const char *path, const char *why)
{
	fputs(prefix, stdout);
	esc_fputs(path, stdout);
	printf(": %s\n", why);
}

static int check_after(const struct scan_item *it, void *arg)
{
	struct rebalance *rb = arg;

	if (it->gi->type == INFO_FILE && it->gi->misplaced) {
		rb->misplaced_after++;
		if (!rb->json)
			print_named("  still misplaced: ", it->path, it->gi->reason);
	}
	return 0;
}

static void print_outcome(const struct rebalance *rb)
{
	char a[TABLE_BYTES_LEN], b[TABLE_BYTES_LEN];
	uint64_t left = rb->nc - rb->moved_files - rb->nfail;

	printf("moved %llu file%s (%s)", (unsigned long long)rb->moved_files,
	       rb->moved_files == 1 ? "" : "s", table_bytes(rb->moved_bytes, a));
	if (rb->nfail)
		printf(", %zu could not be moved", rb->nfail);
	putchar('\n');
	for (size_t i = 0; i < rb->nfail; i++)
		print_named("  not moved: ", rb->fail[i].path, rebalance_reason(&rb->fail[i]));
	if (rb->interrupted)
		printf("interrupted: %llu file%s (%s) remain; run the same command again to "
		       "finish\n", (unsigned long long)left, left == 1 ? "" : "s",
		       table_bytes(rb->total_bytes - rb->moved_bytes, b));
	if (rb->interrupted && rb->spread && rb->journal.key)
		printf("  it skips the %llu file%s spread so far (listed in %s)\n",
		       (unsigned long long)(rb->skipped + rb->moved_files),
		       rb->skipped + rb->moved_files == 1 ? "" : "s", rb->journal.file);
}

static void print_json(const struct rebalance *rb)
{
	uint64_t left = rb->nc - rb->moved_files - rb->nfail;
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_obj_begin(&j, "plan");
	json_u64(&j, "files", rb->nc);
	json_u64(&j, "bytes", rb->total_bytes);
	json_u64(&j, "already_spread", rb->skipped);
	json_arr_begin(&j, "moves");
	for (size_t i = 0; i < rb->nm; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "from", rb->m[i].from);
		json_str(&j, "to", rb->m[i].to);
		json_u64(&j, "files", rb->m[i].files);
		json_u64(&j, "bytes", rb->m[i].bytes);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_bool(&j, "dry_run", rb->dry_run);
	json_obj_begin(&j, "moved");
	json_u64(&j, "files", rb->moved_files);
	json_u64(&j, "bytes", rb->moved_bytes);
	json_obj_end(&j);
	json_arr_begin(&j, "failed");
	for (size_t i = 0; i < rb->nfail; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "path", rb->fail[i].path);
		json_int(&j, "errno", rb->fail[i].err);
		json_str(&j, "reason", rebalance_reason(&rb->fail[i]));
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_bool(&j, "interrupted", rb->interrupted);
	json_obj_begin(&j, "remaining");
	json_u64(&j, "files", rb->dry_run ? rb->nc : left);
	json_u64(&j, "bytes", rb->total_bytes - rb->moved_bytes);
	json_obj_end(&j);
	json_int(&j, "misplaced_after", rb->misplaced_after);
	json_int(&j, "errors", rb->errors);
	json_obj_end(&j);
	json_finish(&j);
}

static void rebalance_free(struct rebalance *rb)
{
	rjournal_close(&rb->journal, false);	/* no-op once closed */
	for (size_t i = 0; i < rb->nc; i++)
		free(rb->c[i].path);
	for (size_t i = 0; i < rb->nm; i++)
		free(rb->m[i].to);
	for (size_t i = 0; i < rb->nfail; i++) {
		free(rb->fail[i].path);
		free(rb->fail[i].why);
	}
	free(rb->c);
	free(rb->m);
	free(rb->fail);
}

static int parse_args(struct rebalance *rb, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "spread", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "nb:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': rb->dry_run = true; break;
		case 's': rb->spread = true; break;
		case 'j': rb->json = true; break;
		case 'b':
			errno = 0;
			rb->bandwidth = strtod(optarg, &end) * 1e6;
			if (errno || end == optarg || *end || !isfinite(rb->bandwidth) ||
			    rb->bandwidth <= 0) {
				geoctl_err("rebalance: --bandwidth wants a positive number of MB/s, "
					   "not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 'h': fputs(rebalance_help, stdout); return 1;
		default:
			fputs("usage: geoctl rebalance [--dry-run] [--bandwidth MB/s] [--spread] "
			      "[--json] PATH...\n", stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		geoctl_err("rebalance: no PATH given (see geoctl rebalance --help)");
		return -EINVAL;
	}
	return 0;
}

int cmd_rebalance(int argc, char **argv)
{
	struct rebalance rb = { 0 };
	char *const *paths;
	int npaths, r, rc;

	r = parse_args(&rb, argc, argv);
	if (r)
		return r > 0 ? GEOCTL_OK : GEOCTL_ERROR;
	paths = argv + optind;
	npaths = argc - optind;
	if (scan_check_roots(paths, npaths))
		return GEOCTL_ERROR;
	if (rb.spread && rjournal_open(&rb.journal, paths, npaths) < 0) {
		rebalance_free(&rb);
		return GEOCTL_ERROR;
	}
	rebalance_catch_signals();
	r = scan_paths(paths, npaths, SCAN_RECURSE, rebalance_collect, &rb);
	if (r < 0) {
		geoctl_err("rebalance: %s%s", r == -EINTR ? "interrupted while planning" :
			   strerror(-r), r == -EINTR ? "; nothing was moved" : "");
		rebalance_free(&rb);
		return GEOCTL_ERROR;
	}
	rb.errors = r;
	if (!rb.json)
		rebalance_print_plan(&rb);
	if (!rb.dry_run && rb.nc) {
		r = rebalance_migrate(&rb);
		if (r == 0 && !rb.json)
			print_outcome(&rb);
		if (r == 0 && !rb.interrupted) {
			r = scan_paths(paths, npaths, SCAN_RECURSE, check_after, &rb);
			if (r > 0)
				rb.errors += r;
			if (r == -EINTR) {	/* Ctrl-C during the final look */
				rb.interrupted = true;
				r = 0;
				if (!rb.json)
					printf("interrupted before the final check: run geoctl verify\n");
			}
			if (r >= 0 && !rb.json && rb.misplaced_after)
				printf("verify: %d file%s still misplaced\n", rb.misplaced_after,
				       rb.misplaced_after == 1 ? "" : "s");
			else if (r >= 0 && !rb.json)
				printf("verify: every file is placed as the policy requires\n");
		}
		if (r < 0)
			geoctl_err("rebalance: %s", strerror(-r));
	} else {
		r = 0;
		rb.misplaced_after = (int)rb.nc;
	}
	if (rb.json)
		print_json(&rb);
	if (r < 0 || rb.errors)
		rc = GEOCTL_ERROR;
	else if (rb.nfail || rb.interrupted || rb.misplaced_after)
		rc = GEOCTL_FINDINGS;
	else
		rc = GEOCTL_OK;
	/* Spread in full: a later --spread is a new round over every file. */
	rjournal_close(&rb.journal, !rb.dry_run && r >= 0 && !rb.errors && !rb.nfail &&
				    !rb.interrupted);
	rebalance_free(&rb);
	return rc;
}
