"""harness.py -- mount the real geofs for tests.

Everything here is bounded by a timeout that fails loudly: no test may hang,
and nothing depends on timing for pass/fail otherwise.

Binaries: $GEOFS_BUILD/geofs and $GEOFS_BUILD/geoctl (GEOFS_BUILD defaults to
<repo>/build; `make mount-tests` and `make SANITIZE=1 test` set it).

API
---
Site(root, **params)            one mount: a temp tree + config + daemon.
    Tree (all absolute paths, attributes of the same name):
      root/          the site's directory (mode 0755 so uid 65534 can reach mnt)
      meta           root/meta            (or the shared site's)
      backend_dirs   {name: root/backends/<name>}  (or the shared site's)
      keyring        root/keyring         (or the shared site's)
      audit          root/audit.log
      config         root/geofs.conf
      mnt            root/mnt
    Parameters (keyword only, all optional):
      name='tokyo-app-01', country='JP'     [site]
      shard_size='64K'                      [data] shard_size (None: omit)
      data={}                               more [data] keys, e.g. {'compress': 'off'}
      backends=DEFAULT_BACKENDS             {name: {'country': 'JP', 'weight': '5',
                                             'path': '/abs' (default backend dir), ...}}
      categories=DEFAULT_CATEGORIES         {name: {'store_in': 'origin', ...}}
      defaults=DEFAULT_DEFAULTS             [defaults] keys
      meta_country=None                     [meta] country (None: omit)
      audit=True                            write an [audit] section
      extra=''                              raw text appended to the config
      meta_path=None                        meta root path (default root/meta; with
                                            share: the shared meta root as this
                                            mount reaches it, e.g. its own
                                            ceph-fuse mount)
      share=None                            another Site: use its meta root, backend
                                            dirs, backend config and keyring (two
                                            mounts of one meta root)
      keyring=None                          keyring path override
      init_keys=True                        before a mount: run `geoctl keys init`
                                            if the keyring does not exist
      mark=True                             before a mount: mark_backends()
    Methods:
      render_config() -> str; write_config(text=None) -> path (None: render)
      keys_init()                           geoctl keys init -c CONFIG (checked)
      mark_backends(names=None)             write missing backend markers
                                            (geoctl backend init, fs/marker.h);
                                            mount() does it when mark
      geoctl(*args, check=False, timeout=60) -> CompletedProcess (text)
      mount(options=(), timeout=MOUNT_TIMEOUT)
                                            geofs -c CFG MNT -f -o allow_other[,opts];
                                            waits for /proc/self/mountinfo; fails
                                            with the daemon's output if it died
      try_mount(timeout=...) -> (returncode, output)
                                            for a mount that must fail: asserts the
                                            daemon exits on its own and that nothing
                                            is mounted
      unmount(check_log=True)               fusermount3 -u (retry on EBUSY, then
                                            -uz), wait for the daemon (timeout),
                                            assert exit 0 and no ASan/UBSan/LSan
                                            report in its output
      kill9()                               SIGKILL the daemon, lazy-unmount the
                                            dead mount (fails if it had already
                                            died, or logged a sanitizer report)
      remount()                             unmount() + mount()
      env, wrapper                          attributes: extra daemon environment
                                            (dict; NOTIFY_SOCKET, JOURNAL_STREAM and
                                            INVOCATION_ID are otherwise removed) and
                                            an argv prefix for the daemon (list)
      is_mounted() -> bool                  from /proc/self/mountinfo, no FS access
      log() -> str                          the current/last daemon's output
      path(*parts) -> str                   a path inside the mount
      objects(backend=None) -> [path]       object files under BACKEND/objects/
      object_counts() -> {backend: n}
      backend_bytes(backend=None) -> int    bytes of every file under backend dir(s)
      grep(marker, where='backends') -> [path]
                                            files whose bytes or whose path contain
                                            marker (bytes or str); where is
                                            'backends', 'geofs' (META/.geofs) or
                                            'meta' (the whole meta root)
      xattr(path, name) -> str|None         None if ENODATA; path may be relative
                                            to the mount
      info(path) -> {key: value}            parsed user.geo.info
      placement(path) -> [str]              user.geo.placement split on ','
      cleanup() -> [problem]                best effort: daemon gone, nothing
                                            mounted; reports a daemon that died

Module functions:
  run_as(argv, uid=65534, gid=65534, groups=(), timeout=60, check=False)
                                            -> CompletedProcess; setpriv --reuid
                                            --regid, --clear-groups unless groups
  try_as(code, uid=65534, gid=65534, groups=()) -> 'OK' | 'EPERM' | ...
                                            runs python `code` (os, errno imported)
                                            as uid; the errno name of an OSError
  pattern(seed, n) -> bytes                 deterministic incompressible bytes
  write_stream(path, size, seed, chunk=1 MiB, fsync=True) -> sha256 hex
  hash_file(path, chunk=1 MiB) -> (size, sha256 hex)
  errno_of(fn, *args) -> errno name or 'OK'
  run(argv, timeout=60, check=False, **kw) -> CompletedProcess (text)

SiteFactory (conftest.py fixture `site_factory`):
  site_factory(**params) -> Site (not mounted); its root is a fresh dir
  site_factory.mounted(**params) -> Site, mounted
  site_factory.set_timeout(seconds)         per-test watchdog (default
                                            $GEOFS_TEST_TIMEOUT or 180 s): on expiry
                                            every daemon is SIGKILLed, so blocked
                                            file operations fail with ENOTCONN, and
                                            the test fails at teardown
  At teardown, always (even after a failure): every Site is unmounted, every
  daemon killed, every temp tree removed (kept if $GEOFS_KEEP is set). Trees
  live in mkdtemp(prefix='geofs-test-', dir=$GEOFS_TEST_TMP or /tmp).
Fixture `site`: one mounted Site with the defaults.
"""

