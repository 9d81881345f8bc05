"""Placement: no offshore bytes, replicas on distinct backends, authenticated
reads, replica failover, full backends."""

import errno
import os

import pytest

from harness import DEFAULT_CATEGORIES, HarnessError, errno_of, pattern, read_file, run, write_file

SHARD = 64 * 1024


def tagged_dir(site, name, category=None, origin=None):
    d = site.path(name)
    os.mkdir(d)
    if category:
        os.setxattr(d, "user.geo.category", category.encode())
    if origin:
        os.setxattr(d, "user.geo.origin", origin.encode())
    return d


# "anyone": stored only in the origin country, readable from any site, so that
# a refusal can only come from placement, not from access_from.
ANYONE = dict(DEFAULT_CATEGORIES, anyone={"store_in": "origin", "access_from": "*"})


@pytest.mark.parametrize("category", ["personal", "anyone"])
def test_offshore_create_refused(site_factory, category):
    """Data about people in France, and no backend in France."""
    site = site_factory.mounted(categories=ANYONE)
    d = tagged_dir(site, "fr", category=category, origin="FR")
    p = os.path.join(d, "dupont.txt")
    with pytest.raises(OSError) as e:
        with open(p, "wb") as f:
            f.write(b"Dupont Marie, +33 1 23 45 67 89")
    assert e.value.errno == errno.EACCES
    assert not os.path.exists(p)
    assert os.listdir(d) == []
    assert site.object_counts() == {"tokyo-1": 0, "osaka-1": 0, "seoul-1": 0}
    assert site.grep(b"Dupont") == []
    site.remount()
    assert os.listdir(d) == []
    assert sum(site.object_counts().values()) == 0


def test_offshore_retag_is_misplaced_and_cannot_migrate(site_factory):
    site = site_factory.mounted(categories=ANYONE)
    d = tagged_dir(site, "d", category="anyone")
    p = os.path.join(d, "f")
    data = pattern(1, 2 * SHARD)
    write_file(p, data)
    assert site.xattr(p, "user.geo.status") == "ok"
    os.setxattr(p, "user.geo.origin", b"FR")       # root is an admin
    assert site.xattr(p, "user.geo.status").startswith("misplaced")
    assert errno_of(os.setxattr, p, "user.geo.migrate", b"1") == "EACCES"
    before = site.object_counts()
    # a write needs a new shard where none may go: refused on the call
    fd = os.open(p, os.O_WRONLY)
    try:
        assert errno_of(os.pwrite, fd, b"more", 5 * SHARD) == "EACCES"
    finally:
        os.close(fd)
    assert site.object_counts() == before
    assert read_file(p) == data             # still readable where it is
    assert site.xattr(p, "user.geo.status").startswith("misplaced")


def test_medical_two_replicas_on_distinct_jp_backends(site):
    d = tagged_dir(site, "patients", category="medical")
    nshards = 0
    for i in range(6):
        size = (i + 1) * SHARD - 3
        write_file(os.path.join(d, f"p{i}"), pattern(i, size))
        nshards += -(-size // SHARD)
    for i in range(6):
        p = os.path.join(d, f"p{i}")
        assert site.placement(p) == ["JP/osaka-1", "JP/tokyo-1"]
        assert site.xattr(p, "user.geo.placement") == "JP/osaka-1,JP/tokyo-1"
        info = site.info(p)
        assert info["replicas"] == "2" and info["category"] == "medical"
        assert info["status"] == "ok"
    counts = site.object_counts()
    assert counts == {"tokyo-1": nshards, "osaka-1": nshards, "seoul-1": 0}


def test_media_may_be_stored_in_korea(site_factory):
    site = site_factory.mounted(
        backends={"seoul-1": {"country": "KR"}},
        categories={"media": {"store_in": "origin, KR", "access_from": "*", "compress": "off"},
                    "public": {"store_in": "*", "access_from": "*"}},
        defaults={"category": "media", "origin": "site"})
    data = pattern(3, 3 * SHARD)
    write_file(site.path("photo.jpg"), data)
    assert site.placement("photo.jpg") == ["KR/seoul-1"]
    assert site.object_counts() == {"seoul-1": 3}
    site.remount()
    assert read_file(site.path("photo.jpg")) == data


def test_media_placement_within_allowed(site):
    d = tagged_dir(site, "media", category="media")
    for i in range(5):
        write_file(os.path.join(d, f"v{i}"), pattern(i, 3 * SHARD))
        assert set(site.placement(os.path.join(d, f"v{i}"))) <= {
            "JP/tokyo-1", "JP/osaka-1", "KR/seoul-1"}


def _flip(path):
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x01]))


def _truncate(path):
    os.truncate(path, os.path.getsize(path) - 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "header"])
