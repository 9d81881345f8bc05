/*
 * test_meta.c — where a file's manifest lives, on a real meta root: a small
 * one on the stub (user.geofs.manifest), a big one refused there (E2BIG,
 * the caller then writes a manifest file), a manifest file winning over a
 * stub's copy, and a stub's manifest of another file id refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta.h"
#include "testutil.h"

struct fixture {
	char *dir;
	struct meta *m;
	int stub;
	struct geo_id id;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[512], err[512];

	assert_non_null(f);
	f->dir = tu_tmpdir();
	assert_non_null(f->dir);
	snprintf(path, sizeof(path), "%s/meta", f->dir);
	assert_int_equal(meta_open(path, true, &f->m, err, sizeof(err)), 0);
	f->stub = openat(meta_rootfd(f->m), "stub", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(f->stub >= 0);
	tu_fill(f->id.b, sizeof(f->id.b), 11);
	assert_int_equal(meta_set_stub_id(f->stub, &f->id), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->stub);
	meta_close(f->m);
	assert_int_equal(tu_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* A manifest of file id, generation gen, with nshards stored shards. */
static struct manifest *make(const struct geo_id *id, uint64_t gen, uint64_t nshards)
{
	struct manifest *m = manifest_new();
	int b;

	assert_non_null(m);
	m->id = *id;
	m->generation = gen;
	m->shard_size = 65536;
	m->size = nshards * m->shard_size;
	strcpy(m->category, "personal");
	memcpy(m->origin, "JP", 3);
	m->key_version = 1;
	b = manifest_backend(m, "tokyo-1");
	assert_true(b >= 0);
	assert_int_equal(manifest_reserve(m, nshards), 0);
	m->nshards = nshards;
	for (uint64_t i = 0; i < nshards; i++) {
		m->shards[i].gen = gen;
		m->shards[i].objlen = 1000;
		m->shards[i].nrep = 1;
		m->shards[i].rep[0].backend = (uint8_t)b;
		tu_fill(m->shards[i].rep[0].oid.b, sizeof(m->shards[i].rep[0].oid.b), 100 + i);
	}
	return m;
}

static void test_small_manifest_round_trips_on_the_stub(void **state)
{
	struct fixture *f = *state;
	struct manifest *m = make(&f->id, 3, 2), *back = NULL;
	bool from_stub = false;

	assert_int_equal(meta_stub_manifest_set(f->stub, m), 0);
	assert_int_equal(meta_manifest_load_stub(f->m, f->stub, &f->id, &back, &from_stub), 0);
	assert_true(from_stub);
	assert_int_equal(back->generation, 3);
	assert_int_equal(back->nshards, 2);
	assert_memory_equal(&back->shards[1].rep[0].oid, &m->shards[1].rep[0].oid,
			    sizeof(struct geo_id));
	/* no manifest file was made */
	assert_int_equal(meta_manifest_load(f->m, &f->id, &back), -ENOENT);
	manifest_free(back);
	manifest_free(m);
}

static void test_big_manifest_is_refused_on_the_stub(void **state)
{
	struct fixture *f = *state;
	struct manifest *m = make(&f->id, 1, 40), *back = NULL;
	bool from_stub;

	assert_int_equal(meta_stub_manifest_set(f->stub, m), -E2BIG);
	assert_int_equal(meta_manifest_load_stub(f->m, f->stub, &f->id, &back, &from_stub),
			 -ENOENT);
	manifest_free(m);
}

static void test_manifest_file_wins_over_the_stub(void **state)
{
	struct fixture *f = *state;
	struct manifest *small = make(&f->id, 1, 1), *big = make(&f->id, 2, 40), *back = NULL;
	bool from_stub = true;

	assert_int_equal(meta_stub_manifest_set(f->stub, small), 0);
	assert_int_equal(meta_manifest_store(f->m, big, false), 0);
	/* a crash between installing the file and clearing the stub's copy */
	assert_int_equal(meta_manifest_load_stub(f->m, f->stub, &f->id, &back, &from_stub), 0);
	assert_false(from_stub);
	assert_int_equal(back->generation, 2);
	manifest_free(back);
	assert_int_equal(meta_stub_manifest_clear(f->stub), 0);
	assert_int_equal(meta_stub_manifest_clear(f->stub), 0);	/* ENODATA is fine */
	assert_int_equal(meta_manifest_delete(f->m, &f->id), 0);
	assert_int_equal(meta_manifest_load_stub(f->m, f->stub, &f->id, &back, &from_stub),
			 -ENOENT);
	manifest_free(small);
	manifest_free(big);
}

static void test_stub_manifest_of_another_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct geo_id other;
	struct manifest *m, *back = NULL;
	bool from_stub;

	tu_fill(other.b, sizeof(other.b), 12);
	m = make(&other, 1, 1);
	assert_int_equal(meta_stub_manifest_set(f->stub, m), 0);
	assert_int_equal(meta_manifest_load_stub(f->m, f->stub, &f->id, &back, &from_stub),
			 -EINVAL);
	assert_null(back);
	manifest_free(m);
}

