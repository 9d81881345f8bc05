/*
 * main.c — the geofs daemon: options, loading and checking everything
 * before mounting (so errors reach the terminal and the exit status), then
 * mount, daemonize, serve, and unwind in reverse order.
 *
 *   geofs -c CONFIG MOUNTPOINT [-f] [-o OPTIONS]
 *   geofs CONFIG MOUNTPOINT -o OPTIONS          (mount.fuse3 / fstab form)
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "country.h"
#include "log.h"
#include "nodes.h"
#include "ops.h"
#include "reload.h"
#include "version.h"

/* Seconds the kernel may cache attributes and names (-o attr_cache): what
 * NFS calls close-to-open coherence, with the same order of timeout. */
#define ATTR_CACHE_DEFAULT 1.0


struct options {
	char *config;
	char *loglevel;
	char *attr_cache;	/* seconds the kernel may cache attributes */
	char *pos[3];		/* positional arguments in order */
	int npos;
	int help, version;
};

enum { KEY_HELP, KEY_VERSION };


/* The exit status of the FUSE loop's end. A worker thread that was in the
 * middle of reading a request when the kernel ended the connection (an
 * unmount under load, umount -f, an abort through /sys/fs/fuse) gets
 * ECONNABORTED instead of ENODEV: the mount is gone either way, and the
 * teardown that follows releases everything, so it is an ordinary end. */
static int loop_result(int ret)
{
	if (ret == -ECONNABORTED || ret == ECONNABORTED) {
		log_info("the kernel ended the FUSE connection (ECONNABORTED)");
		return 0;
	}
	return ret ? 1 : 0;
}

static const struct fuse_opt geofs_opts[] = {
	{ "-c %s", offsetof(struct options, config), 0 },
	{ "--config=%s", offsetof(struct options, config), 0 },
	{ "config=%s", offsetof(struct options, config), 0 },
	{ "loglevel=%s", offsetof(struct options, loglevel), 0 },
	{ "--loglevel=%s", offsetof(struct options, loglevel), 0 },
	{ "attr_cache=%s", offsetof(struct options, attr_cache), 0 },
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct options *o = data;

	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (o->npos < 3)
			o->pos[o->npos] = strdup(arg);
		o->npos++;
		return 0;	/* placed back after parsing */
	default:
		return 1;
	}
}

