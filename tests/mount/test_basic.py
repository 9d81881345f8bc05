"""Round trips and the namespace: what any filesystem must do, on real geofs."""

import ctypes
import errno
import os
import stat

import pytest

from harness import MiB, NOBODY, hash_file, pattern, read_file, try_as, write_file, write_stream

SHARD = 64 * 1024


def nobody_dir(site, name, mode=0o755):
    p = site.path(name)
    os.mkdir(p)
    os.chown(p, NOBODY, NOBODY)
    os.chmod(p, mode)
    return p


def test_mounted_and_empty(site):
    assert site.is_mounted()
    assert os.listdir(site.mnt) == []          # META/.geofs is hidden
    st = os.statvfs(site.mnt)
    assert st.f_blocks > 0 and st.f_bsize > 0


def test_empty_file(site):
    p = site.path("empty")
    write_file(p, b"")
    assert os.stat(p).st_size == 0
    assert read_file(p) == b""
    assert site.object_counts() == {"tokyo-1": 0, "osaka-1": 0, "seoul-1": 0}
    assert site.placement(p) == []
    site.remount()
    assert os.stat(p).st_size == 0
    assert read_file(p) == b""


def test_one_byte(site):
    p = site.path("one")
    write_file(p, b"x")
    assert read_file(p) == b"x"
    assert sum(site.object_counts().values()) == 1     # personal: one replica
    assert site.object_counts()["seoul-1"] == 0        # personal/JP never in KR
    site.remount()
    assert os.stat(p).st_size == 1
    assert read_file(p) == b"x"


