"""benchlib.py -- what every group of `make bench` shares (bench/bench.py,
bench/s3.py): the helpers, the Target and Geofs base classes, and the runner
base (fio, child processes, perf, the metadata phases, one group on a fresh
mount). It imports neither bench.py nor s3.py: the groups build on it, one way.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
MiB = 1 << 20
GiB = 1 << 30
CLK_TCK = os.sysconf("SC_CLK_TCK")
MOUNT_TIMEOUT = 30.0
UNMOUNT_TIMEOUT = 60.0

class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write(f"bench: {msg}\n")
    sys.stderr.flush()


def parse_size(text):
    t = text.strip().upper().rstrip("B").rstrip("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(t)


def fmt_size(n):
    for unit, m in (("G", GiB), ("M", MiB), ("K", 1024)):
        if n % m == 0:
            return f"{n // m}{unit}"
    return str(n)


def env_list(name, allowed, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return list(default)
    out = [x.strip() for x in raw.replace(" ", ",").split(",") if x.strip()]
    bad = [x for x in out if x not in allowed]
    if bad:
        raise BenchError(f"{name}: unknown {', '.join(bad)}; expected some of {', '.join(allowed)}")
    return out


def mounted_at(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4].replace("\\040", " ") == path:
                return True
    return False


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def interrupt(p, wait=60):
    """Stops a tracer (strace, perf) the way it writes its summary: SIGINT,
    then SIGKILL if it has not ended within `wait` seconds."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(wait)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def proc_cpu(pid):
    """utime + stime of the whole process (live and exited threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_hwm(pid):
    """VmHWM of pid in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


# ---- the filesystems ------------------------------------------------------

