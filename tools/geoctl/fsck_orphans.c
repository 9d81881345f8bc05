/*
 * fsck_orphans.c — what nothing refers to: manifests without a file,
 * leftover temp files in the meta root, and objects and temp files on the
 * backends that no manifest of a file refers to (left by crashes). With
 * --repair they are deleted, manifests first, so the objects of an orphan
 * manifest go with it. Each is deleted by the very name it was found under
 * (an object id in the wrong fan-out directory is not the object the id
 * names), and a finding is marked repaired only when that delete worked.
 * Names geofs never writes are MISNAMED: reported, never deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "fsck.h"
#include "geoctl.h"
#include "newstub.h"

struct orphan {
	int backend;			/* -1: meta root */
	struct geo_id id;
	bool is_temp;
	char *relpath;
	size_t finding;			/* index into fk->f */
};

struct orphans {
	struct fsck *fk;
	int backend;
	struct orphan *o;
	size_t n, cap;
};

static int remember(struct orphans *os, const struct geo_id *id, bool is_temp,
		    const char *relpath)
{
	struct orphan *o = array_grow(os->o, &os->cap, os->n, sizeof(*o));

	if (!o)
		return -ENOMEM;
	os->o = o;
	o += os->n;
	memset(o, 0, sizeof(*o));
	o->backend = os->backend;
	if (id)
		o->id = *id;
	o->is_temp = is_temp;
	o->relpath = relpath ? strdup(relpath) : NULL;
	o->finding = os->fk->nf - 1;
	if (relpath && !o->relpath)
		return -ENOMEM;
	os->n++;
	return 0;
}

static void forget_all(struct orphans *os)
{
	for (size_t i = 0; i < os->n; i++)
		free(os->o[i].relpath);
	free(os->o);
	os->o = NULL;
	os->n = os->cap = 0;
}

static int manifest_seen(const struct geo_id *id, void *arg)
{
	struct orphans *os = arg;
	struct fsck *fk = os->fk;
	struct manifest *mf = NULL;
	char hex[GEO_HEX_LEN + 1], what[GEO_HEX_LEN + 16];
	int r;

	if (idmap_has(fk->files, 0, id))
		return 0;
	geoid_hex(id, hex);
	snprintf(what, sizeof(what), "manifest %s", hex);
	r = meta_manifest_load(fk->meta, id, &mf);
	if (r == 0)
		r = fsck_add(fk, FK_ORPHAN_MANIFEST, what, manifest_stored_bytes(mf), "no file "
			     "refers to it (%s/%s, %llu bytes, %llu shard entries); its objects "
			     "are orphans too", mf->category, mf->origin,
			     (unsigned long long)mf->size, (unsigned long long)mf->nshards);
	else
		r = fsck_add(fk, FK_ORPHAN_MANIFEST, what, 0, "no file refers to it (and it "
			     "does not load: %s)", strerror(-r));
	manifest_free(mf);
	return r < 0 ? r : remember(os, id, false, NULL);
}

static int manifest_misnamed(const char *relpath, void *arg)
{
	struct orphans *os = arg;
	char what[300];

	snprintf(what, sizeof(what), "meta %s/manifests/%s", META_DIR, relpath);
	return fsck_add(os->fk, FK_MISNAMED, what, 0, "not a manifest name geofs writes "
			"(manifests/ab/ab<30 hex digits>), so nothing reads it; left in place");
}

/* NEWFILE_SUFFIX: a stub made for a create (newstub.h); META_SILLY_SUFFIX:
 * an NFS silly-renamed file an rmdir moved out of the way (meta.h). */
static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0;
}

static int meta_temps(struct orphans *os)
{
	struct fsck *fk = os->fk;
	int fd = openat(meta_rootfd(fk->meta), META_DIR "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *d;
	DIR *dir;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while (r == 0 && (d = readdir(dir))) {
		struct stat st;
		char what[300];

		/* .nfs*: an NFS client's silly-renamed open file; it goes
		 * when the client closes it, and is not ours to delete. */
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
		    strncmp(d->d_name, ".nfs", 4) == 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			st.st_size = 0;
			st.st_nlink = 1;
		}
		snprintf(what, sizeof(what), "meta %s/tmp/%s", META_DIR, d->d_name);
		r = fsck_add(fk, FK_META_TEMP, what, (uint64_t)st.st_size, "%s",
			     has_suffix(d->d_name, META_SILLY_SUFFIX) ?
			     "a file an NFS client kept open after its unlink, moved here by "
			     "an rmdir (its content went with its last name)"
			     : !has_suffix(d->d_name, NEWFILE_SUFFIX) ?
			     "leftover of an interrupted manifest update"
			     : st.st_nlink > 1 ? "leftover of an interrupted create: a second "
						 "name of a file that was created (only this "
						 "name goes)"
			     : "leftover of an interrupted create: a stub never linked into "
			       "the namespace");
		if (r == 0)
			r = remember(os, NULL, true, d->d_name);
	}
	closedir(dir);
	return r;
}

