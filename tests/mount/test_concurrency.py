"""Concurrency: many threads and processes writing, reading, renaming and
retagging the same and different files at once, on one mount and on two
mounts of one meta root.

Every value written is self-describing: each 4 KiB block carries (writer,
sequence, block index) and a filler derived from them. A read during the
run may mix blocks of different writes (Linux does not make a read atomic
against a concurrent write, on ext4 either), but every block must be a
block of some value written, never zeros or garbage. When everything has
stopped, every file must hold exactly one value written, whole.

No test can hang: each worker process arms faulthandler to dump its stacks
and exit before the parent's timeout, and the parent fails loudly with the
daemon's log when a worker does not finish (a deadlock). Nothing here
depends on timing for pass/fail. The work per worker is a fixed number of
operations (GEOFS_CONC_SCALE multiplies it; tests/stress uses it).
"""

import errno
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time

from harness import PYTHON, HarnessError, read_file

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = 4096
MAGIC = 0x47454F56                  # "GEOV"
SIZE = 40 * BLOCK                   # 160 KiB: three 64 KiB shards, the last partial
CAT = "user.geo.category"


def scale():
    return float(os.environ.get("GEOFS_CONC_SCALE", "1"))


# ---- self-describing values -----------------------------------------------------------------

def block(wid, seq, idx):
    head = struct.pack("<IIII", MAGIC, wid, seq, idx)
    fill = hashlib.sha256(head).digest() * (BLOCK // 32)
    return head + fill[:BLOCK - len(head)]


def value(wid, seq, size=SIZE):
    return b"".join(block(wid, seq, i) for i in range(size // BLOCK))


def check_blocks(buf, where, off=0):
    """Every whole 4 KiB block of buf (read at offset off) belongs to some
    value at its own index. Returns the set of (wid, seq) seen."""
    seen = set()
    for i in range(0, len(buf) - len(buf) % BLOCK, BLOCK):
        b = buf[i:i + BLOCK]
        magic, wid, seq, idx = struct.unpack_from("<IIII", b)
        if magic != MAGIC or idx != (off + i) // BLOCK or b != block(wid, seq, idx):
            raise AssertionError(f"{where}: block at {off + i} is not a block of any value "
                                 f"written (head {b[:16].hex()}, zeros: {b == bytes(BLOCK)})")
        seen.add((wid, seq))
    return seen


def whole_value(buf, where, size=SIZE):
    """buf is exactly one value, whole; returns its (wid, seq)."""
    if len(buf) != size:
        raise AssertionError(f"{where}: {len(buf)} bytes, every value has {size}")
    seen = check_blocks(buf, where)
    if len(seen) != 1:
        raise AssertionError(f"{where}: a mix of {len(seen)} writes: {sorted(seen)[:6]}")
    return seen.pop()


# ---- worker processes -----------------------------------------------------------------------

class Stop(Exception):
    pass


def _pwrite_all(fd, data, off):
    mv = memoryview(data)
    while mv:
        n = os.pwrite(fd, mv, off)
        mv, off = mv[n:], off + n


def w_writer(a, tid, rnd, mounts, files, ops, state):
    """Writes whole values over files (one pwrite; close commits)."""
    wid = a["wid"] * 100 + tid
    for seq in range(ops):
        rel = rnd.choice(files)
        m = rnd.choice(mounts)
        fd = os.open(os.path.join(m, rel), os.O_WRONLY)
        try:
            _pwrite_all(fd, value(wid, seq), 0)
            if rnd.random() < 0.2:
                os.fsync(fd)
        finally:
            os.close(fd)
        state["written"].append([rel, wid, seq])


def _direct_read(fd, size, off=0):
    """pread with O_DIRECT semantics: page-aligned buffer, whole blocks."""
    import mmap
    buf = mmap.mmap(-1, (size + BLOCK - 1) // BLOCK * BLOCK)
    try:
        n = os.preadv(fd, [buf], off)
        return bytes(buf[:n])
    finally:
        buf.close()


def w_reader(a, tid, rnd, mounts, files, ops, state):
    """Reads files through fresh opens and through a long-lived fd, with
    O_DIRECT: the reads reach the daemon, which must return blocks of values
    written. (Buffered reads may tear inside a page while a write on the same
    mount copies into it, on any Linux filesystem: not checked.)"""
    held = {}
    try:
        for i in range(ops):
            rel = rnd.choice(files)
            m = rnd.choice(mounts)
            p = os.path.join(m, rel)
            if rnd.random() < 0.5:
                fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
                try:
                    buf = _direct_read(fd, SIZE)
                finally:
                    os.close(fd)
            else:
                key = (m, rel)
                if key not in held:
                    held[key] = os.open(p, os.O_RDONLY | os.O_DIRECT)
                buf = _direct_read(held[key], SIZE)
            check_blocks(buf, f"read {p}")
    finally:
        for fd in held.values():
            os.close(fd)


def w_private(a, tid, rnd, mounts, files, ops, state):
    """Each thread has its own file: write, read back, exact."""
    wid = a["wid"] * 100 + tid
    m = mounts[tid % len(mounts)]
    p = os.path.join(m, a["dir"], f"own-{a['wid']}-{tid}")
    for seq in range(ops):
        size = rnd.choice([BLOCK, 3 * BLOCK, SIZE, 2 * SIZE])
        v = value(wid, seq, size)
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _pwrite_all(fd, v, 0)
            if os.pread(fd, size + 1, 0) != v:
                raise AssertionError(f"{p}: own write not read back through the same fd")
        finally:
            os.close(fd)
        other = mounts[(tid + seq) % len(mounts)]
        got = read_file(os.path.join(other, a["dir"], f"own-{a['wid']}-{tid}"))
        if got != v:
            raise AssertionError(f"{p}: after close, {len(got)} bytes via {other}, "
                                 f"expected the {size}-byte value {seq}")


def w_renamer(a, tid, rnd, mounts, files, ops, state):
    """Moves files between names with RENAME_NOREPLACE / RENAME_EXCHANGE;
    losing a race (ENOENT, EEXIST) is normal."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    names = a["names"]
    for _ in range(ops):
        m = rnd.choice(mounts)
        src = os.fsencode(os.path.join(m, rnd.choice(names)))
        dst = os.fsencode(os.path.join(m, rnd.choice(names)))
        flags = 1 if rnd.random() < 0.7 else 2            # NOREPLACE, EXCHANGE
        if libc.renameat2(-100, src, -100, dst, flags) != 0:
            e = ctypes.get_errno()
            if e not in (errno.ENOENT, errno.EEXIST):
                raise OSError(e, os.strerror(e), src)


def w_name_reader(a, tid, rnd, mounts, files, ops, state):
    """Opens names that renamers move around: a whole token or ENOENT."""
    names = a["names"]
    for _ in range(ops):
        p = os.path.join(rnd.choice(mounts), rnd.choice(names))
        try:
            buf = read_file(p)
        except FileNotFoundError:
            continue
        check_blocks(buf, f"read {p}")
        if len(buf) != SIZE:
            raise AssertionError(f"{p}: {len(buf)} bytes; tokens are never modified")


def w_retagger(a, tid, rnd, mounts, files, ops, state):
    """Retags files between media (JP or KR) and personal (JP only) and
    migrates them, while writers and readers work on the same files."""
    for _ in range(ops):
        p = os.path.join(rnd.choice(mounts), rnd.choice(files))
        r = rnd.random()
        if r < 0.4:
            os.setxattr(p, CAT, rnd.choice([b"media", b"personal"]))
        elif r < 0.7:
            os.setxattr(p, "user.geo.migrate", b"1")
        else:
            for name in ("user.geo.status", "user.geo.placement", "user.geo.info", CAT):
                os.getxattr(p, name)


def w_churn(a, tid, rnd, mounts, files, ops, state):
    """Creates, lists and unlinks in one directory; listings have no
    duplicates and always contain the stable names."""
    d = os.path.join(mounts[tid % len(mounts)], a["dir"])
    stable = set(a["stable"])
    for i in range(ops):
        n = f"churn-{a['wid']}-{tid}-{i % 7}"
        p = os.path.join(d, n)
        try:
            with open(p, "wb") as f:
                f.write(n.encode())
        except FileExistsError:
            pass
        names = os.listdir(d)
        if len(names) != len(set(names)):
            raise AssertionError(f"duplicate names in a listing of {d}")
        if not stable <= set(names):
            raise AssertionError(f"stable names missing from a listing of {d}: "
                                 f"{sorted(stable - set(names))[:5]}")
        if i % 2:
            os.unlink(p)


def w_closer(a, tid, rnd, mounts, files, ops, state):
    """Writes a few shards and closes, again and again: each close is the
    last reference of the file in the daemon."""
    state["closers"] = state.get("closers", 0) + 1
    try:
        for seq in range(ops):
            fd = os.open(os.path.join(mounts[0], files[0]), os.O_WRONLY)
            try:
                _pwrite_all(fd, value(a["wid"] * 100 + tid, seq, 2 * SIZE), 0)
            finally:
                os.close(fd)
    finally:
        state["closers"] -= 1


def w_statter(a, tid, rnd, mounts, files, ops, state):
    """stat()s the closers' file until they are done."""
    p = os.path.join(mounts[0], files[0])
    while state.get("closers", 1) > 0:
        os.stat(p)


ROLES = {f.__name__[2:]: f for f in (w_writer, w_reader, w_private, w_renamer, w_name_reader,
                                     w_retagger, w_churn, w_closer, w_statter)}


def worker_main(argv):
    """One process: threads running the roles in a["roles"]; prints a JSON
    summary; dumps every thread's stack and exits 3 on its own timeout."""
    import faulthandler
    a = json.loads(argv[0])
    faulthandler.dump_traceback_later(a["timeout"], exit=True)
    state = {"written": []}
    errors = []

    def run(role, tid):
        rnd = random.Random(a["seed"] * 1000 + tid)
        try:
            ROLES[role](a, tid, rnd, a["mounts"], a["files"], a["ops"], state)
        except Exception as e:          # noqa: BLE001 - reported to the parent
            import traceback
            errors.append(f"{role} thread {tid}: {e!r}\n{traceback.format_exc()}")

    threads = [threading.Thread(target=run, args=(role, tid), daemon=True)
               for tid, role in enumerate(a["roles"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps({"errors": errors, "written": state["written"]}))
    sys.exit(1 if errors else 0)


_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); import test_concurrency as t; "
          "t.worker_main(sys.argv[2:])")


def run_workers(sites, specs, timeout=None):
    """Starts one process per spec (roles, ops, ...); waits with a timeout
    that fails loudly. Returns the merged list of values written."""
    timeout = timeout or 60 + 60 * scale()
    procs = []
    for wid, spec in enumerate(specs):
        a = dict(spec)
        a.update(wid=wid + 1, timeout=timeout, seed=a.get("seed", 1) * 100 + wid)
        a["ops"] = max(1, int(a["ops"] * scale()))
        procs.append(subprocess.Popen([PYTHON, "-c", _CHILD, HERE, json.dumps(a)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    deadline = time.monotonic() + timeout + 30
    written, errors = [], []
    for i, p in enumerate(procs):
        try:
            out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            logs = "\n".join(s.log()[-3000:] for s in sites)
            raise HarnessError(f"worker {i + 1} did not finish in {timeout + 30}s "
                               f"(deadlock?)\ndaemon logs:\n{logs}")
        if p.returncode == 3 or "Thread 0x" in err:
            raise HarnessError(f"worker {i + 1} timed out after {timeout}s (deadlock?); "
                               f"its threads were at:\n{err[-6000:]}")
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise HarnessError(f"worker {i + 1} exited {p.returncode} without a summary:\n"
                               f"{err[-4000:]}")
        errors += res["errors"]
        written += res["written"]
    for s in sites:
        assert s.proc is not None and s.proc.poll() is None, f"geofs died:\n{s.log()}"
    assert not errors, "\n".join(errors)[:8000]
    return written



def init_files(site, rels, wid=0):
    for i, rel in enumerate(rels):
        with open(site.path(rel), "wb") as f:
            f.write(value(wid, i))


def check_final(sites, rels, written, initial=True):
    """Every file holds one value written (or its initial one), whole, the
    same through every mount."""
    ok = {(rel, w, s) for rel, w, s in written}
    for i, rel in enumerate(rels):
        vals = set()
        for s in sites:
            ws = whole_value(read_file(s.path(rel)), f"final {s.path(rel)}")
            vals.add(ws)
            assert (rel, *ws) in ok or (initial and ws == (0, i)), \
                f"{rel}: holds value {ws}, which was never written to it"
        assert len(vals) == 1, f"{rel}: mounts disagree: {vals}"


# ---- tests ----------------------------------------------------------------------------------

def test_threads_and_processes_same_files_one_mount(site):
    os.mkdir(site.path("d"))
    files = [f"d/f{i}" for i in range(3)]
    init_files(site, files)
    spec = {"mounts": [site.mnt], "files": files, "dir": "d", "ops": 40}
    written = run_workers([site], [
        dict(spec, roles=["writer"] * 4 + ["reader"] * 2, seed=1),
        dict(spec, roles=["writer"] * 2 + ["reader"] * 2 + ["private"] * 2, seed=2),
        dict(spec, roles=["reader"] * 2 + ["private"] * 2, seed=3),
    ])
    check_final([site], files, written)
    site.remount()
    check_final([site], files, written)


def test_stat_races_last_close(site):
    """getattr while the last handle of the file is released: the daemon
    must neither crash nor return an error. (Regression: gfile_put() let a
    getattr's put also act as the last one; both freed the file. TSan and
    ASan reported it from this test; fixed with the `closing` flag.)"""
    with open(site.path("f"), "wb") as f:
        f.write(value(0, 0, 2 * SIZE))
    run_workers([site], [{"mounts": [site.mnt], "files": ["f"], "dir": "", "ops": 250,
                          "roles": ["closer"] + ["statter"] * 4, "seed": 13}])
    whole_value(read_file(site.path("f")), "f", 2 * SIZE)


def test_two_mounts_same_directory(site_factory):
    """Two mounts of one meta root busy at once in one directory: each file
    is shared by the writers and readers of one mount, and the private
    files move between the mounts close-to-open (DESIGN.md, coherence)."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    os.mkdir(a.path("d"))
    fa, fb = ["d/a0", "d/a1"], ["d/b0", "d/b1"]
    init_files(a, fa + fb)
    spec = {"dir": "d", "ops": 30}
    written = run_workers([a, b], [
        dict(spec, roles=["writer"] * 2 + ["reader"] * 2, mounts=[a.mnt], files=fa, seed=4),
        dict(spec, roles=["writer"] * 2 + ["reader"] * 2, mounts=[b.mnt], files=fb, seed=5),
        dict(spec, roles=["private"] * 4, mounts=[a.mnt, b.mnt], files=[], seed=6),
    ])
    check_final([a, b], fa, written)
    check_final([a, b], fb, [[r, w, s] for r, w, s in written if r in fb])
    b.unmount()
    a.remount()
    check_final([a], fa + fb, written)


BIG = 40 * 64 * 1024 + 8 * BLOCK        # 40 shards and a partial one


def test_two_mounts_same_files(site_factory):
    """Writers and readers on both mounts on the same files at once: the
    last commit wins, whole (each writer rewrites every shard), and reads
    meanwhile return blocks of values written, never an error."""
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    os.mkdir(a.path("d"))
    files = ["d/s0", "d/s1"]
    init_files(a, files)
    spec = {"mounts": [a.mnt, b.mnt], "files": files, "dir": "d", "ops": 30}
    written = run_workers([a, b], [
        dict(spec, roles=["writer"] * 2 + ["reader"] * 2, seed=14),
        dict(spec, roles=["writer"] * 2 + ["reader"] * 2, seed=15),
    ])
    check_final([a, b], files, written)
    b.unmount()
    a.remount()
    check_final([a], files, written)


def _other_mount_overwrites(site_factory):
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    with open(b.path("f"), "wb") as f:                 # written on B: nothing cached on A
        f.write(value(1, 0, BIG))
    return a, b


def _overwrite_on(site, wid):
    with open(site.path("f"), "r+b") as f:             # whole value, last shard partial
        f.write(value(wid, 0, BIG))


def test_reader_on_one_mount_while_the_other_replaces_the_file(site_factory):
    """A file open on A keeps the manifest it loaded; B replaces the file and
    deletes the old objects: A's next read returns old or new bytes, never
    EIO (regression: it gave EIO, 'replica unreadable: No such file')."""
    a, b = _other_mount_overwrites(site_factory)
    fd = os.open(a.path("f"), os.O_RDONLY | os.O_DIRECT)
    try:
        # the open loaded the manifest on A (no read: a read would decode ahead)
        _overwrite_on(b, 2)                                            # B commits, deletes
        buf = _direct_read(fd, 64 * 1024, BIG - 64 * 1024)            # shards not read yet
        assert len(buf) == 64 * 1024
        assert check_blocks(buf, "tail via A", BIG - 64 * 1024) <= {(1, 0), (2, 0)}
    finally:
        os.close(fd)


def test_writer_on_one_mount_while_the_other_replaces_the_file(site_factory):
    """As above for a write inside a partial shard, which needs the old
    shard (regression: pwrite() gave EIO)."""
    a, b = _other_mount_overwrites(site_factory)
    fd = os.open(a.path("f"), os.O_RDWR)
    try:
        _overwrite_on(b, 2)                                            # manifest loaded on A
        os.pwrite(fd, block(3, 0, BIG // BLOCK - 1), BIG - BLOCK)     # inside the last shard
    finally:
        os.close(fd)
    buf = read_file(a.path("f"))
    assert len(buf) == BIG and check_blocks(buf, "after both") <= {(1, 0), (2, 0), (3, 0)}


def test_renames_race_with_opens(site):
    """Tokens move between names with NOREPLACE and EXCHANGE renames from
    many threads and processes while readers open the names: no token is
    lost or duplicated, and every open gives a whole token."""
    os.mkdir(site.path("r"))
    names = [f"r/n{i}" for i in range(12)]
    tokens = names[:6]
    init_files(site, tokens)
    spec = {"mounts": [site.mnt], "files": [], "dir": "r", "ops": 150,
            "names": [site.path(n)[len(site.mnt) + 1:] for n in names]}
    run_workers([site], [
        dict(spec, roles=["renamer"] * 3 + ["name_reader"] * 2, seed=7),
        dict(spec, roles=["renamer"] * 3 + ["name_reader"], seed=8),
    ])
    present = sorted(n for n in names if os.path.exists(site.path(n)))
    seen = sorted(whole_value(read_file(site.path(n)), n) for n in present)
    assert seen == sorted((0, i) for i in range(6)), f"tokens after the renames: {seen}"
    site.remount()
    assert sorted(whole_value(read_file(site.path(n)), n) for n in present) == seen


def test_retag_and_migrate_while_writing(site_factory):
    """Retags (media <-> personal) and migrations race with writers and
    readers on the same files; afterwards every file is whole and, once
    migrated, stored where its final category allows."""
    site = site_factory.mounted(backends={"tokyo-1": {"country": "JP"},
                                          "osaka-1": {"country": "JP"},
                                          "seoul-1": {"country": "KR", "weight": "20"}})
    os.mkdir(site.path("t"))
    os.setxattr(site.path("t"), CAT, b"media")
    files = [f"t/f{i}" for i in range(3)]
    init_files(site, files)
    spec = {"mounts": [site.mnt], "files": files, "dir": "t", "ops": 30}
    written = run_workers([site], [
        dict(spec, roles=["writer"] * 2 + ["retagger"] * 2 + ["reader"], seed=9),
        dict(spec, roles=["writer", "retagger", "reader"], seed=10),
    ])
    check_final([site], files, written)
    for rel in files:
        p = site.path(rel)
        if site.xattr(p, "user.geo.status") != "ok":
            os.setxattr(p, "user.geo.migrate", b"1")
        assert site.xattr(p, "user.geo.status") == "ok", rel
        allowed = ("JP/",) if site.xattr(p, CAT) == "personal" else ("JP/", "KR/")
        assert all(x.startswith(allowed) for x in site.placement(p)), site.placement(p)
    site.remount()
    check_final([site], files, written)


def test_create_unlink_readdir_churn(site_factory):
    a = site_factory.mounted()
    b = site_factory.mounted(share=a, name="tokyo-app-02")
    os.mkdir(a.path("c"))
    stable = [f"stable{i}" for i in range(40)]
    for n in stable:
        with open(a.path("c", n), "wb") as f:
            f.write(b"s")
    spec = {"mounts": [a.mnt, b.mnt], "files": [], "dir": "c", "ops": 60, "stable": stable}
    run_workers([a, b], [dict(spec, roles=["churn"] * 4, seed=11),
                         dict(spec, roles=["churn"] * 4, seed=12)])
    left = sorted(os.listdir(a.path("c")))
    assert left == sorted(os.listdir(b.path("c")))
    assert set(stable) <= set(left)
    for n in left:
        want = b"s" if n in stable else n.encode()
        assert read_file(a.path("c", n)) == want, n


if __name__ == "__main__":
    sys.exit("run with pytest")


def test_unlink_right_after_close_leaves_no_orphans(site_factory):
    """close() returns before the kernel sends the release, so the daemon
    may still be closing a file (its last write-back) when an unlink of it,
    or a rename over it, arrives. Whichever comes first, the file's objects
    go with it: after many such pairs in several threads at once, fsck finds
    no object that nothing refers to."""
    site = site_factory.mounted()
    d = site.path("d")
    os.mkdir(d)

    def write(p, n):
        with open(p, "wb") as f:
            f.write(os.urandom(n))

    def churn(t):
        for i in range(150):
            p = os.path.join(d, f"t{t}-{i}")
            write(p, 3000 + i)
            if i % 2:                                # a rename over it, then unlink
                write(p + ".new", 5000 + i)
                os.rename(p + ".new", p)
            os.unlink(p)
    threads = [threading.Thread(target=churn, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert os.listdir(d) == []
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config, "--json")
    report = json.loads(cp.stdout)
    assert [f["kind"] for f in report["findings"]] == [], cp.stdout
    assert cp.returncode == 0
