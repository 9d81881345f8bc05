"""s3.py -- the object-store group of `make bench` (bench/bench.py runs it; it
builds on bench/benchlib.py alone).

Three filesystems on buckets of the same local radosgw (the Ceph cluster that
scripts/bench.sh starts with tests/ceph/cluster.sh), run side by side:

  geofs-s3      geofs, LZ4 + AES-256-GCM, one replica, its Korean backend
                (seoul-1) a `kind = s3` bucket; the category may only be
                stored in KR, so every shard goes to the bucket
  s3fs          s3fs-fuse (Debian s3fs), path-style, SigV4, its defaults
                otherwise (multipart 10 MiB, 5 parallel requests)
  rclone-crypt  rclone mount of a crypt remote over an S3 remote (provider
                Ceph), --vfs-cache-mode off: see below
  rclone-crypt-full  (not in the default set) the same with
                --vfs-cache-mode full: writes land in a local cache and go up
                after close, so its write figures are not S3's; shown only
                for its random reads (sparse cached ranges)

Why rclone runs with --vfs-cache-mode off: it is the one mode in which close()
returns after the object is in the bucket, as it does for geofs (a PUT is its
durability point) and for s3fs (uploads on flush). With `writes` or `full`,
close returns once the bytes are in a local cache file and the upload runs
later (--vfs-write-back), so fio would time the local disk. `off` streams
reads; a seek reopens the stream (a ranged GET), which is what its random
reads measure.

Workloads (one group each, on a fresh mount, then a cold remount):
  s3seq   write BENCH_S3_SIZE (default 512M) sequentially in 1 MiB blocks,
          incompressible, fsync at the end (fio --create_on_open, for all); remount, drop caches, read it
  s3rand  lay out BENCH_S3_RAND_SIZE (default 128M), remount, drop caches,
          random 4 KiB reads at QD1 for BENCH_TIME seconds
  s3meta  create BENCH_S3_FILES (default 1000) files of 4 KiB, then unlink
Daemon memory is the peak RSS (VmHWM) of the daemon over the mounts of a run,
and per workload group.

The ceiling (column radosgw-1M): what the gateway itself serves in the same
run, with no filesystem in front: curl --parallel PUTs BENCH_S3_SIZE of
1 MiB objects (geofs's shard size) RGW_PARALLEL (default 8, geofs's remote
worker count) at a time into a bucket, drops the caches and GETs them back
the same way. The seq rows of geofs-s3 against it say how much of the
gateway's throughput is left on the table.
The radosgw and OSD run on the same machine: their CPU competes with the
filesystem under test, alike for the three.
"""

import hashlib
import os
import subprocess
import time

import benchlib
from benchlib import BenchError, Geofs, RunnerBase, Target, fmt_size, parse_size

DEFAULT_FS = ["geofs-s3", "s3fs", "rclone-crypt", "radosgw-1M"]
EXTRA_FS = ["rclone-crypt-full"]
ALL_FS = DEFAULT_FS + EXTRA_FS
REFS = ("s3fs", "rclone-crypt", "rclone-crypt-full", "radosgw-1M")
WORKLOADS = ["s3seq", "s3rand", "s3meta"]
# fio creates the file in the job's own open (O_CREAT) instead of beforehand:
# rclone without a VFS cache refuses to reopen an existing file for writing.
CREATE = ["--create_on_open=1"]

# (key, label, unit, higher_is_better), as bench.ROWS
ROWS = [
    ("s3_seqwrite", "seq write 1M, incompressible", "MB/s", True),
    ("s3_seqread", "seq read 1M, cold", "MB/s", True),
    ("s3_randread", "random read 4K, QD1, cold", "IOPS", True),
    ("s3_create", "create 4 KiB files", "files/s", True),
    ("s3_unlink", "unlink", "files/s", True),
    ("s3_cpu_write", "CPU per GiB written, daemon", "s/GiB", False),
    ("s3_cpu_read", "CPU per GiB read, daemon", "s/GiB", False),
    ("mem_hwm", "daemon peak RSS (VmHWM)", "MiB", False),
    ("mem_s3seq", "  peak RSS in s3seq", "MiB", False),
    ("mem_s3rand", "  peak RSS in s3rand", "MiB", False),
    ("mem_s3meta", "  peak RSS in s3meta", "MiB", False),
]


