"""Several app servers, one namespace (issue 17 item 6): two geofs mounts
whose meta root is one directory of a shared filesystem, each mount reaching
it through its own client of that filesystem -- two ceph-fuse mounts (two
CephFS client sessions) of the test cluster's CephFS, and, when
GEOFS_SHARED_META=/mnt/a:/mnt/b is set, the operator's own pair of mounts of
one shared directory (two NFS mounts of one export, say). The backends stay
local directories: what is shared here is the meta root.

Every test runs once per shared filesystem (the `shared_meta` fixture,
cephtest.py). Mount A and mount B are two Sites of one meta root
(harness.Site share=, meta_path= the same root through the other mount).
"""

import ctypes
import errno
import hashlib
import json
import os
import threading
import time

import pytest

from harness import FILE_MANIFEST_SHARDS, hash_file, pattern, read_file, write_file, write_stream

CAT = "user.geo.category"
SHARD = 64 * 1024
BIG = (FILE_MANIFEST_SHARDS + 4) * SHARD + 1234      # has a manifest file


@pytest.fixture
def pair(shared_meta, site_factory):
    """Mounts A and B over one shared meta root (requested before
    site_factory, so the geofs mounts go before the shared mounts do)."""
    site_factory.set_timeout(300)
    a = site_factory(meta_path=os.path.join(shared_meta.a, "meta"))
    a.mount()
    b = site_factory(share=a, name="tokyo-app-02",
                     meta_path=os.path.join(shared_meta.b, "meta"))
    b.mount()
    return a, b


def wait_objects(site, pred, what, timeout=10.0):
    """FUSE's release runs after close() returns, so an unlink may reach
    the daemon before the file's last release: the objects go then."""
    deadline = time.monotonic() + timeout
    while not pred(set(site.objects())):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {sorted(site.objects())}")
        time.sleep(0.02)


def renameat2(src, dst, flags):
    """0, or the errno of renameat2(2)."""
    rc = _libc.renameat2(-100, os.fsencode(src), -100, os.fsencode(dst), flags)
    return 0 if rc == 0 else ctypes.get_errno()


_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def fsck(site, *args):
    cp = site.geoctl("fsck", "-c", site.config, "--json", *args, timeout=300)
    assert cp.returncode in (0, 1), cp.stdout + cp.stderr
    return cp.returncode, json.loads(cp.stdout)


def assert_fsck_clean(site):
    rc, out = fsck(site)
    assert (rc, out["findings"]) == (0, []), out


def meta_names(site):
    """Every name under the meta root but .geofs/, as the site sees it."""
    out = []
    for dp, dn, fn in os.walk(site.meta):
        if dp == site.meta and ".geofs" in dn:
            dn.remove(".geofs")
        out += [os.path.relpath(os.path.join(dp, n), site.meta) for n in dn + fn]
    return sorted(out)


# ---- create, read, rewrite ---------------------------------------------------

def test_create_read_rewrite_across_mounts(pair):
    a, b = pair
    write_file(a.path("f"), b"written on A")
    assert read_file(b.path("f")) == b"written on A"
    write_file(b.path("f"), b"rewritten on B, and longer")
    assert read_file(a.path("f")) == b"rewritten on B, and longer"
    write_file(a.path("f"), b"short")
    assert read_file(b.path("f")) == b"short"
    assert os.stat(b.path("f")).st_size == 5

    # a file with a manifest file of its own, both ways
    h = write_stream(a.path("big"), BIG, seed=1)
    assert hash_file(b.path("big")) == (BIG, h)
    h2 = write_stream(b.path("big"), BIG - SHARD, seed=2)
    assert hash_file(a.path("big")) == (BIG - SHARD, h2)

    os.makedirs(b.path("d", "e"))
    write_file(b.path("d", "e", "g"), b"deep")
    assert sorted(os.listdir(a.path("d", "e"))) == ["g"]
    assert read_file(a.path("d", "e", "g")) == b"deep"
    assert sorted(os.listdir(a.mnt)) == sorted(os.listdir(b.mnt)) == ["big", "d", "f"]


def test_new_open_sees_rewrite_while_other_mount_holds_file(pair):
    """DESIGN.md coherence: every open sees the last manifest committed by
    any mount, also while the opening mount has the file open elsewhere."""
    a, b = pair
    write_file(a.path("f"), b"one")
    with open(b.path("f"), "rb") as held:
        assert held.read() == b"one"
        write_file(a.path("f"), b"two, from A")
        assert read_file(b.path("f")) == b"two, from A"


