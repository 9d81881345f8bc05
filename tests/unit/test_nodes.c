/*
 * test_nodes.c — the front end's table of kernel inodes (nodes.h): one
 * node per meta-root inode whatever the name, lookups counted and
 * forgotten, paths rebuilt from names through renames (and exchanges),
 * nodes that outlive their last name, and inode numbers reused after it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "nodes.h"

static struct stat ent(ino_t ino, mode_t type)
{
	struct stat st = { .st_dev = 7, .st_ino = ino, .st_mode = type | 0644 };
	return st;
}

static uint64_t look(struct nodes *t, uint64_t parent, const char *name, ino_t ino, mode_t type)
{
	struct stat st = ent(ino, type);
	uint64_t gen, id = nodes_lookup(t, parent, name, &st, false, &gen);

	assert_true(id != 0);
	return id;
}

static void assert_path(struct nodes *t, uint64_t id, const char *want)
{
	char *p = NULL;

	assert_int_equal(nodes_path(t, id, &p), 0);
	assert_string_equal(p, want);
	free(p);
}

static void test_hard_links_share_one_node(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "d", 10, S_IFDIR);
	uint64_t a = look(t, NODES_ROOT_ID, "a", 11, S_IFREG);
	uint64_t b = look(t, d, "b", 11, S_IFREG);

	assert_true(a == b);
	assert_path(t, a, "/d/b");		/* the freshest name */
	nodes_unlinked(t, d, "b");
	assert_path(t, a, "/a");		/* the other name remains */
	assert_path(t, NODES_ROOT_ID, "/");
	nodes_free(t);
}

static void test_forget_frees_after_last_lookup(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "d", 10, S_IFDIR);

	look(t, d, "f", 11, S_IFREG);
	look(t, d, "f", 11, S_IFREG);
	assert_int_equal(nodes_count(t), 3);
	nodes_forget(t, d, 1);			/* held by its child's name */
	assert_int_equal(nodes_count(t), 3);
	uint64_t f = look(t, d, "f", 11, S_IFREG);
	nodes_forget(t, f, 3);			/* the child goes, then the dir */
	assert_int_equal(nodes_count(t), 1);
	nodes_free(t);
}

static void test_rename_moves_subtree_paths(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "d", 10, S_IFDIR);
	uint64_t e = look(t, NODES_ROOT_ID, "e", 12, S_IFDIR);
	uint64_t f = look(t, d, "f", 11, S_IFREG);
	uint64_t g = look(t, e, "g", 13, S_IFREG);

	nodes_renamed(t, NODES_ROOT_ID, "d", e, "x", false);
	assert_path(t, f, "/e/x/f");
	nodes_renamed(t, e, "g", e, "x", true);	/* exchange a file and a dir */
	assert_path(t, f, "/e/g/f");
	assert_path(t, g, "/e/x");
	nodes_renamed(t, e, "x", e, "g", false);	/* over the dir: g loses it */
	assert_path(t, g, "/e/g");
	char *p = NULL;
	assert_int_equal(nodes_path(t, f, &p), -ENOENT);
	nodes_free(t);
}

static void test_unlinked_node_stays_and_inode_reuse_gets_new_node(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t f = look(t, NODES_ROOT_ID, "f", 11, S_IFREG);
	dev_t dev;
	ino_t ino;
	mode_t type;
	char *p = NULL;

	nodes_unlinked(t, NODES_ROOT_ID, "f");
	assert_int_equal(nodes_path(t, f, &p), -ENOENT);
	assert_int_equal(nodes_ino(t, f, &dev, &ino, &type), 0);
	assert_int_equal(ino, 11);
	assert_int_equal(type, S_IFREG);
	uint64_t g = look(t, NODES_ROOT_ID, "g", 11, S_IFREG);
	assert_true(g != f);
	nodes_forget(t, f, 1);
	assert_path(t, g, "/g");
	/* Same number, other type: another inode. */
	nodes_unlinked(t, NODES_ROOT_ID, "g");
	uint64_t h = look(t, NODES_ROOT_ID, "h", 11, S_IFDIR);
	assert_true(h != g);
	nodes_free(t);
}

