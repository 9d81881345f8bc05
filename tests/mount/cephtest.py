"""cephtest.py -- the throwaway Ceph cluster of the mount tests (pytest fixtures).

The cluster itself is tests/ceph/cluster.sh (monitor, one BlueStore OSD on a
sparse file, radosgw on http and https, one MDS and a CephFS; all on
127.0.0.1, everything inside one temp dir). This module starts it once per
test run, lazily: only when a test asks for one of the fixtures below. It is
stopped at session end, even after failures, and also from atexit and from
the script's own watcher should this process be killed.

Fixtures (imported by conftest.py):
  ceph_cluster   session: a running Cluster. If the cluster cannot start, every
                 test that needs it FAILS with the tail of the daemon logs (never
                 skips); the failure is remembered, so later tests fail at once.
  cephfs_pair    function: a CephfsPair, two ceph-fuse mounts of one CephFS (two
                 client sessions, standing for two app servers), .a and .b being
                 one fresh directory seen through each; unmounted afterwards.
  shared_meta    function, parametrized: a SharedDir (.a, .b: one directory seen
                 through two mounts of a shared filesystem, .kind) -- "cephfs"
                 (a cephfs_pair), plus "external" when GEOFS_SHARED_META=/a:/b
                 names an operator's own pair of mounts (say two NFS mounts of
                 one export); the test gets a fresh subdirectory of each.

Cluster (attributes from DIR/env):
  dir, conf, keyring, rgw_endpoint, rgw_tls_endpoint, rgw_ca, access_key,
  secret_key, region, cephfs_name, cephfs_client, env (the whole dict)
  s3(method, path, data=None, tls=False, headers=None, timeout=30)
      -> (http status, body bytes)   curl --aws-sigv4, x-amz-content-sha256 set
  make_bucket(name) -> name           PUT /name (200, or 409 if it is ours already)
  write_credentials(path, profile="default") -> path
                                      AWS shared-credentials file, mode 0600
  rgw_stop(kill=False) / rgw_start()  take radosgw down and bring it back
  fuse_mount(mnt) / fuse_umount(mnt)  one ceph-fuse mount of the CephFS
  daemon_pids() -> {name: pid}; rss_kib() -> int (sum over the daemons)
  logs(lines=30) -> str               tail of every daemon log
  stop()                              stop every daemon (idempotent)

Environment: GEOFS_CEPH_KEEP=1 keeps the cluster dir after the run;
GEOFS_CEPH_TMP is where its dir goes (default $GEOFS_TEST_TMP or /tmp).
"""

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLUSTER_SH = os.path.join(REPO, "tests", "ceph", "cluster.sh")

START_TIMEOUT = 300.0
CMD_TIMEOUT = 120.0
VISIBLE_TIMEOUT = 30.0


class CephError(AssertionError):
    """The test cluster failed (start, mount, a command)."""


def _run(argv, timeout=CMD_TIMEOUT, input=None):
    try:
        return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise CephError(f"timed out after {timeout}s: {argv!r}") from e


