/*
 * fileops.c — regular files through handles: open and create (with the
 * site-access and placement checks that must refuse early), read, write,
 * truncate, flush/fsync (commit points) and release.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "crypto.h"
#include "gfile.h"
#include "log.h"
#include "newstub.h"
#include "placement.h"

static const char *intent_of(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return (flags & O_TRUNC) ? "write" : "read";
	case O_WRONLY:
		return "write";
	default:
		return "read-write";
	}
}

/* -EACCES (reason in why) unless this keyring can produce the current key
 * of the domain of tags t, which a new file is wrapped under. */
static int have_domain_key(struct core *c, const struct geo_tags *t, char *why, size_t len)
{
	char dom[KEYS_DOMAIN_MAX];
	uint8_t key[AEAD_KEY_LEN];
	uint32_t ver;
	int rc;

	tags_domain(c->cfg, t, dom);
	ver = keyring_current(c->keys, dom);
	rc = keyring_domain_key(c->keys, dom, ver, key);
	crypto_wipe(key, sizeof(key));
	if (rc == -ENOKEY) {
		snprintf(why, len, "this site's keyring lacks key domain %s version %u", dom,
			 (unsigned)ver);
		return -EACCES;
	}
	return rc;
}

/* Checks that this site may open a file tagged t, and for a create that
 * it holds the domain's key and that its data can be placed at all (an
 * existing file opened for writing is refused on its first write()
 * instead, which is where it would store); audits a refusal. */
static int admit(struct core *c, const struct geo_req *r, const char *op, const char *path,
		 const struct geo_tags *t, int flags)
{
	char why[256] = "";
	int rc = core_check_access(c, t);

	if (rc) {
		snprintf(why, sizeof(why), "site country %s may not access category %s",
			 country_code(c->cfg->site_country), c->cfg->cats[t->cat].name);
		core_audit(c, r, "access-denied", intent_of(flags), path, NULL, t, rc, NULL, why);
		return rc;
	}
	if (strcmp(op, "create") == 0) {
		rc = have_domain_key(c, t, why, sizeof(why));
		if (rc) {
			core_audit(c, r, "access-denied", intent_of(flags), path, NULL, t, rc,
				   NULL, why);
			return rc;
		}
		rc = core_check_placement(c, t, why, sizeof(why));
		if (rc)
			placement_refused(&c->eng, r, intent_of(flags), path, NULL, t, rc, why);
	}
	return rc;
}

/* Swaps the tags-only reference *gf (from gfile_get_meta) for one with
 * the file key unwrapped; audits the refusal of a keyring that lacks the
 * file's domain. */
static int take_key(struct core *c, const struct geo_req *r, const char *path, int sfd,
		    const struct geo_tags *t, int flags, struct gfile **gf)
{
	char dom[KEYS_DOMAIN_MAX], why[128];
	struct gfile *keyed;
	int rc = gfile_get(&c->eng, sfd, &keyed);

	if (rc == -EACCES) {
		tags_domain(c->cfg, t, dom);
		snprintf(why, sizeof(why), "this site's keyring lacks the file's key domain %s",
			 dom);
		core_audit(c, r, "access-denied", intent_of(flags), path, NULL, t, rc, NULL, why);
	}
	if (rc)
		return rc;
	gfile_put(&c->eng, *gf);	/* the same file: keyed holds it now */
	*gf = keyed;
	return 0;
}

/* A handle on gf (whose reference it takes over), listed in c->handles. */
static int new_handle(struct core *c, struct gfile *gf, int flags, struct geo_handle **h)
{
	*h = calloc(1, sizeof(**h));
	if (!*h)
		return -ENOMEM;
	(*h)->gf = gf;
	(*h)->flags = flags;
	pthread_mutex_lock(&c->handles_lock);
	(*h)->next = c->handles;
	if (c->handles)
		c->handles->prev = *h;
	c->handles = *h;
	pthread_mutex_unlock(&c->handles_lock);
	return 0;
}

int core_open_file(struct core *c, const struct geo_req *r, const char *path, int flags,
		   struct geo_handle **h, bool *keep_cache)
{
	struct geo_tags t;
	struct gfile *gf;
	const char *name;
	int dfd, sfd, rc;

	if (meta_reserved(path))
		return -ENOENT;
	rc = meta_parent(c->meta, path, &dfd, &name);
	if (rc)
		return rc;
	sfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	rc = sfd < 0 ? -errno : 0;
	meta_put_dir(c->meta, dfd);
	if (rc)
		return rc;
	/* Tags first, without the key, so that a refusal names the file's
	 * category and origin, and the policy's reason comes before the key's. */
	rc = gfile_get_meta(&c->eng, sfd, &gf);
	if (rc) {
		close(sfd);
		return rc;
	}
	gfile_tags(gf, &t);
	rc = admit(c, r, "open", path, &t, flags);
	if (!rc)
		rc = take_key(c, r, path, sfd, &t, flags, &gf);
	/* Open here already: another mount may have committed since. */
	if (!rc)
		rc = gfile_refresh(&c->eng, gf, sfd);
	close(sfd);
	if (!rc && (flags & O_TRUNC))
		rc = gfile_truncate(&c->eng, gf, 0);
	if (!rc)
		rc = new_handle(c, gf, flags, h);
	if (!rc)
		gfile_set_path(gf, path);
	core_audit(c, r, "open", intent_of(flags), path, NULL, &t, rc, NULL, NULL);
	if (rc) {
		gfile_put(&c->eng, gf);
		return rc;
	}
	__atomic_add_fetch(&c->stats.opens, 1, __ATOMIC_RELAXED);
	if (keep_cache)
		*keep_cache = false;
	return 0;
}

