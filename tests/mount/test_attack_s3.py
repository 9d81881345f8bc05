"""Attacks on the promises of S3 backends, as an outside tester makes them
(only binaries, config keys, xattrs, geoctl verbs and exit codes).

  config: every key of kind = s3 with bad values -> FILE:LINE from
    `geoctl check` (exit 2) and a refused mount naming the file, never a
    crash; credentials missing / not a file / wrong owner / bad profile /
    malformed; ca_file missing; one store spelled two ways; a prefix under
    another backend's objects/ (whose listing would show the other's keys as
    strays, so fsck never comes clean), while prefixes that only nest ("a",
    "a/b") keep apart, through fsck --repair too.
  marker: a bucket marked for another country or backend is refused.
  integrity: objects swapped within a file and between files, truncated,
    an old version replayed after a rewrite -> EIO + audit on read, mmap and
    sequential (read-ahead) reads, never short data.
  no plaintext, name or tag in the bucket with padding off too.
  placement through every path on S3: rename, link, exchange (into a
    stricter directory), retag + migrate, copy_file_range move a public
    file's shards out of the bucket when it becomes medical (JP only);
    truncate-extend places new shards by the file's tags; rebalance after a
    policy change empties the bucket.
"""

import ctypes
import errno
import mmap
import os
import re

import pytest

from harness import pattern
from harness import read_file as read, write_file as write
import test_s3 as s3t

CATS = s3t.CATS
MARK = s3t.MARK


def check(site):
    cp = site.geoctl("check", "-c", site.config)
    return cp.returncode, cp.stdout + cp.stderr


def key_line(text, header, key):
    """1-based line of `key = ...` in section `header` of a config text."""
    lines = text.split("\n")
    i = lines.index(header)
    for j in range(i + 1, len(lines)):
        if lines[j].startswith("["):
            break
        if lines[j].split("=", 1)[0].strip() == key:
            return j + 1
    raise AssertionError(f"{key} not in {header}")


def names_at(out, cfg, line):
    return re.search(re.escape(cfg) + rf":{line}: ", out) is not None


# ---- config keys of kind = s3 ----------------------------------------------------

BAD_VALUES = [
    ("endpoint", "HTTP://127.0.0.1:80"),
    ("endpoint", "http://"),
    ("endpoint", "http://127.0.0.1:0"),
    ("endpoint", "http://127.0.0.1:99999"),
    ("endpoint", "http://127.0.0.1:80/bucket"),
    ("endpoint", "http://user:pw@127.0.0.1"),
    ("endpoint", "http://127.0.0.1:80?x=1"),
    ("endpoint", "127.0.0.1:80"),
    ("bucket", "ab"),
    ("bucket", "-abc"),
    ("bucket", "abc-"),
    ("bucket", "a..bc"),
    ("bucket", "a" * 64),
    ("bucket", "Upper"),
    ("prefix", "a b"),
    ("prefix", "a//b"),
    ("prefix", "a/"),
    ("prefix", "a/../b"),
    ("prefix", "./a"),
    ("prefix", "a?b"),
    ("prefix", "a#b"),
    ("prefix", "a%2fb"),
    ("prefix", "caf\u00e9"),
    ("prefix", "p" * 201),
    ("region", "US-EAST-1"),
    ("region", "us_east_1"),
    ("region", "r" * 40),
    ("profile", "has space"),
    ("connect_timeout", "61"),
    ("request_timeout", "0"),
    ("request_timeout", "ten"),
    ("kind", "S3"),
]


