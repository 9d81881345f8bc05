/*
 * test_newstub.c — making new stubs on a real meta root, both ways: the
 * named way (what CephFS and NFS get) puts the stub under .geofs/tmp, links
 * it to its final name (EEXIST if taken, atomically) and drops the
 * temporary name; the unnamed way (O_TMPFILE, this machine's ext4) never
 * shows a name before the link, and AUTO stays unnamed where O_TMPFILE
 * works.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta.h"
#include "newstub.h"
#include "testutil.h"

struct fixture {
	char *dir;
	struct meta *m;
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
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	meta_close(f->m);
	assert_int_equal(tu_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* Entries of .geofs/tmp, and the name of the last one into last. */
static int tmp_entries(struct fixture *f, char *last, size_t len)
{
	int fd = dup(meta_tmpdir(f->m)), n = 0;
	DIR *d = fdopendir(fd);
	struct dirent *de;

	assert_non_null(d);
	rewinddir(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(last, len, "%s", de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static void named_links_then_drops_the_temporary_name(void **state)
{
	struct fixture *f = *state;
	int how = NEWFILE_NAMED, root = meta_rootfd(f->m);
	struct newstub ns;
	struct stat st;
	char name[NAME_MAX + 1] = "", val[8] = "";

	assert_int_equal(newstub_make(root, meta_tmpdir(f->m), &how, getuid(), getgid(), 0640,
				      &ns), 0);
	assert_int_equal(how, NEWFILE_NAMED);
	assert_int_equal(tmp_entries(f, name, sizeof(name)), 1);
	assert_string_equal(name, ns.tmpname);
	assert_non_null(strstr(name, NEWFILE_SUFFIX));
	assert_int_equal(fsetxattr(ns.fd, "user.geofs.id", "abc", 3, 0), 0);
	/* Not in the namespace before the link. */
	assert_int_equal(fstatat(root, "f", &st, 0), -1);
	assert_int_equal(newstub_link(&ns, root, "f"), 0);
	assert_int_equal(newstub_done(&ns), 0);
	assert_int_equal(ns.fd, -1);
	assert_int_equal(tmp_entries(f, name, sizeof(name)), 0);
	assert_int_equal(fstatat(root, "f", &st, 0), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, getuid());
	int fd = openat(root, "f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fgetxattr(fd, "user.geofs.id", val, sizeof(val)), 3);
	assert_memory_equal(val, "abc", 3);
	close(fd);
}

static void named_link_over_a_taken_name_is_eexist_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	int how = NEWFILE_NAMED, root = meta_rootfd(f->m);
	int fd = openat(root, "taken", O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct newstub ns;
	struct stat st;
	char name[NAME_MAX + 1];

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(newstub_make(root, meta_tmpdir(f->m), &how, getuid(), getgid(), 0600,
				      &ns), 0);
	assert_int_equal(newstub_link(&ns, root, "taken"), -EEXIST);
	assert_int_equal(newstub_done(&ns), 0);
	assert_int_equal(tmp_entries(f, name, sizeof(name)), 0);
	assert_int_equal(fstatat(root, "taken", &st, 0), 0);
	assert_int_equal(st.st_size, 1);	/* untouched */
	assert_int_equal(st.st_nlink, 1);
}

static void named_without_link_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	int how = NEWFILE_NAMED;
	struct newstub ns;
	char name[NAME_MAX + 1];

	assert_int_equal(newstub_make(meta_rootfd(f->m), meta_tmpdir(f->m), &how, getuid(),
				      getgid(), 0600, &ns), 0);
	assert_int_equal(newstub_done(&ns), 0);
	assert_int_equal(tmp_entries(f, name, sizeof(name)), 0);
}

static void auto_stays_unnamed_where_tmpfile_works(void **state)
{
	struct fixture *f = *state;
	int how = NEWFILE_AUTO, root = meta_rootfd(f->m);
	struct newstub ns;
	struct stat st;
	char name[NAME_MAX + 1];

	assert_int_equal(newstub_make(root, meta_tmpdir(f->m), &how, getuid(), getgid(), 0600,
				      &ns), 0);
	assert_int_equal(how, NEWFILE_AUTO);
	assert_string_equal(ns.tmpname, "");
	assert_int_equal(tmp_entries(f, name, sizeof(name)), 0);
	assert_int_equal(fstat(ns.fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(newstub_link(&ns, root, "g"), 0);
	assert_int_equal(newstub_done(&ns), 0);
	assert_int_equal(fstatat(root, "g", &st, 0), 0);
	assert_int_equal(st.st_nlink, 1);
}

static void setgid_directory_gives_its_group(void **state)
{
	struct fixture *f = *state;
	int how = NEWFILE_NAMED, root = meta_rootfd(f->m), dfd;
	struct newstub ns;
	struct stat st;

	if (getuid() != 0)
		skip();
	assert_int_equal(mkdirat(root, "sg", 0755), 0);
	assert_int_equal(fchownat(root, "sg", 0, 4321, 0), 0);
	assert_int_equal(fchmodat(root, "sg", 02775, 0), 0);
	dfd = openat(root, "sg", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(newstub_make(dfd, meta_tmpdir(f->m), &how, 1000, 1000, 0644, &ns), 0);
	assert_int_equal(newstub_link(&ns, dfd, "h"), 0);
	newstub_done(&ns);
	assert_int_equal(fstatat(dfd, "h", &st, 0), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 4321);
	close(dfd);
}

/* Every way of making a stub gives exactly the mode and owner asked for,
 * whether or not newstub_make needs fchown/fchmod to get there: modes the
 * umask would cut (main sets 027), set-id bits (which a chown clears),
 * the daemon's own uid and another, plain and setgid directories. */
static void mode_and_owner_exactly_as_asked(void **state)
{
	static const mode_t modes[] = { 0600, 0644, 0666, 0751, 04755, 02755, 06711, 0 };
	struct fixture *f = *state;
	int root = meta_rootfd(f->m), n = 0;
	bool as_root = getuid() == 0;

	assert_int_equal(mkdirat(root, "plain", 0755), 0);
	assert_int_equal(mkdirat(root, "sgid", 0755), 0);
	if (as_root)
		assert_int_equal(fchownat(root, "sgid", 0, 4321, 0), 0);
	assert_int_equal(fchmodat(root, "sgid", 02775, 0), 0);
	for (int w = 0; w < 2; w++)
		for (int d = 0; d < 2; d++)
			for (int u = 0; u < (as_root ? 2 : 1); u++)
				for (int m = 0; modes[m]; m++) {
					int how = w ? NEWFILE_NAMED : NEWFILE_AUTO;
					int dfd = openat(root, d ? "sgid" : "plain",
							 O_RDONLY | O_DIRECTORY);
					uid_t uid = u ? 1000 : getuid();
					gid_t gid = u ? 1000 : getgid();
					struct stat pst, st;
					struct newstub ns;
					char name[32];

					assert_true(dfd >= 0);
					assert_int_equal(fstat(dfd, &pst), 0);
					snprintf(name, sizeof(name), "f%d", n++);
					assert_int_equal(newstub_make(dfd, meta_tmpdir(f->m), &how, uid,
								      gid, modes[m], &ns), 0);
					assert_int_equal(newstub_link(&ns, dfd, name), 0);
					newstub_done(&ns);
					assert_int_equal(fstatat(dfd, name, &st, 0), 0);
					if ((st.st_mode & 07777) != modes[m] || st.st_uid != uid ||
					    st.st_gid != (d ? pst.st_gid : gid))
						fail_msg("%s, %s dir, uid %u, mode %o: got mode %o "
							 "uid %u gid %u", w ? "named" : "unnamed",
							 d ? "setgid" : "plain", (unsigned)uid,
							 (unsigned)modes[m],
							 (unsigned)(st.st_mode & 07777),
							 (unsigned)st.st_uid, (unsigned)st.st_gid);
					close(dfd);
				}
}

int main(void)
{
	/* Before the first newstub_make, which reads the umask once. */
	umask(027);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(named_links_then_drops_the_temporary_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(named_link_over_a_taken_name_is_eexist_and_leaves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(named_without_link_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(auto_stays_unnamed_where_tmpfile_works, setup,
						teardown),
		cmocka_unit_test_setup_teardown(setgid_directory_gives_its_group, setup, teardown),
		cmocka_unit_test_setup_teardown(mode_and_owner_exactly_as_asked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
