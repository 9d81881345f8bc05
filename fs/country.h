/*
 * country.h — ISO 3166-1 alpha-2 country codes and sets of them.
 *
 * The table is generated at build time from Debian's iso-codes package
 * (build/gen/country_table.h), so it is never typed by hand. A country is
 * handled as a small index into that table; a `struct cset` is a bit set
 * over the indices, used for store_in / access_from sets.
 */
#ifndef GEOFS_COUNTRY_H
#define GEOFS_COUNTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COUNTRY_MAX 256		/* table has 249 entries; a cset holds 256 bits */

/* Index of an upper-case two-letter code ("JP"), or -EINVAL if it is not an
 * assigned ISO 3166-1 alpha-2 code. Lower case is rejected: codes are
 * written upper case everywhere in geofs. */
int country_index(const char *code);

/* The code for an index from country_index(); "??" for an invalid index. */
const char *country_code(int idx);

/* Number of codes in the table. */
int country_count(void);

/* The ISO 3166-1 short name of a country index ("Japan", "Korea, Republic
 * of"), from iso-codes; "unknown country" for an invalid index. */
const char *country_name(int idx);

struct cset {
	uint64_t w[COUNTRY_MAX / 64];
};

void cset_clear(struct cset *s);
void cset_fill(struct cset *s);				/* every country */
void cset_add(struct cset *s, int idx);
bool cset_has(const struct cset *s, int idx);
bool cset_subset(const struct cset *a, const struct cset *b);	/* a ⊆ b */
bool cset_equal(const struct cset *a, const struct cset *b);
bool cset_empty(const struct cset *s);
bool cset_full(const struct cset *s);		/* every table country */
void cset_union(struct cset *dst, const struct cset *src);
int cset_count(const struct cset *s);

/* Formats as "JP,KR" (table order) or "*" when full, "-" when empty.
 * Returns the length it needed (like snprintf); truncates safely. */
int cset_format(const struct cset *s, char *buf, size_t len);

#endif
