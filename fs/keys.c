/*
 * keys.c — the site keyring in memory (locked memory, domain-key
 * derivation, rotation) and file-key wrapping. See keys.h; the keyring
 * file format (parsing, loading, writing) is keyring_file.c.
 *
 * All secrets (the keyring struct with the master, the domain-key table,
 * files' data keys) sit in secmem.h memory: mlock'ed when the limit
 * allows, excluded from core dumps, wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "country.h"
#include "keys.h"
#include "keys_int.h"

#include "secmem.h"

#define KEYS_HKDF_SALT    "geofs-keyring-v1"
#define KEYS_WRAP_LABEL   "geofs-wrap-v1"
#define KEYS_CAT_MAX      63

void *keys_secret_alloc(size_t n)
{
	return n <= SECMEM_SLOT ? secmem_slot_alloc() : secmem_alloc(secmem_round(n));
}

void keys_secret_free(void *p, size_t n)
{
	if (n <= SECMEM_SLOT)
		secmem_slot_free(p);
	else
		secmem_free(p, secmem_round(n));
}

/* ---- small helpers ------------------------------------------------------ */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool keys_domain_valid(const char *domain)
{
	char cc[3];
	size_t n;

	if (!domain || strnlen(domain, KEYS_DOMAIN_MAX) >= KEYS_DOMAIN_MAX)
		return false;
	if (!domain[0] || !domain[1] || domain[2] != ':')
		return false;
	memcpy(cc, domain, 2);
	cc[2] = '\0';
	if (country_index(cc) < 0)
		return false;
	n = strlen(domain + 3);
	if (n < 1 || n > KEYS_CAT_MAX)
		return false;
	for (const char *p = domain + 3; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

void keys_domain(char out[KEYS_DOMAIN_MAX], const char *origin, const char *category)
{
	snprintf(out, KEYS_DOMAIN_MAX, "%s:%s", origin, category);
}

/* ---- the keyring in memory ---------------------------------------------- */

int keyring_new(bool with_master, struct keyring **out)
{
	size_t sz = secmem_round(sizeof(struct keyring));
	struct keyring *kr = secmem_alloc(sz);
	int ret;

	*out = NULL;
	if (!kr)
		return -ENOMEM;
	kr->self_size = sz;
	if (with_master) {
		ret = crypto_random(kr->master, AEAD_KEY_LEN);
		if (ret) {
			secmem_free(kr, sz);
			return ret;
		}
		kr->has_master = true;
	}
	*out = kr;
	return 0;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	secmem_free(kr->dom, kr->dom_size);
	free(kr->cur);
	secmem_free(kr, kr->self_size);
}

bool keyring_has_master(const struct keyring *kr)
{
	return kr->has_master;
}

struct kr_domain *find_domain(const struct keyring *kr, const char *d, uint32_t v)
{
	for (size_t i = 0; i < kr->ndom; i++)
		if (kr->dom[i].version == v && strcmp(kr->dom[i].name, d) == 0)
			return &kr->dom[i];
	return NULL;
}

struct kr_current *find_current(const struct keyring *kr, const char *d)
{
	for (size_t i = 0; i < kr->ncur; i++)
		if (strcmp(kr->cur[i].name, d) == 0)
			return &kr->cur[i];
	return NULL;
}

int keyring_add_domain(struct keyring *kr, const char *domain, uint32_t version,
		       const uint8_t key[AEAD_KEY_LEN])
{
	struct kr_domain *e;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	e = find_domain(kr, domain, version);
	if (!e) {
		if ((kr->ndom + 1) * sizeof(*e) > kr->dom_size) {
			size_t nsz = secmem_round((kr->ndom + 1) * sizeof(*e) * 2);
			struct kr_domain *nd = secmem_alloc(nsz);

			if (!nd)
				return -ENOMEM;
			if (kr->ndom)
				memcpy(nd, kr->dom, kr->ndom * sizeof(*e));
			secmem_free(kr->dom, kr->dom_size);
			kr->dom = nd;
			kr->dom_size = nsz;
		}
		e = &kr->dom[kr->ndom++];
		snprintf(e->name, sizeof(e->name), "%s", domain);
		e->version = version;
	}
	memcpy(e->key, key, AEAD_KEY_LEN);
	return 0;
}

int keyring_set_current(struct keyring *kr, const char *domain, uint32_t version)
{
	struct kr_current *c;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	c = find_current(kr, domain);
	if (!c) {
		if (kr->ncur == kr->ncur_cap) {
			size_t ncap = kr->ncur_cap ? 2 * kr->ncur_cap : 16;
			struct kr_current *nc = realloc(kr->cur, ncap * sizeof(*nc));

			if (!nc)
				return -ENOMEM;
			kr->cur = nc;
			kr->ncur_cap = ncap;
		}
		c = &kr->cur[kr->ncur++];
		snprintf(c->name, sizeof(c->name), "%s", domain);
	}
	c->version = version;
	return 0;
}

uint32_t keyring_current(const struct keyring *kr, const char *domain)
{
	const struct kr_current *c = find_current(kr, domain);

	return c ? c->version : 1;
}

void keyring_foreach_domain(const struct keyring *kr,
			    void (*fn)(const char *domain, uint32_t version, void *arg), void *arg)
{
	for (size_t i = 0; i < kr->ndom; i++)
		fn(kr->dom[i].name, kr->dom[i].version, arg);
}

void keyring_foreach_current(const struct keyring *kr,
			     void (*fn)(const char *domain, uint32_t version, void *arg), void *arg)
{
	for (size_t i = 0; i < kr->ncur; i++)
		fn(kr->cur[i].name, kr->cur[i].version, arg);
}

bool keyring_has_explicit(const struct keyring *kr, const char *domain, uint32_t version)
{
	return find_domain(kr, domain, version) != NULL;
}

int keyring_domain_key(const struct keyring *kr, const char *domain, uint32_t version,
		       uint8_t key[AEAD_KEY_LEN])
{
	const struct kr_domain *e;
	char info[sizeof("geofs domain  v4294967295") + KEYS_DOMAIN_MAX];
	int n;

	if (!keys_domain_valid(domain) || version == 0)
		return -EINVAL;
	e = find_domain(kr, domain, version);
	if (e) {
		memcpy(key, e->key, AEAD_KEY_LEN);
		return 0;
	}
	if (!kr->has_master)
		return -ENOKEY;
	n = snprintf(info, sizeof(info), "geofs domain %s v%u", domain, (unsigned)version);
	return crypto_hkdf(kr->master, AEAD_KEY_LEN, KEYS_HKDF_SALT, strlen(KEYS_HKDF_SALT),
			   info, (size_t)n, key, AEAD_KEY_LEN);
}

int keyring_rotate(struct keyring *kr, const char *domain, uint32_t *newver, bool *fresh)
{
	uint32_t cur = keyring_current(kr, domain), next;
	uint8_t key[AEAD_KEY_LEN];
	int ret;

	*fresh = false;
	ret = keyring_domain_key(kr, domain, cur, key);	/* also validates domain */
	if (ret)
		return ret;
	if (cur == UINT32_MAX) {
		ret = -EOVERFLOW;
		goto out;
	}
	next = cur + 1;
	/* A domain whose keys came from elsewhere must not switch to keys
	 * derived from this site's master, which its home site cannot know. */
	if (!find_domain(kr, domain, next) &&
	    (!kr->has_master || find_domain(kr, domain, cur))) {
		ret = crypto_random(key, sizeof(key));
		if (!ret)
			ret = keyring_add_domain(kr, domain, next, key);
		if (ret)
			goto out;
		*fresh = true;
	}
	ret = keyring_set_current(kr, domain, next);
	if (ret) {
		if (*fresh)	/* drop the entry just appended: kr unchanged */
			crypto_wipe(&kr->dom[--kr->ndom], sizeof(kr->dom[0]));
		*fresh = false;
		goto out;
	}
	*newver = next;
out:
	crypto_wipe(key, sizeof(key));
	return ret;
}


/* ---- wrapping file keys ------------------------------------------------- */

#define WRAP_AAD_MAX (sizeof(KEYS_WRAP_LABEL) - 1 + GEO_ID_LEN + KEYS_DOMAIN_MAX + 4)

/* "geofs-wrap-v1" | file id | domain | 0 | version u32 LE. Returns length
 * or -EINVAL for an over-long domain. */
static int wrap_aad(uint8_t aad[WRAP_AAD_MAX], const struct geo_id *fid, const char *domain,
		    uint32_t version)
{
	size_t dl = strnlen(domain, KEYS_DOMAIN_MAX), off = sizeof(KEYS_WRAP_LABEL) - 1;

	if (dl >= KEYS_DOMAIN_MAX)
		return -EINVAL;
	memcpy(aad, KEYS_WRAP_LABEL, off);
	memcpy(aad + off, fid->b, GEO_ID_LEN);
	off += GEO_ID_LEN;
	memcpy(aad + off, domain, dl + 1);	/* with its NUL */
	off += dl + 1;
	put_le32(aad + off, version);
	return (int)(off + 4);
}

int keys_wrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
	      const char *domain, uint32_t version, const uint8_t fkey[AEAD_KEY_LEN],
	      uint8_t out[KEYS_WRAPPED_LEN])
{
	uint8_t aad[WRAP_AAD_MAX];
	int alen, ret;

	alen = wrap_aad(aad, fid, domain, version);
	if (alen < 0)
		return alen;
	ret = crypto_random(out, AEAD_NONCE_LEN);
	if (ret)
		return ret;
	return crypto_aead_seal(dkey, out, aad, (size_t)alen, fkey, AEAD_KEY_LEN,
				out + AEAD_NONCE_LEN, out + AEAD_NONCE_LEN + AEAD_KEY_LEN);
}

int keys_unwrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
		const char *domain, uint32_t version, const uint8_t in[KEYS_WRAPPED_LEN],
		uint8_t fkey[AEAD_KEY_LEN])
{
	uint8_t aad[WRAP_AAD_MAX];
	int alen;

	alen = wrap_aad(aad, fid, domain, version);
	if (alen < 0)
		return -EIO;
	return crypto_aead_open(dkey, in, aad, (size_t)alen, in + AEAD_NONCE_LEN,
				AEAD_KEY_LEN, fkey, in + AEAD_NONCE_LEN + AEAD_KEY_LEN);
}
