/*
 * nodes.c — the table of kernel inodes (nodes.h): nodes hashed by their
 * meta-root inode, names hashed by (parent node, name). A node's id is its
 * address (the root's is NODES_ROOT_ID); the kernel never uses an id after
 * forgetting it, and a fresh generation tells a reused address apart.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes.h"

struct node;

struct alias {
	struct node *parent;		/* holds a ref on it */
	struct node *child;
	struct alias *hnext;		/* bucket chain of t->names */
	struct alias *cnext;		/* the child's names, freshest first */
	char name[];
};

struct node {
	dev_t dev;
	ino_t ino;
	mode_t type;			/* S_IFMT bits */
	uint64_t gen;
	uint64_t nlookup;		/* the kernel's lookups */
	uint64_t refs;			/* names of children in this directory */
	bool hashed;			/* in t->inos (false: a zombie) */
	unsigned pending;		/* names dropped, kernel not yet told */
	int looked_by;			/* pid of the last lookup, until an open */
	struct alias *names;
	struct node *hnext;		/* bucket chain of t->inos */
	struct node *prev, *next;	/* every node but the root (t->all) */
};

struct table {
	void **b;
	size_t nb, count;
};

struct nodes {
	pthread_mutex_t lock;
	pthread_cond_t settled;		/* some node's pending went down */
	struct node root;
	struct table inos;		/* struct node, by (dev, ino) */
	struct table names;		/* struct alias, by (parent, name) */
	struct node *all;		/* every node but the root, zombies too */
	uint64_t gen;
	size_t live;
};

static size_t hash_ino(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (size_t)(h ^ h >> 29);
}

static size_t hash_name(const struct node *parent, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(uintptr_t)parent;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 31);
}

static size_t node_hash(const void *e)
{
	const struct node *n = e;
	return hash_ino(n->dev, n->ino);
}

static size_t alias_hash(const void *e)
{
	const struct alias *a = e;
	return hash_name(a->parent, a->name);
}

/* The chain link of an entry: both structs chain through a field. */
static void **next_of(void *e, bool is_alias)
{
	return is_alias ? (void **)&((struct alias *)e)->hnext : (void **)&((struct node *)e)->hnext;
}

static int table_init(struct table *tb)
{
	tb->nb = 1024;
	tb->count = 0;
	tb->b = calloc(tb->nb, sizeof(*tb->b));
	return tb->b ? 0 : -ENOMEM;
}

/* Doubles the buckets when there are more entries than buckets; keeps the
 * old ones on ENOMEM (chains just grow longer). */