class S3Settings:
    """The cluster's DIR/env (RGW_ENDPOINT, keys) and the BENCH_S3_* knobs."""

    def __init__(self, env_path):
        self.env_path = env_path
        self.size = parse_size(os.environ.get("BENCH_S3_SIZE", "512M"))
        self.rand_size = parse_size(os.environ.get("BENCH_S3_RAND_SIZE", "128M"))
        self.files = int(os.environ.get("BENCH_S3_FILES", "1000"))
        if self.size < benchlib.MiB or self.rand_size < benchlib.MiB or self.files < 1:
            raise BenchError("BENCH_S3_SIZE/BENCH_S3_RAND_SIZE >= 1M, BENCH_S3_FILES >= 1 "
                             "expected")
        self.env = None

    def load(self):
        if not self.env_path:
            raise BenchError("the s3 group needs --s3-env (scripts/bench.sh starts the "
                             "cluster); BENCH_S3=0 skips it")
        env = {}
        try:
            with open(self.env_path) as f:
                for n, line in enumerate(f, 1):
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    if "=" not in line:
                        raise BenchError(f"{self.env_path}:{n}: expected KEY=VALUE")
                    k, v = line.split("=", 1)
                    env[k] = v
        except OSError as e:
            raise BenchError(f"{self.env_path}: {e.strerror}") from e
        for k in ("RGW_ENDPOINT", "RGW_ACCESS_KEY", "RGW_SECRET_KEY"):
            if not env.get(k):
                raise BenchError(f"{self.env_path}: no {k}")
        self.env = env

    @property
    def endpoint(self):
        return self.env["RGW_ENDPOINT"]

    @property
    def region(self):
        return self.env.get("RGW_REGION") or "us-east-1"

    def describe(self):
        """For results.json: no keys."""
        return {"endpoint": self.endpoint, "region": self.region, "size": self.size,
                "rand_size": self.rand_size, "files": self.files}

    def summary(self):
        return (f"seq {fmt_size(self.size)}, random {fmt_size(self.rand_size)}, "
                f"{self.files} files")