static int object_seen(const struct geo_id *oid, const char *relpath, uint64_t size, void *arg)
{
	struct orphans *os = arg;
	struct fsck *fk = os->fk;
	const char *bname = fk->cfg->backends[os->backend].name;
	char what[CFG_NAME_MAX + STORE_RELPATH_MAX + 64], canon[STORE_RELPATH_MAX];
	int r;

	snprintf(what, sizeof(what), "%s %s", bname, relpath);
	if (oid) {
		store_object_relpath(fk->st, os->backend, oid, canon);
		if (strcmp(canon, relpath) != 0)
			r = fsck_add(fk, FK_ORPHAN_OBJECT, what, size, "an object id in the wrong "
				     "fan-out directory (its place is %s): nothing reads it", canon);
		else if (idmap_has(fk->refs, (uint32_t)os->backend, oid))
			return 0;
		else
			r = fsck_add(fk, FK_ORPHAN_OBJECT, what, size,
				     "no manifest of a file refers to it");
	} else if (strncmp(relpath, "tmp/", 4) == 0) {
		r = fsck_add(fk, FK_ORPHAN_TEMP, what, size, "leftover of an interrupted write");
	} else {
		/* The shape this backend's kind names objects by (fan-out
		 * directories for dir, flat keys for s3), shown by example. */
		struct geo_id example;

		memset(&example, 0xab, sizeof(example));
		store_object_relpath(fk->st, os->backend, &example, canon);
		return fsck_add(fk, FK_MISNAMED, what, size, "not an object name geofs writes "
				"on this backend (those look like %s), so nothing reads it; "
				"left in place", canon);
	}
	return r < 0 ? r : remember(os, oid, oid == NULL, relpath);
}

static int unlink_meta_temp(struct fsck *fk, const char *name)
{
	int fd = openat(meta_rootfd(fk->meta), META_DIR "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = unlinkat(fd, name, 0) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Deletes what was remembered, each by the name it was found under, and
 * marks a finding repaired only when its delete worked. */
static void repair(struct orphans *os)
{
	struct fsck *fk = os->fk;

	for (size_t i = 0; i < os->n; i++) {
		const struct orphan *o = &os->o[i];
		struct fsck_finding *f = &fk->f[o->finding];
		int r;

		if (o->backend < 0 && o->is_temp)
			r = unlink_meta_temp(fk, o->relpath);
		else if (o->backend < 0)
			r = meta_manifest_delete(fk->meta, &o->id);
		else
			r = store_remove_relpath(fk->st, o->backend, o->relpath);
		if (r == -ENOENT)
			fsck_error(fk, "deleting %s: it is no longer there (did something change "
				   "it during fsck?); not deleted by fsck", f->what);
		else if (r < 0)
			fsck_error(fk, "deleting %s: %s; not deleted", f->what, strerror(-r));
		else
			f->repaired = true;
	}
}

int fsck_orphans(struct fsck *fk)
{
	struct orphans os = { .fk = fk, .backend = -1 };
	int r;

	r = meta_walk_manifests(fk->meta, manifest_seen, manifest_misnamed, &os);
	if (r == 0)
		r = meta_temps(&os);
	if (r < 0)
		goto out;
	if (fk->repair)
		repair(&os);
	for (int b = 0; b < fk->cfg->nbackends; b++) {
		forget_all(&os);
		os.backend = b;
		r = store_walk(fk->st, b, object_seen, &os);
		if (r < 0) {
			fsck_error(fk, "backend %s (%s): %s", fk->cfg->backends[b].name,
				   fk->cfg->backends[b].path, strerror(-r));
			continue;
		}
		if (fk->repair && fk->unreadable_manifests == 0)
			repair(&os);
	}
	r = 0;
out:
	forget_all(&os);
	return r;
}
