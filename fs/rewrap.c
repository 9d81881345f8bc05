/*
 * rewrap.c — rewrapping file keys under a new domain-key version. See
 * rewrap.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "crypto.h"
#include "fileio.h"
#include "rewrap.h"
#include "tags.h"

void rewrap_domain_of(const struct manifest *mf, char out[KEYS_DOMAIN_MAX])
{
	tags_manifest_domain(mf, out);
}

int rewrap_manifest(const struct keyring *kr, struct manifest *mf, uint32_t to)
{
	uint8_t okey[AEAD_KEY_LEN], nkey[AEAD_KEY_LEN], fkey[AEAD_KEY_LEN];
	uint8_t wrapped[KEYS_WRAPPED_LEN];
	char dom[KEYS_DOMAIN_MAX];
	int ret;

	rewrap_domain_of(mf, dom);
	ret = keyring_domain_key(kr, dom, mf->key_version, okey);
	if (!ret)
		ret = keyring_domain_key(kr, dom, to, nkey);
	if (ret)
		goto out;
	ret = keys_unwrap(okey, &mf->id, dom, mf->key_version, mf->wrapped_key, fkey);
	if (!ret)
		ret = keys_wrap(nkey, &mf->id, dom, to, fkey, wrapped);
	if (ret)
		goto out;
	memcpy(mf->wrapped_key, wrapped, sizeof(wrapped));
	mf->key_version = to;
out:
	crypto_wipe(okey, sizeof(okey));
	crypto_wipe(nkey, sizeof(nkey));
	crypto_wipe(fkey, sizeof(fkey));
	return ret;
}

int rewrap_file(struct meta *m, const struct keyring *kr, int stubfd, const char *domain,
		uint32_t to, uint32_t *was)
{
	struct manifest *mf = NULL;
	char dom[KEYS_DOMAIN_MAX];
	struct geo_id id;
	bool on_stub;
	int ret, unlock;

	ret = meta_stub_id(stubfd, &id);
	if (ret)
		return ret;
	/* The daemon's commit holds this lock from reading the on-disk
	 * manifest to renaming the new one into place. */
	ret = fileio_flock(stubfd, LOCK_EX);
	if (ret)
		return ret;
	ret = meta_manifest_load_stub(m, stubfd, &id, &mf, &on_stub);
	if (ret)
		goto out_unlock;
	if (was)
		*was = mf->key_version;
	rewrap_domain_of(mf, dom);
	if (strcmp(dom, domain) != 0 || mf->key_version >= to) {
		ret = REWRAP_SKIPPED;
		goto out_unlock;
	}
	ret = rewrap_manifest(kr, mf, to);
	if (!ret && on_stub) {
		ret = meta_stub_manifest_set(stubfd, mf);	/* same size: it fits */
		if (!ret && fsync(stubfd) < 0)
			ret = -errno;
	} else if (!ret) {
		ret = meta_manifest_store(m, mf, true);
	}
out_unlock:
	/* A lock that stays would stop the daemon's commits of the file:
	 * report it, after whatever the step did (it is done either way). */
	unlock = fileio_flock(stubfd, LOCK_UN);
	if (unlock && ret >= 0)
		ret = unlock;
	manifest_free(mf);
	return ret;
}
