"""The content path: random operations vs a reference, remount, what the
backends see (ciphertext only), compression, holes."""

import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from harness import (FILE_MANIFEST_SHARDS, MiB, errno_of, manifest_path, pattern, read_file,
                     stub_manifest, write_file)

SHARD = 64 * 1024


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations(site, seed):
    """Writes at random offsets, truncates up and down, holes, fsyncs and reads
    on one file, compared with a bytearray after every batch and after remount."""
    rnd = random.Random(seed)
    p = site.path("rand")
    ref = bytearray()
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    limit = 10 * SHARD
    try:
        for step in range(400):
            op = rnd.random()
            if op < 0.50:                                   # write
                off = rnd.randrange(0, limit)
                n = rnd.choice([1, 7, 100, 4096, SHARD - 1, SHARD, SHARD + 3,
                                rnd.randrange(1, 3 * SHARD)])
                data = rnd.randbytes(n) if rnd.random() < 0.5 else bytes([step % 251]) * n
                assert os.pwrite(fd, data, off) == n
                if off > len(ref):
                    ref.extend(b"\0" * (off - len(ref)))
                ref[off:off + n] = data
            elif op < 0.62:                                 # truncate up or down
                size = rnd.randrange(0, limit + 2 * SHARD)
                if rnd.random() < 0.5:
                    os.ftruncate(fd, size)
                else:
                    os.truncate(p, size)                    # by path, fd still open
                if size < len(ref):
                    del ref[size:]
                else:
                    ref.extend(b"\0" * (size - len(ref)))
            elif op < 0.70:
                os.fsync(fd)
            elif op < 0.76:                                 # close and reopen
                os.close(fd)
                fd = os.open(p, os.O_RDWR)
            else:                                           # read a range
                off = rnd.randrange(0, limit + SHARD)
                n = rnd.randrange(1, 2 * SHARD)
                assert os.pread(fd, n, off) == bytes(ref[off:off + n]), f"step {step}"
            if step % 25 == 24:
                assert os.fstat(fd).st_size == len(ref), f"step {step}"
                assert read_file(p) == bytes(ref), f"step {step}"
    finally:
        os.close(fd)
    assert read_file(p) == bytes(ref)
    site.remount()
    assert os.stat(p).st_size == len(ref)
    assert read_file(p) == bytes(ref)