@pytest.mark.parametrize("key,value", BAD_VALUES, ids=[f"{k}={v[:20]}" for k, v in BAD_VALUES])
def test_bad_s3_value_names_its_line(site_factory, ceph_cluster, key, value):
    site = s3t.make_site(site_factory, ceph_cluster, mount=False)
    text = site.render_config()
    header = "[backend seoul-1]"
    lines = text.split("\n")
    try:
        n = key_line(text, header, key)
        lines[n - 1] = f"{key} = {value}"
    except AssertionError:
        n = lines.index(header) + 2
        lines.insert(n - 1, f"{key} = {value}")
    site.write_config("\n".join(lines))
    rc, out = check(site)
    assert rc == 2, out
    assert names_at(out, site.config, n), out
    rc, out = site.try_mount()
    assert rc != 0 and names_at(out, site.config, n), out


def _creds_case(site, ceph, case):
    """Breaks the credentials as `case` says; returns what the message must name."""
    c = site.creds
    if case == "missing":
        os.unlink(c)
    elif case == "directory":
        os.unlink(c)
        os.mkdir(c, 0o700)
    elif case == "wrong owner":
        os.chown(c, 65534, 65534)
    elif case == "bad profile":
        site.backends["seoul-1"]["profile"] = "nosuch"
        site.write_config()
    elif case == "malformed":
        with open(c, "w") as f:
            f.write("[default]\naws_access_key_id AKIA\n")
    elif case == "no secret":
        with open(c, "w") as f:
            f.write(f"[default]\naws_access_key_id = {ceph.access_key}\n")
    elif case == "unterminated header":
        with open(c, "w") as f:
            f.write("[default\n")
    elif case == "nul byte":
        with open(c, "wb") as f:
            f.write(b"[default]\x00\n")
    return c


CREDS_CASES = ["missing", "directory", "wrong owner", "bad profile", "malformed",
               "no secret", "unterminated header", "nul byte"]


@pytest.mark.parametrize("case", CREDS_CASES)
def test_broken_credentials_named_with_config_line(site_factory, ceph_cluster, case):
    site = s3t.make_site(site_factory, ceph_cluster, mount=False)
    site.keys_init()
    site.write_config()
    text = site.render_config()
    cred_line = key_line(text, "[backend seoul-1]", "credentials")
    header_line = text.split("\n").index("[backend seoul-1]") + 1
    what = _creds_case(site, ceph_cluster, case)
    rc, out = check(site)
    assert rc == 2, out
    assert what in out, out
    assert names_at(out, site.config, cred_line) or names_at(out, site.config, header_line), out
    assert ceph_cluster.secret_key not in out
    rc, out = site.try_mount()
    assert rc != 0, out
    assert what in out and "seoul-1" in out, out
    assert ceph_cluster.secret_key not in out
    assert not site.is_mounted()


def test_missing_ca_file_named_at_its_line(site_factory, ceph_cluster):
    site = s3t.make_site(site_factory, ceph_cluster, mount=False, tls=True)
    site.keys_init()
    missing = os.path.join(site.root, "no-such-ca.pem")
    site.backends["seoul-1"]["ca_file"] = missing
    site.write_config()
    n = key_line(site.render_config(), "[backend seoul-1]", "ca_file")
    rc, out = check(site)
    assert rc == 2 and names_at(out, site.config, n) and missing in out, out
    rc, out = site.try_mount()
    assert rc != 0 and missing in out, out


def _two_s3(site_factory, ceph, ep1, p1, ep2, p2, bucket=None):
    site = s3t.make_site(site_factory, ceph, mount=False, bucket=bucket)
    b1 = site.backends["seoul-1"]
    b1["endpoint"], b1["prefix"] = ep1, p1
    site.backends["seoul-2"] = dict(b1, endpoint=ep2, prefix=p2)
    if not p1:
        del b1["prefix"]
    if not p2:
        del site.backends["seoul-2"]["prefix"]
    site.write_config()
    return site


@pytest.mark.parametrize("ep1,ep2", [
    ("http://Store.Example:80", "http://store.example"),
    ("https://store.example", "https://STORE.example:443/"),
])
def test_one_store_spelled_two_ways_is_one_bucket(site_factory, ceph_cluster, ep1, ep2):
    site = _two_s3(site_factory, ceph_cluster, ep1, "geofs/kr", ep2, "geofs/kr")
    rc, out = check(site)
    n = key_line(site.render_config(), "[backend seoul-2]", "bucket")
    assert rc == 2 and names_at(out, site.config, n), out
    assert "same bucket and prefix" in out, out


