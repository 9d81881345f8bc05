"""The stricter-directory rule on every kind of move (issue 16, items 2, 3).

A file renamed into a stricter directory adopts its category and migrates;
the same must hold for both sides of renameat2(RENAME_EXCHANGE), or the
exchange is refused with EACCES. A directory may only move under a
directory whose tags allow everything its own allow: otherwise EXDEV, for
rename and exchange alike, so that mv(1) copies and the copies take the new
directory's tags. geoctl verify reports a directory looser than its parent.
"""

import ctypes
import errno
import json
import os

import pytest

from harness import NOBODY, pattern, run_as

CAT, ORIGIN = "user.geo.category", "user.geo.origin"
SHARD = 64 * 1024
RENAME_EXCHANGE = 2
AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_uint]


def exchange(a, b):
    """renameat2(a, b, RENAME_EXCHANGE): 'OK' or the errno name."""
    rc = _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return "OK" if rc == 0 else errno.errorcode[ctypes.get_errno()]


def rename(a, b):
    try:
        os.rename(a, b)
    except OSError as e:
        return errno.errorcode[e.errno]
    return "OK"


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
        os.fsync(f.fileno())


def tagged_dir(site, name, category, owner=None):
    d = site.path(name)
    os.mkdir(d)
    os.setxattr(d, CAT, category.encode())
    if owner is not None:
        os.chown(d, owner, owner)
    return d


@pytest.fixture
def kr_site(site_factory):
    """Public files land in KR (the heavy backend); medical stays in JP
    with two replicas. The root is public, so that a public directory
    below it is no finding of geoctl verify."""
    site = site_factory.mounted(backends={"tokyo-1": {"country": "JP"},
                                          "osaka-1": {"country": "JP"},
                                          "seoul-1": {"country": "KR", "weight": "1000"}})
    os.setxattr(site.mnt, CAT, b"public")
    return site


def in_kr(site, p):
    return any(x.startswith("KR/") for x in site.placement(p))


def assert_medical_in_jp(site, p):
    assert site.xattr(p, CAT) == "medical"
    place = site.placement(p)
    assert place and all(x.startswith("JP/") for x in place), place
    assert site.xattr(p, "user.geo.status") == "ok"
    assert int(site.info(p)["replicas"]) == 2


# ---- item 2: RENAME_EXCHANGE of files ------------------------------------------------------

@pytest.mark.parametrize("order", ["public-first", "medical-first"])
def test_exchange_public_file_with_medical_file_adopts_medical(kr_site, order):
    site = kr_site
    pub, med = tagged_dir(site, "pub", "public"), tagged_dir(site, "med", "medical")
    a, b = os.path.join(pub, "a"), os.path.join(med, "b")
    da, db = pattern(1, 3 * SHARD), pattern(2, 2 * SHARD)
    write_file(a, da)
    write_file(b, db)
    assert in_kr(site, a), "precondition: the public file has shards in KR"
    kr_before = site.object_counts()["seoul-1"]
    args = (a, b) if order == "public-first" else (b, a)
    assert exchange(*args) == "OK"
    # the public file's content now sits in the medical directory as medical,
    # its shards moved to JP; the medical file keeps its stricter tags
    assert_medical_in_jp(site, b)
    assert_medical_in_jp(site, a)
    assert site.object_counts()["seoul-1"] == kr_before - 3
    cp = site.geoctl("verify", site.mnt)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    site.remount()
    with open(b, "rb") as f:
        assert f.read() == da
    with open(a, "rb") as f:
        assert f.read() == db
    assert_medical_in_jp(site, b)


def test_exchange_refused_with_eacces_where_rule_cannot_apply(kr_site):
    """A public file of origin FR cannot become medical (medical stays in
    the origin, and no backend is in France): the exchange is refused and
    nothing changes."""
    site = kr_site
    pub, med = tagged_dir(site, "pub", "public"), tagged_dir(site, "med", "medical")
    a, b = os.path.join(pub, "a"), os.path.join(med, "b")
    write_file(a, pattern(3, SHARD))
    os.setxattr(a, ORIGIN, b"FR")          # root: admin may change the origin
    write_file(b, pattern(4, SHARD))
    for args in ((a, b), (b, a)):
        assert exchange(*args) == "EACCES"
        assert (site.xattr(a, CAT), site.xattr(a, ORIGIN)) == ("public", "FR")
        assert site.xattr(b, CAT) == "medical"
        with open(a, "rb") as f:
            assert f.read() == pattern(3, SHARD)


