/*
 * links.c — recorded names of hard-linked files (see links.h): a small
 * hash table of inode -> up to LINKS_NAMES paths, evicting the oldest
 * inode when full.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"

#define LINKS_BUCKETS 1024
#define LINKS_NAMES   8
#define LINKS_MAX     4096

struct lnode {
	ino_t ino;
	char *name[LINKS_NAMES];
	struct lnode *next;	/* bucket chain */
	unsigned long age;
};

struct links {
	pthread_mutex_t lock;
	struct lnode *bucket[LINKS_BUCKETS];
	unsigned count;
	unsigned long clock;
};

struct links *links_new(void)
{
	struct links *l = calloc(1, sizeof(*l));

	if (l)
		pthread_mutex_init(&l->lock, NULL);
	return l;
}

static void node_free(struct lnode *n)
{
	for (int i = 0; i < LINKS_NAMES; i++)
		free(n->name[i]);
	free(n);
}

void links_free(struct links *l)
{
	if (!l)
		return;
	for (int b = 0; b < LINKS_BUCKETS; b++)
		for (struct lnode *n = l->bucket[b], *next; n; n = next) {
			next = n->next;
			node_free(n);
		}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static struct lnode **slot(struct links *l, ino_t ino)
{
	struct lnode **pp = &l->bucket[(unsigned long)ino % LINKS_BUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

/* Drops the least recently noted inode to stay within LINKS_MAX. */
static void evict_oldest(struct links *l)
{
	struct lnode **oldest = NULL;

	for (int b = 0; b < LINKS_BUCKETS; b++)
		for (struct lnode **pp = &l->bucket[b]; *pp; pp = &(*pp)->next)
			if (!oldest || (*pp)->age < (*oldest)->age)
				oldest = pp;
	if (oldest) {
		struct lnode *n = *oldest;
		*oldest = n->next;
		node_free(n);
		l->count--;
	}
}

void links_note(struct links *l, ino_t ino, const char *path)
{
	struct lnode **pp, *n;
	int free_i = -1;

	pthread_mutex_lock(&l->lock);
	pp = slot(l, ino);
	if (!*pp) {
		if (l->count >= LINKS_MAX)
			evict_oldest(l);
		pp = slot(l, ino);
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			goto out;
		(*pp)->ino = ino;
		l->count++;
	}
	n = *pp;
	n->age = ++l->clock;
	for (int i = 0; i < LINKS_NAMES; i++) {
		if (n->name[i] && strcmp(n->name[i], path) == 0)
			goto out;
		if (!n->name[i] && free_i < 0)
			free_i = i;
	}
	if (free_i < 0) {		/* full: replace the first */
		free(n->name[0]);
		free_i = 0;
	}
	n->name[free_i] = strdup(path);
out:
	pthread_mutex_unlock(&l->lock);
}

void links_forget(struct links *l, ino_t ino, const char *path)
{
	struct lnode **pp;

	pthread_mutex_lock(&l->lock);
	pp = slot(l, ino);
	if (*pp) {
		bool empty = true;
		for (int i = 0; i < LINKS_NAMES; i++) {
			if ((*pp)->name[i] && strcmp((*pp)->name[i], path) == 0) {
				free((*pp)->name[i]);
				(*pp)->name[i] = NULL;
			}
			empty &= !(*pp)->name[i];
		}
		if (empty) {
			struct lnode *n = *pp;
			*pp = n->next;
			node_free(n);
			l->count--;
		}
	}
	pthread_mutex_unlock(&l->lock);
}

void links_each(struct links *l, ino_t ino, void (*fn)(void *arg, const char *path), void *arg)
{
	char *names[LINKS_NAMES] = { 0 };
	struct lnode **pp;

	/* Copy out, so fn runs without the lock (it talks to the kernel). */
	pthread_mutex_lock(&l->lock);
	pp = slot(l, ino);
	for (int i = 0; *pp && i < LINKS_NAMES; i++)
		if ((*pp)->name[i])
			names[i] = strdup((*pp)->name[i]);
	pthread_mutex_unlock(&l->lock);
	for (int i = 0; i < LINKS_NAMES; i++) {
		if (names[i])
			fn(arg, names[i]);
		free(names[i]);
	}
}
