/*
 * test_engine.c — the open-file engine (gfile.h) driven without a mount
 * and without an instance (struct core): two engines (engine.h), as two
 * app servers would have, each on its own config, keyring, meta root
 * handle, store and workers, share one meta root and one pair of backend
 * directories under a temp directory. A commit makes
 * content readable by the other instance; two instances' commits of
 * different shards of one file merge; an overwritten shard's objects are
 * superseded (deleted once the new manifest is published); a commit that
 * fails (its manifest cannot be published) leaves the file, after its last
 * put, as last committed, with no object of the failed write left behind.
 * Needs root for the last (an immutable stub); skipped where it cannot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "gfile.h"
#include "keys.h"
#include "meta.h"
#include "store.h"
#include "workers.h"
#include "testutil.h"

#define SHARD (64u << 10)

struct fixture {
	char *dir;
	char conf[512];
	struct engine *a, *b;	/* two engines on the same meta root */
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* An engine on f's config, as an instance would wire it (no hooks). */
static struct engine *open_engine(struct fixture *f)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct geo_config *cfg;
	struct keyring *keys;
	struct store *store;
	char err[4096] = "";

	assert_non_null(e);
	assert_int_equal(config_load(f->conf, &cfg, err, sizeof(err)), 0);
	assert_int_equal(keyring_load(cfg->keyring_path, &keys, err, sizeof(err)), 0);
	assert_int_equal(meta_open(cfg->meta_path, false, &e->meta, err, sizeof(err)), 0);
	assert_int_equal(store_open(cfg, STORE_STRICT_ALL, &store, err, sizeof(err)), 0);
	assert_int_equal(engine_init(e, cfg->cache_size), 0);
	e->workers = workers_new(2);
	assert_non_null(e->workers);
	engine_bind(e, cfg, keys, store);
	return e;
}