def read_env(path):
    """DIR/env as a dict (KEY=VALUE lines, no quoting)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


class Cluster:
    def __init__(self, top):
        self.dir = top
        self.env = {}
        self.start_seconds = None
        self._stopped = False

    # ---- life cycle -----------------------------------------------------
    def start(self):
        env = dict(os.environ, GEOFS_CEPH_OWNER=str(os.getpid()))
        t0 = time.monotonic()
        try:
            cp = subprocess.run([CLUSTER_SH, "start", self.dir, "--fs"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            text = self.logs()
            self.stop()
            raise CephError(f"cluster.sh start did not finish in {START_TIMEOUT}s\n{text}")
        self.start_seconds = time.monotonic() - t0
        self.start_output = cp.stdout.decode("utf-8", "replace")
        if cp.returncode != 0:
            self.stop()
            raise CephError(f"the Ceph test cluster did not start (cluster.sh exit "
                            f"{cp.returncode}):\n{self.start_output}")
        self.env = read_env(os.path.join(self.dir, "env"))
        e = self.env
        self.conf = e["CEPH_CONF"]
        self.keyring = e["CEPH_KEYRING"]
        self.rgw_endpoint = e["RGW_ENDPOINT"]
        self.rgw_tls_endpoint = e["RGW_TLS_ENDPOINT"]
        self.rgw_ca = e["RGW_CA"]
        self.access_key = e["RGW_ACCESS_KEY"]
        self.secret_key = e["RGW_SECRET_KEY"]
        self.region = e.get("RGW_REGION", "us-east-1")
        self.cephfs_name = e.get("CEPHFS_NAME")
        self.cephfs_client = e.get("CEPHFS_CLIENT")
        return self

    def stop(self):
        if self._stopped:
            return ""
        self._stopped = True
        cp = _run([CLUSTER_SH, "stop", self.dir], timeout=CMD_TIMEOUT)
        out = (cp.stdout + cp.stderr).decode("utf-8", "replace")
        if cp.returncode == 0 and not os.environ.get("GEOFS_CEPH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        elif cp.returncode != 0:
            raise CephError(f"cluster.sh stop {self.dir} failed:\n{out}")
        return out

    def logs(self, lines=30):
        cp = _run([CLUSTER_SH, "logs", self.dir, str(lines)])
        return cp.stdout.decode("utf-8", "replace")

    def _sh(self, *args, timeout=CMD_TIMEOUT):
        cp = _run([CLUSTER_SH, *args], timeout=timeout)
        if cp.returncode != 0:
            raise CephError(f"cluster.sh {' '.join(args)} failed ({cp.returncode}):\n"
                            f"{cp.stderr.decode('utf-8', 'replace')}")
        return cp

    # ---- radosgw --------------------------------------------------------
    def rgw_stop(self, kill=False):
        self._sh("rgw-stop", self.dir, *(["--kill"] if kill else []))

    def rgw_start(self):
        self._sh("rgw-start", self.dir, timeout=START_TIMEOUT)

    def s3(self, method, path, data=None, tls=False, headers=None, timeout=30,
           secret=None):
        """One signed S3 request through curl; (status, body)."""
        base = self.rgw_tls_endpoint if tls else self.rgw_endpoint
        body = b"" if data is None else data
        # curl 7.88 signs no payload hash itself; radosgw then rejects the
        # signature unless x-amz-content-sha256 is sent.
        hdrs = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        hdrs.update(headers or {})
        with tempfile.TemporaryDirectory(prefix="geofs-s3-") as td:
            out = os.path.join(td, "body")
            argv = ["curl", "-sS", "-K", "-", "-X", method, "-o", out,
                    "-w", "%{http_code}", "--max-time", str(timeout),
                    "--aws-sigv4", f"aws:amz:{self.region}:s3"]
            if tls:
                argv += ["--cacert", self.rgw_ca]
            for k, v in hdrs.items():
                argv += ["-H", f"{k}: {v}"]
            if data is not None:
                src = os.path.join(td, "data")
                with open(src, "wb") as f:
                    f.write(body)
                argv += ["--data-binary", f"@{src}"]
            argv.append(base + path)
            # the keys go on stdin (curl -K -), not on the command line
            user = f'user = "{self.access_key}:{secret or self.secret_key}"\n'
            cp = _run(argv, timeout=timeout + 10, input=user.encode())
            if cp.returncode != 0:
                raise CephError(f"curl {method} {base + path} failed ({cp.returncode}): "
                                f"{cp.stderr.decode('utf-8', 'replace')}")
            status = int(cp.stdout.decode() or "0")
            with open(out, "rb") as f:
                return status, f.read()

    def make_bucket(self, name):
        status, body = self.s3("PUT", f"/{name}")
        if status not in (200, 409) or (status == 409 and b"BucketAlreadyOwnedByYou" not in body):
            raise CephError(f"PUT /{name}: {status} {body!r}")
        return name

    def write_credentials(self, path, profile="default"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"[{profile}]\naws_access_key_id = {self.access_key}\n"
                    f"aws_secret_access_key = {self.secret_key}\n")
        os.chmod(path, 0o600)
        return path

    # ---- CephFS ---------------------------------------------------------
    def fuse_mount(self, mnt):
        self._sh("fuse-mount", self.dir, mnt, timeout=START_TIMEOUT)
        return mnt

    def fuse_umount(self, mnt):
        self._sh("fuse-umount", self.dir, mnt)

    # ---- looking at it ----------------------------------------------------
    def daemon_pids(self):
        out = {}
        for top in (os.path.join(self.dir, "pids"), os.path.join(self.dir, "pids", "fuse")):
            if not os.path.isdir(top):
                continue
            for n in sorted(os.listdir(top)):
                if n.endswith(".pid"):
                    with open(os.path.join(top, n)) as f:
                        fields = f.read().split()
                    if fields:
                        rel = os.path.relpath(os.path.join(top, n[:-4]), os.path.join(self.dir, "pids"))
                        out[rel] = int(fields[0])
        return out

    def rss_kib(self, names=("mon", "osd", "mds", "rgw")):
        total = 0
        for name, pid in self.daemon_pids().items():
            if name not in names:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total


# ---- the session cluster ---------------------------------------------------

_state = {"cluster": None, "error": None}


def _stop_at_exit():
    c = _state["cluster"]
    if c is not None:
        try:
            c.stop()
        except CephError:
            pass


atexit.register(_stop_at_exit)


def _session_cluster():
    if _state["error"] is not None:
        pytest.fail(_state["error"], pytrace=False)
    if _state["cluster"] is None:
        base = os.environ.get("GEOFS_CEPH_TMP") or os.environ.get("GEOFS_TEST_TMP") or "/tmp"
        top = tempfile.mkdtemp(prefix="geofs-ceph-", dir=base)
        c = Cluster(top)
        try:
            c.start()
        except CephError as e:
            _state["error"] = str(e)
            pytest.fail(_state["error"], pytrace=False)
        _state["cluster"] = c
    return _state["cluster"]


@pytest.fixture(scope="session")
def ceph_cluster():
    """The test run's Ceph cluster, started on first use, stopped at the end."""
    c = _session_cluster()
    try:
        yield c
    finally:
        _state["cluster"] = None
        c.stop()


