/*
 * testutil.h — small helpers shared by the cmocka unit tests (header only:
 * each tests/unit/test_X.c is its own program).
 */
#ifndef GEOFS_TESTUTIL_H
#define GEOFS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes an even-length hex string into out (strlen(hex) / 2 bytes). */
static inline size_t tu_unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

/* Deterministic pseudo-random bytes (xorshift64*), so failures reproduce. */
static inline void tu_fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed ? seed : 0x9E3779B97F4A7C15ull;

	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
	}
}

/* A fresh private directory under $TMPDIR (or /tmp); caller frees. */
static inline char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	size_t n;
	char *d;

	if (!base || !*base)
		base = "/tmp";
	n = strlen(base) + sizeof("/geofs-unit-XXXXXX");
	d = malloc(n);
	if (!d)
		return NULL;
	strcpy(d, base);
	strcat(d, "/geofs-unit-XXXXXX");
	return mkdtemp(d);
}

/* Removes a directory made by tu_tmpdir with everything in it, and frees
 * its name. 0 on success (system()'s status otherwise). */
static inline int tu_rmtree(char *dir)
{
	size_t n = strlen(dir) + sizeof("rm -rf ''");
	char *cmd = malloc(n);
	int rc = -1;

	if (cmd) {
		snprintf(cmd, n, "rm -rf '%s'", dir);
		rc = system(cmd);
		free(cmd);
	}
	free(dir);
	return rc;
}

#endif