@pytest.mark.parametrize("p1,p2", [("", "objects"), ("geofs/kr", "geofs/kr/objects"),
                                   ("geofs/kr", "geofs/kr/objects/more")])
def test_prefix_under_another_backends_objects_refused(site_factory, ceph_cluster, p1, p2):
    ep = ceph_cluster.rgw_endpoint
    site = _two_s3(site_factory, ceph_cluster, ep, p1, ep, p2)
    rc, out = check(site)
    assert rc == 2, out
    n = key_line(site.render_config(), "[backend seoul-2]", "prefix")
    assert names_at(out, site.config, n) and "objects" in out, out
    rc, out = site.try_mount()
    assert rc != 0 and names_at(out, site.config, n), out


def test_nested_prefixes_keep_apart_through_fsck_repair(site_factory, ceph_cluster):
    """"a" and "a/b" on one bucket are fine: each lists only its own
    PREFIX/objects/, so fsck --repair of one never deletes the other's."""
    ep = ceph_cluster.rgw_endpoint
    site = _two_s3(site_factory, ceph_cluster, ep, "geofs/kr", ep, "geofs/kr/b")
    site.mount()
    media = s3t.tagged(site, "m", "media")
    for i in range(6):
        write(os.path.join(media, f"f{i}"), pattern(40 + i, 70_000))
    before = s3t.list_keys(ceph_cluster, site.bucket)
    assert any(k.startswith("geofs/kr/b/objects/") for k in before) and \
        any(re.match(r"geofs/kr/objects/", k) for k in before), before
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert s3t.list_keys(ceph_cluster, site.bucket) == before
    site.mount()
    for i in range(6):
        assert read(os.path.join(media, f"f{i}")) == pattern(40 + i, 70_000)


# ---- markers ---------------------------------------------------------------------------

@pytest.mark.parametrize("marker,why", [
    (b"geofs-backend 1\nname seoul-1\ncountry JP\n", "JP"),
    (b"geofs-backend 1\nname busan-9\ncountry KR\n", "busan-9"),
    (b"geofs-backend 1\nname seoul-1\n", "country"),
    (b"\x00garbage", None),
])
def test_bucket_marked_for_another_country_or_backend_refused(site_factory, ceph_cluster,
                                                              marker, why):
    site = s3t.make_site(site_factory, ceph_cluster)
    site.unmount()
    key = f"/{site.bucket}/geofs/kr/geofs-backend"
    assert ceph_cluster.s3("PUT", key, data=marker)[0] == 200
    rc, out = check(site)
    assert rc != 0 and "seoul-1" in out, out
    if why:
        assert why in out, out
    rc, out = site.try_mount()
    assert rc != 0 and "seoul-1" in out, out
    assert not site.is_mounted()


# ---- integrity ---------------------------------------------------------------------------

def _objects_of(ceph, site, before):
    return sorted(set(s3t.object_keys(ceph, site)) - set(before))


def _get(ceph, site, key):
    status, body = ceph.s3("GET", f"/{site.bucket}/{key}")
    assert status == 200
    return body


def _put(ceph, site, key, body):
    assert ceph.s3("PUT", f"/{site.bucket}/{key}", data=body)[0] == 200


def _read_mmap(p):
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        with mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
            return bytes(m[:])


def _read_chunks(p, chunk=4096):
    out = bytearray()
    fd = os.open(p, os.O_RDONLY)
    try:
        while True:
            b = os.read(fd, chunk)
            if not b:
                return bytes(out)
            out += b
    finally:
        os.close(fd)


READERS = {"read": read, "chunks": _read_chunks, "mmap": _read_mmap}


