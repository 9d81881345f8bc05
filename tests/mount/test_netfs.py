"""A meta root shared by several mounts, and what a network filesystem
under it (CephFS, NFS) changes: coherence of opens while a file is held
open on the other mount, content deletion decided by the link count before
the call (nothing left behind by unlink, rename-over, rm -rf), NFS
silly-rename names hidden from listings and from rmdir, fsck collecting
what an interrupted create leaves under .geofs/tmp, statfs inode counts.

These run on a local meta root; the same behaviours on a real CephFS are
in the CephFS suite."""

import ctypes
import errno
import json
import os
import shutil
import time

from harness import pattern, read_file, write_file

SHARD = 64 * 1024


def total_objects(site):
    return sum(site.object_counts().values())


def objects_drop_to_zero(site, timeout=10.0):
    """FUSE's release runs after close() returns: True once no object is
    left, False if some still are after timeout."""
    deadline = time.monotonic() + timeout
    while total_objects(site):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_open_sees_other_mounts_commit_while_held_open(site_factory):
    """Mount B holds a file open; mount A rewrites it; a new open on B
    sees A's version at once (not only after B closes), and B's old
    descriptor reads it too."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    v1, v2 = pattern(1, 3 * SHARD + 10), pattern(2, 2 * SHARD + 77)
    write_file(a.path("f"), v1)
    with open(b.path("f"), "rb") as held:
        assert held.read() == v1
        write_file(a.path("f"), v2)
        assert read_file(b.path("f")) == v2
        assert os.stat(b.path("f")).st_size == len(v2)
        held.seek(0)
        assert held.read() == v2
    assert read_file(b.path("f")) == v2


def test_dirty_writes_on_the_holding_mount_survive_a_refresh(site_factory):
    """B has uncommitted writes to shard 0 when A commits a change to
    shard 2 that also extends the file; B's next open takes A's commit with B's change laid over it
    (as a commit's merge does): after B closes, both changes are there."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    base = bytearray(pattern(3, 3 * SHARD))
    write_file(a.path("f"), bytes(base))
    fd = os.open(b.path("f"), os.O_RDWR)
    try:
        os.pwrite(fd, b"B" * 100, 10)                  # dirty in B, not committed
        with open(a.path("f"), "r+b") as fa:
            fa.seek(3 * SHARD - 20)
            fa.write(b"A" * 50)
        expect = bytearray(base)
        expect[10:110] = b"B" * 100
        expect[3 * SHARD - 20:] = b"A" * 50
        assert read_file(b.path("f")) == bytes(expect)  # a new open on B
    finally:
        os.close(fd)
    assert read_file(a.path("f")) == bytes(expect)
    assert read_file(b.path("f")) == bytes(expect)


def test_unlink_and_rename_over_leave_no_objects(site_factory):
    """Every way a last name goes deletes the file's objects: unlink,
    rename over it, rm -rf of a tree, also while the file is open on the
    other mount (at that mount's last close), and never the objects of a
    file that keeps another name."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    assert total_objects(a) == 0
    write_file(a.path("u"), pattern(4, 2 * SHARD))
    os.unlink(b.path("u"))
    assert total_objects(a) == 0
    write_file(a.path("x"), pattern(5, 2 * SHARD))
    write_file(a.path("y"), pattern(6, 3 * SHARD))
    os.rename(b.path("x"), b.path("y"))
    assert read_file(a.path("y")) == pattern(5, 2 * SHARD)
    os.unlink(a.path("y"))
    assert total_objects(a) == 0
    os.makedirs(a.path("t", "d"))
    for i in range(5):
        write_file(a.path("t", "d", str(i)), pattern(10 + i, SHARD + i))
    shutil.rmtree(b.path("t"))
    assert total_objects(a) == 0
    # hard link: removing one name keeps the content
    write_file(a.path("h1"), pattern(7, SHARD))
    os.link(a.path("h1"), a.path("h2"))
    os.unlink(b.path("h1"))
    assert read_file(a.path("h2")) == pattern(7, SHARD)
    assert total_objects(a) > 0
    os.unlink(b.path("h2"))
    assert total_objects(a) == 0
    # open on this mount while unlinked: readable until closed, then gone
    write_file(a.path("o"), pattern(8, 2 * SHARD))
    with open(a.path("o"), "rb") as f:
        os.unlink(a.path("o"))
        assert total_objects(a) > 0
        assert f.read() == pattern(8, 2 * SHARD)
    assert objects_drop_to_zero(a)
    a.unmount()
    b.unmount()
    cp = a.geoctl("fsck", "-c", a.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def silly(n):
    return ".nfs%016x%08x" % (0xA1B2C3 + n, n)


def test_nfs_silly_names_hidden_and_rmdir_succeeds(site_factory):
    """An NFS client renames a file unlinked while open to .nfsXXXX; such
    names never show in listings, and an rmdir of a directory holding only
    them succeeds as it would locally: they move under .geofs/tmp, where
    fsck reports and (unmounted) collects them."""
    site = site_factory.mounted()
    os.mkdir(site.path("d"))
    write_file(site.path("d", "keep"), b"x")
    # what the NFS client would leave in the meta root's directory
    for i in range(2):
        with open(os.path.join(site.meta, "d", silly(i)), "wb") as f:
            f.write(b"held by a client")
    assert os.listdir(site.path("d")) == ["keep"]
    assert os.path.exists(os.path.join(site.meta, "d", silly(0)))
    # a name that only looks a bit like one is listed
    write_file(site.path("d", ".nfsfoo"), b"y")
    assert sorted(os.listdir(site.path("d"))) == [".nfsfoo", "keep"]
    os.unlink(site.path("d", ".nfsfoo"))
    try:
        os.rmdir(site.path("d"))
        raise AssertionError("rmdir of a non-empty directory succeeded")
    except OSError as e:
        assert e.errno == 39                           # ENOTEMPTY: keep is there
    assert os.path.exists(os.path.join(site.meta, "d", silly(1)))  # not moved
    os.unlink(site.path("d", "keep"))
    os.rmdir(site.path("d"))
    assert not os.path.exists(site.path("d"))
    moved = [n for n in os.listdir(os.path.join(site.meta, ".geofs", "tmp"))
             if n.endswith(".silly")]
    assert len(moved) == 2
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config, "--json")
    assert cp.returncode == 1, cp.stdout + cp.stderr
    found = [f for f in json.loads(cp.stdout)["findings"] if f["kind"] == "META-TEMP"]
    assert len(found) == 2 and all("NFS client" in f["detail"] for f in found), found
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode in (0, 1), cp.stdout + cp.stderr
    assert site.geoctl("fsck", "-c", site.config).returncode == 0


def test_fsck_collects_what_an_interrupted_create_leaves(site_factory):
    """A create without O_TMPFILE makes the stub under .geofs/tmp, links it
    to its name, then drops the temporary name. A crash between the steps
    leaves either a stub never linked (with its manifest on it) or a second
    name of a created file: fsck reports each (META-TEMP, saying which),
    --repair drops the names, and the created file stays intact."""
    site = site_factory.mounted()
    data = pattern(9, 2 * SHARD)
    write_file(site.path("made"), data)
    write_file(site.path("never"), pattern(10, SHARD))
    site.unmount()
    tmp = os.path.join(site.meta, ".geofs", "tmp")
    # a crash after the link, before the temporary name went
    os.link(os.path.join(site.meta, "made"), os.path.join(tmp, "0" * 32 + ".stub"))
    # a crash before the link: the stub exists only under .geofs/tmp
    os.rename(os.path.join(site.meta, "never"), os.path.join(tmp, "1" * 32 + ".stub"))
    cp = site.geoctl("fsck", "-c", site.config, "--json")
    assert cp.returncode == 1, cp.stdout + cp.stderr
    found = json.loads(cp.stdout)["findings"]
    temps = {f["what"]: f["detail"] for f in found if f["kind"] == "META-TEMP"}
    assert "second name" in temps["meta .geofs/tmp/" + "0" * 32 + ".stub"], temps
    assert "never linked" in temps["meta .geofs/tmp/" + "1" * 32 + ".stub"], temps
    assert {f["kind"] for f in found} <= {"META-TEMP", "ORPHAN-OBJECT"}, found
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode in (0, 1), cp.stdout + cp.stderr
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert os.listdir(tmp) == []
    site.mount()
    assert read_file(site.path("made")) == data
    assert os.stat(site.path("made")).st_nlink == 1


def test_statfs_inode_counts_are_sane(site):
    """statfs reports the meta root's inode counts, never -1 or free above
    total (what CephFS reports is mapped in the unit test of
    meta_inode_counts)."""
    st = os.statvfs(site.mnt)
    assert 0 < st.f_files < 2 ** 63
    assert st.f_favail <= st.f_ffree <= st.f_files


# ---- the same on a real shared filesystem (CephFS through ceph-fuse) -------

def shared_sites(site_factory, shared):
    """Two mounts of one meta root on a shared filesystem: A's meta root
    through one client session (shared.a), B's through the other
    (shared.b); backends and keyring local, shared by path."""
    a = site_factory(meta_path=os.path.join(shared.a, "meta"))
    a.mount()
    b = site_factory(share=a, name="tokyo-app-02")
    b.meta = os.path.join(shared.b, "meta")
    b.write_config()
    b.mount()
    return a, b


def _renameat2(src, dst, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.renameat2(-100, os.fsencode(src), -100, os.fsencode(dst), flags)
    return 0 if rc == 0 else ctypes.get_errno()


def test_shared_fs_creates_unlinks_and_coherence(site_factory, shared_meta):
    """On the shared filesystem: creates work without O_TMPFILE (the daemon
    says once that it falls back), files cross mounts at close/open, an
    open on B sees A's rewrite while B holds the file, every removal leaves
    no object and nothing under .geofs/tmp, and fsck is clean afterwards."""
    a, b = shared_sites(site_factory, shared_meta)
    v1, v2 = pattern(21, 2 * SHARD + 3), pattern(22, 3 * SHARD + 9)
    write_file(a.path("f"), v1)
    assert read_file(b.path("f")) == v1
    with open(b.path("f"), "rb") as held:
        write_file(a.path("f"), v2)
        assert read_file(b.path("f")) == v2
        assert held.read() == v2
    assert a.log().count("refuses O_TMPFILE") == 1, a.log()
    write_file(b.path("g"), v1)
    os.rename(a.path("g"), a.path("f"))                # rename over f
    assert read_file(b.path("f")) == v1
    os.makedirs(b.path("t", "d"))
    for i in range(4):
        write_file(b.path("t", "d", str(i)), pattern(30 + i, SHARD))
    shutil.rmtree(a.path("t"))
    os.unlink(b.path("f"))
    assert objects_drop_to_zero(a), a.object_counts()
    assert os.listdir(a.path()) == []
    assert [n for n in os.listdir(os.path.join(a.meta, ".geofs", "tmp"))] == []
    a.unmount()
    b.unmount()
    cp = a.geoctl("fsck", "-c", a.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_shared_fs_rename_flags_and_statfs(site_factory, shared_meta):
    """RENAME_NOREPLACE works (emulated where the filesystem refuses the
    flag), RENAME_EXCHANGE is done or refused with EINVAL and then changes
    nothing; statfs inode counts are finite and ordered."""
    a, b = shared_sites(site_factory, shared_meta)
    write_file(a.path("x"), b"X")
    write_file(a.path("y"), b"YY")
    assert _renameat2(a.path("x"), a.path("y"), 1) == errno.EEXIST
    assert read_file(b.path("x")) == b"X" and read_file(b.path("y")) == b"YY"
    assert _renameat2(a.path("x"), a.path("z"), 1) == 0
    assert not os.path.exists(b.path("x")) and read_file(b.path("z")) == b"X"
    assert os.stat(b.path("z")).st_nlink == 1
    rc = _renameat2(a.path("y"), a.path("z"), 2)
    assert rc in (0, errno.EINVAL)
    want = (b"X", b"YY") if rc == 0 else (b"YY", b"X")
    assert (read_file(b.path("y")), read_file(b.path("z"))) == want
    os.mkdir(a.path("d"))
    assert _renameat2(a.path("d"), a.path("e"), 1) in (0, errno.EINVAL)
    st = os.statvfs(a.mnt)
    assert 0 < st.f_files < 2 ** 63 and st.f_favail <= st.f_ffree <= st.f_files


def test_shared_fs_key_rotation_while_mounted(site_factory, shared_meta):
    """geoctl keys rotate while both mounts run: it locks each stub (open
    O_RDWR, as NFS wants for LOCK_EX) and rewraps every file."""
    a, b = shared_sites(site_factory, shared_meta)
    for i in range(3):
        write_file(a.path(f"k{i}"), pattern(40 + i, SHARD))
    cp = a.geoctl("keys", "rotate", "-c", a.config, "--domain", "JP:personal")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    for i in range(3):
        assert read_file(b.path(f"k{i}")) == pattern(40 + i, SHARD)