static void table_grow(struct table *tb, bool is_alias)
{
	size_t nb = tb->nb * 2;
	void **b;

	if (tb->count < tb->nb || !(b = calloc(nb, sizeof(*b))))
		return;
	for (size_t i = 0; i < tb->nb; i++) {
		void *e = tb->b[i];
		while (e) {
			void *next = *next_of(e, is_alias);
			size_t h = (is_alias ? alias_hash(e) : node_hash(e)) & (nb - 1);
			*next_of(e, is_alias) = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(tb->b);
	tb->b = b;
	tb->nb = nb;
}

static void table_insert(struct table *tb, void *e, size_t h, bool is_alias)
{
	h &= tb->nb - 1;
	*next_of(e, is_alias) = tb->b[h];
	tb->b[h] = e;
	tb->count++;
	table_grow(tb, is_alias);
}

static void table_remove(struct table *tb, void *e, size_t h, bool is_alias)
{
	void **pp = &tb->b[h & (tb->nb - 1)];

	while (*pp && *pp != e)
		pp = next_of(*pp, is_alias);
	if (*pp) {
		*pp = *next_of(e, is_alias);
		tb->count--;
	}
}

static struct node *get(struct nodes *t, uint64_t id)
{
	if (id == NODES_ROOT_ID)
		return &t->root;
	return (struct node *)(uintptr_t)id;
}

static uint64_t id_of(struct nodes *t, struct node *n)
{
	return n == &t->root ? NODES_ROOT_ID : (uint64_t)(uintptr_t)n;
}

static struct node *ino_find(struct nodes *t, dev_t dev, ino_t ino)
{
	struct node *n = t->inos.b[hash_ino(dev, ino) & (t->inos.nb - 1)];

	while (n && !(n->dev == dev && n->ino == ino))
		n = n->hnext;
	return n;
}

static struct alias *alias_find(struct nodes *t, struct node *parent, const char *name)
{
	struct alias *a = t->names.b[hash_name(parent, name) & (t->names.nb - 1)];

	while (a && !(a->parent == parent && strcmp(a->name, name) == 0))
		a = a->hnext;
	return a;
}

/* Takes n out of the inode hash: its id stays valid, a lookup of the same
 * inode number gets a new node. */
static void zombify(struct nodes *t, struct node *n)
{
	if (n->hashed && n != &t->root) {
		table_remove(&t->inos, n, node_hash(n), false);
		n->hashed = false;
	}
}

static void maybe_free(struct nodes *t, struct node *n);

/* Takes a out of its child's list of names. */
static void unlist(struct alias *a)
{
	struct alias **pp = &a->child->names;

	while (*pp && *pp != a)
		pp = &(*pp)->cnext;
	if (*pp)
		*pp = a->cnext;
}

/* Removes name a (from the hash, its child's list, its parent's refs);
 * the child is left for the caller to judge. */
static void alias_detach(struct nodes *t, struct alias *a)
{
	struct node *parent = a->parent;

	table_remove(&t->names, a, alias_hash(a), true);
	unlist(a);
	free(a);
	parent->refs--;
	maybe_free(t, parent);
}

/* Adds name parent/name of child as its freshest. -ENOMEM. */
static int alias_add(struct nodes *t, struct node *parent, const char *name, struct node *child)
{
	size_t len = strlen(name);
	struct alias *a = malloc(sizeof(*a) + len + 1);

	if (!a)
		return -ENOMEM;
	memcpy(a->name, name, len + 1);
	a->parent = parent;
	a->child = child;
	a->cnext = child->names;
	child->names = a;
	parent->refs++;
	table_insert(&t->names, a, alias_hash(a), true);
	return 0;
}

/* Frees n once neither the kernel nor a child's name refers to it. */
static void maybe_free(struct nodes *t, struct node *n)
{
	if (n == &t->root || n->nlookup || n->refs || n->pending)
		return;
	zombify(t, n);
	while (n->names)
		alias_detach(t, n->names);
	if (n->prev)
		n->prev->next = n->next;
	else
		t->all = n->next;
	if (n->next)
		n->next->prev = n->prev;
	free(n);
	t->live--;
}

/* A name lost: its node becomes a zombie when it has no other name. */
static void name_gone(struct nodes *t, struct alias *a)
{
	struct node *child = a->child;

	alias_detach(t, a);
	if (!child->names)
		zombify(t, child);
	maybe_free(t, child);
}

struct nodes *nodes_new(dev_t dev, ino_t ino)
{
	struct nodes *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (table_init(&t->inos) || table_init(&t->names)) {
		free(t->inos.b);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->settled, NULL);
	t->root.dev = dev;
	t->root.ino = ino;
	t->root.type = S_IFDIR;
	t->root.nlookup = 1;
	t->live = 1;
	return t;
}

void nodes_free(struct nodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->names.nb; i++)
		for (struct alias *a = t->names.b[i], *next; a; a = next) {
			next = a->hnext;
			free(a);
		}
	for (struct node *n = t->all, *next; n; n = next) {
		next = n->next;
		free(n);
	}
	free(t->names.b);
	free(t->inos.b);
	pthread_cond_destroy(&t->settled);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

uint64_t nodes_lookup(struct nodes *t, uint64_t parent, const char *name, const struct stat *st,
		      bool created, uint64_t *gen)
{
	mode_t type = st->st_mode & S_IFMT;
	struct node *p, *n;
	struct alias *a;
	uint64_t id = 0;

	pthread_mutex_lock(&t->lock);
	p = get(t, parent);
	n = ino_find(t, st->st_dev, st->st_ino);
	/* A new entry's inode number, or one of another type, was reused:
	 * the node of the old inode is a zombie (the kernel must not take
	 * the new file for it, nor a name of the old one for the new). */
	if (n && (created || n->type != type)) {
		zombify(t, n);
		n = NULL;
	}
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			goto out;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->type = type;
		n->gen = ++t->gen;
		n->hashed = true;
		table_insert(&t->inos, n, node_hash(n), false);
		n->next = t->all;
		if (t->all)
			t->all->prev = n;
		t->all = n;
		t->live++;
	}
	n->nlookup++;
	a = alias_find(t, p, name);
	if (a && a->child != n) {
		name_gone(t, a);
		a = NULL;
	}
	if (a) {
		/* Confirmed again: the freshest name. */
		struct alias **pp = &n->names;
		while (*pp != a)
			pp = &(*pp)->cnext;
		*pp = a->cnext;
		a->cnext = n->names;
		n->names = a;
	} else if (alias_add(t, p, name, n) != 0 && !n->names) {
		n->nlookup--;
		maybe_free(t, n);
		goto out;
	}
	/* A directory has one name: any other one is what this mount saw
	 * before another mount moved it. */
	while (type == S_IFDIR && n->names->cnext)
		alias_detach(t, n->names->cnext);
	id = id_of(t, n);
	*gen = n->gen;
out:
	pthread_mutex_unlock(&t->lock);
	return id;
}

void nodes_forget(struct nodes *t, uint64_t id, uint64_t count)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = get(t, id);
	if (n != &t->root) {
		n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
		maybe_free(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

/* The path of n + "/" + name (name NULL: of n alone), of any length (the
 * core resolves long paths piecewise). Under the lock. */
static int build_path(struct nodes *t, struct node *n, const char *name, char **out)
{
	size_t len = name ? strlen(name) + 1 : 0, depth = 0;
	char *p;

	for (struct node *x = n; x != &t->root; x = x->names->parent) {
		/* More levels than nodes: a loop that names changed on
		 * another mount left in the table. */
		if (!x->names || ++depth > t->live)
			return -ENOENT;
		len += strlen(x->names->name) + 1;
	}
	p = malloc(len + 2);
	if (!p)
		return -ENOMEM;
	*out = p;
	if (!len) {
		strcpy(p, "/");
		return 0;
	}
	p += len;
	*p = '\0';
	if (name) {
		size_t l = strlen(name);
		p -= l;
		memcpy(p, name, l);
		*--p = '/';
	}
	for (struct node *x = n; x != &t->root; x = x->names->parent) {
		size_t l = strlen(x->names->name);
		p -= l;
		memcpy(p, x->names->name, l);
		*--p = '/';
	}
	return 0;
}

int nodes_path(struct nodes *t, uint64_t id, char **path)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = build_path(t, get(t, id), NULL, path);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int nodes_child_path(struct nodes *t, uint64_t parent, const char *name, char **path)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = build_path(t, get(t, parent), name, path);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int nodes_ino(struct nodes *t, uint64_t id, dev_t *dev, ino_t *ino, mode_t *type)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = get(t, id);
	*dev = n->dev;
	*ino = n->ino;
	*type = n->type;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void nodes_unlinked(struct nodes *t, uint64_t parent, const char *name)
{
	struct alias *a;

	pthread_mutex_lock(&t->lock);
	a = alias_find(t, get(t, parent), name);
	if (a)
		name_gone(t, a);
	pthread_mutex_unlock(&t->lock);
}

void nodes_renamed(struct nodes *t, uint64_t p1, const char *n1, uint64_t p2, const char *n2,
		   bool exchange)
{
	struct node *d1, *d2;
	struct alias *a1, *a2, *from = NULL;

	pthread_mutex_lock(&t->lock);
	d1 = get(t, p1);
	d2 = get(t, p2);
	a1 = alias_find(t, d1, n1);
	a2 = alias_find(t, d2, n2);
	/* Two names of one file: rename(2) leaves both as they are. */
	if (a1 == a2 || (a1 && a2 && a1->child == a2->child))
		goto out;
	if (exchange && a1 && a2) {
		struct node *c1 = a1->child, *c2 = a2->child;
		unlist(a1);
		unlist(a2);
		a1->child = c2;
		a1->cnext = c2->names;
		c2->names = a1;
		a2->child = c1;
		a2->cnext = c1->names;
		c1->names = a2;
		goto out;
	}
	if (a2 && !exchange) {
		name_gone(t, a2);
		a2 = NULL;
	}
	/* The one name that exists moves to the other place. The kernel
	 * holds both directories, so neither is freed meanwhile. A name that
	 * cannot move (ENOMEM) goes: the node resolves to ENOENT, never to a
	 * wrong path. */
	if (a1)
		from = a1;
	else if (exchange && a2)
		from = a2;
	if (from) {
		struct node *c = from->child;
		if (from == a1)
			(void)alias_add(t, d2, n2, c);
		else
			(void)alias_add(t, d1, n1, c);
		name_gone(t, from);
	}
out:
	pthread_mutex_unlock(&t->lock);
}

int nodes_prune(struct nodes *t, uint64_t id, bool (*leads)(void *arg, const char *path),
		void *arg, struct nodes_gone **gone)
{
	struct node *n, **parents = NULL;
	char **paths = NULL, **names = NULL;
	struct nodes_gone *g = NULL;
	size_t k = 0, i = 0;
	int rc = 0;

	*gone = NULL;
	pthread_mutex_lock(&t->lock);
	n = get(t, id);
	for (struct alias *a = n->names; a; a = a->cnext)
		k++;
	if (k > 1) {
		paths = calloc(k, sizeof(*paths));
		names = calloc(k, sizeof(*names));
		parents = calloc(k, sizeof(*parents));
		g = calloc(k, sizeof(*g));
		rc = paths && names && parents && g ? 0 : -ENOMEM;
		for (struct alias *a = n->names; !rc && a; a = a->cnext, i++) {
			parents[i] = a->parent;
			names[i] = strdup(a->name);
			rc = names[i] ? build_path(t, a->parent, a->name, &paths[i]) : -ENOMEM;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (k <= 1 || rc)
		goto out;
	/* The checks run unlocked (they are syscalls on the meta root). */
	for (i = 0; i < k; i++)
		if (leads(arg, paths[i])) {
			free(paths[i]);
			paths[i] = NULL;
		}
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < k; i++) {
		struct alias *a = paths[i] ? alias_find(t, parents[i], names[i]) : NULL;
		if (a && a->child == n) {
			g[rc].parent = id_of(t, parents[i]);
			g[rc].name = names[i];
			names[i] = NULL;
			name_gone(t, a);
			rc++;
		}
	}
	n->pending += (unsigned)rc;
	pthread_mutex_unlock(&t->lock);
out:
	for (i = 0; i < k && paths && names; i++) {
		free(paths[i]);
		free(names[i]);
	}
	free(paths);
	free(names);
	free(parents);
	if (rc > 0)
		*gone = g;
	else
		free(g);
	return rc;
}

void nodes_settled(struct nodes *t, uint64_t id, struct nodes_gone *gone, int n)
{
	struct node *x;

	for (int i = 0; i < n; i++)
		free(gone[i].name);
	free(gone);
	if (n <= 0)
		return;
	pthread_mutex_lock(&t->lock);
	x = get(t, id);
	x->pending -= (unsigned)n;
	pthread_cond_broadcast(&t->settled);
	maybe_free(t, x);
	pthread_mutex_unlock(&t->lock);
}

void nodes_looked_up(struct nodes *t, uint64_t id, int pid)
{
	pthread_mutex_lock(&t->lock);
	get(t, id)->looked_by = pid;
	pthread_mutex_unlock(&t->lock);
}

bool nodes_open_stale(struct nodes *t, uint64_t id, int pid)
{
	struct timespec until;
	struct node *n;
	bool waited = false, fresh;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;	/* a bound, never reached in practice */
	pthread_mutex_lock(&t->lock);
	n = get(t, id);
	fresh = pid && n->looked_by == pid;
	n->looked_by = 0;
	while (n->pending) {
		waited = true;
		if (pthread_cond_timedwait(&t->settled, &t->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&t->lock);
	return waited && !fresh;
}

size_t nodes_count(struct nodes *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->live;
	pthread_mutex_unlock(&t->lock);
	return n;
}