static void usage(const char *prog)
{
	printf("usage: %s -c CONFIG MOUNTPOINT [-f] [-o OPTIONS]\n"
	       "       %s CONFIG MOUNTPOINT [-o OPTIONS]   (as called by mount -t fuse.geofs)\n\n"
	       "geofs mounts one namespace over storage backends in several countries and\n"
	       "keeps every file's bytes inside the countries its data category allows.\n"
	       "File content is split into shards, each LZ4-compressed and AES-256-GCM\n"
	       "encrypted, stored only on backends whose country the policy allows.\n\n"
	       "geofs options:\n"
	       "    -c CONFIG, --config=CONFIG, -o config=CONFIG\n"
	       "                           the mount config (see geofs.conf(5))\n"
	       "    -o loglevel=LEVEL      error, warning, info (default) or debug\n"
	       "    -o attr_cache=SECONDS  how long the kernel may cache attributes (default 1,\n"
	       "                           0 to 3600). A change made on ANOTHER mount of the meta\n"
	       "                           root (rename, unlink, size) shows in stat here up to\n"
	       "                           that much later; open always revalidates (close-to-open).\n"
	       "                           0 makes every stat ask geofs: current, but slow.\n"
	       "    -f                     stay in the foreground, log to stderr\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          print the version\n\n"
	       "Always on: default_permissions (the kernel checks modes). Use -o allow_other\n"
	       "to let users other than the mounting one in.\n\n"
	       "SIGHUP (or geoctl reload MOUNTPOINT) rereads the config and reopens the\n"
	       "audit log; geoctl status MOUNTPOINT shows the daemon's state (geofs(8)).\n\n"
	       "Before the first mount create the keyring:  geoctl keys init -c CONFIG\n"
	       "Check a config:                             geoctl check -c CONFIG\n\n"
	       "FUSE options:\n", prog, prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

struct sighup {
	struct core *c;
	pthread_t thread;
	bool stop;		/* set before the last SIGHUP, sent by serve() */
};

/* Waits for SIGHUP: reopens the audit log (logrotate) and rereads the
 * config (core_reload logs what it did or why it kept the old one). */
static void *signal_thread(void *arg)
{
	struct sighup *h = arg;
	char err[CFG_ERR_MAX];
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
			return NULL;
		log_info("SIGHUP from pid %d: reopening the audit log, rereading the config",
			 (int)si.si_pid);
		int rc = audit_reopen(h->c->audit);
		if (rc)
			log_err("reopening the audit log failed: %s", strerror(-rc));
		struct geo_req r = { .uid = si.si_uid, .pid = si.si_pid, .ngroups = -1 };
		core_reload(h->c, &r, err, sizeof(err));
	}
}

static int add_default_opts(struct fuse_args *args, const struct core *c)
{
	char opt[256];

	snprintf(opt, sizeof(opt), "-odefault_permissions,fsname=geofs:%s,subtype=geofs",
		 c->cfg->site_name);
	return fuse_opt_add_arg(args, opt);
}

/*
 * The kernel caps a FUSE mount's readahead at the default 128 KiB whatever
 * max_readahead we announce; large sequential reads want whole shards. The
 * mount's device number comes from /proc/self/mountinfo (a stat of the
 * mountpoint would wait for this very daemon). Best effort.
 */
static void raise_readahead(const char *mnt)
{
	char line[4096], path[128], want[PATH_MAX], *real;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	unsigned maj, min;
	bool found = false;

	real = realpath(mnt, NULL);
	snprintf(want, sizeof(want), "%s", real ? real : mnt);
	free(real);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX];
		/* id parent maj:min root mountpoint ... (last match wins) */
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mp) == 3 &&
		    strcmp(mp, want) == 0)
			found = true;
		if (found)
			break;
	}
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	f = fopen(path, "w");
	if (f) {
		fputs("1024\n", f);
		fclose(f);
	}
}

/* The mount line: what a reader of the log needs to know what was mounted. */
static void log_mounted(struct core *c, const char *mnt)
{
	char states[2048], emnt[1024];

	core_backends_report(c, states, sizeof(states));
	log_status_mountpoint(log_escape(mnt, emnt, sizeof(emnt)));
	log_event(LOG_LVL_INFO, "mount", mnt, NULL,
		  "mounted %s: site %s (%s), config %s, meta root %s, backends %s", emnt,
		  c->cfg->site_name, country_code(c->cfg->site_country), c->config_path,
		  c->cfg->meta_path, states);
}

