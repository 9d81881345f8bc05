/*
 * walk.c — pre-order directory walk (see walk.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "geoctl.h"
#include "walk.h"

volatile int walk_stop;

struct walker {
	unsigned flags;
	dev_t dev;
	const struct walk_ops *ops;
	void *arg;
	int errors;
};

static int report(struct walker *w, const char *path, int err)
{
	w->errors++;
	if (w->ops->error)
		return w->ops->error(path, err, w->arg);
	geoctl_err("%s: %s", path, strerror(-err));
	return 0;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	bool slash = n > 0 && dir[n - 1] == '/';
	char *p = malloc(n + strlen(name) + 2);

	if (p)
		sprintf(p, "%s%s%s", dir, slash ? "" : "/", name);
	return p;
}

static int select_entry(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int visit(struct walker *w, struct walk_node *n);

static int children(struct walker *w, struct walk_node *dir)
{
	struct dirent **ents;
	int count = scandir(dir->path, &ents, select_entry, byte_order);
	int r = 0;

	if (count < 0)
		return report(w, dir->path, -errno);
	for (int i = 0; i < count; i++) {
		struct walk_node n = { .depth = dir->depth + 1, .parent = dir };
		char *path = NULL;

		if (r < 0 || walk_stop)
			goto next;
		if ((w->flags & WALK_SKIP_META) && dir->depth == 0 &&
		    strcmp(ents[i]->d_name, ".geofs") == 0)
			goto next;
		path = join(dir->path, ents[i]->d_name);
		if (!path) {
			r = -ENOMEM;
			goto next;
		}
		n.path = path;
		if (lstat(path, &n.st) < 0) {
			r = report(w, path, -errno);
			goto next;
		}
		if (n.st.st_dev != w->dev)
			goto next;	/* another file system mounted below */
		r = visit(w, &n);
next:
		free(path);
		free(ents[i]);
	}
	free(ents);
	if (r == 0 && walk_stop)
		r = -EINTR;
	return r;
}

static int visit(struct walker *w, struct walk_node *n)
{
	int r = w->ops->visit(n, w->arg);

	if (r >= 0 && r != WALK_PRUNE && S_ISDIR(n->st.st_mode) && (w->flags & WALK_RECURSE))
		r = children(w, n);
	else if (r == WALK_PRUNE)
		r = 0;
	if (w->ops->leave)
		w->ops->leave(n, w->arg);
	return r;
}

int walk(const char *root, unsigned flags, const struct walk_ops *ops, void *arg)
{
	struct walker w = { .flags = flags, .ops = ops, .arg = arg };
	struct walk_node n = { .path = root };
	int r;

	if (stat(root, &n.st) < 0) {
		r = report(&w, root, -errno);
		return r < 0 ? r : w.errors;
	}
	w.dev = n.st.st_dev;
	r = visit(&w, &n);
	return r < 0 ? r : w.errors;
}