# ---- tags ----------------------------------------------------------------------

def test_tags_across_mounts(pair):
    a, b = pair
    os.mkdir(a.path("clinic"))
    os.setxattr(a.path("clinic"), CAT, b"medical")
    assert b.xattr("clinic", CAT) == "medical"
    write_file(b.path("clinic", "scan"), pattern(3, 3 * SHARD))
    assert a.xattr("clinic/scan", CAT) == "medical"
    # medical: two replicas, only in JP
    places = a.placement("clinic/scan")
    assert places and all(p.startswith("JP/") for p in places), places
    assert b.placement("clinic/scan") == places
    assert not b.objects("seoul-1")

    write_file(a.path("photo"), b"media")
    os.setxattr(b.path("photo"), CAT, b"media")
    assert a.xattr("photo", CAT) == "media"
    assert a.info("photo")["category_src"] == "set"


# ---- hard links, rename, unlink ------------------------------------------------

def test_hard_links_across_mounts(pair):
    a, b = pair
    data = pattern(4, 2 * SHARD + 7)
    write_file(a.path("f"), data)
    os.link(b.path("f"), b.path("g"))
    assert os.stat(a.path("g")).st_nlink == 2
    assert os.stat(a.path("f")).st_ino == os.stat(a.path("g")).st_ino
    assert read_file(a.path("g")) == data
    write_file(a.path("g"), b"through the other name")
    assert read_file(b.path("f")) == b"through the other name"
    objs = a.objects()
    assert objs
    os.unlink(a.path("f"))
    assert read_file(b.path("g")) == b"through the other name"
    assert os.stat(b.path("g")).st_nlink == 1
    assert a.objects() == objs                      # one name left: content stays
    os.unlink(b.path("g"))
    wait_objects(a, lambda objs: not objs, "the last name unlinked on B")
    assert_fsck_clean(a)


def test_rename_across_mounts(pair):
    a, b = pair
    write_file(a.path("f"), b"file f")
    os.mkdir(a.path("d"))
    os.rename(b.path("f"), b.path("d", "g"))
    assert not os.path.exists(a.path("f"))
    assert read_file(a.path("d", "g")) == b"file f"
    # rename over an existing file: the replaced file's objects go with it
    before = set(a.objects())
    write_file(b.path("victim"), pattern(5, 2 * SHARD))
    victim_objs = set(a.objects()) - before
    assert victim_objs
    write_file(a.path("new"), pattern(6, SHARD))
    os.rename(a.path("new"), a.path("victim"))
    assert read_file(b.path("victim")) == pattern(6, SHARD)
    wait_objects(a, lambda objs: not victim_objs & objs, "the file renamed over")
    os.rename(b.path("d"), b.path("e"))
    assert sorted(os.listdir(a.mnt)) == ["e", "victim"]
    assert read_file(a.path("e", "g")) == b"file f"
    assert_fsck_clean(a)


def test_rename_flags_and_statfs(pair):
    """RENAME_NOREPLACE works (emulated where the shared filesystem refuses
    it), seen from the other mount; RENAME_EXCHANGE swaps, or is refused
    with EINVAL where the filesystem cannot (CephFS), never half-done;
    statfs counts are sane (CephFS itself reports f_ffree = -1)."""
    a, b = pair
    write_file(a.path("x"), b"X")
    write_file(a.path("y"), b"YY")
    assert renameat2(a.path("x"), a.path("y"), RENAME_NOREPLACE) == errno.EEXIST
    assert (read_file(b.path("x")), read_file(b.path("y"))) == (b"X", b"YY")
    assert renameat2(b.path("x"), b.path("z"), RENAME_NOREPLACE) == 0
    assert sorted(os.listdir(a.mnt)) == ["y", "z"]
    rc = renameat2(a.path("y"), a.path("z"), RENAME_EXCHANGE)
    assert rc in (0, errno.EINVAL), errno.errorcode.get(rc, rc)
    want = (b"X", b"YY") if rc == 0 else (b"YY", b"X")
    assert (read_file(b.path("y")), read_file(b.path("z"))) == want
    assert (read_file(a.path("y")), read_file(a.path("z"))) == want
    assert sorted(os.listdir(b.mnt)) == ["y", "z"]
    for s in (a, b):
        st = os.statvfs(s.mnt)
        assert 0 < st.f_files < 2 ** 63, st
        assert st.f_favail <= st.f_ffree <= st.f_files, st
    assert_fsck_clean(a)


