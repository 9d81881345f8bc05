/*
 * fuzz_keyring.c — keyring_parse(), the keyring file's grammar.
 *
 * Checks: 0 with a keyring or -EINVAL with a "KEYRING_NAME:..." reason and none;
 * an error never quotes a master key field; a keyring that parses holds
 * only valid domains, writes out (keyring_write) as text that parses again
 * and writes out identically, and derives the same domain keys after the
 * round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "keys.h"

#define KEYRING_NAME "fuzz.keyring"

struct doms {
	char name[8][KEYS_DOMAIN_MAX];
	uint32_t version[8];
	int n;
};

static void collect(const char *domain, uint32_t version, void *arg)
{
	struct doms *d = arg;

	FUZZ_CHECK(keys_domain_valid(domain));
	FUZZ_CHECK(version >= 1);
	if (d->n < 8) {
		strcpy(d->name[d->n], domain);
		d->version[d->n++] = version;
	}
}

/* keyring_write into memory; returns a malloc'ed buffer and its length. */
static char *dump(const struct keyring *kr, size_t *len)
{
	int fd = memfd_create("fuzz-keyring", MFD_CLOEXEC);
	char *buf = NULL;
	off_t end;

	if (fd < 0)
		return NULL;
	FUZZ_CHECK(keyring_write(kr, fd) == 0);
	end = lseek(fd, 0, SEEK_CUR);
	buf = malloc((size_t)end + 1);
	if (buf) {
		FUZZ_CHECK(pread(fd, buf, (size_t)end, 0) == end);
		*len = (size_t)end;
	}
	close(fd);
	return buf;
}

static int occurrences(const uint8_t *data, size_t size, const char *tok, size_t n)
{
	int count = 0;

	for (size_t i = 0; i + n <= size; i++)
		count += memcmp(data + i, tok, n) == 0;
	return count;
}

/* No error text may contain the (hex) value of a "master" line. */
static void check_no_secret(const uint8_t *data, size_t size, const char *err)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char tok[80];
		size_t n;

		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(le - p) > 7 && memcmp(p, "master", 6) == 0 &&
		    (p[6] == ' ' || p[6] == '\t')) {
			const char *t = p + 7;

			while (t < le && (*t == ' ' || *t == '\t'))
				t++;
			for (n = 0; t + n < le && n < sizeof(tok) - 1 && t[n] != ' ' &&
			     t[n] != '\t' && t[n] != '\r' && t[n] != '\0'; n++)
				tok[n] = t[n];
			tok[n] = '\0';
			/* key material is hex (the messages' own words are not);
			 * the same bytes elsewhere in the input, e.g. inside a
			 * domain name, may legitimately be quoted */
			if (n >= 16 && strspn(tok, "0123456789abcdefABCDEF") == n &&
			    occurrences(data, size, tok, n) == 1)
				FUZZ_CHECK(strstr(err, tok) == NULL);
		}
		p = nl ? nl + 1 : end;
	}
}

int fuzz_keyring(const uint8_t *data, size_t size)
{
	struct keyring *kr = NULL, *kr2 = NULL;
	struct doms d = { .n = 0 };
	char err[4096], *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;
	int rc;

	memset(err, 'X', sizeof(err));
	rc = keyring_parse(KEYRING_NAME, (const char *)data, size, &kr, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(kr == NULL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
		if (rc == -EINVAL) {
			FUZZ_CHECK(strncmp(err, KEYRING_NAME, strlen(KEYRING_NAME)) == 0);
			check_no_secret(data, size, err);
		}
		return 0;
	}
	FUZZ_CHECK(kr != NULL);
	keyring_foreach_domain(kr, collect, &d);
	t1 = dump(kr, &l1);
	if (!t1)
		goto out;
	FUZZ_CHECK(keyring_parse(KEYRING_NAME, t1, l1, &kr2, err, sizeof(err)) == 0);
	FUZZ_CHECK(keyring_has_master(kr) == keyring_has_master(kr2));
	t2 = dump(kr2, &l2);
	FUZZ_CHECK(t2 && l1 == l2 && memcmp(t1, t2, l1) == 0);
	for (int i = 0; i < d.n; i++) {
		uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN];

		FUZZ_CHECK(keyring_domain_key(kr, d.name[i], d.version[i], k1) == 0);
		FUZZ_CHECK(keyring_domain_key(kr2, d.name[i], d.version[i], k2) == 0);
		FUZZ_CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
		FUZZ_CHECK(keyring_current(kr, d.name[i]) == keyring_current(kr2, d.name[i]));
	}
	if (keyring_has_master(kr)) {
		uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN];

		FUZZ_CHECK(keyring_domain_key(kr, "JP:fuzz", 1, k1) == 0);
		FUZZ_CHECK(keyring_domain_key(kr2, "JP:fuzz", 1, k2) == 0);
		FUZZ_CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
	}
out:
	free(t1);
	free(t2);
	keyring_free(kr);
	keyring_free(kr2);
	return 0;
}

FUZZ_ENTRY(fuzz_keyring)