static void close_engine(struct engine *e)
{
	workers_free(e->workers);
	engine_fini(e);
	store_close(e->store);
	meta_close(e->meta);
	keyring_free(e->keys);
	config_free(e->cfg);
	free(e);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char text[4096], path[600], err[4096];
	struct geo_config *cfg;
	struct keyring *kr;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	assert_non_null(f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/geofs.conf", f->dir);
	snprintf(text, sizeof(text),
		 "[site]\nname = t\ncountry = JP\n[meta]\npath = %s/meta\n"
		 "[keys]\nkeyring = %s/keyring\n[audit]\npath = %s/audit.log\n"
		 "[data]\nshard_size = 64K\n"
		 "[backend tokyo-1]\npath = %s/tokyo-1\ncountry = JP\n"
		 "[backend osaka-1]\npath = %s/osaka-1\ncountry = JP\n"
		 "[category personal]\nstore_in = origin\naccess_from = origin\n"
		 "[defaults]\ncategory = personal\norigin = site\n",
		 f->dir, f->dir, f->dir, f->dir, f->dir);
	write_text(f->conf, text);
	snprintf(path, sizeof(path), "%s/meta", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(config_load(f->conf, &cfg, err, sizeof(err)), 0);
	for (int i = 0; i < cfg->nbackends; i++)
		assert_int_equal(store_init_backend(&cfg->backends[i], f->conf, STORE_INIT_CREATE,
						    err, sizeof(err)), 0);
	assert_int_equal(keyring_new(true, &kr), 0);
	assert_int_equal(keyring_save(kr, cfg->keyring_path, true, err, sizeof(err)), 0);
	keyring_free(kr);
	config_free(cfg);
	f->a = open_engine(f);
	f->b = open_engine(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close_engine(f->a);
	close_engine(f->b);
	assert_int_equal(tu_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* The stub `name` in the meta root (created if missing), O_RDWR. */
static int stub(struct fixture *f, const char *name)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/meta/%s", f->dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	return fd;
}

/* A new file `name` made through engine e, with default tags. */
static struct gfile *create(struct fixture *f, struct engine *e, const char *name)
{
	struct geo_tags t = { .cat = e->cfg->default_category, .origin = e->cfg->default_origin };
	struct gfile *gf;
	int fd = stub(f, name);

	assert_int_equal(gfile_create(e, fd, &t, &gf), 0);
	close(fd);
	return gf;
}

/* The file `name` through engine e, with its key. */
static struct gfile *get(struct fixture *f, struct engine *e, const char *name)
{
	struct gfile *gf;
	int fd = stub(f, name);

	assert_int_equal(gfile_get(e, fd, &gf), 0);
	assert_int_equal(gfile_refresh(e, gf, fd), 0);
	close(fd);
	return gf;
}

static void put_bytes(struct engine *e, struct gfile *gf, uint64_t off, size_t n, uint64_t seed)
{
	uint8_t *buf = malloc(n);

	assert_non_null(buf);
	tu_fill(buf, n, seed);
	assert_int_equal(gfile_write(e, gf, (const char *)buf, n, off, false), (long)n);
	free(buf);
}

/* Asserts that [off, off+n) of gf reads as tu_fill(seed). */
static void expect_bytes(struct engine *e, struct gfile *gf, uint64_t off, size_t n, uint64_t seed)
{
	uint8_t *want = malloc(n), *got = malloc(n);

	assert_non_null(want);
	assert_non_null(got);
	tu_fill(want, n, seed);
	assert_int_equal(gfile_read(e, gf, (char *)got, n, off), (long)n);
	assert_memory_equal(got, want, n);
	free(want);
	free(got);
}

/* Object files under backend `name`'s objects/ (two levels: ab/<hex>). */
static int count_objects(struct fixture *f, const char *name)
{
	char path[700];
	struct dirent *e, *o;
	DIR *top, *sub;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s/objects", f->dir, name);
	top = opendir(path);
	if (!top)
		return 0;
	while ((e = readdir(top))) {
		char subpath[1000];

		if (e->d_name[0] == '.')
			continue;
		snprintf(subpath, sizeof(subpath), "%s/%s", path, e->d_name);
		sub = opendir(subpath);
		if (!sub)
			continue;
		while ((o = readdir(sub)))
			n += o->d_name[0] != '.';
		closedir(sub);
	}
	closedir(top);
	return n;
}

static int all_objects(struct fixture *f)
{
	return count_objects(f, "tokyo-1") + count_objects(f, "osaka-1");
}

/* A commit publishes content another instance then reads; one replica
 * per shard (personal: replicas 1) and no object beyond them. */
static void test_commit_is_visible_to_another_instance(void **state)
{
	struct fixture *f = *state;
	struct gfile *gf = create(f, f->a, "f");

	put_bytes(f->a, gf, 0, 3 * SHARD + 100, 1);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	gfile_put(f->a, gf);
	assert_int_equal(all_objects(f), 4);

	gf = get(f, f->b, "f");
	assert_int_equal(gfile_size(gf), 3 * SHARD + 100);
	expect_bytes(f->b, gf, 0, 3 * SHARD + 100, 1);
	gfile_put(f->b, gf);
}

/* Two instances change different shards of one file, each from the state
 * it loaded; the second commit lays its change over the first's manifest:
 * both changes survive, and the objects the second replaced are gone. */
static void test_commits_of_two_instances_merge(void **state)
{
	struct fixture *f = *state;
	struct gfile *gf = create(f, f->a, "f"), *ga, *gb;

	put_bytes(f->a, gf, 0, 4 * SHARD, 1);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	gfile_put(f->a, gf);

	ga = get(f, f->a, "f");
	gb = get(f, f->b, "f");
	put_bytes(f->a, ga, 0, SHARD, 2);		/* shard 0 on instance a */
	put_bytes(f->b, gb, 2 * SHARD, SHARD, 3);	/* shard 2 on instance b */
	assert_int_equal(gfile_commit(f->a, ga, true), 0);
	assert_int_equal(gfile_commit(f->b, gb, true), 0);
	gfile_put(f->a, ga);
	gfile_put(f->b, gb);
	assert_int_equal(all_objects(f), 4);

	gf = get(f, f->a, "f");
	expect_bytes(f->a, gf, 0, SHARD, 2);
	expect_bytes(f->a, gf, 2 * SHARD, SHARD, 3);
	gfile_put(f->a, gf);
	gf = get(f, f->b, "f");
	expect_bytes(f->b, gf, 0, SHARD, 2);
	gfile_put(f->b, gf);
}

/* Overwriting a shard supersedes its object: after the commit only the
 * new one exists; truncating supersedes the shards cut off. */
static void test_overwrite_and_truncate_supersede(void **state)
{
	struct fixture *f = *state;
	struct gfile *gf = create(f, f->a, "f");

	put_bytes(f->a, gf, 0, 2 * SHARD, 1);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	assert_int_equal(all_objects(f), 2);
	put_bytes(f->a, gf, 0, SHARD, 5);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	assert_int_equal(all_objects(f), 2);
	assert_int_equal(gfile_truncate(f->a, gf, SHARD), 0);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	assert_int_equal(all_objects(f), 1);
	gfile_put(f->a, gf);

	gf = get(f, f->b, "f");
	assert_int_equal(gfile_size(gf), SHARD);
	expect_bytes(f->b, gf, 0, SHARD, 5);
	gfile_put(f->b, gf);
}

/* Sets or clears the immutable flag of stub `name`: a stub that takes no
 * xattr makes a small file's commit fail at publishing its manifest, after
 * its shards were stored. false if the filesystem cannot (then skip). */
static bool set_immutable(struct fixture *f, const char *name, bool on)
{
	char path[600];
	int fd, flags = 0;
	bool ok;

	snprintf(path, sizeof(path), "%s/meta/%s", f->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);	/* O_RDWR fails on an immutable file */
	assert_true(fd >= 0);
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;

	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

/* A commit that fails after storing shards is reported; the last put then
 * drops the unsaved change: the objects it stored go, and the file is as
 * last committed for the next open, here and on the other instance. */
static void test_failed_commit_reverts(void **state)
{
	struct fixture *f = *state;
	struct gfile *gf = create(f, f->a, "f");

	put_bytes(f->a, gf, 0, SHARD, 1);
	assert_int_equal(gfile_commit(f->a, gf, true), 0);
	gfile_put(f->a, gf);
	assert_int_equal(all_objects(f), 1);

	gf = get(f, f->a, "f");
	put_bytes(f->a, gf, SHARD / 2, SHARD, 7);	/* spans shards 0 and 1 */
	if (!set_immutable(f, "f", true)) {
		gfile_put(f->a, gf);
		skip();
	}
	assert_true(gfile_commit(f->a, gf, true) < 0);
	assert_int_equal(all_objects(f), 3);	/* stored, not published */
	gfile_put(f->a, gf);			/* the last close fails too: reverts */
	assert_true(set_immutable(f, "f", false));
	assert_int_equal(all_objects(f), 1);

	gf = get(f, f->a, "f");
	assert_int_equal(gfile_size(gf), SHARD);
	expect_bytes(f->a, gf, 0, SHARD, 1);
	gfile_put(f->a, gf);
	gf = get(f, f->b, "f");
	assert_int_equal(gfile_size(gf), SHARD);
	expect_bytes(f->b, gf, 0, SHARD, 1);
	gfile_put(f->b, gf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_is_visible_to_another_instance, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commits_of_two_instances_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_and_truncate_supersede, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit_reverts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
