"""Hostile input through the mount and around it: huge and malformed
extended attributes, names with every byte POSIX allows, very deep trees,
symlinks planted in the meta root and in backends, a keyring others may
read, and key material in the daemon's memory.

Where geofs should behave like the filesystem under its meta root, the same
call made on a native directory of that filesystem is the reference (errno
and result compared); where geofs must differ (user.geo.*, its reserved
user.geofs.* bookkeeping), the test says so. Every test ends with the daemon
alive and, at unmount, a clean exit with no sanitizer report (harness).
"""

import ctypes
import ctypes.util
import errno
import hashlib
import hmac
import json
import os
import re
import struct
import time

import pytest

from harness import FILE_MANIFEST_SHARDS, errno_of, manifest_bytes, pattern, read_file, write_file

SHARD = 64 * 1024
XATTR_CREATE, XATTR_REPLACE = 1, 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def getxattr_sized(path, name, size):
    """getxattr(2) with an exact buffer size: (length, bytes) or errno name."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _libc.getxattr(os.fsencode(path), name.encode(), buf if size else None,
                       ctypes.c_size_t(size))
    if n < 0:
        return errno.errorcode[ctypes.get_errno()]
    return n, buf.raw[:n] if size else b""


def alive(site):
    assert site.proc is not None and site.proc.poll() is None, f"geofs died:\n{site.log()}"


# ---- extended attributes -------------------------------------------------------

BAD_CATEGORIES = [b"", b"\0", b"medical\0x", b"medical\n", b" medical", b"MEDICAL",
                  b"\xff\xfe", b"../medical", b"x" * 63, b"x" * 64, b"x" * 4096,
                  b"m" * 65536]
BAD_ORIGINS = [b"", b"jp", b"JPN", b"J", b"XX", b"\0\0", b"J\0", b"\xc3\x89S",
               b"J" * 65536]


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_geo_tags_refuse_malformed_and_huge_values(site, kind):
    p = site.path("t")
    if kind == "file":
        write_file(p, b"data")
    else:
        os.mkdir(p)
    for v in BAD_CATEGORIES:
        assert errno_of(os.setxattr, p, "user.geo.category", v) == "EINVAL", v[:20]
    for v in BAD_ORIGINS:
        assert errno_of(os.setxattr, p, "user.geo.origin", v) == "EINVAL", v[:20]
    # past XATTR_SIZE_MAX the kernel refuses before geofs sees it
    assert errno_of(os.setxattr, p, "user.geo.category", b"m" * 65537) == "E2BIG"
    # values are exact bytes: not even one trailing NUL is taken
    assert errno_of(os.setxattr, p, "user.geo.category", b"medical\0") == "EINVAL"
    os.setxattr(p, "user.geo.category", b"medical")
    assert site.xattr(p, "user.geo.category") == "medical"
    assert site.xattr(p, "user.geo.origin") == "JP"
    for name in ("user.geo.placement", "user.geo.status", "user.geo.info"):
        assert errno_of(os.setxattr, p, name, b"x" * 65536) == "EPERM"
    assert errno_of(os.setxattr, p, "user.geo.nonsense", b"x") == "EPERM"
    if kind == "file":
        assert read_file(p) == b"data"
    alive(site)


def test_geo_migrate_takes_any_value_and_reads_are_sized(site):
    p = site.path("f")
    write_file(p, pattern(1, 3 * SHARD))
    os.setxattr(p, "user.geo.migrate", bytes(range(256)) * 256)     # 64 KiB, any value
    assert site.xattr(p, "user.geo.status") == "ok"
    info = os.getxattr(p, "user.geo.info")
    # a buffer one byte short is ERANGE, size 0 asks for the length
    assert getxattr_sized(p, "user.geo.info", 0) == (len(info), b"")
    assert getxattr_sized(p, "user.geo.info", len(info) - 1) == "ERANGE"
    assert getxattr_sized(p, "user.geo.info", len(info)) == (len(info), info)
    assert getxattr_sized(p, "user.geo.category", 1) == "ERANGE"
    assert read_file(p) == pattern(1, 3 * SHARD)


def _user_xattr_script(p):
    """The same sequence of plain user.* calls; returns what each did."""
    out = []

    def do(fn, *a):
        try:
            r = fn(*a)
        except OSError as e:
            out.append(errno.errorcode[e.errno])
            return
        out.append("OK" if r is None else r)

    big = bytes(range(256)) * 256                     # 65536: XATTR_SIZE_MAX
    do(os.setxattr, p, "user.big", big)
    do(os.getxattr, p, "user.big")
    do(os.setxattr, p, "user.toobig", big + b"x")
    do(os.setxattr, p, "user.bin", bytes(range(256)))
    do(os.getxattr, p, "user.bin")
    do(os.setxattr, p, "user.empty", b"")
    do(os.getxattr, p, "user.empty")
    do(os.setxattr, p, "user." + "n" * 250, b"v")    # a 255-byte name
    do(os.setxattr, p, "user." + "n" * 251, b"v")    # 256: too long
    do(os.setxattr, p, "user.", b"v")
    do(os.setxattr, p, "user.bin", b"again", XATTR_CREATE)
    do(os.setxattr, p, "user.none", b"v", XATTR_REPLACE)
    do(os.setxattr, p, "user.bin", b"replaced", XATTR_REPLACE)
    do(os.getxattr, p, "user.bin")
    do(os.removexattr, p, "user.none")
    do(os.getxattr, p, "user.none")
    do(getxattr_sized, p, "user.bin", 3)
    for i in range(64):                               # until the fs says no
        do(os.setxattr, p, f"user.many{i}", bytes([i]) * 1024)
    do(lambda: sorted(n for n in os.listxattr(p)
                      if not n.startswith(("user.geo.", "user.geofs."))))
    do(os.removexattr, p, "user.big")
    do(os.getxattr, p, "user.big")
    return out


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_plain_user_xattrs_behave_like_the_meta_fs(site, kind):
    """Plain user.* attributes live on the entry in the meta root: sizes,
    limits, flags and errors are the meta filesystem's own."""
    native_dir = os.path.join(site.meta, "native")       # same filesystem
    os.mkdir(native_dir)
    p, q = site.path("x"), os.path.join(native_dir, "x")
    if kind == "file":
        write_file(p, b"1")
        write_file(q, b"1")
    else:
        os.mkdir(p)
        os.mkdir(q)
    # the same bookkeeping attributes as the stub, so both have the same room
    stub = os.path.join(site.meta, "x")
    for n in os.listxattr(stub):
        os.setxattr(q, n, os.getxattr(stub, n))
    assert _user_xattr_script(p) == _user_xattr_script(q)
    # geofs's own bookkeeping is not reachable through the mount
    assert errno_of(os.setxattr, p, "user.geofs.id", b"0" * 32) == "EPERM"
    assert errno_of(os.getxattr, p, "user.geofs.id") == "ENODATA"
    assert not any(n.startswith("user.geofs.") for n in os.listxattr(p))
    alive(site)