def _expect_eio(site, p, reader, want):
    """The reader fails with EIO (mmap: SIGBUS surfaces as an error in a
    child); it never returns data different from `want`."""
    if reader == "mmap":
        code = (f"import mmap,os\nf=open({p!r},'rb')\nm=mmap.mmap(f.fileno(),"
                f"os.fstat(f.fileno()).st_size,prot=mmap.PROT_READ)\n"
                f"import hashlib;print(hashlib.sha256(m[:]).hexdigest())\n")
        import hashlib
        import subprocess
        cp = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                            timeout=60)
        assert cp.returncode != 0, "mmap read of a damaged file returned data"
        assert cp.stdout.strip() != hashlib.sha256(want).hexdigest()
        return
    with pytest.raises(OSError) as e:
        got = READERS[reader](p)
        assert got == want, f"{reader}: {len(got)} bytes, not the file's {len(want)}"
    assert e.value.errno == errno.EIO, e.value


def _audited(site):
    return any(r["op"] == "auth-failure" for r in s3t.audit(site))


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("attack", ["swap-in-file", "swap-between-files", "truncate",
                                    "replay-old-version", "empty"])
def test_damaged_objects_are_eio_and_audited(site_factory, ceph_cluster, attack, reader):
    site = s3t.make_site(site_factory, ceph_cluster)
    media = s3t.tagged(site, "m", "media")
    a, b = os.path.join(media, "a.bin"), os.path.join(media, "b.bin")
    da, db = pattern(60, 300_000), pattern(61, 300_000)
    k0 = s3t.object_keys(ceph_cluster, site)
    write(a, da)
    ka = _objects_of(ceph_cluster, site, k0)
    write(b, db)
    kb = _objects_of(ceph_cluster, site, set(k0) | set(ka))
    assert len(ka) >= 4 and len(kb) >= 4
    # which object is which shard is not known from outside: change them
    # so that every outcome but an error would be wrong data
    if attack == "swap-in-file":
        x, y = _get(ceph_cluster, site, ka[0]), _get(ceph_cluster, site, ka[1])
        _put(ceph_cluster, site, ka[0], y)
        _put(ceph_cluster, site, ka[1], x)
    elif attack == "swap-between-files":
        for i in range(len(ka)):
            _put(ceph_cluster, site, ka[i], _get(ceph_cluster, site, kb[i % len(kb)]))
    elif attack == "truncate":
        x = _get(ceph_cluster, site, ka[1])
        _put(ceph_cluster, site, ka[1], x[: len(x) // 2])
    elif attack == "empty":
        _put(ceph_cluster, site, ka[2], b"")
    elif attack == "replay-old-version":
        old = {k: _get(ceph_cluster, site, k) for k in ka}
        write(a, pattern(62, 300_000))          # the rewrite: new objects
        ka2 = _objects_of(ceph_cluster, site, set(k0) | set(kb))
        assert set(ka2).isdisjoint(ka)
        olds = list(old.values())
        for i, k in enumerate(ka2):            # the old bodies under the new names
            _put(ceph_cluster, site, k, olds[i % len(olds)])
        da = pattern(62, 300_000)
    site.unmount()
    site.mount()                                 # cold: no cached shard
    _expect_eio(site, a, reader, da)
    assert _audited(site)
    assert read(b) == db or attack == "swap-between-files"


def test_no_plaintext_name_or_tag_with_padding_off(site_factory, ceph_cluster):
    site = s3t.make_site(site_factory, ceph_cluster, mount=False)
    site.data["pad"] = "off"
    site.write_config()
    site.mount()
    media = s3t.tagged(site, "photos-of-tanaka", "media")
    os.setxattr(media, "user.geo.origin", b"JP")
    data = MARK * 2000 + b"\0" * 70_000 + MARK
    write(os.path.join(media, "tanaka-secret.jpg"), data)
    write(os.path.join(media, "tiny-secret.txt"), MARK)
    allkeys = s3t.list_keys(ceph_cluster, site.bucket)
    assert len(allkeys) >= 3
    for k in allkeys:
        for word in ("tanaka", "photos", "media", "secret", "tiny", "JP"):
            assert word not in k
        body = _get(ceph_cluster, site, k)
        for word in (MARK, MARK[:8], b"tanaka", b"photos-of", b"media", b"user.geo",
                     b"tiny-secret", b"\0" * 64):
            assert word not in body, (k, word)
    site.unmount()
    site.mount()
    assert read(os.path.join(media, "tanaka-secret.jpg")) == data


# ---- placement through every path, on S3 -------------------------------------------

AT_FDCWD = -100
RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_uint]


def _exchange(a, b):
    if _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


CATS_PUB = dict(CATS, public={"store_in": "*", "access_from": "*"})


def _pub_site(site_factory, ceph):
    """Public files land in the KR bucket (its weight outweighs the JP
    directories); medical stays in JP, twice."""
    return s3t.make_site(site_factory, ceph, categories=CATS_PUB, weight="1000")


def _place(site, category, name, size, seed):
    d = site.path(category + "-dir")
    if not os.path.isdir(d):
        s3t.tagged(site, category + "-dir", category)
    p = os.path.join(d, name)
    write(p, pattern(seed, size))
    return p, pattern(seed, size)


def _medical(site):
    d = site.path("clinic")
    if not os.path.isdir(d):
        s3t.tagged(site, "clinic", "medical")
    return d


PATHS = ["rename", "noreplace", "link", "exchange", "retag+migrate", "copy_file_range"]


@pytest.mark.parametrize("path", PATHS)
def test_placement_leaves_the_bucket_on_every_path(site_factory, ceph_cluster, path):
    """A public file in the KR bucket made medical (JP only, 2 copies) by
    any path: its bytes are in two JP directories when the call returns,
    and none of its objects stays in the bucket."""
    site = _pub_site(site_factory, ceph_cluster)
    src, data = _place(site, "public", "m.bin", 200_000, 70)
    assert site.placement(src) == ["KR/seoul-1"]
    clinic = _medical(site)
    dst = os.path.join(clinic, "m.bin")
    if path == "rename":
        os.rename(src, dst)
    elif path == "noreplace":
        if _libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), 1):
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), src)
    elif path == "link":
        os.link(src, dst)
    elif path == "exchange":
        write(dst, pattern(71, 50_000))
        _exchange(src, dst)
        # the medical file now in the public directory keeps its tags
        assert site.placement(src) == ["JP/osaka-1", "JP/tokyo-1"]
        assert read(src) == pattern(71, 50_000)
    elif path == "retag+migrate":
        os.setxattr(src, "user.geo.category", b"medical")
        assert site.xattr(src, "user.geo.status").startswith("misplaced")
        os.setxattr(src, "user.geo.migrate", b"1")
        dst = src
    elif path == "copy_file_range":
        with open(src, "rb") as fi, open(dst, "wb") as fo:
            left = len(data)
            while left:
                n = os.copy_file_range(fi.fileno(), fo.fileno(), left)
                assert n > 0
                left -= n
        os.unlink(src)
    assert site.xattr(dst, "user.geo.category") == "medical"
    assert site.placement(dst) == ["JP/osaka-1", "JP/tokyo-1"], (path, site.placement(dst))
    assert site.xattr(dst, "user.geo.status") == "ok"
    assert read(dst) == data
    assert s3t.object_keys(ceph_cluster, site) == {}, path
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_truncate_extend_places_new_shards_by_the_files_tags(site_factory, ceph_cluster):
    site = s3t.make_site(site_factory, ceph_cluster)
    clinic = _medical(site)
    p = os.path.join(clinic, "grow.bin")
    write(p, pattern(72, 10_000))
    before = s3t.object_keys(ceph_cluster, site)
    os.truncate(p, 900_000)
    with open(p, "r+b") as f:
        f.seek(800_000)
        f.write(b"tail")
    assert site.placement(p) == ["JP/osaka-1", "JP/tokyo-1"]
    assert s3t.object_keys(ceph_cluster, site) == before
    src, _ = _place(site, "media", "grow-media.bin", 10_000, 73)
    os.truncate(src, 700_000)
    with open(src, "r+b") as f:
        f.seek(650_000)
        f.write(b"tail")
    assert site.placement(src) == ["KR/seoul-1"]
    got = read(src)
    assert len(got) == 700_000 and got[650_000:650_004] == b"tail"