class CephfsPair:
    """Two ceph-fuse mounts of one CephFS; .a and .b: one fresh directory in it."""

    def __init__(self, cluster, top):
        self.cluster = cluster
        self.top = top
        self.mnt_a = os.path.join(top, "cephfs-a")
        self.mnt_b = os.path.join(top, "cephfs-b")
        self.name = f"t-{uuid.uuid4().hex[:12]}"
        self.a = os.path.join(self.mnt_a, self.name)
        self.b = os.path.join(self.mnt_b, self.name)
        self.mounted = []

    def setup(self):
        for m in (self.mnt_a, self.mnt_b):
            os.makedirs(m)
            self.cluster.fuse_mount(m)
            self.mounted.append(m)
        os.mkdir(self.a, 0o755)
        wait_visible(self.b)
        return self

    def cleanup(self):
        problems = []
        if self.mounted:
            shutil.rmtree(self.a, ignore_errors=True)
        for m in reversed(self.mounted):
            try:
                self.cluster.fuse_umount(m)
            except CephError as e:
                problems.append(str(e))
        self.mounted = []
        if not problems:
            shutil.rmtree(self.top, ignore_errors=True)
        return problems


def wait_visible(path, timeout=VISIBLE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise CephError(f"{path} did not appear within {timeout}s")
        time.sleep(0.05)


def _tmp():
    base = os.environ.get("GEOFS_TEST_TMP") or "/tmp"
    top = tempfile.mkdtemp(prefix="geofs-cephfs-", dir=base)
    os.chmod(top, 0o755)
    return top


@pytest.fixture
def cephfs_pair(ceph_cluster):
    pair = CephfsPair(ceph_cluster, _tmp())
    try:
        pair.setup()
        yield pair
    finally:
        problems = pair.cleanup()
    if problems:
        pytest.fail("cephfs_pair teardown:\n" + "\n".join(problems), pytrace=False)


class SharedDir:
    """One directory seen through two mounts of a shared filesystem."""

    def __init__(self, kind, a, b):
        self.kind, self.a, self.b = kind, a, b


def shared_meta_params():
    """The shared filesystems the shared-meta tests run on."""
    params = ["cephfs"]
    if os.environ.get("GEOFS_SHARED_META"):
        params.append("external")
    return params


def _external_pair():
    spec = os.environ.get("GEOFS_SHARED_META", "")
    parts = spec.split(":")
    if len(parts) != 2 or not all(os.path.isabs(p) for p in parts):
        pytest.fail(f"GEOFS_SHARED_META={spec!r}: want /mount/a:/mount/b (two mounts "
                    "of one shared directory)", pytrace=False)
    for p in parts:
        if not os.path.isdir(p):
            pytest.fail(f"GEOFS_SHARED_META: {p} is not a directory", pytrace=False)
    return parts


@pytest.fixture(params=shared_meta_params())
def shared_meta(request):
    if request.param == "cephfs":
        pair = CephfsPair(request.getfixturevalue("ceph_cluster"), _tmp())
        try:
            pair.setup()
            yield SharedDir("cephfs", pair.a, pair.b)
        finally:
            problems = pair.cleanup()
        if problems:
            pytest.fail("shared_meta teardown:\n" + "\n".join(problems), pytrace=False)
        return
    root_a, root_b = _external_pair()
    name = f"geofs-shared-{uuid.uuid4().hex[:12]}"
    a, b = os.path.join(root_a, name), os.path.join(root_b, name)
    os.mkdir(a, 0o755)
    try:
        wait_visible(b)
        yield SharedDir("external", a, b)
    finally:
        shutil.rmtree(a, ignore_errors=True)
