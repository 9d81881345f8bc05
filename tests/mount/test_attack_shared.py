"""Attacks on the promises of a shared meta root (several app servers, one
namespace), as an outside tester makes them: two geofs mounts over one meta
root on the test CephFS (two ceph-fuse client sessions), and a local meta
root where the attack needs no network filesystem.

  rename over a file open on the other mount: the holder reads the old
    bytes or EIO, never the new file's or wrong bytes; nothing left behind;
  RENAME_NOREPLACE / RENAME_EXCHANGE where CephFS refuses them: the
    documented errno (EEXIST, EINVAL), never half-done (both names, link
    counts 1, contents, no orphan), and the emulated NOREPLACE obeys the
    stricter-directory rule like a plain rename;
  hard links across mounts into a stricter directory, unlinked one name at
    a time from either side;
  unlink on A while B holds the file open;
  a retag + migrate on A seen on B;
  an NFS silly-rename name made by a user through geofs: it must not hide
    a live file from listings nor let rmdir and fsck --repair destroy it;
  fsck clean and no orphan object after every scenario.
"""

import errno
import os
import time

import pytest

from harness import pattern, read_file, write_file
from test_shared_meta import (RENAME_EXCHANGE, RENAME_NOREPLACE, SHARD, assert_fsck_clean,
                              pair, renameat2, wait_objects)  # noqa: F401 (pair: fixture)

CAT = "user.geo.category"


def tagged(site, name, category):
    os.mkdir(site.path(name))
    os.setxattr(site.path(name), CAT, category.encode())
    return site.path(name)


def in_jp_twice(site, p):
    place = site.placement(p)
    return len(place) == 2 and all(x.startswith("JP/") for x in place)


def wait_gone(path, timeout=30.0):
    """A name another mount removed goes from this mount's kernel within
    its entry timeout; a slow machine gets far longer, never forever."""
    deadline = time.monotonic() + timeout
    while os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: still there after {timeout} s")
        time.sleep(0.05)


def finish(a, b):
    """Both unmounted; nothing orphaned, fsck clean."""
    b.unmount()
    a.unmount()
    assert_fsck_clean(a)


# ---- rename over a file the other mount holds open ----------------------------------

def test_rename_over_a_file_open_on_the_other_mount(pair):
    a, b = pair
    old, new = pattern(20, 6 * SHARD), pattern(21, 3 * SHARD)
    write_file(a.path("victim"), old)
    before = set(a.objects())
    write_file(a.path("incoming"), new)
    with open(b.path("victim"), "rb", buffering=0) as held:
        assert held.read(SHARD) == old[:SHARD]
        os.rename(a.path("incoming"), a.path("victim"))
        # the holder: the old bytes, or EIO for shards it had not read yet
        pos = SHARD
        while pos < len(old):
            try:
                chunk = held.read(SHARD)
            except OSError as e:
                assert e.errno == errno.EIO, e
                break
            assert chunk == old[pos:pos + len(chunk)], "wrong bytes from a replaced file"
            if not chunk:
                break
            pos += len(chunk)
    assert read_file(b.path("victim")) == new
    assert read_file(a.path("victim")) == new
    wait_objects(a, lambda objs: not (before & objs), "the file renamed over")
    assert sorted(os.listdir(b.mnt)) == ["victim"]
    finish(a, b)


def test_unlink_while_the_other_mount_holds_it_open(pair):
    a, b = pair
    data = pattern(22, 5 * SHARD)
    write_file(a.path("f"), data)
    fobjs = set(a.objects())
    write_file(a.path("keep"), b"k")
    keep = set(a.objects()) - fobjs
    with open(b.path("f"), "rb", buffering=0) as held:
        assert held.read(10) == data[:10]
        os.unlink(a.path("f"))
        try:
            rest = held.read()
            assert rest == data[10:10 + len(rest)]
        except OSError as e:
            assert e.errno == errno.EIO, e
    # B's kernel may keep the name for its entry timeout (1 s), and B's
    # release runs after close() returned (several-servers.md); it must go
    wait_gone(b.path("f"))
    assert os.listdir(b.mnt) == ["keep"]
    wait_objects(a, lambda objs: objs == keep, "the unlinked file")
    finish(a, b)


# ---- renameat2 flags where CephFS refuses them -------------------------------------------

def test_noreplace_races_a_create_on_the_other_mount(pair):
    a, b = pair
    write_file(a.path("src"), b"source")
    write_file(b.path("dst"), b"made on B")
    assert renameat2(a.path("src"), a.path("dst"), RENAME_NOREPLACE) == errno.EEXIST
    assert read_file(b.path("dst")) == b"made on B"
    assert read_file(b.path("src")) == b"source"
    for n in ("src", "dst"):
        assert os.stat(a.path(n)).st_nlink == 1
    finish(a, b)


