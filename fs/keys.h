/*
 * keys.h — the site keyring and file-key wrapping.
 *
 * A key domain is "ORIGIN:category" (e.g. "JP:medical"). Its key protects
 * the random per-file data keys of that domain. A keyring holds either a
 * master secret (from which every domain key derives, HKDF-SHA256 with
 * info "geofs domain " DOMAIN " v" VERSION) and/or explicit domain keys
 * imported from another site. Domain keys have versions so `geoctl keys
 * rotate` can move a domain to a new key; the keyring records each
 * domain's current version (default 1).
 *
 * Keyring file (text, mode 0600, refused if group/other may read it):
 *   geofs-keyring 1
 *   master <64 hex>
 *   domain JP:public 1 <64 hex>
 *   current JP:personal 2
 * Blank lines and lines starting with '#' are ignored.
 *
 * Secrets live in locked memory (mlock, MADV_DONTDUMP) and are wiped on
 * free; no function here prints a key, and errors never contain one.
 */
#ifndef GEOFS_KEYS_H
#define GEOFS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "geoid.h"

#define KEYS_DOMAIN_MAX   80	/* "CC:" + category name + NUL */
#define KEYS_WRAPPED_LEN  (AEAD_NONCE_LEN + AEAD_KEY_LEN + AEAD_TAG_LEN)

struct keyring;

/* Memory for a secret (a file's data key) that is zeroed, mlock'ed (best
 * effort) and left out of core dumps; NULL on failure. Free with
 * keys_secret_free(p, n), which wipes it. */
void *keys_secret_alloc(size_t n);
void keys_secret_free(void *p, size_t n);		/* NULL ok */

/* Loads a keyring. -ENOENT (with a message naming `geoctl keys init`),
 * -EPERM if group or others have any access to it (read, or write: a
 * planted key is as bad as a leaked one) or if it is owned by anyone but
 * root or the effective user (as ssh checks its keys), -EINVAL on bad content
 * ("FILE:LINE: ..."), other -errno on I/O. */
int keyring_load(const char *path, struct keyring **out, char *err, size_t errlen);

/* Parses keyring text (the format above) held in memory; `name` is used in
 * messages ("NAME:LINE: ..."). No file access and no mode check: that is
 * keyring_load()'s job. 0, -EINVAL on bad content, -ENOMEM. The caller
 * wipes text when it holds secrets. */
int keyring_parse(const char *name, const char *text, size_t len, struct keyring **out,
		  char *err, size_t errlen);

/* New empty keyring in memory; with_master: with a fresh random master. */
int keyring_new(bool with_master, struct keyring **out);

/* Writes the keyring to path with mode 0600 (temp file + rename).
 * exclusive: fail with -EEXIST if path exists. */
int keyring_save(const struct keyring *kr, const char *path, bool exclusive,
		 char *err, size_t errlen);

/* Writes the keyring text (the format above) to an open descriptor, e.g.
 * `geoctl keys export` to a pipe. 0 or -errno. */
int keyring_write(const struct keyring *kr, int fd);

void keyring_free(struct keyring *kr);		/* wipes; NULL ok */

bool keyring_has_master(const struct keyring *kr);

/* Derives or looks up the key of DOMAIN at VERSION. 0, -ENOKEY when this
 * keyring cannot produce it, -EINVAL for a malformed domain. */
int keyring_domain_key(const struct keyring *kr, const char *domain, uint32_t version,
		       uint8_t key[AEAD_KEY_LEN]);

/* Current version of a domain (1 unless rotated). */
uint32_t keyring_current(const struct keyring *kr, const char *domain);

/* Records a domain's current version (rotation). 0 or -ENOMEM/-EINVAL. */
int keyring_set_current(struct keyring *kr, const char *domain, uint32_t version);

/* Adds (or replaces) an explicit domain key. 0 or -ENOMEM/-EINVAL. */
int keyring_add_domain(struct keyring *kr, const char *domain, uint32_t version,
		       const uint8_t key[AEAD_KEY_LEN]);

/* Calls fn for each explicit domain entry (never with key bytes). */
void keyring_foreach_domain(const struct keyring *kr,
			    void (*fn)(const char *domain, uint32_t version, void *arg), void *arg);

/* Calls fn for each domain whose current version is recorded (a "current"
 * line; every other domain is at version 1), in keyring order. */
void keyring_foreach_current(const struct keyring *kr,
			     void (*fn)(const char *domain, uint32_t version, void *arg), void *arg);

/* True if kr holds an explicit key (imported, or made by a rotation
 * without a master) for DOMAIN at VERSION, rather than deriving it. */
bool keyring_has_explicit(const struct keyring *kr, const char *domain, uint32_t version);

/* Gives DOMAIN a new current version, current + 1, in memory (persist with
 * keyring_save()). The new key derives from the master when the keyring has
 * one and the domain's current key derives from it too. Otherwise (no
 * master, or the current key is an explicit, imported one) a fresh random
 * key is added as an explicit entry and *fresh is set: that key exists
 * nowhere else until exported. Every older version stays producible, so
 * files still wrapped under one stay readable.
 * 0 with *newver set; -ENOKEY if kr cannot produce the domain's current key
 * (nothing to rotate from); -EOVERFLOW at version 4294967295; -EINVAL for a
 * malformed domain; -ENOMEM. On failure kr is unchanged. */
int keyring_rotate(struct keyring *kr, const char *domain, uint32_t *newver, bool *fresh);

/* True if domain is "CC:name" with a valid country code and a category
 * name of [A-Za-z0-9_.-]{1,63}. */
bool keys_domain_valid(const char *domain);

/* Builds "CC:category" into out (KEYS_DOMAIN_MAX). */
void keys_domain(char out[KEYS_DOMAIN_MAX], const char *origin, const char *category);

/* Wraps a file's data key under a domain key. AAD binds the file id, the
 * domain name and version. 0 or -EIO. */
int keys_wrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
	      const char *domain, uint32_t version, const uint8_t fkey[AEAD_KEY_LEN],
	      uint8_t out[KEYS_WRAPPED_LEN]);

/* Unwraps; -EIO if the domain key, file id, domain or version is wrong. */
int keys_unwrap(const uint8_t dkey[AEAD_KEY_LEN], const struct geo_id *fid,
		const char *domain, uint32_t version, const uint8_t in[KEYS_WRAPPED_LEN],
		uint8_t fkey[AEAD_KEY_LEN]);

#endif