import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("GEOFS_BUILD") or os.path.join(REPO, "build"))
GEOFS = os.path.join(BUILD, "geofs")
GEOCTL = os.path.join(BUILD, "geoctl")
PYTHON = "/usr/bin/python3"

MOUNT_TIMEOUT = 20.0
UNMOUNT_TIMEOUT = 30.0
CMD_TIMEOUT = 60.0
NOBODY = 65534
MiB = 1024 * 1024

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "ERROR: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer",
                   "ERROR: ThreadSanitizer")
# ThreadSanitizer builds (make SANITIZE=thread): suppressions, each justified there.
TSAN_SUPP = os.path.join(REPO, "tests", "stress", "tsan.supp")

DEFAULT_BACKENDS = {
    "tokyo-1": {"country": "JP"},
    "osaka-1": {"country": "JP"},
    "seoul-1": {"country": "KR"},
}

DEFAULT_CATEGORIES = {
    "personal": {"store_in": "origin", "access_from": "origin"},
    "medical": {"store_in": "origin", "access_from": "origin", "replicas": "2"},
    "media": {"store_in": "origin, KR", "access_from": "*", "compress": "off"},
    "public": {"store_in": "*", "access_from": "*"},
}

DEFAULT_DEFAULTS = {"category": "personal", "origin": "site", "admin_group": "geofs-admin"}


class HarnessError(AssertionError):
    """A harness step failed (mount did not come up, daemon crashed, ...)."""


def run(argv, timeout=CMD_TIMEOUT, check=False, **kw):
    """subprocess.run with text output captured and a timeout that fails loudly."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    try:
        cp = subprocess.run(argv, timeout=timeout, text=True, **kw)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"timed out after {timeout}s: {argv!r}") from e
    if check and cp.returncode != 0:
        raise HarnessError(f"{argv!r} exited {cp.returncode}\nstdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp


def run_as(argv, uid=NOBODY, gid=NOBODY, groups=(), timeout=CMD_TIMEOUT, check=False, **kw):
    """Runs argv as uid/gid with exactly the supplementary groups given."""
    grp = [f"--groups={','.join(str(g) for g in groups)}"] if groups else ["--clear-groups"]
    return run(["setpriv", f"--reuid={uid}", f"--regid={gid}", *grp, *argv],
               timeout=timeout, check=check, **kw)


_TRY = """import os, sys, errno
try:
{body}
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
    sys.exit(0)
