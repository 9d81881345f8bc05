"""The front end on FUSE's low-level API: one kernel inode per meta-root
inode (every name of a hard-linked file, of any type, shares attributes at
once, even with a long attribute cache), an open file usable after its last
name is gone, and sizes past what the meta root's filesystem can represent
refused with EFBIG. Each test is a pjdfstest failure of the path-based
front end (link/00.t, rename/00.t, unlink/14.t, truncate/12.t,
ftruncate/12.t) turned into a guard, with its siblings."""
import errno
import os
import stat

import pytest

from harness import errno_of, pattern, read_file as read, write_file as write

CACHE = ("attr_cache=30",)      # far longer than any test: staleness would show
TOO_BIG = 999999999999999       # pjdfstest's length, past ext4's 16 TiB


@pytest.fixture
def cached(site_factory):
    s = site_factory()
    s.mount(options=CACHE)
    return s


def _make(kind, path):
    if kind == "file":
        write(path, b"x")
    elif kind == "fifo":
        os.mkfifo(path, 0o644)
    elif kind == "socket":
        os.mknod(path, 0o644 | stat.S_IFSOCK)
    elif kind == "chardev":
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 3))


@pytest.mark.parametrize("kind", ["file", "fifo", "socket", "chardev"])
def test_every_name_shares_mode_owner_links_ctime_at_once(cached, kind):
    a, b, c = cached.path("a"), cached.path("b"), cached.path("c")
    _make(kind, a)
    os.link(a, b)
    assert os.lstat(a).st_nlink == 2 and os.lstat(b).st_nlink == 2
    assert os.lstat(a).st_ino == os.lstat(b).st_ino
    os.chmod(b, 0o600)
    os.chown(b, 65534, 65534)
    sa, sb = os.lstat(a), os.lstat(b)
    assert stat.S_IMODE(sa.st_mode) == 0o600 and (sa.st_uid, sa.st_gid) == (65534, 65534)
    assert sa.st_ctime_ns == sb.st_ctime_ns
    os.link(b, c)
    assert [os.lstat(p).st_nlink for p in (a, b, c)] == [3, 3, 3]
    os.unlink(a)
    assert [os.lstat(p).st_nlink for p in (b, c)] == [2, 2]
    os.rename(c, cached.path("d"))                 # the sibling of link: rename
    assert os.lstat(b).st_nlink == 2
    os.unlink(cached.path("d"))
    assert os.lstat(b).st_nlink == 1


def test_rename_over_a_hard_link_updates_the_other_names(cached):
    a, b, x = cached.path("a"), cached.path("b"), cached.path("x")
    write(a, b"a")
    os.link(a, b)
    write(x, b"x")
    os.rename(x, b)                                # b's old file keeps one name: a
    assert os.stat(a).st_nlink == 1
    assert read(b) == b"x" and read(a) == b"a"


def test_unlinked_open_file_stays_usable(cached):
    d = cached.path("d")
    os.mkdir(d)
    f = os.path.join(d, "tmp")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"Hello,_World!")
        os.unlink(f)
        st = os.fstat(fd)
        assert st.st_nlink == 0 and st.st_size == 13
        assert os.pread(fd, 13, 0) == b"Hello,_World!"
        os.pwrite(fd, pattern(1, 100000), 13)     # grows past one shard
        os.ftruncate(fd, 50000)
        assert os.fstat(fd).st_size == 50000
        assert os.pread(fd, 20, 0) == b"Hello,_World!" + pattern(1, 100000)[:7]
        assert errno_of(os.stat, f) == "ENOENT"
    finally:
        os.close(fd)
    os.rmdir(d)
    assert os.listdir(cached.mnt) == []


def test_unlinked_open_file_takes_fchmod_fchown_futimens(cached):
    # The temp-file pattern's siblings of fstat: the kernel sends these as a
    # setattr of the inode, with no handle and no name left to use.
    f = cached.path("tmp")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"data")
        os.unlink(f)
        os.fchmod(fd, 0o600)
        os.fchown(fd, 65534, 65534)
        os.utime(fd, ns=(1_000_000_000, 2_000_000_000))
        st = os.fstat(fd)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (65534, 65534)
        assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_000, 2_000_000_000)
        assert st.st_size == 4 and os.pread(fd, 4, 0) == b"data"
    finally:
        os.close(fd)
    assert os.listdir(cached.mnt) == []