# ---- names -------------------------------------------------------------------

def _names():
    allowed = [b for b in range(1, 256) if b != 0x2F]
    names = [bytes([b]) for b in allowed if b != 0x2E]         # "." is not a name
    names += [b"n.x", b".n"]
    names += [bytes(allowed),                                   # 254 bytes, all of them
              b"\xff" * 255, b".." + b"\n" * 10, b"\\u00e9\"}\n{", b"-rf", b"\t\r", b"\xc3\xa9"]
    return sorted(set(names))


def test_every_byte_value_in_names(site):
    """Every byte 1..255 except '/' in a name: create, list, stat, rename,
    read back and unlink exactly as on the meta filesystem, and the audit
    log records the exact bytes."""
    mnt_dir = os.fsencode(site.path("names"))
    native = os.fsencode(os.path.join(site.meta, "native-names"))
    os.mkdir(mnt_dir)
    os.mkdir(native)
    names = _names()
    for n in names:
        write_file(os.path.join(mnt_dir, n), n)
        write_file(os.path.join(native, n), n)
    assert sorted(os.listdir(mnt_dir)) == sorted(os.listdir(native)) == sorted(names)
    too_long = b"\xff" * 256
    assert errno_of(write_file, os.path.join(mnt_dir, too_long), b"") == \
        errno_of(write_file, os.path.join(native, too_long), b"") == "ENAMETOOLONG"
    for n in names:
        p = os.path.join(mnt_dir, n)
        assert os.stat(p).st_size == len(n)
        tmp = os.path.join(mnt_dir, b"renamed")
        os.rename(p, tmp)
        assert read_file(tmp) == n
        os.rename(tmp, p)
    site.remount()
    assert sorted(os.listdir(mnt_dir)) == sorted(names)
    for n in names:
        assert read_file(os.path.join(mnt_dir, n)) == n
    # the audit log holds each name's exact bytes
    created = _audit_paths(site, "create")
    for n in names:
        assert b"/names/" + n in created, n
    for n in names:
        os.unlink(os.path.join(mnt_dir, n))
    assert os.listdir(mnt_dir) == []
    alive(site)