@pytest.mark.parametrize("size", [SHARD - 1, SHARD, SHARD + 1, 2 * SHARD, 3 * SHARD + 17])
def test_shard_boundaries(site, size):
    data = pattern(size, size)
    p = site.path("f")
    write_file(p, data)
    assert os.stat(p).st_size == size
    assert read_file(p) == data
    # one object per shard (incompressible data, replicas = 1)
    assert sum(site.object_counts().values()) == -(-size // SHARD)
    site.remount()
    assert read_file(p) == data


def test_writes_straddling_shards(site):
    """Unaligned 10000-byte writes crossing every shard boundary."""
    data = pattern(7, 5 * SHARD + 123)
    p = site.path("f")
    with open(p, "wb", buffering=0) as f:
        for off in range(0, len(data), 10000):
            f.write(data[off:off + 10000])
    assert read_file(p) == data
    with open(p, "rb") as f:          # reads straddling boundaries too
        f.seek(SHARD - 5)
        assert f.read(SHARD + 10) == data[SHARD - 5:2 * SHARD + 5]
    site.remount()
    assert read_file(p) == data


@pytest.mark.slow
def test_large_file_over_100mib(site_factory):
    site_factory.set_timeout(400)
    site = site_factory.mounted(shard_size="1M")
    size = 100 * MiB + 12345
    p = site.path("big")
    digest = write_stream(p, size, seed=100)
    assert os.stat(p).st_size == size
    assert hash_file(p) == (size, digest)
    assert sum(site.object_counts().values()) == -(-size // MiB)
    assert site.backend_bytes() >= size
    site.remount()
    assert hash_file(p) == (size, digest)


def test_mkdir_rmdir_readdir(site):
    os.makedirs(site.path("a", "b", "c"))
    for n in ("x", "y", "z"):
        write_file(site.path("a", n), n.encode())
    assert sorted(os.listdir(site.path("a"))) == ["b", "x", "y", "z"]
    assert stat.S_ISDIR(os.stat(site.path("a", "b")).st_mode)
    with pytest.raises(OSError) as e:
        os.rmdir(site.path("a", "b"))
    assert e.value.errno == errno.ENOTEMPTY
    os.rmdir(site.path("a", "b", "c"))
    os.rmdir(site.path("a", "b"))
    with pytest.raises(FileExistsError):
        os.mkdir(site.path("a"))
    site.remount()
    assert sorted(os.listdir(site.path("a"))) == ["x", "y", "z"]


def test_rename(site):
    write_file(site.path("a"), b"AAA")
    write_file(site.path("b"), b"BBBB")
    os.rename(site.path("a"), site.path("c"))
    assert not os.path.exists(site.path("a"))
    assert read_file(site.path("c")) == b"AAA"
    os.rename(site.path("c"), site.path("b"))        # replaces b
    assert read_file(site.path("b")) == b"AAA"
    assert sorted(os.listdir(site.mnt)) == ["b"]
    os.mkdir(site.path("d"))
    os.rename(site.path("b"), site.path("d", "b"))
    os.rename(site.path("d"), site.path("e"))
    site.remount()
    assert read_file(site.path("e", "b")) == b"AAA"
    assert sum(site.object_counts().values()) == 1     # b's old object is gone


def _renameat2(src, dst, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    rc = libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags)
    return 0 if rc == 0 else ctypes.get_errno()


def test_rename_noreplace_and_exchange(site):
    RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
    write_file(site.path("a"), b"A")
    write_file(site.path("b"), b"BB")
    assert _renameat2(site.path("a"), site.path("b"), RENAME_NOREPLACE) == errno.EEXIST
    assert read_file(site.path("b")) == b"BB"
    assert _renameat2(site.path("a"), site.path("b"), RENAME_EXCHANGE) == 0
    assert read_file(site.path("a")) == b"BB"
    assert read_file(site.path("b")) == b"A"
    site.remount()
    assert read_file(site.path("a")) == b"BB"
    assert read_file(site.path("b")) == b"A"


def test_symlink(site):
    write_file(site.path("target"), b"through the link")
    os.symlink("target", site.path("link"))
    assert os.readlink(site.path("link")) == "target"
    assert stat.S_ISLNK(os.lstat(site.path("link")).st_mode)
    assert read_file(site.path("link")) == b"through the link"
    os.symlink("/nonexistent/dangling", site.path("dangling"))
    site.remount()
    assert os.readlink(site.path("dangling")) == "/nonexistent/dangling"
    assert read_file(site.path("link")) == b"through the link"


def test_hard_link(site):
    write_file(site.path("a"), b"first")
    os.link(site.path("a"), site.path("b"))
    assert os.stat(site.path("a")).st_nlink == 2
    assert os.stat(site.path("a")).st_ino == os.stat(site.path("b")).st_ino
    write_file(site.path("b"), b"second version")
    assert read_file(site.path("a")) == b"second version"
    os.unlink(site.path("a"))
    assert os.stat(site.path("b")).st_nlink == 1
    site.remount()
    assert read_file(site.path("b")) == b"second version"
    assert sum(site.object_counts().values()) == 1


def test_chmod_chown_utime(site):
    p = site.path("f")
    write_file(p, b"data")
    os.chmod(p, 0o640)
    os.chown(p, NOBODY, 1234)
    os.utime(p, ns=(1_000_000_123_456_789, 1_500_000_000_987_654_321))
    site.remount()
    st = os.stat(p)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (NOBODY, 1234)
    assert st.st_atime_ns == 1_000_000_123_456_789
    assert st.st_mtime_ns == 1_500_000_000_987_654_321
    assert st.st_size == 4


def test_new_entries_belong_to_caller(site):
    nobody_dir(site, "pub", 0o1777)
    assert try_as(f"""
        open({site.path('pub', 'f')!r}, 'w').write('x')
        os.mkdir({site.path('pub', 'd')!r})
    """) == "OK"
    for n in ("f", "d"):
        st = os.stat(site.path("pub", n))
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


def test_setgid_directory_gid(site):
    d = site.path("sg")
    os.mkdir(d)
    os.chown(d, 0, 4321)
    os.chmod(d, 0o2777)
    assert try_as(f"open({os.path.join(d, 'f')!r}, 'w').write('x')") == "OK"
    assert os.stat(os.path.join(d, "f")).st_gid == 4321


def test_sticky_directory(site):
    d = site.path("tmp")
    os.mkdir(d)
    os.chmod(d, 0o1777)
    write_file(os.path.join(d, "roots"), b"x")
    os.chmod(os.path.join(d, "roots"), 0o666)
    assert try_as(f"os.unlink({os.path.join(d, 'roots')!r})") in ("EPERM", "EACCES")
    assert os.path.exists(os.path.join(d, "roots"))


def test_permissions_enforced(site):
    p = site.path("private")
    write_file(p, b"secret")
    os.chmod(p, 0o600)
    assert try_as(f"open({p!r}, 'rb').read()") == "EACCES"
    assert try_as(f"open({p!r}, 'ab')") == "EACCES"


def test_open_flags(site):
    p = site.path("f")
    write_file(p, b"0123456789")
    with pytest.raises(FileExistsError):
        os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"ab")
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"cd")                      # O_APPEND: still at the end
    os.close(fd)
    assert read_file(p) == b"0123456789abcd"
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert os.stat(p).st_size == 0
    assert read_file(p) == b""


