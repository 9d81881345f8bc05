/*
 * fsck_files.c — every file of the namespace: its stub, its manifest, each
 * replica of each shard (present, right size, authenticates under the
 * file's key), and its placement against the policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "fsck.h"
#include "geoctl.h"
#include "policy.h"
#include "tags.h"
#include "walk.h"

struct fsck_stub {
	dev_t dev;
	ino_t ino;
	char *path;
};

/* What one file's check found, summarised into at most one finding per kind. */
struct file_check {
	const char *path;
	const struct manifest *mf;
	bool have_key;
	uint8_t fkey[AEAD_KEY_LEN];
	struct cset allowed;
	bool policy_known;
	int bad_shards, degraded_shards, offshore;
	char first_bad[256], first_degraded[256], first_offshore[160];
};

static int ensure(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *b;

	if (*cap >= need)
		return 0;
	b = realloc(*buf, need);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = need;
	return 0;
}

/* Checks one replica: 0 good, else writes what is wrong into why. */
static int check_replica(struct fsck *fk, struct file_check *fc, uint64_t index,
			 const struct shard_ref *sr, const struct shard_rep *rep,
			 char *why, size_t len)
{
	const char *bname = fc->mf->bnames[rep->backend];
	int b = config_backend(fk->cfg, bname);
	struct shard_addr a = { .file = fc->mf->id, .index = index, .gen = sr->gen };
	char rel[STORE_RELPATH_MAX];
	long n;

	if (b < 0) {
		snprintf(why, len, "on backend %s, which the config no longer has", bname);
		return -ENOENT;
	}
	if (idmap_put(fk->refs, (uint32_t)b, &rep->oid, NULL) < 0) {
		fsck_error(fk, "out of memory recording referenced objects");
		fk->unreadable_manifests++;	/* so --repair deletes no object */
	}
	store_object_relpath(fk->st, b, &rep->oid, rel);
	if (fc->policy_known && !cset_has(&fc->allowed, fk->cfg->backends[b].country) &&
	    fc->offshore++ == 0)
		snprintf(fc->first_offshore, sizeof(fc->first_offshore), "shard %llu on %s (%s)",
			 (unsigned long long)index, bname,
			 country_code(fk->cfg->backends[b].country));
	n = store_get(fk->st, b, &rep->oid, fk->obj, fk->objcap);
	if (n < 0) {
		snprintf(why, len, "%s %s: %s", bname, rel,
			 n == -ENOENT ? "missing" : n == -EFBIG ? "too large" : strerror((int)-n));
		return (int)n;
	}
	if ((uint64_t)n != sr->objlen) {
		snprintf(why, len, "%s %s: %ld bytes, the manifest says %u", bname, rel, n,
			 sr->objlen);
		return -EIO;
	}
	if (fc->have_key)
		n = codec_decode(fc->fkey, &a, fk->obj, (size_t)n, fk->raw, fk->rawcap);
	if (n == -ENOMEM) {	/* not a finding about the object: a failed check */
		fsck_error(fk, "%s %s: out of memory authenticating it", bname, rel);
		snprintf(why, len, "%s %s: not checked (out of memory)", bname, rel);
		return -ENOMEM;
	}
	if (n < 0) {
		snprintf(why, len, "%s %s: fails authentication", bname, rel);
		return -EIO;
	}
	return 0;
}

static void check_shard(struct fsck *fk, struct file_check *fc, uint64_t index)
{
	const struct shard_ref *sr = &fc->mf->shards[index];
	char why[200] = "";
	int good = 0;

	fk->nobjects += sr->nrep;
	fk->object_bytes += (uint64_t)sr->objlen * sr->nrep;
	for (int r = 0; r < sr->nrep; r++) {
		char w[200];

		if (sr->rep[r].backend >= fc->mf->nbackends) {
			snprintf(w, sizeof(w), "replica %d names backend #%d, not in the manifest",
				 r, sr->rep[r].backend);
		} else if (check_replica(fk, fc, index, sr, &sr->rep[r], w, sizeof(w)) == 0) {
			good++;
			continue;
		}
		if (!why[0])
			snprintf(why, sizeof(why), "%s", w);
	}
	if (good == 0 && fc->bad_shards++ == 0)
		snprintf(fc->first_bad, sizeof(fc->first_bad), "shard %llu: no good replica (%s)",
			 (unsigned long long)index, why);
	else if (good > 0 && good < sr->nrep && fc->degraded_shards++ == 0)
		snprintf(fc->first_degraded, sizeof(fc->first_degraded), "shard %llu: %s",
			 (unsigned long long)index, why);
}