print("OK")
"""


def try_as(code, uid=NOBODY, gid=NOBODY, groups=(), timeout=CMD_TIMEOUT):
    """Runs python `code` as uid; returns 'OK' or the errno name it raised."""
    body = "\n".join("    " + line for line in textwrap.dedent(code).strip("\n").splitlines())
    cp = run_as([PYTHON, "-c", _TRY.format(body=body)], uid=uid, gid=gid, groups=groups,
                timeout=timeout)
    if cp.returncode != 0 or not cp.stdout.strip():
        raise HarnessError(f"try_as failed ({cp.returncode}): {cp.stderr}")
    return cp.stdout.strip().splitlines()[-1]


def errno_of(fn, *args, **kw):
    """'OK' if fn(*args) succeeds, else the errno name of its OSError."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "OK"


def write_file(path, data):
    """Writes data to path (create or truncate) and closes it."""
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# A file of this many shards has a manifest too large for its stub (meta.h,
# META_INLINE_MAX), so it gets a manifest file; smaller ones keep it on
# the stub (xattr user.geofs.manifest).
FILE_MANIFEST_SHARDS = 16


def manifest_path(site, relpath):
    """Where the manifest file of a file would be (it may not exist)."""
    fid = os.getxattr(os.path.join(site.meta, relpath), "user.geofs.id").decode()
    return os.path.join(site.meta, ".geofs", "manifests", fid[:2], fid)


def stub_manifest(site, relpath):
    """The manifest a file keeps on its stub, or None."""
    try:
        return os.getxattr(os.path.join(site.meta, relpath), "user.geofs.manifest")
    except OSError as e:
        if e.errno != errno.ENODATA:
            raise
        return None


def manifest_bytes(site, relpath):
    """A file's manifest, as geofs loads it: the manifest file, or else the
    stub's own."""
    try:
        with open(manifest_path(site, relpath), "rb") as f:
            return f.read()
    except FileNotFoundError:
        buf = stub_manifest(site, relpath)
        assert buf is not None, f"{relpath} has no manifest"
        return buf


def pattern(seed, n):
    """n deterministic, incompressible bytes."""
    return random.Random(seed).randbytes(n)


def write_stream(path, size, seed, chunk=MiB, fsync=True):
    """Writes size pseudo-random bytes in chunks; returns their sha256 hex."""
    rnd = random.Random(seed)
    h = hashlib.sha256()
    with open(path, "wb", buffering=0) as f:
        left = size
        while left:
            n = min(chunk, left)
            b = rnd.randbytes(n)
            h.update(b)
            mv = memoryview(b)
            while mv:
                mv = mv[f.write(mv):]
            left -= n
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest()


def hash_file(path, chunk=MiB):
    """(size, sha256 hex) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            size += len(b)
            h.update(b)
    return size, h.hexdigest()


def _unescape_mountinfo(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounted_at(path):
    """True if path is a mount point, from /proc/self/mountinfo (no stat)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape_mountinfo(fields[4]) == path:
                return True
    return False


