/*
 * keys_int.h — the keyring's in-memory layout and the lookups that the
 * keyring itself (keys.c) and its file format (keyring_file.c) share;
 * internal to those two files, not an interface for anything else.
 */
#ifndef GEOFS_KEYS_INT_H
#define GEOFS_KEYS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

struct kr_domain {
	char name[KEYS_DOMAIN_MAX];
	uint32_t version;
	uint8_t key[AEAD_KEY_LEN];
};

struct kr_current {
	char name[KEYS_DOMAIN_MAX];
	uint32_t version;
};

/* The struct itself lives in secure memory (it holds the master). */
struct keyring {
	size_t self_size;
	bool has_master;
	uint8_t master[AEAD_KEY_LEN];
	struct kr_domain *dom;		/* secure memory, dom_size bytes */
	size_t ndom, dom_size;
	struct kr_current *cur;		/* plain heap: no secrets */
	size_t ncur, ncur_cap;
};

/* The explicit entry of domain d at version v, or NULL. */
struct kr_domain *find_domain(const struct keyring *kr, const char *d, uint32_t v);

/* The recorded current version of domain d, or NULL (version 1). */
struct kr_current *find_current(const struct keyring *kr, const char *d);

#endif
