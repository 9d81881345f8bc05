"""Tags: inheritance, validation, tighten vs loosen, removal, hard links,
rename into a stricter directory, plain user xattrs."""

import grp
import os

import pytest

from harness import NOBODY, errno_of, pattern, try_as

CAT, ORIGIN = "user.geo.category", "user.geo.origin"
SHARD = 64 * 1024


def write_file(path, data=b"x"):
    with open(path, "wb") as f:
        f.write(data)


def tags(site, p):
    return site.xattr(p, CAT), site.xattr(p, ORIGIN)


def nobody_dir(site, name, category=None):
    d = site.path(name)
    os.mkdir(d)
    if category:
        os.setxattr(d, CAT, category.encode())
    os.chown(d, NOBODY, NOBODY)
    return d


def test_root_has_the_config_defaults(site):
    assert tags(site, site.mnt) == ("personal", "JP")
    write_file(site.path("f"))
    assert tags(site, "f") == ("personal", "JP")
    info = site.info("f")
    assert info["category_src"] == "inherited" and info["origin_src"] == "inherited"
    assert info["type"] == "file"
    assert info["store_in"] == "JP" and info["access_from"] == "JP"


def test_new_files_and_dirs_inherit(site):
    d = site.path("clinic")
    os.mkdir(d)
    os.setxattr(d, CAT, b"media")
    os.setxattr(d, ORIGIN, b"KR")
    os.makedirs(os.path.join(d, "sub", "deeper"))
    write_file(os.path.join(d, "f"))
    write_file(os.path.join(d, "sub", "deeper", "g"))
    for p in ("clinic/sub", "clinic/sub/deeper", "clinic/f", "clinic/sub/deeper/g"):
        assert tags(site, p) == ("media", "KR"), p
    # inherited at creation: retagging the parent later does not rewrite children
    os.setxattr(d, CAT, b"public")
    assert tags(site, "clinic/f") == ("media", "KR")
    site.remount()
    assert tags(site, "clinic/sub/deeper/g") == ("media", "KR")


def test_tags_listed(site):
    write_file(site.path("f"))
    names = os.listxattr(site.path("f"))
    assert CAT in names and ORIGIN in names
    assert not any(n.startswith("user.geofs.") for n in names)


@pytest.mark.parametrize("name,value", [
    (CAT, "nosuch"), (CAT, ""), (CAT, "Medical"),
    (ORIGIN, "XX"), (ORIGIN, "jp"), (ORIGIN, "JPN"), (ORIGIN, ""), (ORIGIN, "J"),
])
def test_bad_values_einval(site, name, value):
    write_file(site.path("f"))
    assert errno_of(os.setxattr, site.path("f"), name, value.encode()) == "EINVAL"
    assert errno_of(os.setxattr, site.mnt, name, value.encode()) == "EINVAL"
    assert tags(site, "f") == ("personal", "JP")


def test_owner_cannot_loosen(site):
    d = nobody_dir(site, "home")
    p = os.path.join(d, "f")
    assert try_as(f"open({p!r}, 'w').write('x')") == "OK"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'public')") == "EPERM"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'media')") == "EPERM"
    assert try_as(f"os.setxattr({d!r}, {CAT!r}, b'public')") == "EPERM"
    assert tags(site, p) == ("personal", "JP")
    assert tags(site, d) == ("personal", "JP")


def test_owner_can_tighten(site):
    d = nobody_dir(site, "pub", category="public")
    p = os.path.join(d, "f")
    assert try_as(f"open({p!r}, 'w').write('x')") == "OK"
    assert tags(site, p) == ("public", "JP")
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'personal')") == "OK"
    assert tags(site, p) == ("personal", "JP")
    # personal -> medical: equal sets count as tightening
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'medical')") == "OK"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'public')") == "EPERM"
    assert tags(site, p) == ("medical", "JP")
    assert try_as(f"os.setxattr({d!r}, {CAT!r}, b'personal')") == "OK"


def test_owner_cannot_change_origin(site):
    d = nobody_dir(site, "home")
    p = os.path.join(d, "f")
    assert try_as(f"open({p!r}, 'w').write('x')") == "OK"
    assert try_as(f"os.setxattr({p!r}, {ORIGIN!r}, b'KR')") == "EPERM"
    assert try_as(f"os.setxattr({d!r}, {ORIGIN!r}, b'US')") == "EPERM"
    assert tags(site, p) == ("personal", "JP")
    assert try_as(f"os.setxattr({p!r}, {ORIGIN!r}, b'JP')") == "OK"   # no change


def test_non_owner_cannot_tag(site):
    write_file(site.path("roots"))
    os.chmod(site.path("roots"), 0o644)
    p = site.path("roots")
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'medical')") in ("EACCES", "EPERM")
    assert tags(site, p) == ("personal", "JP")


def test_root_can_loosen_and_change_origin(site):
    write_file(site.path("f"))
    os.setxattr(site.path("f"), CAT, b"public")
    os.setxattr(site.path("f"), ORIGIN, b"KR")
    assert tags(site, "f") == ("public", "KR")
    info = site.info("f")
    assert info["category_src"] == "set" and info["origin_src"] == "set"