def test_exchange_within_one_directory_changes_no_tags(kr_site):
    site = kr_site
    pub = tagged_dir(site, "pub", "public")
    a, b = os.path.join(pub, "a"), os.path.join(pub, "b")
    write_file(a, b"A" * 100)
    write_file(b, b"B" * 100)
    os.setxattr(b, CAT, b"medical")
    assert exchange(a, b) == "OK"
    assert site.xattr(a, CAT) == "medical" and site.xattr(b, CAT) == "public"


# ---- items 2 and 3: directories --------------------------------------------------------------

@pytest.mark.parametrize("order", ["public-first", "medical-first"])
def test_exchange_of_directories_into_stricter_is_exdev(kr_site, order):
    site = kr_site
    pub, med = tagged_dir(site, "pub", "public"), tagged_dir(site, "med", "medical")
    d, e = os.path.join(pub, "d"), os.path.join(med, "e")
    os.mkdir(d)
    os.mkdir(e)
    write_file(os.path.join(d, "f"), pattern(5, SHARD))
    args = (d, e) if order == "public-first" else (e, d)
    assert exchange(*args) == "EXDEV"
    assert os.listdir(d) == ["f"] and os.listdir(e) == []
    assert site.xattr(d, CAT) == "public" and site.xattr(e, CAT) == "medical"
    # a directory exchanged with a file: the directory side decides
    g = os.path.join(med, "g")
    write_file(g, b"g")
    assert exchange(d, g) == "EXDEV"
    assert os.path.isdir(d) and os.path.isfile(g)


def test_exchange_of_directories_between_equal_or_looser_is_allowed(kr_site):
    site = kr_site
    med1, med2 = tagged_dir(site, "m1", "medical"), tagged_dir(site, "m2", "medical")
    pub = tagged_dir(site, "pub", "public")
    d, e = os.path.join(med1, "d"), os.path.join(med2, "e")
    os.mkdir(d)
    os.mkdir(e)
    assert exchange(d, e) == "OK"
    # a medical directory may go under a public one (it stays medical)
    os.mkdir(os.path.join(pub, "x"))
    assert rename(os.path.join(med1, "d"), os.path.join(pub, "e")) == "OK"
    assert site.xattr(os.path.join(pub, "e"), CAT) == "medical"


def test_directory_renamed_under_stricter_directory_is_exdev_and_mv_copies(kr_site):
    site = kr_site
    pub = tagged_dir(site, "pub", "public", owner=NOBODY)
    med = tagged_dir(site, "med", "medical", owner=NOBODY)
    tree = os.path.join(pub, "tree")
    data = {}
    run_as(["mkdir", "-p", os.path.join(tree, "sub")], check=True)
    for rel in ("x", "sub/y"):
        data[rel] = pattern(len(rel), 2 * SHARD)
        write_file(os.path.join(tree, rel), data[rel])
        os.chown(os.path.join(tree, rel), NOBODY, NOBODY)
    assert in_kr(site, os.path.join(tree, "x"))
    # rename(2) itself, also with an inherited (not set) category: EXDEV
    assert site.info(tree)["category_src"] == "inherited"
    assert rename(tree, os.path.join(med, "tree")) == "EXDEV"
    assert os.path.isdir(tree)
    # mv falls back to copy + delete; every copy is created as medical
    cp = run_as(["mv", tree, os.path.join(med, "tree")])
    assert cp.returncode == 0, cp.stderr
    assert not os.path.exists(tree)
    moved = os.path.join(med, "tree")
    assert site.xattr(moved, CAT) == "medical"
    assert site.xattr(os.path.join(moved, "sub"), CAT) == "medical"
    for rel, want in data.items():
        p = os.path.join(moved, rel)
        with open(p, "rb") as f:
            assert f.read() == want
        assert_medical_in_jp(site, p)
    assert site.object_counts()["seoul-1"] == 0
    cp = site.geoctl("verify", site.mnt)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_verify_reports_directory_looser_than_parent(kr_site):
    site = kr_site
    med = tagged_dir(site, "med", "medical")
    loose = os.path.join(med, "loose")
    os.mkdir(loose)
    os.setxattr(loose, CAT, b"public")      # root: the admin may loosen
    ok = os.path.join(med, "ok")
    os.mkdir(ok)
    cp = site.geoctl("verify", site.mnt)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("LOOSER")]
    assert len(lines) == 1, cp.stdout
    assert loose in lines[0] and "directory public/JP" in lines[0], lines[0]
    assert f"looser than {med}: medical/JP" in lines[0], lines[0]
    cp = site.geoctl("verify", "--json", site.mnt)
    assert cp.returncode == 1
    found = json.loads(cp.stdout)["findings"]
    assert len(found) == 1, found
    f = found[0]
    assert (f["kind"], f["type"], f["path"]) == ("looser", "dir", loose)
    assert (f["category"], f["origin"]) == ("public", "JP")
    assert (f["dir"]["path"], f["dir"]["category"], f["dir"]["origin"]) == (med, "medical", "JP")
    # tightened again: nothing to report
    os.setxattr(loose, CAT, b"medical")
    assert site.geoctl("verify", site.mnt).returncode == 0