def test_mkfifo(site):
    os.mkfifo(site.path("fifo"))
    assert stat.S_ISFIFO(os.stat(site.path("fifo")).st_mode)


def test_two_descriptors_share_writes(site):
    """Write state belongs to the inode: a second fd sees unflushed writes."""
    p = site.path("f")
    a = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    b = os.open(p, os.O_RDWR)
    try:
        os.pwrite(a, b"hello from a", 0)
        assert os.pread(b, 100, 0) == b"hello from a"
        os.pwrite(b, b"B", 6)
        assert os.pread(a, 100, 0) == b"hello Brom a"
        assert os.fstat(b).st_size == 12
    finally:
        os.close(a)
        os.close(b)
    assert read_file(p) == b"hello Brom a"


def test_unlink_open_file(site):
    p = site.path("f")
    data = pattern(3, 3 * SHARD)
    write_file(p, data)
    fd = os.open(p, os.O_RDONLY)
    try:
        os.unlink(p)
        assert not os.path.exists(p)
        assert os.pread(fd, len(data) + 1, 0) == data
    finally:
        os.close(fd)
    assert "f" not in os.listdir(site.mnt)


def test_long_paths(site_factory):
    # The meta root's own path is long too: a daemon gluing META + path into
    # one string would pass PATH_MAX where openat() relative to dirfds works.
    root_pad = os.path.join(site_factory.top, "m" * 250, "n" * 250, "meta")
    site = site_factory.mounted(meta_path=root_pad)
    comp = "d" * 250
    depth = 15
    path = site.mnt
    for _ in range(depth):
        path = os.path.join(path, comp)
        os.mkdir(path)
    f = os.path.join(path, "f" * 80)
    assert len(f) > 3850
    data = pattern(5, 2 * SHARD + 1)
    write_file(f, data)
    assert read_file(f) == data
    os.rename(f, f[:-1])
    os.symlink("target", f)
    os.chmod(f[:-1], 0o600)
    site.remount()
    assert read_file(f[:-1]) == data
    assert os.readlink(f) == "target"
    assert sorted(os.listdir(path)) == sorted(["f" * 80, "f" * 79])
    os.unlink(f)
    os.unlink(f[:-1])
    for _ in range(depth):
        os.rmdir(path)
        path = os.path.dirname(path)
    assert os.listdir(site.mnt) == []


def test_two_mounts_share_meta_root(site_factory):
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    pa, pb = a.path("shared"), b.path("shared")
    write_file(pa, b"written on A")
    assert read_file(pb) == b"written on A"
    write_file(pb, b"overwritten on B, longer")
    assert read_file(pa) == b"overwritten on B, longer"
    write_file(pb, b"short")
    assert read_file(pa) == b"short"
    os.mkdir(a.path("dir"))
    os.setxattr(a.path("dir"), "user.geo.category", b"medical")
    assert b.xattr("dir", "user.geo.category") == "medical"
    os.unlink(pb)
    assert not os.path.exists(pa)


def test_concurrent_close_and_stat(site):
    """Last close of a file while other threads stat and reopen it: the
    per-inode state must be freed exactly once."""
    import threading
    p = site.path("f")
    write_file(p, b"start")
    errors = []

    def closer(k):
        try:
            for i in range(300):
                fd = os.open(p, os.O_RDWR)
                os.pwrite(fd, b"%d-%d" % (k, i), 0)
                os.close(fd)
        except OSError as e:
            errors.append(e)

    def statter():
        try:
            for _ in range(1500):
                os.stat(p)
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=closer, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=statter) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert os.stat(p).st_size > 0