def clean_environ():
    """bench.py's environment without AWS_* (an AWS_CA_BUNDLE or key pair in the
    caller's environment must not change what a peer does)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class RcloneConfig:
    """A config file with an S3 remote `raw` (provider Ceph) on the cluster
    and, with crypt_bucket, a crypt remote `crypt` over raw:BUCKET."""

    def __init__(self, top, ctx, crypt_bucket=None):
        self.path = os.path.join(top, "rclone.conf")
        self.ctx = ctx
        s = ctx.s3
        text = ("[raw]\ntype = s3\nprovider = Ceph\n"
                f"access_key_id = {s.env['RGW_ACCESS_KEY']}\n"
                f"secret_access_key = {s.env['RGW_SECRET_KEY']}\n"
                f"endpoint = {s.endpoint}\nregion = {s.region}\nforce_path_style = true\n")
        if crypt_bucket:
            text += (f"\n[crypt]\ntype = crypt\nremote = raw:{crypt_bucket}\n"
                     "filename_encryption = standard\ndirectory_name_encryption = true\n"
                     f"password = {self.obscure('geofs-bench-password')}\n"
                     f"password2 = {self.obscure('geofs-bench-salt')}\n")
        write_secret(self.path, text)

    def run(self, *args):
        cp = subprocess.run(["rclone", "--config", self.path, *args], env=clean_environ(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=120)
        if cp.returncode != 0:
            raise BenchError(f"rclone {' '.join(args[:1])} failed:\n{cp.stdout[-2000:]}")
        return cp.stdout

    def obscure(self, password):
        cp = subprocess.run(["rclone", "obscure", "-"], input=password, env=clean_environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            timeout=60)
        if cp.returncode != 0:
            raise BenchError(f"rclone obscure failed: {cp.stderr.strip()}")
        return cp.stdout.strip()

    def mkbucket(self, bucket):
        self.run("mkdir", f"raw:{bucket}")


def bucket_of(name):
    return "bench-" + name.replace("_", "-").lower()


class GeofsS3(Geofs):
    """geofs (LZ4 + AES-256-GCM, one replica) on a Korean S3 backend."""

    store_in = "KR"

    def backends_text(self):
        s = self.ctx.s3
        self.bucket = bucket_of(self.name)
        self.creds = os.path.join(self.top, "seoul-1.credentials")
        write_secret(self.creds, "[default]\n"
                     f"aws_access_key_id = {s.env['RGW_ACCESS_KEY']}\n"
                     f"aws_secret_access_key = {s.env['RGW_SECRET_KEY']}\n")
        os.makedirs(os.path.join(self.top, "backends", "tokyo-1"), exist_ok=True)
        return (f"\n[backend tokyo-1]\npath = {self.top}/backends/tokyo-1\ncountry = JP\n"
                f"\n[backend seoul-1]\nkind = s3\nendpoint = {s.endpoint}\n"
                f"bucket = {self.bucket}\nregion = {s.region}\ncredentials = {self.creds}\n"
                "country = KR\n")

    def setup(self):
        super().setup()     # writes the config, keys init marks both backends
        cp = subprocess.run([os.path.join(self.ctx.bin, "geoctl"), "check", "-c", self.config],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cp.returncode != 0:
            raise BenchError(f"geoctl check failed:\n{cp.stdout}")

    def pre_keys_init(self):
        cp = subprocess.run([os.path.join(self.ctx.bin, "geoctl"), "backend", "init", "-c",
                             self.config, "--create", "seoul-1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cp.returncode != 0:
            raise BenchError(f"geoctl backend init --create seoul-1 failed:\n{cp.stdout}")

    def environ(self):
        return clean_environ()


class S3fs(Target):
    def setup(self):
        super().setup()
        self.bucket = bucket_of(self.name)
        RcloneConfig(self.top, self.ctx).mkbucket(self.bucket)
        s = self.ctx.s3
        self.passwd = os.path.join(self.top, "passwd-s3fs")
        write_secret(self.passwd, f"{s.env['RGW_ACCESS_KEY']}:{s.env['RGW_SECRET_KEY']}\n")
        self.tmpdir = os.path.join(self.top, "tmp")
        os.makedirs(self.tmpdir, exist_ok=True)

    def argv(self):
        s = self.ctx.s3
        return ["s3fs", self.bucket, self.mnt, "-f", "-o", f"url={s.endpoint}",
                "-o", "use_path_request_style", "-o", "sigv4", "-o", f"endpoint={s.region}",
                "-o", f"passwd_file={self.passwd}", "-o", f"tmpdir={self.tmpdir}",
                "-o", "dbglevel=warn"]

    def environ(self):
        return clean_environ()


class RcloneCrypt(Target):
    def __init__(self, name, top, ctx, cache_mode="off"):
        super().__init__(name, top, ctx)
        self.cache_mode = cache_mode

    def setup(self):
        super().setup()
        self.bucket = bucket_of(self.name)
        self.rc = RcloneConfig(self.top, self.ctx, crypt_bucket=self.bucket)
        self.rc.mkbucket(self.bucket)
        self.cache = os.path.join(self.top, "cache")
        os.makedirs(self.cache, exist_ok=True)

    def argv(self):
        return ["rclone", "--config", self.rc.path, "mount", "crypt:", self.mnt,
                "--vfs-cache-mode", self.cache_mode, "--cache-dir", self.cache,
                "--log-level", "NOTICE"]

    def environ(self):
        return clean_environ()


class RgwCeiling(Target):
    """No filesystem: N parallel curl PUTs and GETs of 1 MiB objects."""

    fuse = False
    OBJ = benchlib.MiB

    def setup(self):
        os.makedirs(self.top, exist_ok=True)
        self.bucket = bucket_of(self.name)
        RcloneConfig(self.top, self.ctx).mkbucket(self.bucket)
        self.body = os.path.join(self.top, "object")
        with open(self.body, "wb") as f:
            f.write(os.urandom(self.OBJ))
        with open(self.body, "rb") as f:
            self.sha = hashlib.sha256(f.read()).hexdigest()
        self.parallel = int(os.environ.get("RGW_PARALLEL", "8"))

    def start(self):
        pass

    def stop(self):
        pass

    def cold(self):
        benchlib.drop_caches()

    def save_logs(self, dest):
        pass

    def transfer(self, put):
        """All objects of a run, RGW_PARALLEL at a time; returns MB/s."""
        s = self.ctx.s3
        n = max(1, s.size // self.OBJ)
        cfg = os.path.join(self.top, "curl.conf")
        sha = self.sha if put else hashlib.sha256(b"").hexdigest()
        lines = [f'user = "{s.env["RGW_ACCESS_KEY"]}:{s.env["RGW_SECRET_KEY"]}"',
                 f'aws-sigv4 = "aws:amz:{s.region}:s3"',
                 f'header = "x-amz-content-sha256: {sha}"',
                 'write-out = "%{http_code}\\n"', "silent", "show-error"]
        for i in range(n):
            lines.append(f'url = "{s.endpoint}/{self.bucket}/o{i}"')
            lines.append(f'upload-file = "{self.body}"' if put else 'output = "/dev/null"')
        write_secret(cfg, "\n".join(lines) + "\n")
        t0 = time.monotonic()
        cp = subprocess.run(["curl", "--parallel", "--parallel-max", str(self.parallel),
                             "-K", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=clean_environ(),
                            timeout=1800)
        dt = time.monotonic() - t0
        codes = cp.stdout.split()
        if cp.returncode != 0 or len(codes) != n or any(c != "200" for c in codes):
            bad = [c for c in codes if c != "200"][:5]
            raise BenchError(f"curl {'PUT' if put else 'GET'} x{n} failed (exit "
                             f"{cp.returncode}, answers {bad}): {cp.stderr[-500:]}")
        return n * self.OBJ / dt / 1e6


def make_target(name, top, ctx):
    if name == "radosgw-1M":
        return RgwCeiling(name, top, ctx)
    if name == "geofs-s3":
        return GeofsS3(name, top, ctx)
    if name == "s3fs":
        return S3fs(name, top, ctx)
    if name == "rclone-crypt":
        return RcloneCrypt(name, top, ctx)
    if name == "rclone-crypt-full":
        return RcloneCrypt(name, top, ctx, cache_mode="full")
    raise BenchError(f"unknown filesystem {name}")


class S3Runner(RunnerBase):
    """The workloads of the object-store group (benchlib.RunnerBase's fio and
    metadata phases)."""

    def s3seq(self, res):
        s = self.ctx.s3
        if isinstance(self.t, RgwCeiling):
            benchlib.drop_caches()
            res["s3_seqwrite"] = self.t.transfer(put=True)
            self.t.cold()
            res["s3_seqread"] = self.t.transfer(put=False)
            return
        path = os.path.join(self.t.work, "seq")
        benchlib.drop_caches()
        d0 = self.t.cpu()
        ph = self.perf_start("s3seqwrite")
        job, _ = self.fio("s3seqwrite", path, "--rw=write", "--bs=1M", f"--size={s.size}",
                          "--end_fsync=1", "--refill_buffers", "--buffer_compress_percentage=0",
                          *CREATE)
        d1 = self.t.cpu()
        self.perf_stop(ph)
        res["s3_seqwrite"] = job["write"]["bw_bytes"] / 1e6
        res["s3_cpu_write"] = (d1 - d0) / (s.size / benchlib.GiB)
        self.t.cold()
        d0 = self.t.cpu()
        ph = self.perf_start("s3seqread")
        job, _ = self.fio("s3seqread", path, "--rw=read", "--bs=1M", f"--size={s.size}")
        d1 = self.t.cpu()
        self.perf_stop(ph)
        res["s3_seqread"] = job["read"]["bw_bytes"] / 1e6
        res["s3_cpu_read"] = (d1 - d0) / (s.size / benchlib.GiB)
        os.unlink(path)

    def s3rand(self, res):
        s = self.ctx.s3
        if isinstance(self.t, RgwCeiling):
            return
        path = os.path.join(self.t.work, "rand")
        size = f"--size={s.rand_size}"
        self.fio("s3rand-layout", path, "--rw=write", "--bs=1M", size, "--end_fsync=1",
                 "--refill_buffers", "--buffer_compress_percentage=0", *CREATE)
        self.t.cold()
        job, _ = self.fio("s3randread", path, "--rw=randread", "--bs=4k", size,
                          "--time_based", f"--runtime={self.ctx.time}")
        res["s3_randread"] = job["read"]["iops"]
        os.unlink(path)

    def s3meta(self, res):
        if isinstance(self.t, RgwCeiling):
            return
        top = os.path.join(self.t.work, f"meta{self.run}")
        os.mkdir(top)
        n = self.ctx.s3.files
        res["s3_create"] = self.meta_phase("create", top, n)
        res["s3_unlink"] = self.meta_phase("unlink", top, n)
        os.rmdir(top)