def _wait(pred, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _render_section(header, keys):
    lines = [f"[{header}]"]
    lines += [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


class Site:
    def __init__(self, root, *, name="tokyo-app-01", country="JP", shard_size="64K",
                 data=None, backends=None, categories=None, defaults=None,
                 meta_country=None, audit=True, extra="", share=None, keyring=None,
                 meta_path=None, init_keys=True, mark=True):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.name = name
        self.country = country
        self.shard_size = shard_size
        self.data = dict(data or {})
        self.categories = {k: dict(v) for k, v in (categories or DEFAULT_CATEGORIES).items()}
        self.defaults = dict(DEFAULT_DEFAULTS if defaults is None else defaults)
        self.meta_country = meta_country
        self.extra = extra
        self.init_keys = init_keys
        self.mark = mark
        self.share = share
        if share is not None:
            # meta_path: the same meta root reached another way (its own
            # mount of a shared filesystem, as a second app server sees it)
            self.meta = meta_path or share.meta
            src = backends if backends is not None else share.backends
            self.backends = {k: dict(v) for k, v in src.items()}
            self.keyring = keyring or share.keyring
        else:
            self.meta = meta_path or os.path.join(self.root, "meta")
            self.backends = {k: dict(v) for k, v in (backends or DEFAULT_BACKENDS).items()}
            self.keyring = keyring or os.path.join(self.root, "keyring")
        self.backend_dirs = {}
        for bname, b in self.backends.items():
            if b.get("kind") == "s3":
                continue            # a bucket: no directory (tests/mount/test_s3.py)
            if "path" not in b:
                base = share.root if share is not None and bname in share.backend_dirs else self.root
                b["path"] = os.path.join(base, "backends", bname)
            self.backend_dirs[bname] = b["path"]
        os.makedirs(self.meta, exist_ok=True)
        os.chmod(self.meta, 0o755)
        for p in self.backend_dirs.values():
            os.makedirs(p, exist_ok=True)
        self.audit = os.path.join(self.root, "audit.log") if audit else None
        self.config = os.path.join(self.root, "geofs.conf")
        self.mnt = os.path.join(self.root, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.proc = None
        self._log_file = None
        self.log_path = None
        self._nmounts = 0
        self.env = {}           # extra daemon environment (NOTIFY_SOCKET=...)
        self.wrapper = []       # argv prefix for the daemon (setpriv ...)
        self.write_config()

    # ---- config and keys ------------------------------------------------
    def render_config(self):
        parts = [_render_section("site", {"name": self.name, "country": self.country})]
        meta = {"path": self.meta}
        if self.meta_country:
            meta["country"] = self.meta_country
        parts.append(_render_section("meta", meta))
        parts.append(_render_section("keys", {"keyring": self.keyring}))
        if self.audit:
            parts.append(_render_section("audit", {"path": self.audit}))
        data = {}
        if self.shard_size is not None:
            data["shard_size"] = self.shard_size
        data.update(self.data)
        if data:
            parts.append(_render_section("data", data))
        for bname, b in self.backends.items():
            keys = {"path": b["path"]} if "path" in b else {}
            keys.update({k: v for k, v in b.items() if k != "path"})
            parts.append(_render_section(f"backend {bname}", keys))
        for cname, c in self.categories.items():
            parts.append(_render_section(f"category {cname}", c))
        if self.defaults:
            parts.append(_render_section("defaults", self.defaults))
        text = "\n".join(parts)
        if self.extra:
            text += "\n" + self.extra.strip("\n") + "\n"
        return text

    def write_config(self, text=None):
        with open(self.config, "w") as f:
            f.write(self.render_config() if text is None else text)
        return self.config

    @property
    def geoctl_env(self):
        """geoctl's environment: its state (the rebalance --spread journal)
        kept in this site's tree, so a test leaves nothing behind."""
        return dict(os.environ, XDG_STATE_HOME=os.path.join(self.root, "state"))

    def geoctl(self, *args, check=False, timeout=CMD_TIMEOUT):
        return run([GEOCTL, *args], timeout=timeout, check=check, cwd=self.root,
                   env=self.geoctl_env)

    def mark_backends(self, names=None):
        """Writes each backend's marker (BACKEND/geofs-backend) where it is
        missing, with `geoctl backend init` (keys init also does it)."""
        for bname, b in self.backends.items():
            if names is not None and bname not in names:
                continue
            d = self.backend_dirs.get(bname)
            if d is not None and os.path.exists(os.path.join(d, "geofs-backend")):
                continue
            self.geoctl("backend", "init", "-c", self.config, bname, check=True)

    def keys_init(self):
        cp = self.geoctl("keys", "init", "-c", self.config)
        if cp.returncode != 0 or not os.path.exists(self.keyring):
            raise HarnessError(f"geoctl keys init failed ({cp.returncode}):\n{cp.stdout}{cp.stderr}")

    # ---- daemon ---------------------------------------------------------
    def _daemon_env(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.setdefault("TSAN_OPTIONS", "halt_on_error=0:second_deadlock_stack=1:history_size=4"
                       + (f":suppressions={TSAN_SUPP}" if os.path.exists(TSAN_SUPP) else ""))
        # The daemon's log goes to its stderr (the test reads it), never to
        # a journal or notify socket of whatever runs the tests.
        for k in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "INVOCATION_ID"):
            env.pop(k, None)
        env.update(self.env)
        return env

    def _start(self, options):
        if not os.path.exists(GEOFS):
            raise HarnessError(f"{GEOFS} not built (run make, or set GEOFS_BUILD)")
        self._nmounts += 1
        self.log_path = os.path.join(self.root, f"geofs-{self._nmounts}.log")
        self._log_file = open(self.log_path, "wb")
        opts = ",".join(["allow_other", *options])
        argv = [*self.wrapper, GEOFS, "-c", self.config, self.mnt, "-f", "-o", opts]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=self._daemon_env(),
                                     cwd="/", start_new_session=True)

    def mount(self, options=(), timeout=MOUNT_TIMEOUT):
        if self.proc is not None and self.proc.poll() is None:
            raise HarnessError("mount(): daemon already running")
        if self.is_mounted():
            raise HarnessError(f"mount(): {self.mnt} is already mounted")
        if self.init_keys and not os.path.exists(self.keyring):
            self.keys_init()
        if self.mark:
            self.mark_backends()
        self._start(options)
        deadline = time.monotonic() + timeout
        while not self.is_mounted():
            rc = self.proc.poll()
            if rc is not None:
                self._close_log()
                self.proc = None
                raise HarnessError(f"geofs exited with {rc} before mounting:\n{self.log()}")
            if time.monotonic() > deadline:
                self._kill()
                self.proc = None
                raise HarnessError(f"geofs did not mount within {timeout}s:\n{self.log()}")
            time.sleep(0.02)
        self.check_log()
        return self

    def try_mount(self, options=(), timeout=MOUNT_TIMEOUT):
        """For a mount that must fail: returns (returncode, output)."""
        self._start(options)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            was = self.is_mounted()
            self._kill()
            self._lazy_unmount()
            raise HarnessError(f"geofs still running after {timeout}s (mounted: {was}):\n{self.log()}")
        self._close_log()
        out = self.log()
        if self.is_mounted():
            self._lazy_unmount()
            raise HarnessError(f"geofs exited {rc} but left {self.mnt} mounted:\n{out}")
        self.proc = None
        return rc, out

    def is_mounted(self):
        return mounted_at(self.mnt)

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def check_log(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            if mark in text:
                raise HarnessError(f"sanitizer report in geofs output ({mark!r}):\n{text}")

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(UNMOUNT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise HarnessError(f"geofs pid {self.proc.pid} survived SIGKILL")
        self._close_log()

    def _lazy_unmount(self):
        if self.is_mounted():
            run(["fusermount3", "-uz", self.mnt], timeout=UNMOUNT_TIMEOUT)
        if self.is_mounted():
            run(["umount", "-l", self.mnt], timeout=UNMOUNT_TIMEOUT)
        _wait(lambda: not self.is_mounted(), UNMOUNT_TIMEOUT, f"{self.mnt} to unmount")

    def unmount(self, check_log=True, timeout=UNMOUNT_TIMEOUT):
        """Clean unmount; asserts the daemon exits 0 with a clean log."""
        deadline = time.monotonic() + 5.0
        while self.is_mounted():
            cp = run(["fusermount3", "-u", self.mnt], timeout=timeout)
            if cp.returncode == 0:
                break
            if time.monotonic() > deadline:
                run(["fusermount3", "-uz", self.mnt], timeout=timeout)
                break
            time.sleep(0.1)
        _wait(lambda: not self.is_mounted(), timeout, f"{self.mnt} to unmount")
        rc = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise HarnessError(f"geofs did not exit within {timeout}s of unmount:\n{self.log()}")
            self.proc = None
        self._close_log()
        if check_log:
            self.check_log()
            if rc not in (None, 0):
                raise HarnessError(f"geofs exited with {rc} after unmount:\n{self.log()}")
        return rc

    def kill9(self):
        """SIGKILL the daemon (a crash) and detach the dead mount."""
        if self.proc is None:
            raise HarnessError("kill9(): no daemon")
        if self.proc.poll() is not None:
            self._close_log()
            raise HarnessError(f"kill9(): geofs had already exited ({self.proc.returncode}):\n"
                               f"{self.log()}")
        os.kill(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(UNMOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"geofs pid {self.proc.pid} survived SIGKILL")
        self.proc = None
        self._close_log()
        self._lazy_unmount()
        self.check_log()

    def remount(self, options=()):
        self.unmount()
        return self.mount(options)

    def cleanup(self):
        """Best effort: no daemon, nothing mounted. Returns a list of problems."""
        problems = []
        if self.proc is not None and self.proc.poll() is not None:
            self._close_log()
            problems.append(f"{self.root}: geofs died while mounted (exit {self.proc.returncode}):\n"
                            f"{self.log()}")
        try:
            if self.is_mounted() and self.proc is not None and self.proc.poll() is None:
                self.unmount()
        except Exception as e:  # noqa: BLE001 - collect, keep cleaning
            problems.append(f"{self.root}: {e}")
        try:
            self._kill()
            self.proc = None
            self._lazy_unmount()
        except Exception as e:  # noqa: BLE001
            problems.append(f"{self.root}: {e}")
        return problems

    # ---- looking at the mount and the backends ---------------------------
    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def _abs(self, p):
        return p if os.path.isabs(p) else os.path.join(self.mnt, p)

    def objects(self, backend=None):
        names = [backend] if backend else list(self.backend_dirs)
        out = []
        for b in names:
            top = os.path.join(self.backend_dirs[b], "objects")
            for dp, _dn, fn in os.walk(top):
                out += [os.path.join(dp, f) for f in fn
                        if os.path.isfile(os.path.join(dp, f))]
        return sorted(out)

    def object_counts(self):
        return {b: len(self.objects(b)) for b in self.backend_dirs}

    def backend_bytes(self, backend=None):
        names = [backend] if backend else list(self.backend_dirs)
        total = 0
        for b in names:
            for dp, _dn, fn in os.walk(self.backend_dirs[b]):
                for f in fn:
                    p = os.path.join(dp, f)
                    if os.path.isfile(p) and not os.path.islink(p):
                        total += os.path.getsize(p)
        return total

    def grep(self, marker, where="backends"):
        """Files (and paths) under `where` containing marker."""
        if isinstance(marker, str):
            marker = marker.encode()
        if where == "backends":
            tops = list(self.backend_dirs.values())
        elif where == "geofs":
            tops = [os.path.join(self.meta, ".geofs")]
        elif where == "meta":
            tops = [self.meta]
        else:
            raise ValueError(where)
        hits = []
        for top in tops:
            for dp, dn, fn in os.walk(top):
                for n in dn + fn:
                    if marker in os.fsencode(n):
                        hits.append(os.path.join(dp, n))
                for f in fn:
                    p = os.path.join(dp, f)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    if _file_contains(p, marker):
                        hits.append(p)
        return hits

    def xattr(self, path, name):
        try:
            return os.getxattr(self._abs(path), name).decode()
        except OSError as e:
            if e.errno == errno.ENODATA:
                return None
            raise

    def info(self, path):
        text = self.xattr(path, "user.geo.info") or ""
        out = {}
        for line in text.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
        return out

    def placement(self, path):
        v = self.xattr(path, "user.geo.placement") or ""
        return [p for p in v.split(",") if p]


def _file_contains(path, marker, chunk=4 * MiB):
    keep = len(marker) - 1
    tail = b""
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return False
            buf = tail + b
            if marker in buf:
                return True
            tail = buf[-keep:] if keep else b""


class SiteFactory:
    """Creates Sites under one temp dir; cleanup() unmounts and kills all."""

    def __init__(self, timeout=None):
        base = os.environ.get("GEOFS_TEST_TMP") or "/tmp"
        self.top = tempfile.mkdtemp(prefix="geofs-test-", dir=base)
        os.chmod(self.top, 0o755)
        self.sites = []
        self.timed_out = None
        self._timer = None
        self.set_timeout(timeout or float(os.environ.get("GEOFS_TEST_TIMEOUT", "180")))

    def __call__(self, **params):
        root = os.path.join(self.top, f"site{len(self.sites)}")
        site = Site(root, **params)
        self.sites.append(site)
        return site

    def mounted(self, **params):
        return self(**params).mount()

    def set_timeout(self, seconds):
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(seconds, self._expire, args=(seconds,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, seconds):
        self.timed_out = seconds
        for s in self.sites:
            if s.proc is not None and s.proc.poll() is None:
                try:
                    s.proc.kill()
                except OSError:
                    pass

    def cleanup(self):
        if self._timer is not None:
            self._timer.cancel()
        problems = []
        for s in reversed(self.sites):
            problems += s.cleanup()
        still = [s.mnt for s in self.sites if s.is_mounted()]
        if not still and not os.environ.get("GEOFS_KEEP"):
            shutil.rmtree(self.top, ignore_errors=True)
        if still:
            problems.append(f"still mounted, {self.top} kept: {still}")
        if self.timed_out:
            problems.insert(0, f"test exceeded its {self.timed_out}s watchdog; daemons were killed")
        return problems