static void test_created_entry_never_takes_an_old_node(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t old = look(t, NODES_ROOT_ID, "old", 11, S_IFREG);
	struct stat st = ent(11, S_IFREG);
	uint64_t gen, fresh = nodes_lookup(t, NODES_ROOT_ID, "new", &st, true, &gen);
	char *p = NULL;

	assert_true(fresh && fresh != old);
	assert_path(t, old, "/old");		/* its name stays its own */
	assert_int_equal(nodes_path(t, fresh, &p), 0);
	assert_string_equal(p, "/new");
	free(p);
	assert_true(look(t, NODES_ROOT_ID, "new", 11, S_IFREG) == fresh);
	nodes_free(t);
}

static void test_name_now_another_inode(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t a = look(t, NODES_ROOT_ID, "n", 11, S_IFREG);
	uint64_t b = look(t, NODES_ROOT_ID, "n", 12, S_IFREG);	/* replaced elsewhere */
	char *p = NULL;

	assert_true(a != b);
	assert_int_equal(nodes_path(t, a, &p), -ENOENT);
	assert_path(t, b, "/n");
	nodes_forget(t, a, 1);
	nodes_forget(t, b, 1);
	assert_int_equal(nodes_count(t), 1);
	nodes_free(t);
}

static void test_directory_keeps_one_name(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "old", 10, S_IFDIR);
	uint64_t d2 = look(t, NODES_ROOT_ID, "new", 10, S_IFDIR);	/* moved elsewhere */
	char *p = NULL;

	assert_true(d == d2);
	assert_path(t, d, "/new");
	assert_int_equal(nodes_child_path(t, d, "c", &p), 0);
	assert_string_equal(p, "/new/c");
	free(p);
	nodes_free(t);
}

static bool leads_unless_old(void *arg, const char *path)
{
	(*(int *)arg)++;
	return strcmp(path, "/d/old") != 0;
}

static void test_prune_drops_names_that_lead_elsewhere(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "d", 10, S_IFDIR);
	uint64_t f = look(t, d, "old", 11, S_IFREG);
	struct nodes_gone *gone = NULL;
	int calls = 0, n;

	assert_int_equal(nodes_prune(t, f, leads_unless_old, &calls, &gone), 0);
	assert_int_equal(calls, 0);		/* one name: nothing to ask */
	assert_null(gone);
	assert_true(look(t, d, "new", 11, S_IFREG) == f);	/* renamed elsewhere */
	n = nodes_prune(t, f, leads_unless_old, &calls, &gone);
	assert_int_equal(n, 1);
	assert_int_equal(calls, 2);
	assert_true(gone[0].parent == d);
	assert_string_equal(gone[0].name, "old");
	assert_path(t, f, "/d/new");
	nodes_settled(t, f, gone, n);
	assert_false(nodes_open_stale(t, f, 42));	/* settled: nothing to wait for */
	nodes_free(t);
}

/* A node the kernel forgot while its old names were being dropped stays
 * until they are settled, then goes. */
static void test_forgotten_node_kept_until_settled(void **state)
{
	struct nodes *t = nodes_new(7, 2);
	uint64_t d = look(t, NODES_ROOT_ID, "d", 10, S_IFDIR);
	uint64_t f = look(t, d, "old", 11, S_IFREG);
	struct nodes_gone *gone = NULL;
	int calls = 0, n;

	assert_true(look(t, d, "new", 11, S_IFREG) == f);
	n = nodes_prune(t, f, leads_unless_old, &calls, &gone);
	assert_int_equal(n, 1);
	nodes_forget(t, f, 2);			/* kept until settled */
	assert_int_equal(nodes_count(t), 3);
	nodes_settled(t, f, gone, n);
	assert_int_equal(nodes_count(t), 2);
	nodes_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hard_links_share_one_node),
		cmocka_unit_test(test_forget_frees_after_last_lookup),
		cmocka_unit_test(test_rename_moves_subtree_paths),
		cmocka_unit_test(test_unlinked_node_stays_and_inode_reuse_gets_new_node),
		cmocka_unit_test(test_name_now_another_inode),
		cmocka_unit_test(test_created_entry_never_takes_an_old_node),
		cmocka_unit_test(test_directory_keeps_one_name),
		cmocka_unit_test(test_prune_drops_names_that_lead_elsewhere),
		cmocka_unit_test(test_forgotten_node_kept_until_settled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