def test_tree_identical_after_remount(site):
    rnd = random.Random(9)
    expect = {}
    for i in range(30):
        d = site.path(f"d{i % 4}", f"e{i % 3}")
        os.makedirs(d, exist_ok=True)
        size = rnd.choice([0, 1, 100, SHARD, 3 * SHARD + 5, 500_000])
        data = rnd.randbytes(size) if i % 2 else (b"text %d " % i) * (size // 7 + 1)
        data = data[:size]
        p = os.path.join(d, f"f{i}")
        write_file(p, data)
        os.utime(p, ns=(10**18 + i, 10**18 + 2 * i))
        expect[p] = (hashlib.sha256(data).hexdigest(), size, 10**18 + 2 * i)
    site.remount()
    for p, (h, size, mtime) in expect.items():
        st = os.stat(p)
        assert (st.st_size, st.st_mtime_ns) == (size, mtime), p
        assert hashlib.sha256(read_file(p)).hexdigest() == h, p


def test_no_plaintext_or_names_on_backends(site):
    tag = secrets.token_hex(8)
    marker = f"PLAINTEXT-MARKER-{tag}".encode()
    name = f"secret-name-{tag}"
    dname = f"secret-dir-{tag}"
    for cat in ("personal", "medical", "media", "public"):
        d = site.path(f"{dname}-{cat}")
        os.mkdir(d)
        os.setxattr(d, "user.geo.category", cat.encode())
        compressible = (marker + b" " + name.encode() + b"\n") * 20000
        write_file(os.path.join(d, name), compressible)
        write_file(os.path.join(d, name + "-small"), marker)
        write_file(os.path.join(d, name + "-mixed"), pattern(4, SHARD - 10) + marker + pattern(5, SHARD))
        os.setxattr(os.path.join(d, name), "user.note", marker)
    assert site.grep(marker) == []
    assert site.grep(name) == []
    assert site.grep(dname) == []
    assert site.grep(tag) == []
    for cat in (b"personal", b"medical", b"public"):
        assert site.grep(cat) == [], cat
    # geofs's own bookkeeping in the meta root holds no content either
    assert site.grep(marker, where="geofs") == []
    assert sum(site.object_counts().values()) > 0
    for obj in site.objects():
        with open(obj, "rb") as f:
            assert f.read(4) == b"GEOS", obj
    site.remount()
    assert site.grep(marker) == []


def test_compressible_data_shrinks(site):
    size = 8 * MiB
    text = b"The quick brown fox jumps over the lazy dog. 0123456789\n"
    data = (text * (size // len(text) + 1))[:size]
    write_file(site.path("text"), data)
    stored = site.backend_bytes()
    assert stored < size // 8, f"{stored} bytes stored for {size}"
    info = site.info("text")
    assert int(info["stored"]) == sum(os.path.getsize(o) for o in site.objects())
    assert int(info["size"]) == size
    assert read_file(site.path("text")) == data


# Padmé padding (the default, [data] pad = padme) costs 3.1% on a full
# 64K shard: 65,581 unpadded bytes round up to 67,584.
PAD_FULL = 1.04


def test_incompressible_data_does_not_shrink(site):
    size = 8 * MiB
    data = pattern(11, size)
    write_file(site.path("random"), data)
    stored = site.backend_bytes()
    assert size <= stored < size * PAD_FULL
    assert read_file(site.path("random")) == data


def test_compress_off_stores_raw_size(site):
    os.mkdir(site.path("media"))
    os.setxattr(site.path("media"), "user.geo.category", b"media")
    size = 8 * MiB
    data = (b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" * (size // 32))[:size]
    write_file(site.path("media", "video"), data)
    stored = site.backend_bytes()
    assert size <= stored < size * PAD_FULL
    assert read_file(site.path("media", "video")) == data


def _object_sizes(site, sizes, seed):
    """Writes one incompressible file per size; returns {size: object length}
    (each file is one shard, one replica) and checks the bytes read back."""
    out = {}
    for n in sizes:
        before = set(site.objects())
        data = pattern(seed + n, n)
        write_file(site.path(f"f{n}"), data)
        new = set(site.objects()) - before
        assert len(new) == 1, (n, new)
        obj = new.pop()
        out[n] = (os.path.getsize(obj), read_file(obj)[4])
        assert read_file(site.path(f"f{n}")) == data
    return out


def test_object_sizes_hide_file_sizes(site_factory):
    """Issue 16 item 8: files of 1000..1100 incompressible bytes give backend
    objects of only a few distinct sizes (Padmé buckets), not 101; with
    pad = off each size shows through. Objects written unpadded stay
    readable after padding is turned on, and vice versa."""
    sizes = range(1000, 1101)
    site = site_factory.mounted()
    padded = _object_sizes(site, sizes, seed=100)
    assert {v for _, v in padded.values()} == {2}       # format version 2
    lengths = {length for length, _ in padded.values()}
    assert len(lengths) <= 3, sorted(lengths)
    assert max(lengths) <= 1100 * 1.12 + 45

    site.data["pad"] = "off"
    site.write_config()
    site.remount()
    for n in sizes:                                      # padded objects read back
        assert read_file(site.path(f"f{n}")) == pattern(100 + n, n)
    os.mkdir(site.path("plain"))
    unpadded = {}
    for n in sizes:
        before = set(site.objects())
        write_file(site.path("plain", str(n)), pattern(300 + n, n))
        (obj,) = set(site.objects()) - before
        unpadded[n] = os.path.getsize(obj)
        assert read_file(obj)[4] == 1                    # the old, unpadded format
    assert len(set(unpadded.values())) == len(sizes)     # every size shows
    assert all(unpadded[n] == n + 41 for n in sizes)

    site.data["pad"] = "padme"
    site.write_config()
    site.remount()
    for n in sizes:                                      # unpadded objects read back
        assert read_file(site.path("plain", str(n))) == pattern(300 + n, n)
        assert read_file(site.path(f"f{n}")) == pattern(100 + n, n)


def test_holes_store_nothing(site):
    p = site.path("sparse")
    with open(p, "wb") as f:
        f.truncate(10 * MiB)
    assert os.stat(p).st_size == 10 * MiB
    assert sum(site.object_counts().values()) == 0
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, b"x", 5 * MiB)
    os.close(fd)
    assert sum(site.object_counts().values()) == 1
    with open(p, "rb") as f:
        f.seek(5 * MiB - SHARD)
        assert f.read(SHARD + 1) == b"\0" * SHARD + b"x"
    site.remount()
    data = read_file(p)
    assert len(data) == 10 * MiB
    assert data.count(b"\0") == 10 * MiB - 1 and data[5 * MiB] == ord("x")


def test_overwrite_and_unlink_free_objects(site):
    p = site.path("f")
    write_file(p, pattern(1, 4 * SHARD))
    assert sum(site.object_counts().values()) == 4
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, b"new bytes", SHARD + 10)
    os.close(fd)
    assert sum(site.object_counts().values()) == 4      # superseded object removed
    os.truncate(p, SHARD)
    assert sum(site.object_counts().values()) == 1
    os.unlink(p)
    assert sum(site.object_counts().values()) == 0


def test_truncate_inside_shard_then_extend_reads_zeros(site):
    p = site.path("f")
    data = pattern(2, 2 * SHARD)
    write_file(p, data)
    os.truncate(p, SHARD + 100)
    os.truncate(p, 2 * SHARD)
    assert read_file(p) == data[:SHARD + 100] + b"\0" * (SHARD - 100)
    site.remount()
    assert read_file(p) == data[:SHARD + 100] + b"\0" * (SHARD - 100)


# ---- a small file's manifest on its stub -------------------------------------------

def test_small_file_manifest_lives_on_stub(site):
    """A small file gets no manifest file (an inode, a rename and two flushes
    less per file): its manifest is an xattr of its stub, hidden from the
    mount, replaced at each commit. A file that outgrows it gets a manifest
    file and the stub's copy goes; every file reads back the same after a
    remount."""
    open(site.path("empty"), "wb").close()
    assert stub_manifest(site, "empty") is not None
    assert not os.path.exists(manifest_path(site, "empty"))
    assert "user.geofs.manifest" not in os.listxattr(site.path("empty"))
    assert site.xattr("empty", "user.geo.category") == "personal"
    assert read_file(site.path("empty")) == b""

    small = pattern(4, 3 * SHARD + 11)
    write_file(site.path("small"), small)
    first = stub_manifest(site, "small")
    assert first is not None and not os.path.exists(manifest_path(site, "small"))
    with open(site.path("small"), "r+b") as f:          # a rewrite replaces it
        f.seek(SHARD)
        f.write(b"changed")
    small = small[:SHARD] + b"changed" + small[SHARD + 7:]
    assert stub_manifest(site, "small") not in (None, first)
    assert not os.path.exists(manifest_path(site, "small"))

    big = pattern(5, FILE_MANIFEST_SHARDS * SHARD + 11)
    write_file(site.path("big"), big)
    assert os.path.exists(manifest_path(site, "big"))
    assert stub_manifest(site, "big") is None
    site.remount()
    assert read_file(site.path("empty")) == b""
    assert read_file(site.path("small")) == small
    assert read_file(site.path("big")) == big
    # the small one moves to a manifest file once it has too many shards
    with open(site.path("small"), "ab") as f:
        f.write(big)
    assert os.path.exists(manifest_path(site, "small"))
    assert stub_manifest(site, "small") is None
    site.remount()
    assert read_file(site.path("small")) == small + big
    assert read_file(site.path("empty")) == b""


def test_file_open_before_its_first_commit_seen_from_another_mount(site_factory):
    """A file created and still open on one mount (no manifest file yet)
    is an empty file with its directory's tags on another; what the first
    mount closes is what the second then opens."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    os.mkdir(a.path("m"))
    os.setxattr(a.path("m"), "user.geo.category", b"medical")
    data = pattern(6, 2 * SHARD + 5)
    with open(a.path("m", "scan"), "wb") as f:
        f.write(data[:100])
        assert read_file(b.path("m", "scan")) == b""
        assert b.xattr("m/scan", "user.geo.category") == "medical"
        f.write(data[100:])
    assert read_file(b.path("m", "scan")) == data


def test_fsck_and_crash_with_files_never_committed(site_factory):
    """Files created but never closed (the daemon killed first) read back
    empty, never EIO; fsck counts them as files and finds at most orphan
    objects, which --repair collects."""
    site = site_factory.mounted()
    open(site.path("touched"), "wb").close()
    fd = os.open(site.path("cut"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, pattern(7, 2 * SHARD))             # full shards reach a backend
    site.kill9()
    try:
        os.close(fd)                                # the mount died under it
    except OSError:
        pass
    site.mount()
    assert read_file(site.path("touched")) == b""
    assert read_file(site.path("cut")) == b""
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config, "--json")
    assert cp.returncode in (0, 1), cp.stdout + cp.stderr
    out = json.loads(cp.stdout)
    kinds = {x["kind"] for x in out["findings"]}
    assert kinds <= {"ORPHAN-OBJECT", "ORPHAN-TEMP"}, out["findings"]
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode in (0, 1), cp.stdout + cp.stderr
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_small_file_outgrown_on_another_mount_keeps_both_changes(site_factory):
    """A small file is open for writing on mount A while mount B makes it
    big enough for a manifest file (moving its manifest off the stub). A's
    commit follows the move: it lays its change over B's manifest file
    instead of writing the stub's, so both changes are kept."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    base = pattern(20, 2 * SHARD)
    write_file(a.path("f"), base)
    assert stub_manifest(a, "f") is not None
    tail = pattern(21, FILE_MANIFEST_SHARDS * SHARD)
    with open(a.path("f"), "r+b") as fa:
        fa.write(b"from A")
        with open(b.path("f"), "ab") as fb:
            fb.write(tail)
        assert os.path.exists(manifest_path(a, "f"))
    want = b"from A" + base[6:] + tail
    assert stub_manifest(a, "f") is None
    assert read_file(a.path("f")) == want
    assert read_file(b.path("f")) == want
    b.unmount()
    a.remount()
    assert read_file(a.path("f")) == want


def test_app_xattr_gets_the_room_of_a_small_files_manifest(site):
    """A small file's manifest on its stub takes xattr space the application
    would have natively. When an application's xattr does not fit beside it,
    the manifest moves to a manifest file and the xattr is set: it fits on
    a geofs file whenever it fits on a file of the meta root's filesystem
    carrying only the stub's file id."""
    write_file(site.path("f"), b"hello")
    big = b"v" * 3900
    ref = os.path.join(os.path.dirname(site.meta), "xattr-reference")
    open(ref, "wb").close()
    os.setxattr(ref, "user.geofs.id", b"0" * 32)
    os.setxattr(ref, "user.geofs.manifest", stub_manifest(site, "f"))
    crowded = errno_of(os.setxattr, ref, "user.big", big)
    os.removexattr(ref, "user.geofs.manifest")
    if errno_of(os.setxattr, ref, "user.big", big) != "OK":
        pytest.skip("the meta root's filesystem does not take a 3,900-byte xattr")
    os.setxattr(site.path("f"), "user.big", big)
    assert os.getxattr(site.path("f"), "user.big") == big
    if crowded == "ENOSPC":                          # ext4: one xattr block
        assert stub_manifest(site, "f") is None
        assert os.path.exists(manifest_path(site, "f"))
    with open(site.path("f"), "ab") as f:            # later commits: the file
        f.write(b" world")
    site.remount()
    assert read_file(site.path("f")) == b"hello world"
    assert os.getxattr(site.path("f"), "user.big") == big


# ---- fsync after a close that was no durability point ------------------------------

def _fsyncs_during(site, fn):
    """The paths the daemon fsyncs or fdatasyncs while fn runs, seen with
    strace -y (which prints each descriptor's path)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = os.path.join(site.root, "strace.log")
    tracer = subprocess.Popen([strace, "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync",
                               "-o", log, "-p", str(site.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)                              # attached to every thread
        fn()
        time.sleep(0.2)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=10)
    with open(log) as f:
        return f.read()


@pytest.mark.parametrize("size", ["small", "big"])
def test_fsync_makes_a_close_with_durability_fsync_durable(site_factory, size):
    """With durability = fsync a close publishes the new manifest without
    making it durable. A later fsync() of the file, even on a descriptor
    that wrote nothing, must make it durable: the stub (holding a small
    file's manifest) or the manifest file and its directory are synced."""
    site = site_factory.mounted(data={"durability": "fsync"})
    n = FILE_MANIFEST_SHARDS * SHARD if size == "big" else 1000
    data = pattern(40, n)
    write_file(site.path("f"), data)
    stub = os.path.join(site.meta, "f")

    fd = os.open(site.path("f"), os.O_RDONLY)
    try:
        seen = _fsyncs_during(site, lambda: os.fsync(fd))
        assert f"<{stub}>" in seen, seen
        if size == "big":
            assert f"<{manifest_path(site, 'f')}>" in seen, seen
        # a second fsync on it has nothing left to do
        assert f"<{stub}>" not in _fsyncs_during(site, lambda: os.fsync(fd))
    finally:
        os.close(fd)
    site.remount()
    assert read_file(site.path("f")) == data
