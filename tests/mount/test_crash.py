"""kill -9 of the daemon: every fsynced or closed file survives intact; a file
being written reads as a previous durable version or a clean prefix."""

import hashlib
import json
import os
import random
import subprocess
import time

from harness import PYTHON, HarnessError, MiB, hash_file, write_stream

SHARD = 64 * 1024
HOT_CHUNK = 20000

# The writer runs in its own process so that the kill can land while it is in
# the middle of a write; it records each durable point in a log outside the
# mount only after fsync()/close() returned.
WRITER = r"""
import os, random, sys
mnt, log, tag = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from test_crash import content, hot_chunk
logf = open(log, "a", buffering=1)
os.makedirs(os.path.join(mnt, f"files-{tag}"), exist_ok=True)
hot = os.open(os.path.join(mnt, f"hot-{tag}"), os.O_RDWR | os.O_CREAT, 0o644)
logf.write("start\n")
i = 0
while True:
    p = os.path.join(mnt, f"files-{tag}", f"f{i}")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    data = content(tag, "f", i)
    off = 0
    while off < len(data):
        off += os.write(fd, data[off:off + 50000])
    os.fsync(fd)
    os.close(fd)
    logf.write(f"f {i}\n")
    with open(os.path.join(mnt, f"ow-{tag}"), "wb") as f:
        f.write(content(tag, "ow", i))
    logf.write(f"ow {i}\n")
    os.pwrite(hot, hot_chunk(tag, i), i * %(chunk)d)
    if i %% 3 == 2:
        os.fsync(hot)
        logf.write(f"hot {i}\n")
    i += 1
""" % {"chunk": HOT_CHUNK}


def content(tag, kind, i):
    rnd = random.Random(f"{tag}/{kind}/{i}")
    return rnd.randbytes(rnd.randrange(0, 5 * SHARD))


