/*
 * scache.c — LRU of decoded shards (see scache.h): a chained hash table for
 * lookup and a doubly linked list for recency, both under one mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scache.h"

#define NBUCKETS 1024

struct entry {
	struct geo_id id;
	uint64_t index, gen;
	size_t len;
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* LRU list, head = most recent */
	uint8_t *data;			/* malloc'ed, owned */
};

struct scache {
	pthread_mutex_t lock;
	uint64_t capacity, used;
	uint64_t hits, misses;
	struct entry *head, *tail;
	struct entry *bucket[NBUCKETS];
};

struct scache *scache_new(uint64_t capacity)
{
	struct scache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->capacity = capacity;
	return c;
}

void scache_free(struct scache *c)
{
	if (!c)
		return;
	for (struct entry *e = c->head, *n; e; e = n) {
		n = e->next;
		free(e->data);
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static unsigned bucket_of(const struct geo_id *id, uint64_t index)
{
	uint64_t h;

	memcpy(&h, id->b, sizeof(h));
	h ^= index * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h % NBUCKETS);
}

static void lru_unlink(struct scache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct scache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Finds an entry; with `unlink_it`, also removes it from its chain. */
static struct entry *find(struct scache *c, const struct geo_id *id, uint64_t index,
			  uint64_t gen, bool unlink_it)
{
	struct entry **pp = &c->bucket[bucket_of(id, index)];

	for (; *pp; pp = &(*pp)->hnext) {
		struct entry *e = *pp;
		if (e->index == index && e->gen == gen && geoid_equal(&e->id, id)) {
			if (unlink_it)
				*pp = e->hnext;
			return e;
		}
	}
	return NULL;
}

static void evict(struct scache *c, struct entry *e)
{
	find(c, &e->id, e->index, e->gen, true);
	lru_unlink(c, e);
	c->used -= e->len;
	free(e->data);
	free(e);
}

bool scache_read(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
		 void *out, size_t off, size_t len)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = find(c, id, index, gen, false);
	if (!e) {
		c->misses++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	c->hits++;
	lru_unlink(c, e);
	lru_push(c, e);
	size_t have = off < e->len ? e->len - off : 0;
	if (have > len)
		have = len;
	memcpy(out, e->data + off, have);
	memset((uint8_t *)out + have, 0, len - have);
	pthread_mutex_unlock(&c->lock);
	return true;
}

bool scache_contains(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen)
{
	pthread_mutex_lock(&c->lock);
	bool hit = find(c, id, index, gen, false) != NULL;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void scache_insert_owned(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
			 uint8_t *data, size_t len)
{
	struct entry *e;
	unsigned b;

	if (len > c->capacity || !(e = malloc(sizeof(*e)))) {
		free(data);
		return;
	}
	e->id = *id;
	e->index = index;
	e->gen = gen;
	e->len = len;
	e->data = data;
	pthread_mutex_lock(&c->lock);
	if (find(c, id, index, gen, false)) {
		pthread_mutex_unlock(&c->lock);
		free(data);
		free(e);
		return;
	}
	while (c->tail && c->used + len > c->capacity)
		evict(c, c->tail);
	b = bucket_of(id, index);
	e->hnext = c->bucket[b];
	c->bucket[b] = e;
	lru_push(c, e);
	c->used += len;
	pthread_mutex_unlock(&c->lock);
}

void scache_insert(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen,
		   const void *data, size_t len)
{
	uint8_t *copy;

	if (len > c->capacity || !(copy = malloc(len ? len : 1)))
		return;
	memcpy(copy, data, len);
	scache_insert_owned(c, id, index, gen, copy, len);
}

void scache_drop(struct scache *c, const struct geo_id *id, uint64_t index, uint64_t gen)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = find(c, id, index, gen, false);
	if (e)
		evict(c, e);
	pthread_mutex_unlock(&c->lock);
}

void scache_stats(struct scache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