def test_admin_group_may_loosen(site_factory):
    g = grp.getgrnam("users")
    site = site_factory.mounted(defaults={"category": "personal", "origin": "site",
                                          "admin_group": "users"})
    d = nobody_dir(site, "home")
    p = os.path.join(d, "f")
    assert try_as(f"open({p!r}, 'w').write('x')") == "OK"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'public')") == "EPERM"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'public')", groups=[g.gr_gid]) == "OK"
    assert try_as(f"os.setxattr({p!r}, {ORIGIN!r}, b'KR')", groups=[g.gr_gid]) == "OK"
    assert tags(site, p) == ("public", "KR")


def test_remove_resets_to_parent(site):
    d = site.path("clinic")
    os.mkdir(d)
    os.setxattr(d, CAT, b"medical")
    p = os.path.join(d, "f")
    write_file(p)
    os.setxattr(p, CAT, b"public")
    os.setxattr(p, ORIGIN, b"KR")
    assert site.info(p)["category_src"] == "set"
    os.removexattr(p, ORIGIN)
    os.removexattr(p, CAT)
    assert tags(site, p) == ("medical", "JP")
    info = site.info(p)
    assert info["category_src"] == "inherited" and info["origin_src"] == "inherited"
    site.remount()
    assert tags(site, p) == ("medical", "JP")


def test_remove_follows_the_loosening_rule(site):
    d = nobody_dir(site, "pub", category="public")
    p = os.path.join(d, "f")
    assert try_as(f"open({p!r}, 'w').write('x')") == "OK"
    assert try_as(f"os.setxattr({p!r}, {CAT!r}, b'personal')") == "OK"
    # back to the directory's public would loosen: the owner may not
    assert try_as(f"os.removexattr({p!r}, {CAT!r})") == "EPERM"
    assert tags(site, p) == ("personal", "JP")


def test_hard_links_share_tags(site):
    write_file(site.path("a"))
    os.mkdir(site.path("d"))
    os.link(site.path("a"), site.path("d", "b"))
    os.setxattr(site.path("d", "b"), CAT, b"medical")
    assert tags(site, "a") == ("medical", "JP")
    os.setxattr(site.path("a"), "user.note", b"hello")
    assert site.xattr("d/b", "user.note") == "hello"
    site.remount()
    assert tags(site, "d/b") == ("medical", "JP")


def test_plain_user_xattrs(site):
    p = site.path("f")
    write_file(p)
    os.setxattr(p, "user.comment", b"any \0 bytes \xff")
    assert os.getxattr(p, "user.comment") == b"any \0 bytes \xff"
    assert "user.comment" in os.listxattr(p)
    os.removexattr(p, "user.comment")
    assert "user.comment" not in os.listxattr(p)
    assert errno_of(os.getxattr, p, "user.comment") == "ENODATA"
    with pytest.raises(OSError):
        os.setxattr(p, "user.geofs.manifest", b"x")


@pytest.mark.parametrize("name", ["user.geo.placement", "user.geo.status", "user.geo.info"])
def test_read_only_xattrs(site, name):
    p = site.path("f")
    write_file(p)
    before = site.xattr(p, name)
    with pytest.raises(OSError):
        os.setxattr(p, name, b"KR/seoul-1")
    assert site.xattr(p, name) == before


def test_status_and_placement_of_a_new_file(site):
    p = site.path("f")
    write_file(p, pattern(1, 3 * SHARD))
    assert site.xattr(p, "user.geo.status") == "ok"
    pl = site.placement(p)
    assert pl and set(pl) <= {"JP/tokyo-1", "JP/osaka-1"}
    assert pl == sorted(set(pl))
    info = site.info(p)
    assert info["size"] == str(3 * SHARD) and info["shards"] == "3"
    assert list(info)[-1] == "status"


def test_rename_into_stricter_directory(site_factory):
    site = site_factory.mounted(backends={"tokyo-1": {"country": "JP"},
                                          "osaka-1": {"country": "JP"},
                                          "seoul-1": {"country": "KR", "weight": "1000"}})
    pub = site.path("pub")
    os.mkdir(pub)
    os.setxattr(pub, CAT, b"public")
    med = site.path("med")
    os.mkdir(med)
    os.setxattr(med, CAT, b"medical")
    data = {}
    for i in range(8):
        data[i] = pattern(i, 3 * SHARD)
        write_file(os.path.join(pub, f"f{i}"), data[i])
    assert site.object_counts()["seoul-1"] > 0, "precondition: some shards in KR"
    for i in range(8):
        os.rename(os.path.join(pub, f"f{i}"), os.path.join(med, f"f{i}"))
        p = os.path.join(med, f"f{i}")
        assert site.xattr(p, CAT) == "medical"
        assert all(x.startswith("JP/") for x in site.placement(p)), site.placement(p)
    assert site.object_counts()["seoul-1"] == 0
    site.remount()
    for i in range(8):
        with open(os.path.join(med, f"f{i}"), "rb") as f:
            assert f.read() == data[i]
