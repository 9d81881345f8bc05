"""A damaged shard fails every read path that touches it (issue 16, item 1).

A tampered or truncated object of any shard, not only the first, must give
EIO to the request that touches it, whatever path the request takes: a plain
read, one that spans shards, one that starts in the middle of a shard, the
kernel's read-ahead (large sequential reads), mmap and splice. A short read
instead would be taken as end of file: the application would get a
truncated file and the kernel would shrink its cached size. Each failure is
audited with the file's path, the backend and the object.
"""

import errno
import os
import subprocess

import pytest

from harness import DEFAULT_BACKENDS, MiB, PYTHON, errno_of, pattern, run
from test_faults import audit_records, manifest_of, object_path, tagged_dir, write_file

SIZE = 3 * MiB + MiB // 2          # four 1 MiB shards, the last one half full


def _flip(path):
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x01]))


def _truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def _eio(fn, *args):
    return errno_of(fn, *args) == "EIO"


def _pread(path, size, off):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, off)
    finally:
        os.close(fd)


def _read_until_eio(path, data, size, off, bad):
    """Reads [off, off + size) with pread(2) as an application would, going
    on after a short count. The kernel may hand back the good part before
    the bad shard (at `bad`) as a short count; after that the next read
    must fail with EIO: never a byte of the bad shard, never end of file.
    Returns True if it ended in EIO with only right bytes before."""
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = off
        while pos < off + size:
            try:
                got = os.pread(fd, off + size - pos, pos)
            except OSError as e:
                return e.errno == errno.EIO and pos <= max(off, bad)
            assert got, f"end of file at {pos} reading [{off}, {off + size})"
            assert pos + len(got) <= bad, f"bytes of the bad shard returned at {pos}"
            assert got == data[pos:pos + len(got)], f"wrong bytes at {pos}"
            pos += len(got)
        return False
    finally:
        os.close(fd)


def _read_stream(path, chunk):
    """Sequential reads of `chunk` bytes (the kernel reads ahead of them)."""
    got = bytearray()
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                return bytes(got)
            got += b


def _sendfile(path, off, count):
    src = os.open(path, os.O_RDONLY)
    dst = os.open(os.devnull, os.O_WRONLY)
    try:
        done = 0
        while done < count:
            n = os.sendfile(dst, src, off + done, count - done)
            if n == 0:
                break
            done += n
        return done
    finally:
        os.close(src)
        os.close(dst)


def _splice(path, off, count):
    src = os.open(path, os.O_RDONLY)
    r, w = os.pipe()
    try:
        os.lseek(src, off, os.SEEK_SET)
        done = 0
        while done < count:
            n = os.splice(src, w, min(65536, count - done))
            if n == 0:
                break
            os.read(r, n)
            done += n
        return done
    finally:
        for fd in (src, r, w):
            os.close(fd)


_MMAP_CHILD = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
assert m[0:4096] == bytes.fromhex(sys.argv[3]), "good shard 0 reads wrong"
sys.stdout.write("good\\n"); sys.stdout.flush()
m[int(sys.argv[2])]
print("read a damaged byte")
"""


@pytest.fixture
def damaged(site_factory):
    """A 3.5 MB public file with shard `index` damaged, remounted."""
    def make(index, damage):
        site = site_factory.mounted(shard_size="1M")
        d = tagged_dir(site, "pub", category="public")
        p = os.path.join(d, "big")
        data = pattern(16, SIZE)
        write_file(p, data)
        mf = manifest_of(site, "pub/big")
        assert sorted(mf["shards"]) == [0, 1, 2, 3]
        [(backend, oid)] = mf["shards"][index][2]
        site.unmount()
        obj = object_path(site, backend, oid)
        (_flip if damage == "flip" else _truncate)(obj)
        site.mount()
        return site, p, data, backend, oid
    return make


@pytest.mark.parametrize("damage", ["flip", "truncate"])
@pytest.mark.parametrize("index", [1, 2, 3])
def test_damaged_later_shard_fails_every_read_path(damaged, index, damage):
    site, p, data, backend, oid = damaged(index, damage)
    start = index * MiB
    # the shards before it read right, on their own
    for i in range(index):
        assert _pread(p, MiB, i * MiB) == data[i * MiB:(i + 1) * MiB]
    # the whole file: cat, dd, and plain sequential reads of every size
    cp = run(["cat", p], stdout=subprocess.DEVNULL)
    assert cp.returncode != 0, f"cat of a file with damaged shard {index} exited 0"
    assert "Input/output error" in cp.stderr
    cp = run(["dd", f"if={p}", "of=/dev/null", "bs=4M", "status=none"])
    assert cp.returncode != 0
    cp = run(["dd", f"if={p}", "of=/dev/null", "bs=1M", f"skip={index}", "count=1",
              "status=none"])
    assert cp.returncode != 0 and "Input/output error" in cp.stderr
    for chunk in (4096, 128 * 1024, MiB, 4 * MiB):
        assert _eio(_read_stream, p, chunk), f"sequential {chunk}-byte reads ended short"
    # reads that start in a good shard (at its start or mid-way) and run into
    # the bad one, and reads that start inside the bad one
    assert _read_until_eio(p, data, 2 * MiB, start - MiB, start)
    assert _read_until_eio(p, data, MiB, start - MiB // 2, start)
    assert _read_until_eio(p, data, SIZE, 0, start)
    assert _eio(_pread, p, 1, start + 1000)
    assert _eio(_pread, p, MiB, start)
    # splice: sendfile(2) and splice(2) from the file
    assert _eio(_sendfile, p, 0, SIZE)
    assert _eio(_sendfile, p, start - 4096, 8192)
    assert _eio(_splice, p, start - MiB // 2, MiB)
    # mmap: the good page reads right, the damaged one raises SIGBUS
    cp = run([PYTHON, "-c", _MMAP_CHILD, p, str(start + 12345), data[:4096].hex()])
    assert cp.stdout.startswith("good"), cp.stderr
    assert cp.returncode == -7, (cp.returncode, cp.stdout, cp.stderr)   # SIGBUS
    # the size the kernel and geofs report has not shrunk
    assert os.stat(p).st_size == SIZE
    with open(p, "rb") as f:
        assert os.fstat(f.fileno()).st_size == SIZE
        f.seek(0, os.SEEK_END)
        assert f.tell() == SIZE
    # and each failure is audited with the path, the backend and the object
    recs = [r for r in audit_records(site) if r["op"] == "auth-failure"]
    assert recs, "no auth-failure audit record"
    assert all(r["result"] == "error:EIO" and r["path"] == "/pub/big" for r in recs), recs
    named = [r for r in recs if r.get("object")]
    assert named, recs
    assert all(r["backend"] == backend and r["object"] == oid for r in named), named
    assert all(r["countries"] == [DEFAULT_BACKENDS[backend]["country"]] for r in named), named
    assert all(f"shard {index}:" in r["detail"] for r in recs), recs


def test_damaged_shard_audit_names_path_after_rename(damaged):
    """The path in the record is the file's current name."""
    site, p, _data, _backend, _oid = damaged(2, "flip")
    q = os.path.join(os.path.dirname(p), "renamed")
    fd = os.open(p, os.O_RDONLY)
    try:
        os.rename(p, q)
        assert errno_of(os.pread, fd, MiB, 2 * MiB) == "EIO"
    finally:
        os.close(fd)
    recs = [r for r in audit_records(site) if r["op"] == "auth-failure"]
    assert recs and all(r["path"] == "/pub/renamed" for r in recs), recs