def hot_chunk(tag, i):
    return random.Random(f"{tag}/hot/{i}").randbytes(HOT_CHUNK)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _wait_lines(log, pred, timeout, proc):
    deadline = time.monotonic() + timeout
    while True:
        lines = open(log).read().split("\n")[:-1] if os.path.exists(log) else []
        if pred(lines):
            return lines
        if proc.poll() is not None:
            raise HarnessError(f"writer exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise HarnessError(f"writer made no progress in {timeout}s: {lines[-5:]}")
        time.sleep(0.01)


def _kill9_when(site, proc, ready):
    """Kills the daemon with SIGKILL once ready() returns, while proc (a
    writer) works on the mount, then reaps proc, even if ready() failed."""
    try:
        ready()
        site.kill9()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def _crash_round(site, tag, nfiles):
    log = os.path.join(site.root, f"writer-{tag}.log")
    proc = subprocess.Popen([PYTHON, "-c", WRITER, site.mnt, log, tag, os.path.dirname(__file__)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _kill9_when(site, proc, lambda: _wait_lines(
        log, lambda ls: sum(1 for x in ls if x.startswith("f ")) >= nfiles, 60, proc))
    return open(log).read().split("\n")[:-1]


def _check_round(site, tag, lines):
    done_f = [int(x.split()[1]) for x in lines if x.startswith("f ")]
    done_ow = [int(x.split()[1]) for x in lines if x.startswith("ow ")]
    done_hot = [int(x.split()[1]) for x in lines if x.startswith("hot ")]
    for i in done_f:                                    # fsynced + closed: exact
        assert _read(site.path(f"files-{tag}", f"f{i}")) == content(tag, "f", i), f"f{i}"
    nxt = site.path(f"files-{tag}", f"f{len(done_f)}")  # being written at the kill
    if os.path.exists(nxt):
        got = _read(nxt)
        assert got == content(tag, "f", len(done_f))[:len(got)], "not a clean prefix"
    names = set(os.listdir(site.path(f"files-{tag}")))
    assert names <= {f"f{i}" for i in range(len(done_f) + 1)}, names
    if done_ow:                                         # closed versions
        j = done_ow[-1]
        got = _read(site.path(f"ow-{tag}"))
        ok = (got == content(tag, "ow", j) or
              got == content(tag, "ow", j + 1)[:len(got)])
        assert ok, f"ow-{tag}: {len(got)} bytes, neither version {j} nor a prefix of {j + 1}"
    if done_hot:
        k = done_hot[-1]
        ref = b"".join(hot_chunk(tag, i) for i in range(len(done_f) + 2))
        got = _read(site.path(f"hot-{tag}"))
        assert len(got) >= (k + 1) * HOT_CHUNK, f"hot-{tag} lost fsynced data"
        assert got == ref[:len(got)], f"hot-{tag} is not a clean prefix"


def test_kill9_during_writes(site_factory):
    site = site_factory.mounted()
    rounds = {}
    for r, n in enumerate((3, 9, 20)):
        tag = f"r{r}"
        rounds[tag] = _crash_round(site, tag, n)
        site.mount()
        for t, lines in rounds.items():                 # earlier rounds too
            _check_round(site, t, lines)
    site.remount()
    for t, lines in rounds.items():
        _check_round(site, t, lines)


def test_kill9_during_overwrite_keeps_last_durable_version(site_factory):
    site_factory.set_timeout(300)
    site = site_factory.mounted(shard_size="1M")
    p = site.path("video")
    v1 = write_stream(p, 12 * MiB + 5, seed=1, fsync=False)     # durable at close
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            f"import os, harness\n"
            f"fd = os.open({p!r}, os.O_WRONLY)\n"
            f"print('go', flush=True)\n"
            f"rnd = harness.random.Random(2)\n"
            f"off = 0\n"
            f"while True:\n"
            f"    os.pwrite(fd, rnd.randbytes(harness.MiB), off % (12 * harness.MiB))\n"
            f"    off += harness.MiB\n")
    proc = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    def ready():
        assert proc.stdout.readline().strip() == "go"
        time.sleep(0.5)             # not a pass/fail timing: any moment is a valid kill point
    _kill9_when(site, proc, ready)
    site.mount()
    assert hash_file(p) == (12 * MiB + 5, v1)



# ---- a random crash loop --------------------------------------------------------------------
#
# A worker process does random operations on a small tree: large writes of
# new files, overwrites, truncates, renames (also into a stricter directory,
# which retags and migrates), retags, migrations and unlinks. Before each
# operation it journals what it is about to do, with the content before and
# after stored as blobs outside the mount; after the operation returned (and,
# for writes, after fsync/close) it journals "done". The daemon is killed at a
# random moment; then:
#   * fsck on the unmounted tree finds only leftovers (orphan objects, temp
#     files, orphan manifests) and MISPLACED only for files retagged tighter
#     and not yet migrated; --repair removes the leftovers;
#   * after the restart every file reads back exactly as its last durable
#     version; the file of the operation in flight reads as its state before
#     or after that operation (a write in flight: a prefix of the new bytes
#     over the old ones); no file gives EIO; no unexpected names appear;
#   * files left misplaced are migrated, and status reads "ok" afterwards.

CAT = "user.geo.category"
# STUB-SIZE: a write grows the stub before its commit makes the manifest
# say so; a kill in between leaves the stub ahead (--repair sets it back).
LEFTOVERS = {"ORPHAN-OBJECT", "ORPHAN-TEMP", "ORPHAN-MANIFEST", "META-TEMP", "STUB-SIZE"}
DIRS = {"m": "media", "p": "personal"}     # media may sit in JP or KR; personal only in JP
KINDS = ("create", "overwrite", "truncate", "rename", "retag", "migrate")
CRASH_BACKENDS = {"tokyo-1": {"country": "JP"},
                  "osaka-1": {"country": "JP"},
                  "seoul-1": {"country": "KR", "weight": "20"}}


def _blob_put(blobdir, data):
    h = hashlib.sha256(data).hexdigest()
    p = os.path.join(blobdir, h)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    return h


def _blob_get(blobdir, h):
    with open(os.path.join(blobdir, h), "rb") as f:
        return f.read()


class CrashWorker:
    """Runs in its own process; state = {path: {"blob", "cat", "unmigrated"}}."""

    def __init__(self, mnt, statefile, journal, blobdir, killmark, seed):
        self.mnt = mnt
        self.killmark = killmark
        with open(statefile) as f:
            self.state = json.load(f)
        self.j = open(journal, "a", buffering=1)
        self.blobdir = blobdir
        self.rnd = random.Random(seed)
        self.seq = 0
        self.seed = seed

    def p(self, rel):
        return os.path.join(self.mnt, rel)

    def journal(self, **kw):
        self.j.write(json.dumps(kw) + "\n")
        self.j.flush()

    def begin(self, kind, name, **kw):
        self.seq += 1
        self.journal(phase="begin", seq=self.seq, kind=kind, name=name, **kw)

    def done(self):
        self.journal(phase="done", seq=self.seq)

    def new_name(self):
        d = self.rnd.choice(sorted(DIRS))
        return f"{d}/s{self.seed % 100000}-{self.seq + 1}"

    def data(self, n):
        return self.rnd.randbytes(n) if self.rnd.random() < 0.7 else \
            bytes([self.rnd.randrange(256)]) * n

    def content(self, name):
        return _blob_get(self.blobdir, self.state[name]["blob"])

    def op_create(self):
        name = self.new_name()
        new = self.data(self.rnd.choice([self.rnd.randrange(1, 3 * MiB), 256 * 1024 + 3]))
        h = _blob_put(self.blobdir, new)
        self.begin("create", name, new=h, cat=DIRS[name[0]])
        fd = os.open(self.p(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        for off in range(0, len(new), 100_000):
            os.write(fd, new[off:off + 100_000])
        if self.rnd.random() < 0.5:
            os.fsync(fd)
        os.close(fd)
        self.state[name] = {"blob": h, "cat": DIRS[name[0]], "unmigrated": False}
        self.done()

    def op_overwrite(self, name):
        old = self.content(name)
        n = max(len(old), self.rnd.randrange(1, 2 * MiB))
        new = bytearray(old) + bytes(n - len(old))
        a = self.rnd.randrange(0, n)
        b = min(n, a + self.rnd.randrange(1, MiB))
        new[a:b] = self.data(b - a)
        if n > len(old):                            # extending: write the whole tail
            a = min(a, len(old))
        new = bytes(new)
        h = _blob_put(self.blobdir, new)
        self.begin("overwrite", name, old=self.state[name]["blob"], new=h)
        fd = os.open(self.p(name), os.O_WRONLY)
        for off in range(a, n, 100_000):
            os.pwrite(fd, new[off:min(n, off + 100_000)], off)
        if self.rnd.random() < 0.5:
            os.fsync(fd)
        os.close(fd)
        self.state[name]["blob"] = h
        self.done()

    def op_truncate(self, name):
        old = self.content(name)
        size = self.rnd.choice([0, self.rnd.randrange(0, len(old) + 1), len(old) + 70_000,
                                max(0, len(old) - 1)])
        new = old[:size] + bytes(max(0, size - len(old)))
        h = _blob_put(self.blobdir, new)
        self.begin("truncate", name, old=self.state[name]["blob"], new=h)
        os.truncate(self.p(name), size)
        self.state[name]["blob"] = h
        self.done()

    def op_rename(self, name):
        others = sorted(set(self.state) - {name})
        dst = self.rnd.choice(others) if others and self.rnd.random() < 0.3 else self.new_name()
        self.begin("rename", name, dst=dst, dst_old=self.state.get(dst, {}).get("blob"))
        os.rename(self.p(name), self.p(dst))
        st = self.state.pop(name)
        if name[0] == "m" and dst[0] == "p" and st["cat"] == "media":
            # moved under a stricter directory: retagged and migrated
            st["cat"] = "personal"
            st["unmigrated"] = False
        self.state[dst] = st
        self.done()

    def op_retag(self, name):
        cat = "personal" if self.state[name]["cat"] == "media" else "media"
        self.begin("retag", name, cat=cat)
        os.setxattr(self.p(name), CAT, cat.encode())
        self.state[name]["cat"] = cat
        if cat == "personal":
            self.state[name]["unmigrated"] = True
        self.done()

    def op_migrate(self, name):
        pending = sorted(n for n, s in self.state.items() if s["unmigrated"])
        if pending:
            name = self.rnd.choice(pending)
        self.begin("migrate", name)
        os.setxattr(self.p(name), "user.geo.migrate", b"1")
        self.state[name]["unmigrated"] = False
        self.done()

    def op_unlink(self, name):
        self.begin("unlink", name)
        os.unlink(self.p(name))
        del self.state[name]
        self.done()

    def run(self):
        ops = [(self.op_overwrite, 4), (self.op_truncate, 2), (self.op_rename, 2),
               (self.op_retag, 2), (self.op_migrate, 2), (self.op_unlink, 1)]
        try:
            while True:
                if len(self.state) < 3 or self.rnd.random() < 0.25:
                    self.op_create()
                    continue
                fn = self.rnd.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
                fn(self.rnd.choice(sorted(self.state)))
        except OSError as e:
            # After the kill every call fails: ENOTCONN/ECONNABORTED from the
            # dead connection, ENOENT once the mount is detached. An error
            # before the parent marked the kill is a real failure.
            killed = os.path.exists(self.killmark)
            self.journal(phase="error" if killed else "error-before-kill", seq=self.seq,
                         errno=e.errno, msg=str(e))


def crash_worker_main(argv):
    CrashWorker(*argv[:5], int(argv[5])).run()


_CRASH_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); import test_crash as t; "
                "t.crash_worker_main(sys.argv[2:])")


def _read_journal(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def _overwrite_state_ok(got, old, new):
    """got is old, new, or new's first k bytes over old (a write stream cut)."""
    if got in (old, new):
        return True
    k = 0
    limit = min(len(got), len(new))
    while k < limit and got[k] == new[k]:
        k += 1
    if len(got) == len(old) and got[k:] == old[k:]:
        return True
    return k == len(got) and len(old) <= len(got) <= len(new)


class CrashLoop:
    def __init__(self, site_factory, seed):
        self.site = site_factory.mounted(backends=CRASH_BACKENDS)
        self.root = self.site.root
        self.blobdir = os.path.join(self.root, "blobs")
        os.makedirs(self.blobdir)
        self.state = {}
        self.rnd = random.Random(seed)
        self.seed = seed
        for d, cat in DIRS.items():
            os.mkdir(self.site.path(d))
            os.setxattr(self.site.path(d), CAT, cat.encode())

    def fail(self, it, msg):
        raise AssertionError(f"crash loop seed {self.seed}, iteration {it}: {msg}")

    def fsck(self, *args):
        cp = self.site.geoctl("fsck", "-c", self.site.config, "--json", *args, timeout=300)
        try:
            out = json.loads(cp.stdout)
        except ValueError:
            raise HarnessError(f"fsck --json printed no JSON ({cp.returncode}):\n"
                               f"{cp.stdout}{cp.stderr}")
        return cp.returncode, out

    def iteration(self, it):
        site = self.site
        statefile = os.path.join(self.root, f"state-{it}.json")
        journal = os.path.join(self.root, f"journal-{it}.log")
        killmark = os.path.join(self.root, f"killed-{it}")
        with open(statefile, "w") as f:
            json.dump(self.state, f)
        kill_after = self.rnd.randrange(1, 8)
        target = KINDS[it % len(KINDS)]
        delay = self.rnd.random() * 0.05
        proc = subprocess.Popen([PYTHON, "-c", _CRASH_CHILD, os.path.dirname(__file__),
                                 site.mnt, statefile, journal, self.blobdir, killmark,
                                 str(self.seed * 1000 + it)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            aim = None
            while True:
                ents = _read_journal(journal) if os.path.exists(journal) else []
                if aim is None and sum(1 for e in ents if e["phase"] == "done") >= kill_after:
                    aim = time.monotonic() + 5
                # aim at an operation of this iteration's kind while it runs
                # (for up to 5 s; then anywhere)
                if aim is not None and (time.monotonic() > aim or (
                        ents and ents[-1]["phase"] == "begin" and ents[-1]["kind"] == target)):
                    break
                if proc.poll() is not None:
                    self.fail(it, f"worker stopped before the kill ({proc.returncode}): "
                                  f"{ents[-3:]}\n{proc.stderr.read()}")
                if time.monotonic() > deadline:
                    self.fail(it, f"worker made no progress in 120 s: {ents[-3:]}")
                time.sleep(0.001 if aim else 0.005)
            # where the kill lands is random by design; it never decides pass/fail
            time.sleep(delay if ents and ents[-1]["phase"] != "begin" else delay / 20)
            open(killmark, "w").close()
            site.kill9()
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        ents = _read_journal(journal)
        errs = [e for e in ents if e["phase"] == "error-before-kill"]
        if errs:
            self.fail(it, f"worker failed before the kill: {errs}")
        return self.check_after_crash(it, ents)

    def check_after_crash(self, it, ents):
        site = self.site
        # replay the journal: what is durable, and what was in flight
        state = json.loads(json.dumps(self.state))
        pending = None
        for e in ents:
            if e["phase"] == "begin":
                pending = e
            elif e["phase"] == "done":
                self.apply(state, pending)
                pending = None
        # 1. offline fsck: leftovers only, MISPLACED only where expected
        may_misplace = {"/" + n for n, s in state.items() if s["cat"] == "personal"}
        if pending:
            may_misplace |= {"/" + pending["name"]}
            if pending.get("dst"):
                may_misplace |= {"/" + pending["dst"]}
        rc, out = self.fsck()
        bad = [f for f in out["findings"] if f["kind"] not in LEFTOVERS and
               not (f["kind"] == "MISPLACED" and f["what"] in may_misplace)]
        if bad or rc not in (0, 1):
            self.fail(it, f"fsck after the crash (exit {rc}): {bad or out}\n"
                          f"in flight: {pending}")
        rc, out = self.fsck("--repair")
        left = [f for f in out["findings"] if f["kind"] in LEFTOVERS and not f.get("repaired")]
        if left:
            self.fail(it, f"fsck --repair left {left}")
        rc, out = self.fsck()
        if any(f["kind"] in LEFTOVERS for f in out["findings"]):
            self.fail(it, f"leftovers after --repair: {out['findings']}")
        if rc != 0 and any(f["kind"] != "MISPLACED" for f in out["findings"]):
            self.fail(it, f"fsck exit {rc} after --repair: {out['findings']}")
        # 2. restart and read everything back
        site.mount()
        names = set()
        for d in DIRS:
            names |= {f"{d}/{n}" for n in os.listdir(site.path(d))}
        for rel in sorted(names):                       # nothing unreadable
            try:
                _read(site.path(rel))
            except OSError as e:
                self.fail(it, f"{rel} unreadable after the crash: {e}")
        final = {}
        for n, s in state.items():
            final[n] = dict(s)
        if pending:
            self.resolve_pending(it, state, final, pending, names)
        expect = set(final)
        if names != expect:
            self.fail(it, f"names after the crash: extra {sorted(names - expect)}, "
                          f"missing {sorted(expect - names)}; in flight: {pending}")
        for n, s in final.items():
            got = _read(site.path(n))
            if hashlib.sha256(got).hexdigest() != s["blob"]:
                self.fail(it, f"{n}: {len(got)} bytes differ from its last durable version "
                              f"({len(_blob_get(self.blobdir, s['blob']))} bytes); "
                              f"in flight: {pending}")
            cat = site.xattr(site.path(n), CAT)
            if cat != s["cat"]:
                self.fail(it, f"{n}: category {cat}, expected {s['cat']}")
        # 3. finish migrations that the crash (or the worker) left undone
        for n in final:
            if site.xattr(site.path(n), "user.geo.status") != "ok":
                os.setxattr(site.path(n), "user.geo.migrate", b"1")
                st = site.xattr(site.path(n), "user.geo.status")
                if st != "ok":
                    self.fail(it, f"{n}: status {st!r} after migrate")
            final[n]["unmigrated"] = False
        self.state = final
        return pending

    @staticmethod
    def apply(state, e):
        k, n = e["kind"], e["name"]
        if k == "create":
            state[n] = {"blob": e["new"], "cat": e["cat"], "unmigrated": False}
        elif k in ("overwrite", "truncate"):
            state[n]["blob"] = e["new"]
        elif k == "rename":
            st = state.pop(n)
            if n[0] == "m" and e["dst"][0] == "p" and st["cat"] == "media":
                st["cat"] = "personal"
            state[e["dst"]] = st
        elif k == "retag":
            state[n]["cat"] = e["cat"]
        elif k == "unlink":
            del state[n]

    def resolve_pending(self, it, state, final, e, names):
        """Sets final[...] to the state the in-flight operation left, after
        checking it is one the operation allows."""
        site = self.site
        k, n = e["kind"], e["name"]
        if k == "create":
            if n not in names:
                return
            got = _read(site.path(n))
            new = _blob_get(self.blobdir, e["new"])
            if got != new[:len(got)]:
                self.fail(it, f"{n} (being created) is not a prefix of its content")
            final[n] = {"blob": _blob_put(self.blobdir, got), "cat": e["cat"],
                        "unmigrated": False}
        elif k in ("overwrite", "truncate"):
            got = _read(site.path(n))
            old = _blob_get(self.blobdir, e["old"])
            new = _blob_get(self.blobdir, e["new"])
            ok = got in (old, new) if k == "truncate" else _overwrite_state_ok(got, old, new)
            if not ok:
                self.fail(it, f"{n} ({k} in flight): {len(got)} bytes, neither the old "
                              f"({len(old)}) nor the new ({len(new)}) version")
            final[n]["blob"] = _blob_put(self.blobdir, got)
        elif k == "rename":
            dst = e["dst"]
            if n in names:                                   # not renamed
                if e["dst_old"] is None and dst in names:
                    self.fail(it, f"rename {n} -> {dst}: both names exist")
                final[n]["cat"] = site.xattr(site.path(n), CAT)   # may be retagged already
            else:
                st = final.pop(n)
                st["cat"] = site.xattr(site.path(dst), CAT)
                final[dst] = st
        elif k == "retag":
            cat = site.xattr(site.path(n), CAT)
            if cat not in (state[n]["cat"], e["cat"]):
                self.fail(it, f"{n}: category {cat} after retag to {e['cat']} in flight")
            final[n]["cat"] = cat
        elif k == "unlink":
            if n not in names:
                del final[n]


def run_crash_loop(site_factory, iterations, seed=None):
    seed = int(os.environ.get("GEOFS_SEED", "7")) if seed is None else seed
    loop = CrashLoop(site_factory, seed)
    kinds = {}
    for it in range(iterations):
        pending = loop.iteration(it)
        kinds[pending["kind"] if pending else "between"] = \
            kinds.get(pending["kind"] if pending else "between", 0) + 1
    loop.site.unmount()
    rc, out = loop.fsck()
    assert rc == 0, f"seed {seed}: fsck at the end: {out['findings']}"
    return kinds


def test_kill9_random_points_loop(site_factory):
    """A handful of crashes at random points (make stress runs 100+)."""
    site_factory.set_timeout(300)
    kinds = run_crash_loop(site_factory, iterations=6)
    assert sum(kinds.values()) == 6
