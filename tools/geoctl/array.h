/*
 * array.h — growing a malloc'ed array by doubling, for geoctl's lists.
 */
#ifndef GEOCTL_ARRAY_H
#define GEOCTL_ARRAY_H

#include <stdlib.h>

/* Makes room for element n of an array of `size`-byte elements with *cap
 * allocated. Returns the (maybe moved) array, or NULL on ENOMEM (then p is
 * still valid and *cap unchanged). */
static inline void *array_grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *q;

	if (n < *cap)
		return p;
	c = *cap ? 2 * *cap : 16;
	q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

#endif