class Target:
    """One filesystem under test: where to run, how to (re)mount it."""

    fuse = True

    def __init__(self, name, top, ctx):
        self.name = name
        self.top = os.path.join(top, name)
        self.mnt = os.path.join(self.top, "mnt")
        self.ctx = ctx
        self.proc = None
        self.logf = None
        self.nmounts = 0
        self.hwm = 0.0          # max VmHWM over the mounts of this run
        self.group_hwm = 0.0    # ... of the workload group running now

    @property
    def work(self):
        return self.mnt

    def setup(self):
        os.makedirs(self.mnt, exist_ok=True)

    def argv(self):
        raise NotImplementedError

    def environ(self):
        """The daemon's environment (None: inherit bench.py's)."""
        return None

    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def cpu(self):
        p = self.pid()
        return proc_cpu(p) if p else 0.0

    def start(self):
        if mounted_at(self.mnt):
            raise BenchError(f"{self.mnt} is already mounted")
        self.nmounts += 1
        self.log_path = os.path.join(self.top, f"daemon-{self.nmounts}.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
                                     env=self.environ())
        with open(os.path.join(self.ctx.tmp, "pids", f"{self.name}.pid"), "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not mounted_at(self.mnt):
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name}: daemon exited {self.proc.returncode} before "
                                 f"mounting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: not mounted after {MOUNT_TIMEOUT}s:\n"
                                 f"{self.log_tail()}")
            time.sleep(0.02)

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-n:]
        except OSError:
            return ""

    def stop(self):
        """Unmount (retry on EBUSY, -uz as a last resort) and reap the daemon."""
        p = self.pid()
        if p:
            try:
                self.group_hwm = max(self.group_hwm, proc_hwm(p))
                self.hwm = max(self.hwm, self.group_hwm)
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        lazy = False
        while mounted_at(self.mnt):
            cp = subprocess.run(["fusermount3", "-u", self.mnt], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
            if cp.returncode == 0:
                break
            if time.monotonic() > deadline:
                log(f"{self.mnt} busy; detaching it lazily")
                subprocess.run(["fusermount3", "-uz", self.mnt])
                lazy = True
                break
            time.sleep(0.2)
        if self.proc is not None:
            try:
                self.proc.wait(5.0 if lazy else UNMOUNT_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: daemon {self.proc.pid} still running after unmount; killing it")
                self.proc.kill()
                self.proc.wait(UNMOUNT_TIMEOUT)
            rc = self.proc.returncode
            self.proc = None
            if rc not in (0, None):
                log(f"{self.name}: daemon exited {rc}")
        if self.logf is not None:
            self.logf.close()
            self.logf = None
        try:
            os.unlink(os.path.join(self.ctx.tmp, "pids", f"{self.name}.pid"))
        except OSError:
            pass

    def cold(self):
        """Make every cache cold: the FUSE daemon's own (remount) and the kernel's."""
        self.stop()
        drop_caches()
        self.start()

    def teardown(self):
        """After the last stop: undo what setup mounted (nothing here)."""

    def save_logs(self, dest):
        os.makedirs(dest, exist_ok=True)
        for n in sorted(os.listdir(self.top)):
            if n.startswith("daemon-") and n.endswith(".log"):
                shutil.copy(os.path.join(self.top, n), os.path.join(dest, f"{self.name}-{n}"))


class Geofs(Target):
    def __init__(self, name, top, ctx, shard_size="1M", compress="lz4", durability="close",
                 pad="padme", bindir=None):
        super().__init__(name, top, ctx)
        self.bindir = bindir or ctx.bin
        self.shard_size = shard_size
        self.compress = compress
        self.durability = durability
        self.pad = pad

    # Where the one replica of the bench category may go.
    store_in = "*"

    @property
    def meta_path(self):
        return os.path.join(self.top, "meta")

    def backends_text(self):
        """The [backend] sections (making their directories)."""
        text = ""
        for b in ["tokyo-1", "osaka-1"]:
            os.makedirs(os.path.join(self.top, "backends", b), exist_ok=True)
            text += f"\n[backend {b}]\npath = {self.top}/backends/{b}\ncountry = JP\n"
        return text

    def setup(self):
        super().setup()
        self.config = os.path.join(self.top, "geofs.conf")
        os.makedirs(self.meta_path, exist_ok=True)
        text = f"""# written by bench/bench.py
[site]
name = bench
country = JP

[meta]
path = {self.meta_path}
country = JP

[keys]
keyring = {self.top}/keyring

[audit]
path = {self.top}/audit.log

[data]
shard_size = {self.shard_size}
compress = {self.compress}
pad = {self.pad}
durability = {self.durability}
"""
        text += self.backends_text()
        text += f"""
# One replica: the cost of sharding, LZ4 and AES-256-GCM alone.
[category bench]
store_in = {self.store_in}
access_from = *
replicas = 1

[defaults]
category = bench
origin = site
admin_group = root
"""
        with open(self.config, "w") as f:
            f.write(text)
        self.pre_keys_init()
        geoctl = os.path.join(self.bindir, "geoctl")
        cp = subprocess.run([geoctl, "keys", "init", "-c", self.config],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cp.returncode != 0:
            raise BenchError(f"geoctl keys init failed:\n{cp.stdout}")

    def pre_keys_init(self):
        """Runs after the config is written, before `geoctl keys init`."""

    def argv(self):
        return [os.path.join(self.bindir, "geofs"), "-c", self.config, self.mnt, "-f"]


class RunnerBase:
    """One target in one run: fio and child processes, perf, the metadata
    phases (bench/meta.py), a group on a fresh mount. Subclasses add the
    workload groups as methods named after them."""

    def __init__(self, ctx, target, run):
        self.ctx = ctx
        self.t = target
        self.run = run
        self.out = os.path.join(ctx.results, "raw", target.name)
        os.makedirs(self.out, exist_ok=True)

    def spawn(self, argv, timeout):
        """Runs argv to completion; returns (stdout bytes, its CPU seconds)."""
        errpath = os.path.join(self.ctx.tmp, "child.err")
        with open(errpath, "wb") as errf:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=errf)
        self.ctx.child = p
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            out = p.stdout.read()
            # wait4, not wait: its rusage is the client's CPU time.
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
        finally:
            timer.cancel()
            p.stdout.close()
            if p.returncode is None:        # interrupted: leave no client behind
                p.kill()
                p.wait()
            self.ctx.child = None
        if p.returncode != 0:
            with open(errpath, "rb") as f:
                err = f.read().decode("utf-8", "replace")[-2000:]
            raise BenchError(f"{argv[0]} exited {p.returncode} on {self.t.name}:\n{err}")
        return out, ru.ru_utime + ru.ru_stime

    def fio(self, tag, path, *opts, timeout=1800):
        dest = os.path.join(self.out, f"run{self.run}-{tag}.json")
        argv = ["fio", f"--name={tag}", f"--filename={path}", "--ioengine=psync",
                "--iodepth=1", "--numjobs=1", "--thread", "--fallocate=none",
                "--output-format=json", f"--output={dest}", *opts]
        self.spawn(argv, timeout)
        with open(dest) as f:
            job = json.load(f)["jobs"][0]
        if job.get("error"):
            raise BenchError(f"fio {tag} on {self.t.name}: error {job['error']}")
        # The job thread's own CPU (fio measures it with RUSAGE_THREAD under
        # --thread): the I/O loop without fio's start-up and reporting.
        client = (job["usr_cpu"] + job["sys_cpu"]) / 100.0 * job["job_runtime"] / 1000.0
        return job, client

    def perf_start(self, tag, sub="perf", force=False):
        if not ((self.ctx.perf or force) and self.t.name.startswith("geofs") and self.t.pid()):
            return None
        data = os.path.join(self.ctx.results, sub, f"{self.t.name}-run{self.run}-{tag}.data")
        os.makedirs(os.path.dirname(data), exist_ok=True)
        p = subprocess.Popen(["perf", "record", "-g", "-F", "499", "-p", str(self.t.pid()),
                              "-o", data], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return p, data

    def perf_stop(self, h):
        if not h:
            return
        p, data = h
        interrupt(p)
        txt = data[:-5] + ".txt"
        with open(txt, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                            "-g", "none", "--percent-limit", "0.5",
                            "--sort", "dso,symbol"], stdout=f, stderr=subprocess.DEVNULL)

    def meta_phase(self, phase, top, n=None, procs=1):
        n = n or self.ctx.files
        argv = [PYTHON, os.path.join(HERE, "meta.py")]
        if procs > 1:
            argv += ["--procs", str(procs)]
        out, _ = self.spawn(argv + [phase, top, str(n)], timeout=1800)
        r = json.loads(out)
        with open(os.path.join(self.out, f"run{self.run}-meta.jsonl"), "a") as f:
            f.write(json.dumps(dict(r, fs=self.t.name)) + "\n")
        return r["n"] / r["seconds"]

    def group(self, wl, res):
        """One workload group (seq, rand or meta) on a fresh mount; the
        daemon's peak RSS over the group's mounts and over the run so far."""
        self.t.group_hwm = 0.0
        self.t.start()
        try:
            getattr(self, wl)(res)
        finally:
            self.t.stop()
        if self.t.fuse:
            res["mem_hwm"] = self.t.hwm
            res[f"mem_{wl}"] = self.t.group_hwm
