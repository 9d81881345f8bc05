/*
 * cmd_tag.c — geoctl tag: set user.geo.category / user.geo.origin, with
 * every refusal explained in words and naming the path.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/xattr.h>

#include "escape.h"
#include "geoctl.h"
#include "info.h"
#include "tag_check.h"
#include "walk.h"
#include "xattrs.h"

static const char tag_help[] =
"usage: geoctl tag [-R] [-v] [-C CATEGORY] [-o ORIGIN] [-c CONFIG] [--force] PATH...\n"
"\n"
"Sets the data category and/or the origin country of each PATH on a mounted\n"
"geofs. On a directory they become the defaults that new children inherit;\n"
"with -R they are also set on everything below it (each directory before its\n"
"contents). The daemon applies the policy in force:\n"
"\n"
"  * the owner of a file may tighten its category (to one whose allowed\n"
"    countries are a subset of the current one's);\n"
"  * loosening a category, or changing the origin, needs root or the admin\n"
"    group of the mount config ([defaults] admin_group);\n"
"  * the new tags must leave some allowed backend for the file.\n"
"\n"
"Before setting anything, geoctl checks each path's new (category, origin)\n"
"against the config in force (-c CONFIG, else the one the daemon reports,\n"
"which needs root or the admin group): tags for which too few non-draining\n"
"backends sit in allowed countries, or that this site may not open, would\n"
"strand the file (unreadable from here, impossible to move), and are refused\n"
"with the reason unless --force is given.\n"
"\n"
"A retag that leaves shards in countries the new tags do not allow marks the\n"
"file misplaced (geoctl show, geoctl verify) until geoctl rebalance moves it.\n"
"\n"
"Options:\n"
"  -C, --category CATEGORY   a category declared in the mount config, exactly\n"
"                            as declared\n"
"  -o, --origin ORIGIN       ISO 3166-1 alpha-2 code, upper case (JP, KR, DE)\n"
"  -R, --recursive           also tag everything below each directory\n"
"  -v, --verbose             print each path as it is tagged\n"
"  -c, --config CONFIG       the mount config to check the new tags against\n"
"      --force               set tags even if they would strand the file\n"
"  -h, --help                this text\n"
"\n"
"Output: with -v, one line per path: \"PATH: category=... origin=...\". At the\n"
"end, \"tagged N paths\" and how many failed. Each failure is one line on\n"
"stderr naming the path and the reason.\n"
"\n"
"Exit status: 0 every path tagged; 2 usage error or any path failed.\n"
"\n"
"Examples:\n"
"  geoctl tag -C medical /srv/app/clinic/scan-0042.png\n"
"  geoctl tag -R -C media -o JP /srv/app/photos\n";

struct tag {
	const char *category;
	char origin[3];
	bool has_origin;
	bool verbose;
	bool force;
	struct geo_config *cfg;	/* to check new tags against, or NULL */
	int done;
	int failed;
};

static void explain(const char *path, const char *attr, const char *value, int err)
{
	const char *what = strcmp(attr, XA_CATEGORY) == 0 ? "category" : "origin";

	switch (err) {
	case EPERM:
		geoctl_err("%s: not allowed to set %s %s: only the owner may tighten, and "
			   "loosening a category or changing the origin needs root or the "
			   "admin group", path, what, value);
		break;
	case EINVAL:
		if (strcmp(what, "category") == 0)
			geoctl_err("%s: '%s' is not a declared category (see geoctl check -c "
				   "CONFIG)", path, value);
		else
			geoctl_err("%s: '%s' is not an ISO 3166-1 alpha-2 code", path, value);
		break;
	case EACCES:
		geoctl_err("%s: %s %s refused: no backend the policy allows for the new "
			   "tags exists (or the site may not access such files); see "
			   "geoctl check -c CONFIG", path, what, value);
		break;
	case ENODATA:
	case ENOTSUP:
		geoctl_err("%s: not on a geofs mount", path);
		break;
	default:
		geoctl_err("%s: setting %s %s: %s", path, what, value, strerror(err));
	}
}

static int set(const char *path, const char *attr, const char *value)
{
	return setxattr(path, attr, value, strlen(value), 0) < 0 ? -errno : 0;
}

/* Category, then origin; if the category alone has no allowed backend
 * under the old origin, the other order may (e.g. personal/KR ->
 * medical/JP with medical kept in its origin). */
/* -EACCES (explained) if the path's new tags would strand it. */
static int check_path(struct tag *t, const char *path)
{
	struct geo_info gi;
	char why[1024];
	int r;

	if (!t->cfg)
		return 0;
	r = info_get(path, &gi);
	if (r == 0)
		r = tag_check(t->cfg, t->category ? t->category : gi.category,
			      t->has_origin ? t->origin : gi.origin, why, sizeof(why));
	info_free(&gi);
	if (r == -EACCES)
		geoctl_err("%s: not tagged: %s (use --force to tag it anyway)", path, why);
	else if (r < 0)
		geoctl_err("%s: %s", path, info_strerror(r));
	return r;
}

