"""Tag values are exact bytes (issue 16, item 7).

A category must be exactly a declared name, an origin exactly an assigned
upper-case ISO 3166-1 alpha-2 code: no trailing NUL or newline, no blanks,
no case folding, on files and directories, through raw setxattr and
through geoctl tag. Anything else is EINVAL and changes nothing.
"""

import os

import pytest

from harness import errno_of

CAT, ORIGIN = "user.geo.category", "user.geo.origin"

BAD_CATEGORIES = [b"medical\x00", b"medical ", b" medical", b"medical\n", b"Medical",
                  b"MEDICAL", b"med\x00ical", b"", b"\x00", b"medical\x00\x00"]
BAD_ORIGINS = [b"JP\x00", b"jp", b"Jp", b"JP ", b" JP", b"JP\n", b"JPN", b"J", b"", b"XX"]


@pytest.fixture
def entries(site):
    d = site.path("d")
    os.mkdir(d)
    f = os.path.join(d, "f")
    with open(f, "wb") as fh:
        fh.write(b"content")
    return site, {"file": f, "dir": d}


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_raw_setxattr_takes_exact_values_only(entries, kind):
    site, paths = entries
    p = paths[kind]
    before = (site.xattr(p, CAT), site.xattr(p, ORIGIN))
    for v in BAD_CATEGORIES:
        assert errno_of(os.setxattr, p, CAT, v) == "EINVAL", v
    for v in BAD_ORIGINS:
        assert errno_of(os.setxattr, p, ORIGIN, v) == "EINVAL", v
    assert (site.xattr(p, CAT), site.xattr(p, ORIGIN)) == before
    # the exact bytes are taken, and read back as exactly those bytes
    os.setxattr(p, CAT, b"medical")
    os.setxattr(p, ORIGIN, b"JP")
    assert os.getxattr(p, CAT) == b"medical"
    assert os.getxattr(p, ORIGIN) == b"JP"
    assert site.info(p)["category_src"] == "set"


def test_exact_values_in_audit_and_children(entries):
    site, paths = entries
    d = paths["dir"]
    assert errno_of(os.setxattr, d, CAT, b"medical\x00") == "EINVAL"
    os.setxattr(d, CAT, b"medical")
    child = os.path.join(d, "child")
    with open(child, "wb") as fh:
        fh.write(b"x")
    assert os.getxattr(child, CAT) == b"medical"
    with open(site.audit, "rb") as fh:
        audit = fh.read()
    assert b"medical\\u0000" not in audit and b"medical\\u0000" not in audit


def test_geoctl_tag_takes_exact_values_only(entries):
    site, paths = entries
    f = paths["file"]
    for args in (["-C", "medical "], ["-C", "Medical"], ["-o", "jp"], ["-o", "JP "]):
        cp = site.geoctl("tag", *args, f)
        assert cp.returncode == 2, (args, cp.stdout, cp.stderr)
        assert f in cp.stderr or "ISO 3166-1" in cp.stderr, cp.stderr
    assert site.xattr(f, CAT) == "personal"
    cp = site.geoctl("tag", "-C", "medical", "-o", "JP", f)
    assert cp.returncode == 0, cp.stderr
    assert site.xattr(f, CAT) == "medical"