/* statfs inode counts: CephFS's "no limit" (f_ffree = -1, f_files = used)
 * becomes a finite count; sane counts pass through; free never exceeds
 * total, available never exceeds free. */
static void test_inode_counts(void **state)
{
	struct statvfs in = { 0 }, out = { 0 };

	(void)state;
	in.f_files = 1234;
	in.f_ffree = (fsfilcnt_t)-1;
	in.f_favail = (fsfilcnt_t)-1;
	meta_inode_counts(&in, &out);
	assert_int_equal(out.f_files, META_INODES_NOLIMIT);
	assert_int_equal(out.f_ffree, META_INODES_NOLIMIT - 1234);
	assert_int_equal(out.f_favail, META_INODES_NOLIMIT - 1234);

	in.f_files = (fsfilcnt_t)-1;
	meta_inode_counts(&in, &out);
	assert_int_equal(out.f_files, META_INODES_NOLIMIT);
	assert_int_equal(out.f_ffree, META_INODES_NOLIMIT);

	in.f_files = 1000;		/* ext4-like: passes through */
	in.f_ffree = 900;
	in.f_favail = 800;
	meta_inode_counts(&in, &out);
	assert_int_equal(out.f_files, 1000);
	assert_int_equal(out.f_ffree, 900);
	assert_int_equal(out.f_favail, 800);

	in.f_favail = (fsfilcnt_t)-1;	/* only favail off: clamped to free */
	meta_inode_counts(&in, &out);
	assert_int_equal(out.f_ffree, 900);
	assert_int_equal(out.f_favail, 900);

	in.f_files = 100;		/* more free than total */
	in.f_ffree = 500;
	in.f_favail = 500;
	meta_inode_counts(&in, &out);
	assert_int_equal(out.f_files, 100);
	assert_int_equal(out.f_ffree, 100);
	assert_int_equal(out.f_favail, 100);
}

/* NFS silly-rename names: ".nfs" and exactly 24 hex digits. */
static void test_silly_names(void **state)
{
	(void)state;
	assert_true(meta_silly_name(".nfs00000000000a1b2c00000001"));
	assert_true(meta_silly_name(".nfsABCDEF0123456789abcdef01"));
	assert_false(meta_silly_name(".nfs"));
	assert_false(meta_silly_name(".nfsfoo"));
	assert_false(meta_silly_name(".nfs00000000000a1b2c0000000"));	/* 23 */
	assert_false(meta_silly_name(".nfs00000000000a1b2c000000012"));	/* 25 */
	assert_false(meta_silly_name(".nfs00000000000a1b2c0000000g"));
	assert_false(meta_silly_name("nfs00000000000a1b2c000000001"));
}

/* The names geofs keeps: .geofs at the root only, silly names anywhere. */
static void test_reserved_names(void **state)
{
	(void)state;
	assert_true(meta_reserved("/.geofs"));
	assert_true(meta_reserved("/.geofs/tmp/x"));
	assert_false(meta_reserved("/.geofsx"));
	assert_false(meta_reserved("/d/.geofs"));
	assert_true(meta_reserved("/.nfs00000000000a1b2c00000001"));
	assert_true(meta_reserved("/d/e/.nfs00000000000a1b2c00000001"));
	assert_false(meta_reserved("/.nfs00000000000a1b2c00000001/x"));
	assert_false(meta_reserved("/d/.nfs0000"));
	assert_false(meta_reserved("/"));
}

/* The size limit is the meta root filesystem's own: the stub takes it,
 * not a byte more; the probe leaves nothing behind in .geofs/tmp. */
static void test_max_size_is_the_filesystems(void **state)
{
	struct fixture *f = *state;
	uint64_t max = meta_max_size(f->m);
	int n = 0;

	assert_true(max >= (UINT64_C(1) << 40) && max <= (uint64_t)INT64_MAX);
	assert_int_equal(meta_max_size(f->m), max);	/* cached */
	assert_int_equal(ftruncate(f->stub, (off_t)max), 0);
	if (max < (uint64_t)INT64_MAX)
		assert_int_equal(ftruncate(f->stub, (off_t)max + 1), -1);
	DIR *d = fdopendir(dup(meta_tmpdir(f->m)));
	assert_non_null(d);
	rewinddir(d);
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_manifest_round_trips_on_the_stub,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_manifest_is_refused_on_the_stub,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_file_wins_over_the_stub,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_manifest_of_another_file_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_size_is_the_filesystems, setup, teardown),
		cmocka_unit_test(test_inode_counts),
		cmocka_unit_test(test_silly_names),
		cmocka_unit_test(test_reserved_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