static int tag_path(struct tag *t, const char *path)
{
	const char *first = XA_CATEGORY, *second = XA_ORIGIN;
	const char *v1 = t->category, *v2 = t->origin;
	int r;

	if ((r = check_path(t, path)) < 0)
		return r;

	if (!t->category) {
		first = XA_ORIGIN;
		v1 = t->origin;
		second = NULL;
	} else if (!t->has_origin) {
		second = NULL;
	}
	r = set(path, first, v1);
	if (r == -EACCES && second) {
		first = XA_ORIGIN;
		v1 = t->origin;
		second = XA_CATEGORY;
		v2 = t->category;
		r = set(path, first, v1);
	}
	if (r < 0) {
		explain(path, first, v1, -r);
		return r;
	}
	if (second && (r = set(path, second, v2)) < 0) {
		explain(path, second, v2, -r);
		return r;
	}
	if (t->verbose) {
		esc_fputs(path, stdout);
		printf(":%s%s%s%s\n", t->category ? " category=" : "",
		       t->category ? t->category : "", t->has_origin ? " origin=" : "",
		       t->has_origin ? t->origin : "");
	}
	return 0;
}

/* Plain user.* xattrs would be set on any file system: make sure first. */
static int on_geofs(const char *path)
{
	struct geo_info gi;
	int r = info_get(path, &gi);

	info_free(&gi);
	return r;
}

static int visit(struct walk_node *n, void *arg)
{
	struct tag *t = arg;
	int r;

	if (!S_ISREG(n->st.st_mode) && !S_ISDIR(n->st.st_mode)) {
		if (n->depth == 0) {
			geoctl_err("%s: not a regular file or directory", n->path);
			t->failed++;
		}
		return 0;
	}
	if (n->depth == 0 && (r = on_geofs(n->path)) < 0) {
		geoctl_err("%s: %s", n->path, info_strerror(r));
		t->failed++;
		return WALK_PRUNE;
	}
	r = tag_path(t, n->path);
	if (r < 0) {
		t->failed++;
		return r == -EINVAL ? r : 0;	/* a bad value fails everywhere: stop */
	}
	t->done++;
	return 0;
}

static int walk_error(const char *path, int err, void *arg)
{
	struct tag *t = arg;

	geoctl_err("%s: %s", path, strerror(-err));
	t->failed++;
	return 0;
}

static int parse_origin(struct tag *t, const char *s)
{
	/* Tag values are exact (docs/guarantees.md): no case folding here
	 * either, so that geoctl and a plain setxattr agree. */
	if (strlen(s) != 2 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1])) {
		geoctl_err("tag: origin '%s' is not an ISO 3166-1 alpha-2 code (two upper-case "
			   "letters, e.g. JP)", s);
		return -EINVAL;
	}
	memcpy(t->origin, s, 3);
	t->has_origin = true;
	return 0;
}

int cmd_tag(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "category", required_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'F' },
		{ "origin", required_argument, NULL, 'o' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const struct walk_ops ops = { .visit = visit, .error = walk_error };
	struct tag t = { 0 };
	const char *config = NULL;
	unsigned flags = 0;
	int c;

	while ((c = getopt_long(argc, argv, "C:c:o:Rvh", opts, NULL)) != -1) {
		switch (c) {
		case 'C': t.category = optarg; break;
		case 'c': config = optarg; break;
		case 'F': t.force = true; break;
		case 'o':
			if (parse_origin(&t, optarg) < 0)
				return GEOCTL_ERROR;
			break;
		case 'R': flags |= WALK_RECURSE; break;
		case 'v': t.verbose = true; break;
		case 'h': fputs(tag_help, stdout); return GEOCTL_OK;
		default:
			fputs("usage: geoctl tag [-R] [-v] [-C CATEGORY] [-o ORIGIN] [-c CONFIG] "
			      "[--force] PATH...\n", stderr);
			return GEOCTL_ERROR;
		}
	}
	if (!t.category && !t.has_origin) {
		geoctl_err("tag: nothing to set: give -C CATEGORY and/or -o ORIGIN%s",
			   config ? " (-c names the CONFIG now; the category is -C)" : "");
		return GEOCTL_ERROR;
	}
	if (t.category && !*t.category) {
		geoctl_err("tag: the category is empty");
		return GEOCTL_ERROR;
	}
	if (optind >= argc) {
		geoctl_err("tag: no PATH given (see geoctl tag --help)");
		return GEOCTL_ERROR;
	}
	if (!t.force && (config || on_geofs(argv[optind]) == 0)) {
		t.cfg = tag_check_config(argv[optind], config);
		if (!t.cfg && config)
			return GEOCTL_ERROR;
		if (!t.cfg)
			geoctl_err("tag: warning: not checking whether the new tags leave the "
				   "files an allowed backend (give -c CONFIG)");
	}
	for (int i = optind; i < argc; i++) {
		int r = walk(argv[i], flags, &ops, &t);

		if (r == -EINVAL)
			break;		/* explained already */
		if (r < 0) {
			geoctl_err("%s: %s", argv[i], strerror(-r));
			t.failed++;
		}
	}
	config_free(t.cfg);
	printf("tagged %d path%s", t.done, t.done == 1 ? "" : "s");
	if (t.failed)
		printf(", %d failed", t.failed);
	putchar('\n');
	return t.failed ? GEOCTL_ERROR : GEOCTL_OK;
}