def test_tampered_object_gives_eio(site, damage):
    p = site.path("f")
    data = pattern(1, SHARD // 2)
    write_file(p, data)
    [obj] = site.objects()
    site.unmount()
    if damage == "flip":
        _flip(obj)
    elif damage == "truncate":
        _truncate(obj)
    else:
        with open(obj, "r+b") as f:
            f.seek(9)                      # inside the nonce
            b = f.read(1)
            f.seek(9)
            f.write(bytes([b[0] ^ 0x80]))
    site.mount()
    assert errno_of(read_file, p) == "EIO"
    assert os.stat(p).st_size == len(data)      # metadata still fine


def test_swapped_objects_give_eio(site):
    """The AAD binds each object to its file and index: swapping two
    well-formed objects must not return the other file's bytes."""
    write_file(site.path("a"), pattern(1, 1000))
    [oa] = site.objects()
    write_file(site.path("b"), pattern(2, 1000))
    [ob] = [o for o in site.objects() if o != oa]
    site.unmount()
    ta, tb = oa + ".tmp", ob
    os.rename(oa, ta)
    os.rename(ob, oa)
    os.rename(ta, tb)
    site.mount()
    assert errno_of(read_file, site.path("a")) == "EIO"
    assert errno_of(read_file, site.path("b")) == "EIO"


def test_tamper_only_fails_the_damaged_shard(site):
    p = site.path("f")
    data = pattern(1, 4 * SHARD)
    write_file(p, data)
    objs = site.objects()
    assert len(objs) == 4
    site.unmount()
    _flip(objs[0])
    site.mount()
    results = []
    fd = os.open(p, os.O_RDONLY)
    try:
        for i in range(4):
            try:
                got = os.pread(fd, SHARD, i * SHARD)
            except OSError as e:
                assert e.errno == errno.EIO
                results.append("EIO")
            else:
                assert got == data[i * SHARD:(i + 1) * SHARD], f"wrong bytes in shard {i}"
                results.append("ok")
    finally:
        os.close(fd)
    assert results.count("EIO") == 1, results


def test_deleted_replica_still_reads(site):
    d = tagged_dir(site, "patients", category="medical")
    p = os.path.join(d, "record")
    data = pattern(8, 5 * SHARD + 1)
    write_file(p, data)
    site.unmount()
    for obj in site.objects("tokyo-1"):
        os.unlink(obj)
    site.mount()
    assert read_file(p) == data
    site.unmount()
    for obj in site.objects("osaka-1"):
        os.unlink(obj)
    site.mount()
    assert errno_of(read_file, p) == "EIO"


def test_tampered_replica_falls_back_to_the_other(site):
    d = tagged_dir(site, "patients", category="medical")
    p = os.path.join(d, "record")
    data = pattern(9, 3 * SHARD)
    write_file(p, data)
    site.unmount()
    for obj in site.objects("osaka-1"):
        _flip(obj)
    site.mount()
    assert read_file(p) == data


def test_full_backends_give_enospc(site_factory):
    site = site_factory(backends={"tokyo-1": {"country": "JP"}, "seoul-1": {"country": "KR"}},
                        categories={k: v for k, v in DEFAULT_CATEGORIES.items() if k != "medical"})
    small = site.backend_dirs["tokyo-1"]
    run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small], check=True)
    try:
        site.mount()
        p = site.path("big")
        err = None
        try:
            with open(p, "wb") as f:
                for i in range(32):
                    f.write(pattern(i, SHARD))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            err = e.errno
        assert err == errno.ENOSPC
        assert site.object_counts()["seoul-1"] == 0       # never a fallback abroad
        site.unmount()
    finally:
        site.cleanup()
        run(["umount", "-l", small])


def test_unmarked_backends_refuse_early(site_factory):
    """The JP backend directories lack their marker (an unmounted share, say):
    geofs must not use them. Either it refuses to mount, naming them, or the
    application hears EACCES on open/write -- never a silent loss at close."""
    site = site_factory(mark=False)
    site.keys_init()                                   # marks every backend
    for b in ("tokyo-1", "osaka-1"):
        os.unlink(os.path.join(site.backend_dirs[b], "geofs-backend"))
    try:
        site.mount()
    except HarnessError:
        assert "tokyo-1" in site.log() and "osaka-1" in site.log(), site.log()
        return
    p = site.path("f")
    fd, err = None, None
    try:
        stage = "open"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        stage = "write"
        os.write(fd, b"must not vanish")
        stage = "fsync"
        os.fsync(fd)
        stage = "close"
        last, fd = fd, None
        os.close(last)
    except OSError as e:
        err = (stage, errno.errorcode.get(e.errno))
    finally:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    assert err is not None, "data accepted with no usable backend"
    assert err in (("open", "EACCES"), ("write", "EACCES")), f"refused as {err}"
    assert sum(site.object_counts().values()) == 0