def test_fchmod_after_another_mount_renamed_the_name_away(site_factory):
    # The open file's old name now names another file (made on the other
    # mount): fchmod and futimens change the open file, never that one.
    one = site_factory()
    one.mount(options=CACHE)
    two = site_factory(share=one, name="tokyo-app-02")
    two.mount(options=CACHE)
    write(one.path("f"), b"held")
    fd = os.open(one.path("f"), os.O_RDWR)
    try:
        os.rename(two.path("f"), two.path("moved"))
        write(two.path("f"), b"newcomer")
        os.chmod(two.path("f"), 0o644)
        os.fchmod(fd, 0o600)
        os.utime(fd, ns=(3_000_000_000, 4_000_000_000))
        assert stat.S_IMODE(os.stat(two.path("moved")).st_mode) == 0o600
        assert os.stat(two.path("moved")).st_mtime_ns == 4_000_000_000
        assert stat.S_IMODE(os.stat(two.path("f")).st_mode) == 0o644
        assert os.stat(two.path("f")).st_mtime_ns != 4_000_000_000
        # an xattr through the descriptor: the held file or ESTALE, never
        # the newcomer; through the name: the newcomer (a fresh lookup)
        try:
            os.setxattr(fd, "user.note", b"held's")
        except OSError as e:
            assert e.errno == errno.ESTALE, e
        os.setxattr(one.path("f"), "user.other", b"newcomer's")
        assert "user.note" not in os.listxattr(two.path("f"))
        assert os.getxattr(two.path("f"), "user.other") == b"newcomer's"
        assert "user.other" not in os.listxattr(two.path("moved"))
    finally:
        os.close(fd)
    assert read(two.path("moved")) == b"held" and read(two.path("f")) == b"newcomer"


def test_unlinked_file_open_twice_shares_state(cached):
    f = cached.path("t")
    write(f, b"one")
    fd1 = os.open(f, os.O_RDWR)
    fd2 = os.open(f, os.O_RDONLY)
    try:
        os.unlink(f)
        os.pwrite(fd1, b"two!", 0)
        assert os.pread(fd2, 10, 0) == b"two!"
        assert os.fstat(fd2).st_size == 4
    finally:
        os.close(fd1)
        os.close(fd2)


def test_size_past_the_meta_root_limit_is_efbig(site):
    f = site.path("big")
    write(f, b"")
    assert errno_of(os.truncate, f, TOO_BIG) == "EFBIG"
    assert os.stat(f).st_size == 0
    fd = os.open(f, os.O_RDWR)
    try:
        assert errno_of(os.ftruncate, fd, TOO_BIG) == "EFBIG"
        assert os.fstat(fd).st_size == 0
        assert errno_of(os.pwrite, fd, b"x", TOO_BIG) == "EFBIG"
        assert os.fstat(fd).st_size == 0
        os.ftruncate(fd, 1 << 40)                  # 1 TiB: representable
        assert os.fstat(fd).st_size == 1 << 40
    finally:
        os.close(fd)
    assert os.stat(f).st_size == 1 << 40


def test_listing_then_stat_agrees(cached):
    # readdirplus hands out attributes with the names: they must be the
    # same node and attributes a lookup gives
    for i in range(50):
        write(cached.path(f"f{i}"), pattern(i, i * 100))
    os.link(cached.path("f1"), cached.path("g1"))
    ents = {e.name: e.stat(follow_symlinks=False) for e in os.scandir(cached.mnt)}
    for i in range(50):
        assert ents[f"f{i}"].st_size == i * 100
    assert ents["g1"].st_ino == ents["f1"].st_ino and ents["g1"].st_nlink == 2
    write(cached.path("g1"), b"changed")
    assert os.stat(cached.path("f1")).st_size == 7


def test_fsck_finds_and_sets_a_stub_size_that_is_not_the_manifests(site_factory):
    site = site_factory.mounted()
    write(site.path("f"), pattern(3, 5000))
    mtime = os.stat(site.path("f")).st_mtime_ns
    site.unmount()
    stub = os.path.join(site.meta, "f")
    os.truncate(stub, 1 << 40)                     # what an ignored EFBIG left
    os.utime(stub, ns=(mtime, mtime))
    cp = site.geoctl("fsck", "-c", site.config, timeout=120)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "STUB-SIZE" in cp.stdout and f"{1 << 40}" in cp.stdout and "5000" in cp.stdout
    cp = site.geoctl("fsck", "-c", site.config, "--repair", timeout=120)
    assert "(set)" in cp.stdout, cp.stdout + cp.stderr
    assert os.stat(stub).st_size == 5000 and os.stat(stub).st_mtime_ns == mtime
    cp = site.geoctl("fsck", "-c", site.config, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    site.mount()
    assert read(site.path("f")) == pattern(3, 5000)


def test_name_renamed_on_another_mount_no_longer_opens(site_factory):
    # The kernel hands an open only the node: a name the other mount took
    # away must not open the file through the name it has now.
    one = site_factory()
    one.mount(options=CACHE)
    two = site_factory(share=one, name="tokyo-app-02")
    two.mount(options=CACHE)
    write(one.path("old"), b"data")
    assert read(one.path("old")) == b"data"         # one caches the name "old"
    os.rename(two.path("old"), two.path("new"))
    assert read(one.path("new")) == b"data"         # the same node, by its new name
    with pytest.raises(FileNotFoundError):
        os.close(os.open(one.path("old"), os.O_RDONLY))
    write(two.path("old"), b"another file")          # the name comes back, another inode
    assert read(one.path("old")) == b"another file"
    assert read(one.path("new")) == b"data"