/* Runs the mounted filesystem until it is unmounted. */
static int serve(struct fuse_args *args, struct core *c, const char *mnt, int foreground)
{
	struct fuse_loop_config *loop = NULL;
	struct geo_front front = { .c = c };
	struct sighup hup = { .c = c };
	struct stat root;
	sigset_t set;
	char err[CFG_ERR_MAX];
	int rc = 1;

	if (core_getattr(c, "/", &root) != 0 || !(front.nodes = nodes_new(root.st_dev, root.st_ino)))
		return 1;
	front.se = fuse_session_new(args, &geo_ops, sizeof(geo_ops), &front);
	if (!front.se)
		goto out_nodes;
	if (fuse_session_mount(front.se, mnt) != 0)
		goto out_destroy;
	raise_readahead(mnt);
	if (!foreground)
		log_daemonized();
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	/* Block SIGHUP before any thread starts (core_start's workers too):
	 * libfuse's handler would end the mount in whichever thread got it. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (core_start(c, err, sizeof(err)) != 0) {
		log_err("%s", err);
		goto out_unmount;
	}
	if (fuse_set_signal_handlers(front.se) != 0)
		goto out_unmount;
	if (pthread_create(&hup.thread, NULL, signal_thread, &hup) != 0)
		goto out_handlers;
	log_mounted(c, mnt);
	log_notify_ready();
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	rc = loop_result(fuse_session_loop_mt(front.se, loop));
	fuse_loop_cfg_destroy(loop);
	log_notify_stopping();
	log_event(LOG_LVL_INFO, "unmount", mnt, NULL, "unmounting %s%s",
		  log_escape(mnt, err, sizeof(err)), rc ? " after an error of the FUSE loop" : "");
	__atomic_store_n(&hup.stop, true, __ATOMIC_RELEASE);
	pthread_kill(hup.thread, SIGHUP);
	pthread_join(hup.thread, NULL);
out_handlers:
	fuse_remove_signal_handlers(front.se);
out_unmount:
	fuse_session_unmount(front.se);
out_destroy:
	fuse_session_destroy(front.se);
out_nodes:
	nodes_free(front.nodes);
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct options o = { 0 };
	struct core *c = NULL;
	char err[CFG_ERR_MAX] = "";
	const char *mnt;
	int rc = 1;

	umask(0);	/* new entries get exactly the modes callers asked for */
	/* Shard buffers (up to 16 MiB) come and go all the time: keep them in
	 * the heap instead of a fresh mmap (and page faults) for each. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	/* One arena per FUSE thread would each keep its own freed shards. */
	mallopt(M_ARENA_MAX, 4);
	log_open();	/* the journal when stderr is a systemd service's */
	if (fuse_opt_parse(&args, &o, geofs_opts, opt_proc) != 0)
		goto out;
	if (o.help) {
		usage(argv[0]);
		rc = 0;
		goto out;
	}
	if (o.version) {
		printf("geofs %s (FUSE %s)\n", GEOFS_VERSION, fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (o.loglevel) {
		enum log_level lvl;
		if (log_parse_level(o.loglevel, &lvl) != 0) {
			fprintf(stderr, "geofs: loglevel '%s': expected error, warning, info or debug\n",
				o.loglevel);
			goto out;
		}
		log_set_level(lvl);
	}
	/* Positional: MOUNTPOINT with -c, else CONFIG MOUNTPOINT. */
	if (!o.config && o.npos == 2) {
		o.config = o.pos[0];
		o.pos[0] = NULL;
		mnt = o.pos[1];
	} else if (o.config && o.npos == 1) {
		mnt = o.pos[0];
	} else {
		fprintf(stderr, "geofs: expected -c CONFIG MOUNTPOINT or CONFIG MOUNTPOINT "
				"(see geofs --help)\n");
		goto out;
	}
	if (fuse_opt_add_arg(&args, mnt) != 0 || fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	rc = core_open(o.config, &c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "geofs: cannot mount with %s:\n%s\n", o.config, err);
		rc = 1;
		goto out;
	}
	rc = 1;
	c->attr_cache = ATTR_CACHE_DEFAULT;
	if (o.attr_cache) {
		char *end;
		c->attr_cache = strtod(o.attr_cache, &end);
		if (*end || end == o.attr_cache || !(c->attr_cache >= 0 && c->attr_cache <= 3600)) {
			fprintf(stderr, "geofs: attr_cache '%s': expected seconds from 0 to 3600\n",
				o.attr_cache);
			goto out;
		}
	}
	if (add_default_opts(&args, c) != 0)
		goto out;
	rc = serve(&args, c, cmd.mountpoint, cmd.foreground);
out:
	core_release_all(c);
	core_close(c);
	free(cmd.mountpoint);
	for (int i = 0; i < 3; i++)
		free(o.pos[i]);
	free(o.config);
	free(o.loglevel);
	free(o.attr_cache);
	fuse_opt_free_args(&args);
	return rc;
}