def test_noreplace_of_a_directory_and_exchange_change_nothing(pair):
    a, b = pair
    os.mkdir(a.path("d1"))
    write_file(a.path("d1", "in"), b"in d1")
    write_file(a.path("x"), pattern(23, 2 * SHARD))
    write_file(b.path("y"), pattern(24, SHARD))
    rc = renameat2(a.path("d1"), a.path("d2"), RENAME_NOREPLACE)
    assert rc in (0, errno.EINVAL), errno.errorcode.get(rc, rc)
    d = "d2" if rc == 0 else "d1"
    assert sorted(os.listdir(b.mnt)) == sorted([d, "x", "y"])
    assert read_file(b.path(d, "in")) == b"in d1"
    rc = renameat2(b.path("x"), b.path("y"), RENAME_EXCHANGE)
    assert rc in (0, errno.EINVAL), errno.errorcode.get(rc, rc)
    want = {"x": pattern(24, SHARD), "y": pattern(23, 2 * SHARD)} if rc == 0 else \
        {"x": pattern(23, 2 * SHARD), "y": pattern(24, SHARD)}
    for s in (a, b):
        for n, data in want.items():
            assert read_file(s.path(n)) == data
            assert os.stat(s.path(n)).st_nlink == 1
    finish(a, b)


@pytest.mark.parametrize("how", ["rename", "noreplace", "link"])
def test_stricter_rule_on_every_rename_variant_across_mounts(pair, how):
    """A public file (shards in KR allowed) moved by B under a medical
    directory made on A: medical, two copies in JP, before the call
    returns; the emulated RENAME_NOREPLACE (link + unlink) included."""
    a, b = pair
    pub = tagged(a, "pub", "public")
    tagged(a, "clinic", "medical")
    src = os.path.join(pub, "f")
    data = pattern(25, 4 * SHARD)
    write_file(src, data)
    bsrc, bdst = b.path("pub", "f"), b.path("clinic", "f")
    if how == "rename":
        os.rename(bsrc, bdst)
    elif how == "noreplace":
        assert renameat2(bsrc, bdst, RENAME_NOREPLACE) == 0
    else:
        os.link(bsrc, bdst)
    for s in (a, b):
        p = s.path("clinic", "f")
        assert s.xattr(p, CAT) == "medical", how
        assert in_jp_twice(s, p), (how, s.placement(p))
        assert read_file(p) == data
    if how == "link":
        # both names share the tags; drop them one from each side
        assert a.xattr(a.path("pub", "f"), CAT) == "medical"
        os.unlink(a.path("pub", "f"))
        assert read_file(b.path("clinic", "f")) == data
        os.unlink(b.path("clinic", "f"))
        wait_objects(a, lambda objs: not objs, "the twice-linked file")
    finish(a, b)


def test_retag_and_migrate_on_a_seen_on_b(pair):
    a, b = pair
    tagged(a, "pub", "public")
    data = pattern(26, 3 * SHARD)
    write_file(a.path("pub", "f"), data)
    with open(b.path("pub", "f"), "rb") as held:
        os.setxattr(a.path("pub", "f"), CAT, b"medical")
        os.setxattr(a.path("pub", "f"), "user.geo.migrate", b"1")
        assert held.read() == data
    assert b.xattr(b.path("pub", "f"), CAT) == "medical"
    assert in_jp_twice(b, b.path("pub", "f"))
    assert read_file(b.path("pub", "f")) == data
    finish(a, b)


# ---- NFS silly-rename names made by a user ---------------------------------------------------

SILLY = ".nfs%016x%08x" % (0x1234, 7)


def test_a_user_file_named_like_nfs_silly_rename_is_never_hidden_or_lost(site_factory):
    site = site_factory.mounted()
    os.mkdir(site.path("d"))
    data = pattern(27, 3 * SHARD)
    # The name is geofs's own (it hides it and rmdir moves it away), so no
    # way of making it through geofs may succeed: create, mkdir, symlink,
    # mknod, rename and link all get EPERM, as .geofs at the root does.
    write_file(site.path("d", "real"), data)
    makers = [
        lambda p: write_file(p, data),
        lambda p: os.mkdir(p),
        lambda p: os.symlink("real", p),
        lambda p: os.mkfifo(p),
        lambda p: os.rename(site.path("d", "real"), p),
        lambda p: os.link(site.path("d", "real"), p),
    ]
    for make in makers:
        for where in (site.path("d", SILLY), site.path(SILLY)):
            with pytest.raises(OSError) as e:
                make(where)
            assert e.value.errno == errno.EPERM, (where, e.value)
            assert not os.path.lexists(where)
    assert sorted(os.listdir(site.path("d"))) == ["real"]
    with pytest.raises(OSError) as e:
        os.rmdir(site.path("d"))
    assert e.value.errno == errno.ENOTEMPTY
    site.unmount()
    site.geoctl("fsck", "-c", site.config, "--repair")
    site.mount()
    assert read_file(site.path("d", "real")) == data