def test_unlink_leaves_nothing_behind(pair):
    a, b = pair
    os.makedirs(a.path("tree", "sub"))
    for i in range(6):
        write_file(a.path("tree", f"f{i}"), pattern(10 + i, (i + 1) * SHARD))
    write_stream(a.path("tree", "sub", "big"), BIG, seed=7)
    write_file(a.path("keep"), b"k")
    with open(b.path("tree", "f0"), "rb") as held:     # open on B while A unlinks it
        assert held.read(1)
        os.unlink(a.path("tree", "f0"))
    for i in range(1, 3):
        os.unlink(b.path("tree", f"f{i}"))
    # what is left goes with a recursive removal on A
    for dp, dn, fn in os.walk(a.path("tree"), topdown=False):
        for n in fn:
            os.unlink(os.path.join(dp, n))
        for n in dn:
            os.rmdir(os.path.join(dp, n))
    os.rmdir(a.path("tree"))
    assert sorted(os.listdir(b.mnt)) == ["keep"]
    keep_objs = a.objects()
    b.unmount()
    a.unmount()
    # only the kept file's objects, no stub or name left in the meta root
    assert len(keep_objs) == 1, keep_objs
    assert a.objects() == keep_objs
    assert meta_names(a) == ["keep"]
    assert_fsck_clean(a)


# ---- keys, fsck ----------------------------------------------------------------

def test_keys_rotate_while_mounted(pair):
    a, b = pair
    write_file(a.path("p1"), b"personal one")
    write_file(b.path("p2"), pattern(8, 3 * SHARD))
    cp = a.geoctl("keys", "rotate", "-c", a.config, "--domain", "JP:personal", "--json")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = json.loads(cp.stdout)
    assert (out["action"], out["rewrapped"], out["failed"]) == ("rotate", 2, 0), out
    for s in (a, b):
        assert read_file(s.path("p1")) == b"personal one"
        assert read_file(s.path("p2")) == pattern(8, 3 * SHARD)
    a.remount()
    b.remount()
    write_file(b.path("p3"), b"after rotation")
    assert read_file(a.path("p3")) == b"after rotation"
    assert read_file(a.path("p2")) == pattern(8, 3 * SHARD)
    b.unmount()
    a.unmount()
    assert_fsck_clean(a)


def test_fsck_clean_after_shared_work(pair):
    a, b = pair
    os.mkdir(a.path("w"))
    for i in range(10):
        s, t = (a, b) if i % 2 else (b, a)
        write_file(s.path("w", f"f{i}"), pattern(20 + i, (i % 4) * SHARD + i))
        if i % 3 == 0:
            write_file(t.path("w", f"f{i}"), b"rewritten %d" % i)
        if i % 5 == 0:
            os.rename(t.path("w", f"f{i}"), t.path("w", f"r{i}"))
        elif i % 4 == 1:
            os.unlink(t.path("w", f"f{i}"))
    want = {n: read_file(a.path("w", n)) for n in os.listdir(a.path("w"))}
    b.unmount()
    a.unmount()
    assert_fsck_clean(a)
    b.mount()
    assert {n: read_file(b.path("w", n)) for n in os.listdir(b.path("w"))} == want


# ---- two mounts writing one file -------------------------------------------------

def test_two_mounts_write_one_file(pair):
    """Both mounts rewrite one file at once, many times: each commit is
    whole, the last one wins, and both mounts read the same bytes after."""
    a, b = pair
    write_file(a.path("f"), b"start")
    size = 3 * SHARD + 100
    values = {(s.name, i): pattern(100 * k + i, size)
              for k, s in enumerate((a, b)) for i in range(8)}
    digests = {hashlib.sha256(v).hexdigest() for v in values.values()}
    errors = []

    def writer(site):
        try:
            for i in range(8):
                write_file(site.path("f"), values[(site.name, i)])
        except OSError as e:
            errors.append(f"{site.name}: {e}")

    threads = [threading.Thread(target=writer, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not any(t.is_alive() for t in threads), "writers hung"
    assert not errors, errors
    ha, hb = hash_file(a.path("f")), hash_file(b.path("f"))
    assert ha == hb and ha[0] == size and ha[1] in digests
    b.unmount()
    a.unmount()
    assert_fsck_clean(a)
