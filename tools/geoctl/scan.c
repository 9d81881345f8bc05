/*
 * scan.c — walk + user.geo.info for the mount verbs (see scan.h).
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "geoctl.h"
#include "scan.h"
#include "walk.h"

struct scan {
	unsigned flags;
	scan_fn fn;
	void *arg;
	int failed;
};

/* The info of the directory holding a root argument, or NULL. */
static struct geo_info *parent_info(const char *path, char **dir_path)
{
	char *copy = strdup(path);
	struct geo_info *gi = calloc(1, sizeof(*gi));

	*dir_path = NULL;
	if (!copy || !gi)
		goto fail;
	*dir_path = strdup(dirname(copy));
	if (!*dir_path || info_get(*dir_path, gi) < 0)
		goto fail;
	free(copy);
	return gi;
fail:
	free(copy);
	free(gi);
	free(*dir_path);
	*dir_path = NULL;
	return NULL;
}

static int visit(struct walk_node *n, void *arg)
{
	struct scan *s = arg;
	struct geo_info *gi;
	struct scan_item it = { .path = n->path, .st = &n->st, .depth = n->depth };
	char *dir_path = NULL;
	struct geo_info *dir = NULL;
	int r;

	if (!S_ISREG(n->st.st_mode) && !S_ISDIR(n->st.st_mode)) {
		if (n->depth == 0) {
			geoctl_err("%s: not a regular file or directory", n->path);
			s->failed++;
		}
		return 0;
	}
	gi = calloc(1, sizeof(*gi));
	if (!gi)
		return -ENOMEM;
	r = info_get(n->path, gi);
	if (r < 0) {
		geoctl_err("%s: %s", n->path, info_strerror(r));
		s->failed++;
		free(gi);
		return WALK_PRUNE;
	}
	if (n->parent) {
		it.dir = n->parent->data;
		it.dir_path = n->parent->path;
	} else if (s->flags & SCAN_PARENT) {
		dir = parent_info(n->path, &dir_path);
		it.dir = dir;
		it.dir_path = dir_path;
	}
	it.gi = gi;
	r = s->fn(&it, s->arg);
	if (dir)
		info_free(dir);
	free(dir);
	free(dir_path);
	if (S_ISDIR(n->st.st_mode) && r == 0) {
		n->data = gi;	/* for the children; freed in leave() */
		return 0;
	}
	info_free(gi);
	free(gi);
	return r;
}

static void leave(struct walk_node *n, void *arg)
{
	(void)arg;
	if (n->data) {
		info_free(n->data);
		free(n->data);
		n->data = NULL;
	}
}

static int walk_error(const char *path, int err, void *arg)
{
	struct scan *s = arg;

	geoctl_err("%s: %s", path, strerror(-err));
	s->failed++;
	return 0;
}

int scan_check_roots(char *const *paths, int npaths)
{
	int failed = 0;

	for (int i = 0; i < npaths; i++) {
		struct geo_info gi;
		int r = info_get(paths[i], &gi);

		info_free(&gi);
		if (r < 0) {
			geoctl_err("%s: %s", paths[i], info_strerror(r));
			failed++;
		}
	}
	return failed;
}

int scan_paths(char *const *paths, int npaths, unsigned flags, scan_fn fn, void *arg)
{
	static const struct walk_ops ops = { .visit = visit, .leave = leave, .error = walk_error };
	struct scan s = { .flags = flags, .fn = fn, .arg = arg };

	for (int i = 0; i < npaths; i++) {
		int r = walk(paths[i], (flags & SCAN_RECURSE) ? WALK_RECURSE : 0, &ops, &s);

		if (r < 0)
			return r;
	}
	return s.failed;
}