def test_rebalance_out_of_the_bucket_after_policy_change(site_factory, ceph_cluster):
    """store_in narrowed to JP: rebalance empties the bucket, every byte
    reads back, fsck clean (the S3 -> dir path with a medical-like policy)."""
    site = s3t.make_site(site_factory, ceph_cluster)
    src, data = _place(site, "media", "r.bin", 400_000, 74)
    assert site.placement(src) == ["KR/seoul-1"]
    site.categories["media"]["store_in"] = "JP"
    site.write_config()
    site.remount()
    cp = site.geoctl("rebalance", site.mnt, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert site.placement(src)[0].startswith("JP/")
    assert read(src) == data
    assert s3t.object_keys(ceph_cluster, site) == {}
    site.unmount()
    assert site.geoctl("fsck", "-c", site.config).returncode == 0


def test_stray_keys_in_the_bucket_are_misnamed_with_the_s3_layout(site_factory, ceph_cluster):
    """A key geofs never writes under PREFIX/objects/ is reported MISNAMED,
    with the layout of an S3 backend (flat 32-hex keys, no fan-out), and
    fsck --repair leaves it where it is."""
    site = s3t.make_site(site_factory, ceph_cluster)
    media = s3t.tagged(site, "m", "media")
    write(os.path.join(media, "a"), pattern(80, 10_000))
    site.unmount()
    strays = ["geofs/kr/objects/notes.txt", "geofs/kr/objects/sub/" + "ab" * 16,
              "geofs/kr/objects/" + "AB" * 16]
    for k in strays:
        _put(ceph_cluster, site, k, b"not ours")
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    for k in strays:
        rel = k[len("geofs/kr/"):]
        line = next(x for x in cp.stdout.splitlines() if rel in x)
        assert line.startswith("MISNAMED"), line
        assert "objects/" + "ab" * 16 in line and "objects/ab/" not in line, line
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert set(strays) <= set(s3t.list_keys(ceph_cluster, site.bucket))
    site.mount()
    assert read(os.path.join(media, "a")) == pattern(80, 10_000)


# ---- a put whose answer is lost ------------------------------------------------------------

class LosingProxy:
    """A TCP relay on 127.0.0.1 in front of radosgw that, once, forwards a
    PUT of an object and then drops the connection before the answer
    reaches the client: the put has landed, its answer is lost."""

    def __init__(self, upstream, bucket):
        import socket
        import threading
        host, port = upstream.split("://", 1)[1].rsplit(":", 1)
        self.up = (host, int(port))
        self.needle = f"PUT /{bucket}/geofs/kr/objects/".encode()
        self.dropped = 0
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.endpoint = f"http://127.0.0.1:{self.srv.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while not self.closed:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            s = socket.create_connection(self.up)
            state = {"drop": False}
            threading.Thread(target=self._up, args=(c, s, state), daemon=True).start()
            threading.Thread(target=self._down, args=(s, c, state), daemon=True).start()

    def _up(self, c, s, state):
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                if self.needle in b:
                    with self.lock:
                        if not self.dropped:
                            self.dropped = 1
                            state["drop"] = True
                s.sendall(b)
        except OSError:
            pass
        finally:
            s.close()

    def _down(self, s, c, state):
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                if state["drop"]:
                    break           # the answer of the put: lost
                c.sendall(b)
        except OSError:
            pass
        finally:
            import socket
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
            s.close()

    def close(self):
        self.closed = True
        self.srv.close()


def test_put_retried_after_a_lost_answer_is_not_a_collision(site_factory, ceph_cluster):
    bucket = ceph_cluster.make_bucket(s3t.new_bucket())
    proxy = LosingProxy(ceph_cluster.rgw_endpoint, bucket)
    try:
        site = s3t.make_site(site_factory, ceph_cluster, bucket=bucket, mount=False)
        site.backends["seoul-1"]["endpoint"] = proxy.endpoint
        site.write_config()
        site.mount()
        media = s3t.tagged(site, "m", "media")
        data = pattern(90, 150_000)
        write(os.path.join(media, "a"), data)    # close() returns 0
        assert proxy.dropped == 1, "the proxy never saw an object put"
        site.unmount()
        site.mount()
        assert read(os.path.join(media, "a")) == data
        assert len(s3t.object_keys(ceph_cluster, site)) == 3
        assert not any(r.get("result") not in (None, "ok") for r in s3t.audit(site)
                       if r["op"] in ("create", "write", "close"))
        site.unmount()
        cp = site.geoctl("fsck", "-c", site.config)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    finally:
        proxy.close()


# ---- radosgw down: replicas elsewhere keep serving ---------------------------------------

def test_radosgw_down_reads_fall_over_and_writes_go_elsewhere(site_factory, ceph_cluster):
    cats = dict(CATS, public={"store_in": "*", "access_from": "*", "replicas": "2"})
    site = s3t.make_site(site_factory, ceph_cluster, categories=cats, weight="1000")
    pub = s3t.tagged(site, "pub", "public")
    data = pattern(91, 200_000)
    write(os.path.join(pub, "two"), data)
    place = site.placement(os.path.join(pub, "two"))
    assert "KR/seoul-1" in place and any(x.startswith("JP/") for x in place), place
    site.unmount()
    site.mount()
    ceph_cluster.rgw_stop(kill=True)
    try:
        import time
        t0 = time.monotonic()
        assert read(os.path.join(pub, "two")) == data       # from the JP replica
        write(os.path.join(pub, "new"), pattern(92, 100_000))
        assert all(x.startswith("JP/") for x in site.placement(os.path.join(pub, "new")))
        assert time.monotonic() - t0 < 40
    finally:
        s3t.rgw_back(ceph_cluster)
    assert read(os.path.join(pub, "new")) == pattern(92, 100_000)


# ---- odd but valid prefixes, two mounts on one bucket ----------------------------------------

def test_odd_valid_prefix_round_trip_fsck_and_orphans(site_factory, ceph_cluster):
    prefix = "Geo.fs_x-1/K.r/_"
    site = s3t.make_site(site_factory, ceph_cluster, prefix=prefix)
    media = s3t.tagged(site, "m", "media")
    write(os.path.join(media, "a"), pattern(93, 150_000))
    keys = s3t.list_keys(ceph_cluster, site.bucket)
    assert f"{prefix}/geofs-backend" in keys
    assert all(k.startswith(prefix + "/") for k in keys), keys
    site.unmount()
    orphan = f"{prefix}/objects/" + "0f" * 16
    _put(ceph_cluster, site, orphan, b"orphan")
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode == 0 and "0f" * 16 in cp.stdout, cp.stdout + cp.stderr
    assert orphan not in s3t.list_keys(ceph_cluster, site.bucket)
    site.mount()
    assert read(os.path.join(media, "a")) == pattern(93, 150_000)


def test_unlink_on_one_mount_while_the_other_reads_from_the_bucket(site_factory, ceph_cluster):
    """Two mounts, one meta root, one bucket: B holds a file open, A
    removes it; B gets the old bytes or EIO (never ENOENT or wrong bytes)
    and the bucket is left with nothing of it."""
    a = s3t.make_site(site_factory, ceph_cluster)
    b = site_factory(share=a, name="tokyo-app-02", categories=CATS)
    b.mount()
    media = s3t.tagged(a, "m", "media")
    data = pattern(94, 400_000)
    write(os.path.join(media, "f"), data)
    b.unmount()
    b.mount()                                   # B: no cached shard
    with open(os.path.join(b.mnt, "m", "f"), "rb", buffering=0) as held:
        assert held.read(100) == data[:100]
        os.unlink(os.path.join(media, "f"))
        try:
            rest = held.read()
            assert rest == data[100:100 + len(rest)]
        except OSError as e:
            assert e.errno == errno.EIO, e
    import time
    deadline = time.monotonic() + 10
    while s3t.object_keys(ceph_cluster, a) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s3t.object_keys(ceph_cluster, a) == {}
    b.unmount()
    a.unmount()
    cp = a.geoctl("fsck", "-c", a.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr


@pytest.mark.slow
def test_orphans_past_the_first_listing_page_are_all_repaired(site_factory, ceph_cluster):
    """1,010 orphans sorted after the file's own objects: fsck must page
    through ListObjectsV2 to find the last ones, and --repair deletes every
    one and nothing else."""
    from concurrent.futures import ThreadPoolExecutor
    site = s3t.make_site(site_factory, ceph_cluster)
    media = s3t.tagged(site, "m", "media")
    write(os.path.join(media, "a"), pattern(95, 150_000))
    own = set(s3t.object_keys(ceph_cluster, site))
    site.unmount()
    orphans = ["geofs/kr/objects/ff%030x" % i for i in range(1010)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: _put(ceph_cluster, site, k, b"o"), orphans))
    cp = site.geoctl("fsck", "-c", site.config, "--json")
    assert cp.returncode == 1
    import json
    found = {f.get("object") or f.get("what") or json.dumps(f) for f in json.loads(cp.stdout)["findings"]}
    assert len(json.loads(cp.stdout)["findings"]) == 1010, len(found)
    assert any("ff%030x" % 1009 in x for x in found)
    cp = site.geoctl("fsck", "-c", site.config, "--repair", timeout=300)
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert set(s3t.object_keys(ceph_cluster, site)) == own
    site.mount()
    assert read(os.path.join(media, "a")) == pattern(95, 150_000)


def test_backend_init_never_remarks_a_foreign_bucket_without_force(site_factory, ceph_cluster):
    site = s3t.make_site(site_factory, ceph_cluster)
    site.unmount()
    key = f"/{site.bucket}/geofs/kr/geofs-backend"
    foreign = b"geofs-backend 1\nname busan-9\ncountry KR\n"
    assert ceph_cluster.s3("PUT", key, data=foreign)[0] == 200
    cp = site.geoctl("backend", "init", "-c", site.config, "seoul-1")
    assert cp.returncode != 0 and "busan-9" in cp.stdout + cp.stderr, cp.stdout + cp.stderr
    assert ceph_cluster.s3("GET", key) == (200, foreign)
    cp = site.geoctl("backend", "init", "-c", site.config, "--force", "seoul-1")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert ceph_cluster.s3("GET", key)[1] == b"geofs-backend 1\nname seoul-1\ncountry KR\n"
    site.mount()


def test_bucket_without_marker_refused(site_factory, ceph_cluster):
    site = s3t.make_site(site_factory, ceph_cluster)
    site.unmount()
    assert ceph_cluster.s3("DELETE", f"/{site.bucket}/geofs/kr/geofs-backend")[0] == 204
    rc, out = check(site)
    assert rc != 0 and "seoul-1" in out and "marker" in out, out
    site.mark = False
    rc, out = site.try_mount()
    assert rc != 0 and "seoul-1" in out, out
