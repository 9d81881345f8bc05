/*
 * idmap.c — open-addressing hash map of ids (see idmap.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

struct slot {
	bool used;
	uint32_t tag;
	struct geo_id id;
	void *val;
};

struct idmap {
	struct slot *s;
	size_t cap;		/* power of two */
	size_t n;
};

struct idmap *idmap_new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = 1024;
	m->s = calloc(m->cap, sizeof(*m->s));
	if (!m->s) {
		free(m);
		return NULL;
	}
	return m;
}

void idmap_free(struct idmap *m, void (*free_val)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; free_val && i < m->cap; i++)
		if (m->s[i].used)
			free_val(m->s[i].val);
	free(m->s);
	free(m);
}

static size_t hash(uint32_t tag, const struct geo_id *id)
{
	uint64_t h;

	memcpy(&h, id->b, sizeof(h));
	return (size_t)((h ^ (tag * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull >> 17);
}

static struct slot *find(const struct idmap *m, uint32_t tag, const struct geo_id *id)
{
	size_t i = hash(tag, id) & (m->cap - 1);

	while (m->s[i].used && !(m->s[i].tag == tag && geoid_equal(&m->s[i].id, id)))
		i = (i + 1) & (m->cap - 1);
	return &m->s[i];
}

static int grow(struct idmap *m)
{
	struct idmap bigger = { .cap = 2 * m->cap };

	bigger.s = calloc(bigger.cap, sizeof(*bigger.s));
	if (!bigger.s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].used)
			*find(&bigger, m->s[i].tag, &m->s[i].id) = m->s[i];
	free(m->s);
	m->s = bigger.s;
	m->cap = bigger.cap;
	return 0;
}

int idmap_put(struct idmap *m, uint32_t tag, const struct geo_id *id, void *val)
{
	struct slot *s;

	if (2 * (m->n + 1) > m->cap && grow(m) < 0)
		return -ENOMEM;
	s = find(m, tag, id);
	if (s->used)
		return 0;
	s->used = true;
	s->tag = tag;
	s->id = *id;
	s->val = val;
	m->n++;
	return 1;
}

void *idmap_get(const struct idmap *m, uint32_t tag, const struct geo_id *id)
{
	const struct slot *s = find(m, tag, id);

	return s->used ? s->val : NULL;
}

int idmap_has(const struct idmap *m, uint32_t tag, const struct geo_id *id)
{
	return find(m, tag, id)->used;
}

size_t idmap_count(const struct idmap *m)
{
	return m->n;
}