def _audit_records(site):
    """Every record of the audit log, parsed by Python's own json module."""
    with open(site.audit, "rb") as f:
        return [json.loads(line) for line in f]


def _audit_paths(site, op):
    """Paths (bytes) of the audit records of op. audit.h: a byte that is not
    part of valid UTF-8 is written as \\udcXX, valid UTF-8 as is, so
    os.fsencode() of the decoded string gives the exact bytes."""
    return {os.fsencode(r["path"]) for r in _audit_records(site)
            if r["op"] == op and r["path"]}


def test_audit_tells_byte_ff_from_u00ff(site):
    """Issue 16 item 5: the names b"\\xff-a" and "\u00ff-a" (UTF-8 c3 bf)
    give different audit records, each of which os.fsencode() turns back
    into the exact bytes; `geoctl audit show --path` tells them apart and
    `geoctl audit verify` accepts the chain."""
    d = os.fsencode(site.path("leak"))
    os.mkdir(d)
    raw, utf = b"\xff-a", "\u00ff-a".encode()
    odd = [b"\xed\xa0\x80", b"\xc0\xaf", b"\x80x", b"a\\udcff"]
    for n in [raw, utf] + odd:
        write_file(os.path.join(d, n), n)
    site.unmount()                       # flushes the audit log

    recs = [r for r in _audit_records(site) if r["op"] == "create"]
    lines = {os.fsencode(r["path"]): r for r in recs}
    for n in [raw, utf] + odd:
        assert b"/leak/" + n in lines, n
    a, b = lines[b"/leak/" + raw], lines[b"/leak/" + utf]
    assert a["path"] != b["path"]
    assert a["path"] == "/leak/\udcff-a" and b["path"] == "/leak/\u00ff-a"
    with open(site.audit, "rb") as f:
        text = f.read()
    assert b'"path":"/leak/\\udcff-a"' in text
    assert b'"path":"/leak/\xc3\xbf-a"' in text
    assert b"\\u00ff" not in text and b"\\u00ed" not in text

    r = site.geoctl("audit", "verify", "-c", site.config)
    assert r.returncode == 0, r.stdout + r.stderr
    for name, other in ((raw, utf), (utf, raw)):
        r = site.geoctl("audit", "show", "-c", site.config, "--op", "create",
                        "--path", b"/leak/" + name, "--json")
        assert r.returncode == 0, r.stderr
        shown = [os.fsencode(json.loads(line)["path"]) for line in r.stdout.splitlines()]
        assert shown == [b"/leak/" + name], shown


# ---- deep trees ----------------------------------------------------------------

DEPTH = 200
LEVEL = "d" * 49           # 200 levels x 50 bytes: paths of ~10 KB, > PATH_MAX