def test_defaults_alone_impose_nothing_on_directories(site):
    """An untagged root only supplies [defaults] to untagged entries: a
    media directory below it is no finding, and moves between untagged
    directories are free."""
    media = site.path("media")
    os.mkdir(media)
    os.setxattr(media, CAT, b"media")
    write_file(os.path.join(media, "v"), pattern(6, SHARD))
    os.mkdir(site.path("archive"))
    assert rename(media, site.path("archive", "media")) == "OK"
    cp = site.geoctl("verify", site.mnt)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    # under a directory with tags set, the same directory is refused
    med = tagged_dir(site, "med", "medical")
    assert rename(site.path("archive", "media"), os.path.join(med, "media")) == "EXDEV"
    sub = os.path.join(med, "sub")
    os.mkdir(sub)                              # inherits medical from med
    assert rename(site.path("archive", "media"), os.path.join(sub, "media")) == "EXDEV"


def test_root_mv_that_copies_looser_tags_is_reported_by_verify(kr_site):
    """mv(1) as root copies the source's user.geo.* values onto the copies,
    which the daemon takes as an admin's explicit loosening: verify then
    names the directory looser than its parent."""
    site = kr_site
    pub, med = tagged_dir(site, "pub", "public"), tagged_dir(site, "med", "medical")
    tree = os.path.join(pub, "tree")
    os.mkdir(tree)
    write_file(os.path.join(tree, "x"), b"x" * 1000)
    assert rename(tree, os.path.join(med, "tree")) == "EXDEV"
    cp = run_as(["mv", tree, os.path.join(med, "tree")], uid=0, gid=0)
    assert cp.returncode == 0, cp.stderr
    moved = os.path.join(med, "tree")
    cp = site.geoctl("verify", "--json", site.mnt)
    found = json.loads(cp.stdout)["findings"]
    if site.xattr(moved, CAT) == "public":
        assert cp.returncode == 1
        assert [(f["type"], f["path"]) for f in found] == [("dir", moved)], found
    else:
        assert cp.returncode == 0, found


def test_hard_link_into_stricter_directory_adopts_its_category(kr_site):
    """link(2) is a move's sibling: a new name under a medical directory
    makes the (shared) tags medical, or is refused where that cannot be."""
    site = kr_site
    pub, med = tagged_dir(site, "pub", "public"), tagged_dir(site, "med", "medical")
    a = os.path.join(pub, "a")
    data = pattern(7, 3 * SHARD)
    write_file(a, data)
    assert in_kr(site, a)
    os.link(a, os.path.join(med, "a"))
    for p in (a, os.path.join(med, "a")):
        assert_medical_in_jp(site, p)
        with open(p, "rb") as f:
            assert f.read() == data
    fr = os.path.join(pub, "fr")
    write_file(fr, b"fr")
    os.setxattr(fr, ORIGIN, b"FR")
    try:
        os.link(fr, os.path.join(med, "fr"))
        got = "OK"
    except OSError as e:
        got = errno.errorcode[e.errno]
    assert got == "EACCES" and not os.path.exists(os.path.join(med, "fr"))
    assert site.xattr(fr, CAT) == "public"