int core_create(struct core *c, const struct geo_req *r, const char *path, mode_t mode,
		int flags, struct geo_handle **h)
{
	char *dir;
	struct geo_tags t;
	struct gfile *gf = NULL;
	const char *name;
	struct newstub ns = { .fd = -1 };
	int dfd, rc;

	if (meta_reserved(path))
		return -EPERM;
	dir = core_dirname_dup(path);
	if (!dir)
		return -ENOMEM;
	rc = core_dir_tags(c, dir, &t);
	free(dir);
	if (rc)
		return rc;
	t.flags = 0;
	rc = admit(c, r, "create", path, &t, O_WRONLY);
	if (rc) {
		core_audit(c, r, "create", "write", path, NULL, &t, rc, NULL, NULL);
		return rc;
	}
	rc = meta_parent(c->meta, path, &dfd, &name);
	if (rc)
		return rc;
	rc = newstub_make(dfd, meta_tmpdir(c->meta), &c->stub_how, r->uid, r->gid, mode, &ns);
	if (!rc)
		rc = gfile_create(&c->eng, ns.fd, &t, &gf);
	if (!rc) {
		rc = newstub_link(&ns, dfd, name);
		/* Best effort: the file exists now, whatever happens here. */
		if (!rc && ns.tmpname[0] && gfile_reopen_stub(gf, dfd, name))
			log_debug("a new file keeps the descriptor of its temporary name");
		newstub_done(&ns);	/* gf has its own descriptor */
		if (rc) {
			gfile_mark_unlinked(&c->eng, gf);	/* never named: drop it entirely */
			gfile_put(&c->eng, gf);
			gf = NULL;
		}
	}
	if (ns.fd >= 0)
		newstub_done(&ns);
	meta_put_dir(c->meta, dfd);
	if (rc == -EEXIST && !(flags & O_EXCL))
		return core_open_file(c, r, path, flags, h, NULL);
	if (!rc)
		rc = new_handle(c, gf, flags, h);
	if (!rc)
		gfile_set_path(gf, path);
	if (rc && gf)
		gfile_put(&c->eng, gf);
	core_audit(c, r, "create", "write", path, NULL, &t, rc, NULL, NULL);
	if (!rc)
		__atomic_add_fetch(&c->stats.creates, 1, __ATOMIC_RELAXED);
	return rc;
}

long core_read(struct core *c, struct geo_handle *h, char *buf, size_t size, off_t off)
{
	long n = gfile_read(&c->eng, h->gf, buf, size, (uint64_t)off);

	if (n > 0) {
		__atomic_add_fetch(&c->stats.reads, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->stats.bytes_read, (uint64_t)n, __ATOMIC_RELAXED);
	}
	return n;
}

/* Sizes past what the meta root's filesystem represents would leave a
 * stub whose size (what stat shows) is not the file's: EFBIG, as the
 * filesystem itself says (meta_max_size). */
static bool too_big(struct core *c, uint64_t size)
{
	return size > meta_max_size(c->meta);
}

long core_write(struct core *c, struct geo_handle *h, const char *buf, size_t size, off_t off,
		bool writeback)
{
	bool append = (h->flags & O_APPEND) && !writeback;
	uint64_t at = append ? gfile_size(h->gf) : (uint64_t)off, max = meta_max_size(c->meta);
	long n;

	/* As write(2) on the filesystem itself: up to the limit, then EFBIG. */
	if (at >= max && size)
		return -EFBIG;
	if (size > max - at)
		size = (size_t)(max - at);
	n = gfile_write(&c->eng, h->gf, buf, size, (uint64_t)off, append);

	if (n > 0) {
		__atomic_add_fetch(&c->stats.writes, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->stats.bytes_written, (uint64_t)n, __ATOMIC_RELAXED);
	}
	return n;
}

int core_ftruncate(struct core *c, struct geo_handle *h, off_t size)
{
	if (size < 0)
		return -EINVAL;
	if (too_big(c, (uint64_t)size))
		return -EFBIG;
	return gfile_truncate(&c->eng, h->gf, (uint64_t)size);
}

int core_fallocate(struct core *c, struct geo_handle *h, int mode, off_t off, off_t len)
{
	if (mode != 0)
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)off + (uint64_t)len < (uint64_t)off || too_big(c, (uint64_t)off + (uint64_t)len))
		return -EFBIG;
	/* Backends cannot reserve space: extend the size; holes store nothing. */
	if ((uint64_t)off + (uint64_t)len > gfile_size(h->gf))
		return gfile_truncate(&c->eng, h->gf, (uint64_t)off + (uint64_t)len);
	return 0;
}

int core_flush(struct core *c, struct geo_handle *h)
{
	return gfile_commit(&c->eng, h->gf, c->cfg->durable_close);
}

int core_fsync(struct core *c, struct geo_handle *h, bool datasync)
{
	(void)datasync;
	return gfile_commit(&c->eng, h->gf, true);
}

int core_release(struct core *c, struct geo_handle *h)
{
	pthread_mutex_lock(&c->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		c->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&c->handles_lock);
	gfile_put(&c->eng, h->gf);
	free(h);
	return 0;
}

void core_release_all(struct core *c)
{
	if (!c)
		return;
	while (c->handles)
		core_release(c, c->handles);
}