def test_deep_tree(site):
    """A 200-level tree whose paths are far longer than PATH_MAX (walked with
    directory fds, as applications must): directories, a tagged level whose
    tag the deepest file inherits, content that survives a remount, and
    removal all the way up."""
    fds = [os.open(site.mnt, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for i in range(DEPTH):
            os.mkdir(LEVEL, dir_fd=fds[-1])
            fds.append(os.open(LEVEL, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
            if i == DEPTH // 2:
                os.setxattr(fds[-1], "user.geo.category", b"medical")
        data = pattern(5, 2 * SHARD + 3)
        fd = os.open("leaf", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fds[-1])
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fd = os.open("leaf", os.O_RDONLY, dir_fd=fds[-1])
        try:
            assert os.read(fd, 3 * SHARD) == data
            assert os.getxattr(fd, "user.geo.category") == b"medical"
            assert os.getxattr(fd, "user.geo.placement") == b"JP/osaka-1,JP/tokyo-1"
        finally:
            os.close(fd)
        os.rename("leaf", "leaf2", src_dir_fd=fds[-1], dst_dir_fd=fds[-2])
    finally:
        for fd in fds:
            os.close(fd)
    alive(site)
    site.remount()
    fds = [os.open(site.mnt, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for _ in range(DEPTH - 1):
            fds.append(os.open(LEVEL, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        fd = os.open("leaf2", os.O_RDONLY, dir_fd=fds[-1])
        try:
            assert os.read(fd, 3 * SHARD) == data
        finally:
            os.close(fd)
        os.unlink("leaf2", dir_fd=fds[-1])
        os.rmdir(LEVEL, dir_fd=fds[-1])
        for i in range(len(fds) - 1, 0, -1):
            os.close(fds.pop())
            os.rmdir(LEVEL, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)
    assert os.listdir(site.mnt) == []
    assert sum(site.object_counts().values()) == 0


def test_long_path_takes_its_own_directory_tags(site_factory):
    """A file created in a medical (JP only) directory whose path is longer
    than 4 KiB takes that directory's tags, not those of a sibling whose
    name is a prefix of it (what a path cut at 4095 bytes would name):
    the data stays in Japan."""
    site = site_factory.mounted(categories={
        "personal": {"store_in": "origin", "access_from": "origin"},
        "medical": {"store_in": "origin", "access_from": "origin", "replicas": "2"},
        "korea": {"store_in": "KR", "access_from": "*"}})
    fds = [os.open(site.mnt, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for _ in range(40):                            # 40 x 100 bytes
            os.mkdir("d" * 99, dir_fd=fds[-1])
            fds.append(os.open("d" * 99, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        os.mkdir("m" * 94, dir_fd=fds[-1])             # ends exactly at byte 4095
        fd = os.open("m" * 94, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1])
        os.setxattr(fd, "user.geo.category", b"korea")
        os.close(fd)
        os.mkdir("m" * 200, dir_fd=fds[-1])
        fds.append(os.open("m" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        os.setxattr(fds[-1], "user.geo.category", b"medical")
        fd = os.open("scan.dcm", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fds[-1])
        try:
            os.write(fd, pattern(1, 2 * SHARD))
            os.fsync(fd)
            assert os.getxattr(fd, "user.geo.category") == b"medical"
            assert os.getxattr(fd, "user.geo.placement") == b"JP/osaka-1,JP/tokyo-1"
        finally:
            os.close(fd)
        os.mkdir("sub", dir_fd=fds[-1])
        fd = os.open("sub", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1])
        try:
            assert os.getxattr(fd, "user.geo.category") == b"medical"
        finally:
            os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)
    assert site.object_counts()["seoul-1"] == 0


# ---- symlinks planted in the meta root and the backends -------------------------

def _snapshot(top):
    """Everything observable about a directory tree (names, types, modes,
    owners, times, content, xattrs) to prove nothing changed."""
    out = {}
    for dp, dn, fn in os.walk(top):
        for n in [""] + dn + fn:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                      st.st_ctime_ns, sorted(os.listxattr(p, follow_symlinks=False)),
                      read_file(p) if os.path.isfile(p) and not os.path.islink(p) else None)
    return out


def _outside(site_factory, name):
    d = os.path.join(site_factory.top, name)
    os.mkdir(d, 0o700)
    write_file(os.path.join(d, "secret"), b"not geofs data")
    os.setxattr(os.path.join(d, "secret"), "user.mark", b"1")
    return d


SWAP_OPS = {
    # each returns something other than an errno name only on success
    "chmod": lambda dfd, pfd: os.chmod(f"/proc/self/fd/{pfd}", 0o777),
    "chown": lambda dfd, pfd: os.chown(f"/proc/self/fd/{pfd}", 65534, 65534),
    "utime": lambda dfd, pfd: os.utime(f"/proc/self/fd/{pfd}", (1, 1)),
    "truncate": lambda dfd, pfd: os.truncate(f"/proc/self/fd/{pfd}/secret", 0),
    "create": lambda dfd, pfd: os.close(os.open("new", os.O_CREAT | os.O_WRONLY, 0o644,
                                                 dir_fd=dfd)),
    "mkdir": lambda dfd, pfd: os.mkdir("nd", dir_fd=dfd),
    "stat": lambda dfd, pfd: os.stat("secret", dir_fd=dfd),
    "read": lambda dfd, pfd: os.close(os.open("secret", os.O_RDONLY, dir_fd=dfd)),
    "unlink": lambda dfd, pfd: os.unlink("secret", dir_fd=dfd),
    "rename": lambda dfd, pfd: os.rename("secret", "moved", src_dir_fd=dfd, dst_dir_fd=dfd),
    "link": lambda dfd, pfd: os.link("secret", "hard", src_dir_fd=dfd, dst_dir_fd=dfd),
    "symlink": lambda dfd, pfd: os.symlink("/etc/passwd", "sl", dir_fd=dfd),
    "listdir": lambda dfd, pfd: os.listdir(dfd),
    "getxattr": lambda dfd, pfd: os.getxattr(f"/proc/self/fd/{pfd}", "user.mark"),
    "setxattr": lambda dfd, pfd: os.setxattr(f"/proc/self/fd/{pfd}", "user.x", b"1"),
    "settag": lambda dfd, pfd: os.setxattr(f"/proc/self/fd/{pfd}", "user.geo.category",
                                            b"medical"),
}


def test_meta_dir_swapped_for_symlink_outside(site_factory):
    """A directory of the namespace is replaced, in the meta root, by a
    symlink to a directory outside it while the mount still holds the
    directory (open fds). No operation through the stale directory may read,
    create, change or remove anything outside: they fail."""
    site = site_factory.mounted()
    out = _outside(site_factory, "outside")
    before = _snapshot(out)
    for i, (name, op) in enumerate(SWAP_OPS.items()):
        d = f"d{i}"
        os.mkdir(site.path(d))
        write_file(site.path(d, "inner"), b"geofs data")
        dfd = os.open(site.path(d), os.O_RDONLY | os.O_DIRECTORY)
        pfd = os.open(site.path(d), os.O_PATH | os.O_DIRECTORY)
        try:
            os.rename(os.path.join(site.meta, d), os.path.join(site.meta, d + ".real"))
            os.symlink(out, os.path.join(site.meta, d))
            try:
                got = op(dfd, pfd)
            except OSError as e:
                got = errno.errorcode[e.errno]
        finally:
            os.close(dfd)
            os.close(pfd)
        if name == "listdir" and isinstance(got, list):
            # an open directory handle still reads the directory it opened
            assert "secret" not in got, "listing shows the outside directory"
        else:
            assert isinstance(got, str) and got != "OK", f"{name} through a swapped " \
                f"directory succeeded: {got!r}"
        assert _snapshot(out) == before, f"{name} changed something outside the meta root"
        alive(site)
    # the namespace itself is still sound
    write_file(site.path("after"), b"fine")
    assert read_file(site.path("after")) == b"fine"


def _plant_fanout(top, out):
    """Every two-hex fan-out directory under top becomes a symlink to out."""
    for i in range(256):
        p = os.path.join(top, "%02x" % i)
        if os.path.isdir(p) and not os.path.islink(p):
            os.rename(p, p + ".real")
        os.symlink(out, p)


@pytest.mark.parametrize("where", ["manifests", "objects"])
def test_symlinks_in_fanout_dirs(site_factory, where):
    """Every fan-out directory of .geofs/manifests/ (or of every backend's
    objects/) is a symlink to a directory outside: a new file cannot be
    stored (a clear error), and no manifest or object lands outside."""
    site = site_factory.mounted()
    out = _outside(site_factory, "out-" + where)
    before = _snapshot(out)
    if where == "manifests":
        _plant_fanout(os.path.join(site.meta, ".geofs", "manifests"), out)
    else:
        for d in site.backend_dirs.values():
            _plant_fanout(os.path.join(d, "objects"), out)
    # big enough to need a manifest file (a small one's is on its stub)
    data = pattern(1, FILE_MANIFEST_SHARDS * SHARD)
    assert errno_of(write_file, site.path("f"), data) != "OK"
    assert _snapshot(out) == before, f"something was written outside through {where}/"
    alive(site)


def test_symlinked_object_dir_is_not_read(site_factory):
    """objects/ab of a stored shard is redirected to a directory outside
    holding a copy of the object: geofs does not follow it (EIO), even
    though the bytes there would authenticate."""
    site = site_factory.mounted(backends={"tokyo-1": {"country": "JP"}},
                                categories={"personal": {"store_in": "origin",
                                                         "access_from": "origin"}})
    data = pattern(2, SHARD)
    write_file(site.path("f"), data)
    [obj] = site.objects()
    site.unmount()
    out = os.path.join(site_factory.top, "elsewhere")
    rel = os.path.relpath(obj, os.path.join(site.backend_dirs["tokyo-1"], "objects"))
    ab, name = rel.split("/")
    os.makedirs(out)
    os.rename(obj, os.path.join(out, name))                # the only copy is outside
    top = os.path.join(site.backend_dirs["tokyo-1"], "objects", ab)
    os.rename(top, top + ".real")
    os.symlink(out, top)
    site.mount()
    assert errno_of(read_file, site.path("f")) == "EIO"
    assert site.xattr("f", "user.geo.status").startswith("misplaced")


def test_backend_tmp_symlink_outside(site_factory):
    """The only JP backend's tmp/ is replaced by a symlink: objects are
    written in place under objects/, never staged in tmp/, so personal data
    is stored in Japan and nothing (even for a moment: the outside
    directory's times would change) lands outside; public data too."""
    site = site_factory.mounted(
        backends={"tokyo-1": {"country": "JP"}, "seoul-1": {"country": "KR"}},
        categories={"personal": {"store_in": "origin", "access_from": "origin"},
                    "public": {"store_in": "*", "access_from": "*"}})
    out = _outside(site_factory, "out-tmp")
    before = _snapshot(out)
    tmp = os.path.join(site.backend_dirs["tokyo-1"], "tmp")
    os.rename(tmp, tmp + ".real")
    os.symlink(out, tmp)
    personal = pattern(3, 2 * SHARD)
    write_file(site.path("f"), personal)
    assert site.placement("f") == ["JP/tokyo-1"]
    assert read_file(site.path("f")) == personal
    os.mkdir(site.path("pub"))
    os.setxattr(site.path("pub"), "user.geo.category", b"public")
    data = pattern(4, 2 * SHARD)
    write_file(site.path("pub", "g"), data)
    assert set(site.placement("pub/g")) <= {"JP/tokyo-1", "KR/seoul-1"}
    assert read_file(site.path("pub", "g")) == data
    assert _snapshot(out) == before
    alive(site)


@pytest.mark.parametrize("which", [".geofs", ".geofs/manifests", ".geofs/tmp"])
def test_meta_internals_symlinked_refuse_mount(site_factory, which):
    """geofs's own directories in the meta root replaced by symlinks: the
    mount is refused with a message naming the meta root."""
    site = site_factory.mounted()
    site.unmount()
    out = _outside(site_factory, "out-meta")
    p = os.path.join(site.meta, which)
    os.rename(p, p + ".real")
    os.symlink(out, p)
    before = _snapshot(out)
    rc, output = site.try_mount()
    assert rc != 0
    assert site.meta in output, output
    assert _snapshot(out) == before


# ---- the keyring ---------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o660, 0o644, 0o601, 0o610])
def test_keyring_others_may_access_refuses_mount(site_factory, mode):
    site = site_factory()
    site.keys_init()
    assert os.stat(site.keyring).st_mode & 0o777 == 0o600
    os.chmod(site.keyring, mode)
    rc, output = site.try_mount()
    assert rc != 0
    assert site.keyring in output and "chmod 600" in output, output
    assert not site.is_mounted()
    os.chmod(site.keyring, 0o600)
    site.mount()


# ---- key material in the daemon's memory ---------------------------------------

def _hkdf(ikm, salt, info, n=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def _domain_key(master, domain, version=1):
    """HKDF-SHA256 as keys.h documents it."""
    return _hkdf(master, b"geofs-keyring-v1", f"geofs domain {domain} v{version}".encode())


def _mappings(pid):
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = {"start": int(m[1], 16), "end": int(m[2], 16), "perms": m[3],
                       "name": m[4], "flags": [], "rss": 0}
                maps.append(cur)
            elif line.startswith("Rss:"):
                cur["rss"] = int(line.split()[1])
            elif line.startswith("VmFlags:"):
                cur["flags"] = line.split(":", 1)[1].split()
    return maps


def _find_in_memory(pid, needles):
    """{label: [(address, dumped?)]} for every copy of each needle in the
    process's resident readable memory, thread stacks included. A mapping
    flagged 'dd' (VmFlags) is left out of core dumps."""
    hits = {k: [] for k in needles}
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for m in _mappings(pid):
            size = m["end"] - m["start"]
            if "r" not in m["perms"] or not m["rss"] or size > 4 << 30 \
                    or m["name"] in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            try:
                mem.seek(m["start"])
                data = mem.read(size)
            except OSError:
                continue
            for k, nd in needles.items():
                i = data.find(nd)
                while i >= 0:
                    hits[k].append((m["start"] + i, "dd" not in m["flags"]))
                    i = data.find(nd, i + 1)
    return hits


def _master(site):
    with open(site.keyring) as f:
        return bytes.fromhex(re.search(r"^master ([0-9a-f]{64})$", f.read(), re.M)[1])


def _file_key(site, relpath, master):
    """Unwraps a file's data key from its manifest (keys.h, manifest.c)."""
    aesgcm = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead").AESGCM
    fid = os.getxattr(os.path.join(site.meta, relpath), "user.geofs.id").decode()
    buf = manifest_bytes(site, relpath)
    clen = buf[45]
    p = 46 + clen
    cat, origin = buf[46:p].decode(), buf[p:p + 2].decode()
    (kv,) = struct.unpack_from("<I", buf, p + 2)
    wrapped = buf[p + 6:p + 66]
    domain = f"{origin}:{cat}"
    aad = b"geofs-wrap-v1" + bytes.fromhex(fid) + domain.encode() + b"\0" + struct.pack("<I", kv)
    return aesgcm(_domain_key(master, domain, kv)).decrypt(wrapped[:12], wrapped[12:], aad)


def _use_several_domains(site):
    os.mkdir(site.path("m"))
    os.setxattr(site.path("m"), "user.geo.category", b"medical")
    for rel, seed in (("a", 1), ("m/b", 2)):
        write_file(site.path(rel), pattern(seed, 2 * SHARD))
        assert read_file(site.path(rel)) == pattern(seed, 2 * SHARD)


def test_keyring_secrets_stay_out_of_core_dumps(site):
    """The master secret sits only in memory marked MADV_DONTDUMP ('dd' in
    /proc/PID/smaps VmFlags), and derived domain keys are wiped after use:
    after files of two domains were written and read, no copy of the master
    in dumpable memory and none of a domain key anywhere in memory."""
    master = _master(site)
    _use_several_domains(site)
    hits = _find_in_memory(site.proc.pid, {"master": master})
    assert hits["master"], "the daemon holds its master: it must be found"
    assert not [h for h in hits["master"] if h[1]], "master key in dumpable memory"
    # domain keys are AES keys to OpenSSL too: crypto.c overwrites the stack
    # its frames used, so no copy is left on a thread stack either
    domains = {d: _domain_key(master, d) for d in ("JP:personal", "JP:medical")}
    hits = _find_in_memory(site.proc.pid, domains)
    assert hits == {d: [] for d in domains}, "domain key left in memory"


def test_file_keys_wiped_after_last_close(site):
    """A file's data key is wiped when the daemon lets go of the file: after
    the last close no copy remains anywhere in the daemon's memory: heap and
    data (gfile_free wipes it) nor thread stacks (crypto.c overwrites the
    stack OpenSSL's frames used after each keyed call)."""
    master = _master(site)
    _use_several_domains(site)
    keys = {rel: _file_key(site, rel, master) for rel in ("a", "m/b")}
    fd = os.open(site.path("a"), os.O_RDONLY)
    try:
        assert os.read(fd, 10) == pattern(1, 2 * SHARD)[:10]
        assert _find_in_memory(site.proc.pid, keys)["a"], "an open file's key must be found"
    finally:
        os.close(fd)
    # the kernel sends the release after close() returns: wait for it (bounded)
    deadline = time.monotonic() + 10
    while True:
        hits = _find_in_memory(site.proc.pid, keys)
        if not any(hits.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert hits == {"a": [], "m/b": []}, "a file key outlived the file's last close"


def test_open_file_key_not_in_core_dumps(site):
    master = _master(site)
    _use_several_domains(site)
    key = _file_key(site, "m/b", master)
    fd = os.open(site.path("m/b"), os.O_RDONLY)
    try:
        assert os.read(fd, 10) == pattern(2, 2 * SHARD)[:10]
        hits = _find_in_memory(site.proc.pid, {"m/b": key})
    finally:
        os.close(fd)
    assert not [h for h in hits["m/b"] if h[1]], "open file's data key in dumpable memory"