/* The file key, or why there is none (finding recorded). */
static void unwrap_key(struct fsck *fk, struct file_check *fc)
{
	const struct manifest *mf = fc->mf;
	uint8_t dkey[AEAD_KEY_LEN];
	char domain[KEYS_DOMAIN_MAX];
	int r;

	tags_manifest_domain(mf, domain);
	r = keyring_domain_key(fk->kr, domain, mf->key_version, dkey);
	if (r == -ENOKEY) {
		fsck_add(fk, FK_NO_KEY, fc->path, mf->size, "cannot authenticate: no key for "
			 "domain %s v%u in this keyring (objects checked for presence only)",
			 domain, mf->key_version);
		return;
	}
	if (r < 0) {
		fsck_add(fk, FK_DAMAGED, fc->path, mf->size, "key domain %s v%u: %s", domain,
			 mf->key_version, strerror(-r));
		return;
	}
	r = keys_unwrap(dkey, &mf->id, domain, mf->key_version, mf->wrapped_key, fc->fkey);
	crypto_wipe(dkey, sizeof(dkey));
	if (r < 0) {
		fsck_add(fk, FK_DAMAGED, fc->path, mf->size, "the file key does not authenticate "
			 "under domain %s v%u (tampered manifest or wrong keyring)", domain,
			 mf->key_version);
		return;
	}
	fc->have_key = true;
}

static void check_policy(struct fsck *fk, struct file_check *fc, int *required)
{
	int cat = config_category(fk->cfg, fc->mf->category);
	int origin = country_index(fc->mf->origin);

	*required = 0;
	if (cat < 0 || origin < 0) {
		fsck_add(fk, FK_MISPLACED, fc->path, fc->mf->size, "%s '%s' is not declared in %s",
			 cat < 0 ? "category" : "origin", cat < 0 ? fc->mf->category :
			 fc->mf->origin, fk->cfg->file);
		return;
	}
	policy_store_set(fk->cfg, cat, origin, &fc->allowed);
	fc->policy_known = true;
	*required = fk->cfg->cats[cat].replicas;
}

static int check_manifest(struct fsck *fk, const char *path, const struct manifest *mf)
{
	struct file_check fc = { .path = path, .mf = mf };
	int required, few = 0;
	char set[256];

	if (ensure(&fk->obj, &fk->objcap, codec_max_object(mf->shard_size)) < 0 ||
	    ensure(&fk->raw, &fk->rawcap, mf->shard_size) < 0)
		return -ENOMEM;
	unwrap_key(fk, &fc);
	check_policy(fk, &fc, &required);
	for (uint64_t i = 0; i < mf->nshards; i++) {
		if (mf->shards[i].nrep == 0)
			continue;
		check_shard(fk, &fc, i);
		few += mf->shards[i].nrep < required;
	}
	crypto_wipe(fc.fkey, sizeof(fc.fkey));
	if (fc.bad_shards)
		fsck_add(fk, FK_DAMAGED, path, mf->size, "%d shard%s unreadable; %s",
			 fc.bad_shards, fc.bad_shards == 1 ? "" : "s", fc.first_bad);
	if (fc.degraded_shards)
		fsck_add(fk, FK_DEGRADED, path, mf->size, "%d shard%s with a bad replica; %s",
			 fc.degraded_shards, fc.degraded_shards == 1 ? "" : "s", fc.first_degraded);
	if (fc.offshore || few) {
		cset_format(&fc.allowed, set, sizeof(set));
		if (fc.offshore)
			fsck_add(fk, FK_MISPLACED, path, mf->size, "%d replica%s outside %s (%s/%s "
				 "may be stored in %s); first: %s", fc.offshore,
				 fc.offshore == 1 ? "" : "s", set, mf->category, mf->origin, set,
				 fc.first_offshore);
		if (few)
			fsck_add(fk, FK_MISPLACED, path, mf->size, "%d shard%s with fewer than the "
				 "%d replicas the policy requires", few, few == 1 ? "" : "s",
				 required);
	}
	return 0;
}

/* Registers the stub's id; returns 1 when it is a hard link already
 * checked, 0 to check it, -ENOMEM. */
static int register_stub(struct fsck *fk, const char *path, const struct stat *st,
			 const struct geo_id *id)
{
	struct fsck_stub *s = idmap_get(fk->files, 0, id), *n;

	if (s) {
		if (s->dev == st->st_dev && s->ino == st->st_ino)
			return 1;
		return fsck_add(fk, FK_SHARED_ID, path, 0, "has the same file id as %s: the two "
				"files would overwrite each other", s->path) < 0 ? -ENOMEM : 1;
	}
	n = malloc(sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		free(n);
		return -ENOMEM;
	}
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	return idmap_put(fk->files, 0, id, n) < 0 ? -ENOMEM : 0;
}

/* The stub's size is what stat shows: it must be the manifest's. With
 * --repair (no mount runs then: meta_hold) it is set to it. */
static int check_stub_size(struct fsck *fk, const char *full, const char *path,
			   const struct stat *st, const struct manifest *mf)
{
	int fd, r;

	if ((uint64_t)st->st_size == mf->size)
		return 0;
	r = fsck_add(fk, FK_STUB_SIZE, path, mf->size, "its stub's size is %lld, its manifest's %llu",
		     (long long)st->st_size, (unsigned long long)mf->size);
	if (r || !fk->repair)
		return r;
	/* The stub's times are the file's: kept. */
	const struct timespec tv[2] = { st->st_atim, st->st_mtim };
	fd = open(full, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)mf->size) < 0 || futimens(fd, tv) < 0)
		fsck_error(fk, "%s: setting its size to %llu: %s", full,
			   (unsigned long long)mf->size, strerror(errno));
	else
		fk->f[fk->nf - 1].repaired = true;
	if (fd >= 0)
		close(fd);
	return 0;
}

static int check_stub(struct fsck *fk, const char *full, const char *path, const struct stat *st)
{
	struct manifest *mf = NULL;
	struct geo_id id;
	int fd, r;

	fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fsck_error(fk, "%s: %s", full, strerror(errno));
		return 0;
	}
	r = meta_stub_id(fd, &id);
	if (r == -ENODATA) {
		close(fd);
		return fsck_add(fk, FK_NO_ID, path, (uint64_t)st->st_size, "a regular file without "
				"user.geofs.id: not created through geofs");
	}
	if (r < 0) {
		close(fd);
		return fsck_add(fk, FK_DAMAGED, path, (uint64_t)st->st_size,
				"its file id (user.geofs.id) is malformed");
	}
	r = register_stub(fk, path, st, &id);
	if (r != 0) {
		close(fd);
		return r < 0 ? r : 0;
	}
	fk->nfiles++;
	/* A small file keeps its manifest on the stub (meta.h). */
	bool from_stub;
	r = meta_manifest_load_stub(fk->meta, fd, &id, &mf, &from_stub);
	close(fd);
	if (r == -ENOENT || r == -EINVAL) {
		fk->unreadable_manifests += r == -EINVAL;
		return fsck_add(fk, FK_DAMAGED, path, (uint64_t)st->st_size, "%s",
				r == -ENOENT ? "its manifest is missing" : "its manifest is malformed");
	}
	if (r < 0) {
		fk->unreadable_manifests++;
		fsck_error(fk, "%s: loading its manifest: %s", path, strerror(-r));
		return 0;
	}
	if (!geoid_equal(&mf->id, &id))
		r = fsck_add(fk, FK_DAMAGED, path, mf->size, "its manifest carries another file id");
	else if ((r = check_stub_size(fk, full, path, st, mf)) == 0)
		r = check_manifest(fk, path, mf);
	manifest_free(mf);
	return r;
}

struct files_walk {
	struct fsck *fk;
	size_t rootlen;
};

static int visit(struct walk_node *n, void *arg)
{
	struct files_walk *w = arg;
	const char *path = n->depth == 0 ? "/" : n->path + w->rootlen;
	int r;

	if (!S_ISREG(n->st.st_mode))
		return 0;
	r = check_stub(w->fk, n->path, path, &n->st);
	progress_step(&w->fk->prog, 0, path);
	return r;
}

static int walk_error(const char *path, int err, void *arg)
{
	struct files_walk *w = arg;

	fsck_error(w->fk, "%s: %s", path, strerror(-err));
	return 0;
}

static void free_stub(void *p)
{
	struct fsck_stub *s = p;

	if (s)
		free(s->path);
	free(s);
}

int fsck_files(struct fsck *fk)
{
	static const struct walk_ops ops = { .visit = visit, .error = walk_error };
	char *root = strdup(fk->cfg->meta_path);
	struct files_walk w = { .fk = fk };
	int r;

	if (!root)
		return -ENOMEM;
	while (strlen(root) > 1 && root[strlen(root) - 1] == '/')
		root[strlen(root) - 1] = '\0';	/* so "/a/b" is what follows it */
	w.rootlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
	fk->files = idmap_new();
	fk->refs = idmap_new();
	if (!fk->files || !fk->refs) {
		free(root);
		return -ENOMEM;
	}
	r = walk(root, WALK_RECURSE | WALK_SKIP_META, &ops, &w);
	free(root);
	return r < 0 ? r : 0;
}

void fsck_free_files(struct fsck *fk)
{
	idmap_free(fk->files, free_stub);
	idmap_free(fk->refs, NULL);
	fk->files = fk->refs = NULL;
}
