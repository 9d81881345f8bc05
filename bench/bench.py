"""bench.py -- the driver behind `make bench` (started by scripts/bench.sh).

    /usr/bin/python3 bench/bench.py --tmp DIR --bin DIR --results DIR [--s3-env FILE]

Runs the same workloads on a plain directory, libfuse's passthrough_ll,
gocryptfs, mergerfs over two directories, geofs (LZ4 + AES-256-GCM) and geofs
with compress = off, RUNS times each, and prints one table of medians with
ratio columns against gocryptfs and passthrough_ll; then the object-store
group (bench/s3.py): geofs on S3, s3fs and rclone crypt on one local radosgw,
in a second table with ratio columns against s3fs and rclone-crypt.

  --tmp DIR      everything mounted or created lives under it (bench.sh made it
                 and removes it); daemon pids go to DIR/pids/ for bench.sh's trap
  --bin DIR      passthrough_ll, geofs and geoctl (copies, so that a rebuild
                 during the run cannot change the binaries under test)
  --results DIR  raw fio JSON, daemon logs, results.json, table.md
  --s3-env FILE  DIR/env of the Ceph cluster (tests/ceph/cluster.sh) that
                 bench.sh started for the object-store group
  --ceph-env FILE  DIR/env of that cluster started with --fs (a CephFS), for
                 geofs-cephmeta in the metadata group (may be the same file)

Knobs (environment):
  BENCH_SIZE       sequential file size (default 1G; K/M/G suffixes)
  BENCH_RAND_SIZE  file of the random 4 KiB workloads (default 256M)
  BENCH_RUNS       repetitions; the table shows medians (default 3)
  BENCH_FILES      files of the metadata workloads (default 10000)
  BENCH_PAR_PROCS  processes of the parallel metadata group (default 4)
  BENCH_PAR_FILES  files each of them creates, stats and unlinks (2500)
  BENCH_TIME       seconds of each random 4 KiB run (default 15)
  BENCH_ONLY       comma-separated subset of: plain passthrough_ll gocryptfs
                   mergerfs geofs geofs-nocomp, plus geofs-64k geofs-4m
                   (LZ4 + AES with 64 KiB / 4 MiB shards) and geofs-fsync
                   ([data] durability = fsync: close is no power-loss
                   durability point) and geofs-nopad ([data] pad = off, to
                   measure what Padmé padding costs next to geofs); these
                   four are not in the default set, except that geofs-fsync
                   runs the metadata groups by default; and geofs-cephmeta
                   (geofs with its meta root on CephFS through ceph-fuse, the
                   backends local: what a shared meta root costs), which runs
                   the meta group by default when --ceph-env is given
  BENCH_WORKLOADS  comma-separated subset of: seq rand meta metapar s3
                   (default all). meta: create (and, on the plain directory,
                   the durable create: fdatasync + fsync of the directory,
                   the physical limit), cold and warm stat, unlink of
                   BENCH_FILES files in one directory, one process; metapar:
                   BENCH_PAR_PROCS processes at once in one directory, each
                   creating, stating (cold) and unlinking BENCH_PAR_FILES;
                   s3 is the object-store group (bench/s3.py documents it):
                   geofs-s3, s3fs and rclone-crypt on the radosgw of --s3-env,
                   sized by BENCH_S3_SIZE (512M), BENCH_S3_RAND_SIZE (128M),
                   BENCH_S3_FILES (1000); BENCH_ONLY may also name geofs-s3,
                   s3fs, rclone-crypt, rclone-crypt-full, radosgw-1M (the
                   gateway's own ceiling: parallel curl PUT/GET of 1 MiB
                   objects, RGW_PARALLEL at a time, default 8)
  BENCH_S3         0: skip the object-store group
  BENCH_PERF       1: perf-record every geofs daemon during the incompressible
                   sequential write and read; flat profiles go to the results
  BENCH_BASE_BIN   a directory with another build's geofs and geoctl (e.g. of the
                   commit before a change): adds geofs-base and geofs-fsync-base,
                   geofs and geofs-fsync run from that build, to the same run,
                   for before/after figures measured side by side
  BENCH_TRACE      1: after the timed create of the meta group, create
                   BENCH_TRACE_FILES (2000) more files twice on every geofs
                   target, once under `strace -c -f -w` of the daemon and once
                   under `perf record -g`; the summaries (syscalls per file,
                   wall time in each; the flat profile) go to RESULTS/trace/
Must run as root (drop_caches).
"""

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

import s3
from benchlib import (GiB, MiB, REPO, BenchError, Geofs, RunnerBase, Target, drop_caches,
                      env_list, fmt_size, interrupt, log, parse_size)

DEFAULT_FS = ["plain", "passthrough_ll", "gocryptfs", "mergerfs", "geofs", "geofs-nocomp"]
EXTRA_FS = ["geofs-64k", "geofs-4m", "geofs-fsync", "geofs-nopad", "geofs-cephmeta",
            "geofs-base", "geofs-fsync-base"]
WORKLOADS = ["seq", "rand", "meta", "metapar"]
# Without BENCH_ONLY, these run only the workloads named here (geofs-cephmeta
# always: its creates are too slow for a parallel group worth the time).
META_FS = {"geofs-fsync": ("meta", "metapar"), "geofs-fsync-base": ("meta", "metapar"),
           "geofs-cephmeta": ("meta",)}

# (key, label, unit, higher_is_better)
ROWS = [
    ("seqwrite_incomp", "seq write 1M, incompressible", "MB/s", True),
    ("seqwrite_c50", "seq write 1M, 50% compressible", "MB/s", True),
    ("seqread_incomp", "seq read 1M, incompressible, cold", "MB/s", True),
    ("seqread_c50", "seq read 1M, 50% compressible, cold", "MB/s", True),
    ("randread", "random read 4K, QD1", "IOPS", True),
    ("randwrite", "random write 4K, QD1", "IOPS", True),
    ("create", "create 4 KiB files", "files/s", True),
    ("create_durable", "durable create 4 KiB (+fdatasync, dir fsync)", "files/s", True),
    ("stat_cold", "stat, cold", "files/s", True),
    ("stat_warm", "stat, warm", "files/s", True),
    ("unlink", "unlink", "files/s", True),
    ("par_create", "parallel: create 4 KiB files", "files/s", True),
    ("par_stat_cold", "parallel: stat, cold", "files/s", True),
    ("par_unlink", "parallel: unlink", "files/s", True),
    ("cpu_write_daemon", "CPU per GiB written, daemon", "s/GiB", False),
    ("cpu_write_client", "CPU per GiB written, fio", "s/GiB", False),
    ("cpu_read_daemon", "CPU per GiB read, daemon", "s/GiB", False),
    ("cpu_read_client", "CPU per GiB read, fio", "s/GiB", False),
    ("mem_hwm", "daemon peak RSS (VmHWM)", "MiB", False),
    ("mem_seq", "  peak RSS in the seq group", "MiB", False),
    ("mem_rand", "  peak RSS in the rand group", "MiB", False),
    ("mem_meta", "  peak RSS in the meta group", "MiB", False),
    ("mem_metapar", "  peak RSS in the metapar group", "MiB", False),
]


class Plain(Target):
    fuse = False

    @property
    def work(self):
        return os.path.join(self.top, "dir")

    def setup(self):
        os.makedirs(self.work, exist_ok=True)

    def start(self):
        pass

    def stop(self):
        pass

    def cold(self):
        drop_caches()

    def save_logs(self, dest):
        pass


class PassthroughLL(Target):
    def setup(self):
        super().setup()
        self.src = os.path.join(self.top, "src")
        os.makedirs(self.src, exist_ok=True)

    def argv(self):
        # Defaults of the 3.14 example: multi-threaded, cache=auto (1 s timeouts).
        return [os.path.join(self.ctx.bin, "passthrough_ll"), "-f", "-o",
                f"source={self.src}", self.mnt]


class Gocryptfs(Target):
    def setup(self):
        super().setup()
        self.cipher = os.path.join(self.top, "cipher")
        self.passfile = os.path.join(self.top, "passfile")
        os.makedirs(self.cipher, exist_ok=True)
        with open(self.passfile, "w") as f:
            f.write("geofs-bench-password\n")
        # -scryptn 10 only makes init fast; it does not touch the data path.
        cp = subprocess.run(["gocryptfs", "-init", "-q", "-scryptn", "10",
                             "-passfile", self.passfile, self.cipher],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cp.returncode != 0:
            raise BenchError(f"gocryptfs -init failed:\n{cp.stdout}")

    def argv(self):
        return ["gocryptfs", "-fg", "-q", "-nosyslog", "-passfile", self.passfile,
                self.cipher, self.mnt]


class Mergerfs(Target):
    def setup(self):
        super().setup()
        self.branches = [os.path.join(self.top, "disk1"), os.path.join(self.top, "disk2")]
        for b in self.branches:
            os.makedirs(b, exist_ok=True)

    def argv(self):
        return ["mergerfs", "-f", "-o", "fsname=mergerfs-bench", ":".join(self.branches), self.mnt]


class GeofsCephMeta(Geofs):
    """geofs with its meta root on CephFS (one ceph-fuse client session of
    the cluster bench.sh started with --fs), its backends local as geofs's:
    what a shared meta root costs."""

    def setup(self):
        if not self.ctx.ceph_dir:
            raise BenchError("geofs-cephmeta needs --ceph-env (scripts/bench.sh starts a "
                             "Ceph cluster with a CephFS for it; BENCH_CEPHMETA=0 skips it)")
        os.makedirs(self.top, exist_ok=True)
        self.cephfs = os.path.join(self.top, "cephfs")
        os.makedirs(self.cephfs, exist_ok=True)
        cp = subprocess.run([os.path.join(REPO, "tests", "ceph", "cluster.sh"), "fuse-mount",
                             self.ctx.ceph_dir, self.cephfs], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=180)
        if cp.returncode != 0:
            raise BenchError(f"ceph-fuse mount of the CephFS failed:\n{cp.stdout[-2000:]}")
        self.ceph_mounted = True
        super().setup()

    @property
    def meta_path(self):
        return os.path.join(self.cephfs, "geofs-meta")

    def teardown(self):
        if getattr(self, "ceph_mounted", False):
            subprocess.run([os.path.join(REPO, "tests", "ceph", "cluster.sh"), "fuse-umount",
                            self.ctx.ceph_dir, self.cephfs], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=180)
            self.ceph_mounted = False


def make_target(name, top, ctx):
    if name == "plain":
        return Plain(name, top, ctx)
    if name == "passthrough_ll":
        return PassthroughLL(name, top, ctx)
    if name == "gocryptfs":
        return Gocryptfs(name, top, ctx)
    if name == "mergerfs":
        return Mergerfs(name, top, ctx)
    if name == "geofs":
        return Geofs(name, top, ctx)
    if name == "geofs-nocomp":
        return Geofs(name, top, ctx, compress="off")
    if name == "geofs-64k":
        return Geofs(name, top, ctx, shard_size="64K")
    if name == "geofs-4m":
        return Geofs(name, top, ctx, shard_size="4M")
    if name == "geofs-fsync":
        return Geofs(name, top, ctx, durability="fsync")
    if name == "geofs-nopad":
        return Geofs(name, top, ctx, pad="off")
    if name == "geofs-cephmeta":
        return GeofsCephMeta(name, top, ctx)
    if name in ("geofs-base", "geofs-fsync-base"):
        if not ctx.base_bin:
            raise BenchError(f"{name} needs BENCH_BASE_BIN (a directory with geofs and geoctl)")
        return Geofs(name, top, ctx, bindir=ctx.base_bin,
                     durability="fsync" if "fsync" in name else "close")
    if name in s3.ALL_FS:
        return s3.make_target(name, top, ctx)
    raise BenchError(f"unknown filesystem {name}")


# ---- running the workloads -------------------------------------------------

class Context:
    def __init__(self, args):
        self.tmp = os.path.abspath(args.tmp)
        self.bin = os.path.abspath(args.bin)
        self.results = os.path.abspath(args.results)
        self.size = parse_size(os.environ.get("BENCH_SIZE", "1G"))
        self.rand_size = parse_size(os.environ.get("BENCH_RAND_SIZE", "256M"))
        self.runs = int(os.environ.get("BENCH_RUNS", "3"))
        self.files = int(os.environ.get("BENCH_FILES", "10000"))
        self.par_procs = int(os.environ.get("BENCH_PAR_PROCS", "4"))
        self.par_files = int(os.environ.get("BENCH_PAR_FILES", "2500"))
        self.trace = os.environ.get("BENCH_TRACE", "") not in ("", "0")
        base = os.environ.get("BENCH_BASE_BIN", "").strip()
        self.base_bin = os.path.abspath(base) if base else None
        if self.base_bin and not all(os.access(os.path.join(self.base_bin, b), os.X_OK)
                                     for b in ("geofs", "geoctl")):
            raise BenchError(f"BENCH_BASE_BIN={base}: no executable geofs and geoctl there")
        self.trace_files = int(os.environ.get("BENCH_TRACE_FILES", "2000"))
        self.ceph_dir = os.path.dirname(os.path.abspath(args.ceph_env)) if args.ceph_env \
            else None
        self.time = int(os.environ.get("BENCH_TIME", "15"))
        # Without BENCH_ONLY the metadata groups also run geofs-fsync, and
        # geofs-cephmeta when there is a CephFS; those run nothing else.
        self.explicit_only = bool(os.environ.get("BENCH_ONLY", "").strip())
        meta_fs = ["geofs-fsync"] + (["geofs-cephmeta"] if self.ceph_dir else [])
        base_fs = ["geofs-base", "geofs-fsync-base"] if self.base_bin else []
        self.only = env_list("BENCH_ONLY", DEFAULT_FS + EXTRA_FS + s3.ALL_FS,
                             DEFAULT_FS + meta_fs + base_fs + s3.DEFAULT_FS)
        self.workloads = env_list("BENCH_WORKLOADS", WORKLOADS + ["s3"], WORKLOADS + ["s3"])
        if os.environ.get("BENCH_S3", "1").strip() == "0":
            self.workloads = [w for w in self.workloads if w != "s3"]
        self.s3 = s3.S3Settings(args.s3_env)
        self.perf = os.environ.get("BENCH_PERF", "") not in ("", "0")
        if self.size < MiB or self.rand_size < MiB or self.runs < 1 or self.files < 1 \
                or self.time < 1 or self.par_procs < 1 or self.par_files < 1 \
                or self.trace_files < 1:
            raise BenchError("BENCH_SIZE/BENCH_RAND_SIZE >= 1M, BENCH_RUNS, BENCH_FILES, "
                             "BENCH_TIME, BENCH_PAR_PROCS, BENCH_PAR_FILES, "
                             "BENCH_TRACE_FILES >= 1 expected")

    def runs_workload(self, name, wl):
        """Whether filesystem name runs workload wl (META_FS without BENCH_ONLY)."""
        if self.explicit_only and name != "geofs-cephmeta":
            return True
        return wl in META_FS.get(name, WORKLOADS)
        self.child = None       # the fio/meta process running now, killed on exit


class Runner(RunnerBase):
    """The directory groups: seq, rand, meta, metapar."""

    def seq(self, res):
        w = self.t.work
        size = f"--size={self.ctx.size}"
        kinds = [("incomp", ["--buffer_compress_percentage=0"]),
                 ("c50", ["--buffer_compress_percentage=50"])]
        wcpu_d = wcpu_c = rcpu_d = rcpu_c = 0.0
        for kind, opts in kinds:
            path = os.path.join(w, f"seq-{kind}")
            drop_caches()
            d0 = self.t.cpu()
            ph = self.perf_start(f"seqwrite-{kind}") if kind == "incomp" else None
            job, client = self.fio(f"seqwrite-{kind}", path, "--rw=write", "--bs=1M", size,
                                   "--end_fsync=1", "--refill_buffers", *opts)
            d1 = self.t.cpu()
            self.perf_stop(ph)
            res[f"seqwrite_{kind}"] = job["write"]["bw_bytes"] / 1e6
            wcpu_d += d1 - d0
            wcpu_c += client
        for kind, _ in kinds:
            path = os.path.join(w, f"seq-{kind}")
            self.t.cold()
            d0 = self.t.cpu()
            ph = self.perf_start(f"seqread-{kind}") if kind == "incomp" else None
            job, client = self.fio(f"seqread-{kind}", path, "--rw=read", "--bs=1M", size)
            d1 = self.t.cpu()
            self.perf_stop(ph)
            res[f"seqread_{kind}"] = job["read"]["bw_bytes"] / 1e6
            rcpu_d += d1 - d0
            rcpu_c += client
        gib = 2 * self.ctx.size / GiB
        if self.t.fuse:
            res["cpu_write_daemon"] = wcpu_d / gib
            res["cpu_read_daemon"] = rcpu_d / gib
        res["cpu_write_client"] = wcpu_c / gib
        res["cpu_read_client"] = rcpu_c / gib
        for kind, _ in kinds:
            os.unlink(os.path.join(w, f"seq-{kind}"))

    def rand(self, res):
        path = os.path.join(self.t.work, "rand")
        size = f"--size={self.ctx.rand_size}"
        timed = ["--rw=randread", "--bs=4k", size, "--time_based", f"--runtime={self.ctx.time}"]
        self.fio("rand-layout", path, "--rw=write", "--bs=1M", size, "--end_fsync=1",
                 "--refill_buffers", "--buffer_compress_percentage=0")
        self.t.cold()
        job, _ = self.fio("randread", path, *timed)
        res["randread"] = job["read"]["iops"]
        self.t.cold()
        timed[0] = "--rw=randwrite"
        job, _ = self.fio("randwrite", path, *timed, "--end_fsync=1",
                          "--refill_buffers", "--buffer_compress_percentage=0")
        res["randwrite"] = job["write"]["iops"]
        os.unlink(path)

    def strace_start(self, tag):
        dest = os.path.join(self.ctx.results, "trace",
                            f"{self.t.name}-run{self.run}-{tag}.strace")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        # -w: wall time in each syscall (a sleeping fsync counts), not CPU.
        p = subprocess.Popen(["strace", "-c", "-f", "-w", "-S", "time", "-o", dest,
                              "-p", str(self.t.pid())], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)         # attached to every thread
        return p, dest

    def strace_stop(self, h, n):
        """Ends strace; adds a calls-per-file column to its summary."""
        p, dest = h
        interrupt(p)
        try:
            with open(dest) as f:
                lines = f.read().splitlines()
        except OSError:
            return
        out = [f"# strace -c -f -w of the {self.t.name} daemon while {n} files were created "
               f"(meta.py create); calls/file = calls / {n}"]
        for line in lines:
            cells = line.split()
            if len(cells) >= 5 and cells[3].isdigit():
                line += f"   {int(cells[3]) / n:8.2f}/file"
            out.append(line)
        with open(dest + ".txt", "w") as f:
            f.write("\n".join(out) + "\n")

    def trace_create(self):
        """BENCH_TRACE: where a create's time goes in the daemon (strace -c,
        then perf), on files of their own, outside the timed phases."""
        if not (self.ctx.trace and self.t.name.startswith("geofs") and self.t.pid()):
            return
        n = self.ctx.trace_files
        for tool in ("strace", "perf"):
            top = os.path.join(self.t.work, f"trace-{tool}")
            os.mkdir(top)
            if tool == "strace":
                h = self.strace_start("create")
                self.meta_phase("create", top, n)
                self.strace_stop(h, n)
            else:
                h = self.perf_start("create", sub="trace", force=True)
                self.meta_phase("create", top, n)
                self.perf_stop(h)
            self.meta_phase("unlink", top, n)
            os.rmdir(top)

    def meta(self, res):
        top = os.path.join(self.t.work, "meta")
        os.mkdir(top)
        res["create"] = self.meta_phase("create", top)
        self.trace_create()
        if not self.t.fuse:
            # The physical limit: a durable create on the same filesystem.
            dtop = os.path.join(self.t.work, "meta-durable")
            os.mkdir(dtop)
            res["create_durable"] = self.meta_phase("durable", dtop)
            self.meta_phase("unlink", dtop)
            os.rmdir(dtop)
        self.t.cold()
        res["stat_cold"] = self.meta_phase("stat", top)
        res["stat_warm"] = self.meta_phase("stat", top)
        res["unlink"] = self.meta_phase("unlink", top)
        os.rmdir(top)

    def metapar(self, res):
        top = os.path.join(self.t.work, "metapar")
        os.mkdir(top)
        n, procs = self.ctx.par_files, self.ctx.par_procs
        res["par_create"] = self.meta_phase("create", top, n, procs)
        self.t.cold()
        res["par_stat_cold"] = self.meta_phase("stat", top, n, procs)
        res["par_unlink"] = self.meta_phase("unlink", top, n, procs)
        os.rmdir(top)

# ---- the table ---------------------------------------------------------------

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio_pairs(fss, mine, refs):
    """(ours, reference) pairs of the ratio columns, for the filesystems run."""
    return [(g, r) for g in mine if g in fss for r in refs if r in fss]


def render_table(fss, table_rows, ratios, med, short=None, extra=()):
    short = short or {}
    # extra: further (ours, reference) pairs, shown when both ran (geofs
    # against geofs-nopad: what padding costs)
    ratios = ratios + [(g, r) for g, r in extra if g in fss and r in fss]
    head = ["workload", "unit"] + fss + [f"{g}/{short.get(r, r)}" for g, r in ratios]
    rows = []
    for key, label, unit, _hib in table_rows:
        vals = [med.get(f, {}).get(key) for f in fss]
        if all(v is None for v in vals):
            continue
        row = [label, unit] + [fmt(v) for v in vals]
        for g, r in ratios:
            a, b = med.get(g, {}).get(key), med.get(r, {}).get(key)
            row.append(f"{a / b:.2f}" if isinstance(a, float) and isinstance(b, float) and b
                       else "-")
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]))
        return "| " + " | ".join(out) + " |"
    text = [line(head), "|" + "|".join(("-" * (w + 1) + ":") if i >= 2 else "-" * (w + 2)
                                       for i, w in enumerate(widths)) + "|"]
    text += [line(r) for r in rows]
    return "\n".join(text) + "\n"


def limit_lines(med):
    """The create of each geofs target against the physical limit: time per
    file of passthrough_ll's create plus the plain directory's durable
    create (issue: at most 1.3x with durability = close)."""
    pt = med.get("passthrough_ll", {}).get("create")
    dur = med.get("plain", {}).get("create_durable")
    if not pt or not dur:
        return []
    limit = 1e6 / pt + 1e6 / dur
    out = [f"create limit: passthrough_ll create {1e6 / pt:,.0f} us + durable create on the "
           f"plain directory {1e6 / dur:,.0f} us = {limit:,.0f} us per file"]
    for name, m in med.items():
        if name.startswith("geofs") and m.get("create"):
            us = 1e6 / m["create"]
            out.append(f"  {name}: create {us:,.0f} us per file = {us / limit:.2f}x the limit")
    return out


def machine_info(ctx):
    def sh(*argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True).stdout.strip()
        except OSError:
            return "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    src = sh("findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", ctx.tmp)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kb / (1 << 20), 1),
        "kernel": platform.release(),
        "tmp": ctx.tmp,
        "tmp_fs": src,
        "fio": sh("fio", "--version"),
        "gocryptfs": sh("gocryptfs", "-version"),
        "mergerfs": sh("mergerfs", "-V").splitlines()[0] if sh("mergerfs", "-V") else "?",
        "libfuse": sh("pkg-config", "--modversion", "fuse3"),
        "geofs_git": sh("git", "-C", REPO, "describe", "--always", "--dirty"),
        "geofs_uncommitted": len(sh("git", "-C", REPO, "status", "--short", "--",
                                    "fs", "Makefile").splitlines()),
    }


def run_group(ctx, names, workloads, runner, targets, raw, errors):
    """RUNS rounds of WORKLOADS on the filesystems NAMES (those set up)."""
    for run in range(1, ctx.runs + 1):
        # Workload by workload, every filesystem in turn, so that the
        # figures of one row are measured close together in time on a
        # machine whose load changes; the order rotates between runs.
        order = [n for n in names if n in targets]
        k = (run - 1) % max(1, len(order))
        order = order[k:] + order[:k]
        per_run = {n: {} for n in order}
        for n in order:
            targets[n].hwm = 0.0
        for wl in workloads:
            for name in order:
                if not ctx.runs_workload(name, wl):
                    continue
                t0 = time.monotonic()
                res = per_run[name]
                before = set(res)
                try:
                    runner(ctx, targets[name], run).group(wl, res)
                except (BenchError, OSError) as e:
                    errors.append(f"run {run} {wl} {name}: {e}")
                    log(f"run {run}/{ctx.runs} {wl} {name} FAILED: {e}")
                    try:
                        targets[name].stop()
                    except (BenchError, OSError) as e2:
                        log(f"{name}: stop failed: {e2}")
                    continue
                log(f"run {run}/{ctx.runs} {wl} {name} ({time.monotonic() - t0:.0f} s): "
                    + ", ".join(f"{k}={fmt(v)}" for k, v in res.items()
                                if k not in before or k == "mem_hwm"))
        for name in order:
            if per_run[name]:
                raw[name].append(per_run[name])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--s3-env", help="DIR/env of the Ceph cluster bench.sh started "
                    "(tests/ceph/cluster.sh); needed by the s3 group")
    ap.add_argument("--ceph-env", help="DIR/env of that cluster started with --fs; "
                    "needed by geofs-cephmeta")
    args = ap.parse_args()

    def on_signal(sig, _frame):
        # Once: a second signal must not cut the unmounting short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ctx = Context(args)
    os.makedirs(os.path.join(ctx.tmp, "pids"), exist_ok=True)
    os.makedirs(ctx.results, exist_ok=True)
    info = machine_info(ctx)
    log(f"{info['nproc']} x {info['cpu']}, {info['ram_gib']} GiB, Linux {info['kernel']}, "
        f"temp {ctx.tmp} on {info['tmp_fs']}")
    log(f"results in {ctx.results}")

    dir_fs = [n for n in ctx.only if n in DEFAULT_FS + EXTRA_FS]
    dir_wl = [w for w in ctx.workloads if w in WORKLOADS]
    s3_fs = [n for n in ctx.only if n in s3.ALL_FS] if "s3" in ctx.workloads else []
    if s3_fs:
        ctx.s3.load()
    chosen = (dir_fs if dir_wl else []) + s3_fs
    if dir_fs and dir_wl:
        log(f"directories: size {fmt_size(ctx.size)}, random file {fmt_size(ctx.rand_size)}, "
            f"{ctx.time} s per random run, {ctx.files} files, {ctx.runs} runs; filesystems: "
            f"{' '.join(dir_fs)}; workloads: {' '.join(dir_wl)}")
    if s3_fs:
        log(f"object store: {ctx.s3.summary()}, {ctx.time} s per random run, {ctx.runs} runs; "
            f"filesystems: {' '.join(s3_fs)}")
    targets = {}
    raw = {name: [] for name in chosen}
    errors = []
    interrupted = None
    try:
        for name in chosen:
            t = make_target(name, ctx.tmp, ctx)
            try:
                t.setup()
                targets[name] = t
            except (BenchError, OSError) as e:
                errors.append(f"{name}: setup: {e}")
                log(f"{name}: setup failed: {e}")
        if dir_fs and dir_wl:
            run_group(ctx, dir_fs, dir_wl, Runner, targets, raw, errors)
        if s3_fs:
            run_group(ctx, s3_fs, s3.WORKLOADS, s3.S3Runner, targets, raw, errors)
    except SystemExit as e:
        interrupted = e.code
        errors.append(f"interrupted (exit {e.code}); the table holds the runs that finished")
        log("interrupted: unmounting everything")
    finally:
        if ctx.child is not None and ctx.child.poll() is None:
            ctx.child.kill()
            ctx.child.wait()
        for t in targets.values():
            try:
                t.stop()
            except Exception as e:  # noqa: BLE001 -- keep unmounting the rest
                log(f"{t.name}: stop failed: {e}")
            t.save_logs(os.path.join(ctx.results, "logs"))
            try:
                t.teardown()
            except Exception as e:  # noqa: BLE001 -- keep tearing down the rest
                log(f"{t.name}: teardown failed: {e}")

    med = {}
    for name, runs in raw.items():
        keys = {k for r in runs for k in r}
        med[name] = {k: float(statistics.median([r[k] for r in runs if k in r])) for k in keys}
    tables = []
    if dir_fs and dir_wl:
        tables.append(render_table(
            dir_fs, ROWS, ratio_pairs(dir_fs, ("geofs", "geofs-nocomp", "geofs-64k", "geofs-4m",
                                               "geofs-fsync"), ("gocryptfs", "passthrough_ll")),
            med, {"passthrough_ll": "ptll", "geofs": "geofs"},
            extra=[("geofs", "geofs-nopad"), ("geofs-cephmeta", "geofs"),
                   ("geofs", "geofs-base"), ("geofs-fsync", "geofs-fsync-base")]))
    if s3_fs:
        tables.append(render_table(s3_fs, s3.ROWS, ratio_pairs(s3_fs, ("geofs-s3",), s3.REFS),
                                   med))
    table = "\n".join(tables)
    with open(os.path.join(ctx.results, "results.json"), "w") as f:
        json.dump({"machine": info, "size": ctx.size, "rand_size": ctx.rand_size,
                   "runs": ctx.runs, "files": ctx.files, "time": ctx.time,
                   "filesystems": chosen, "workloads": ctx.workloads,
                   "base_bin": ctx.base_bin,
                   "s3": ctx.s3.describe() if s3_fs else None,
                   "raw": raw, "median": med, "errors": errors}, f, indent=1)
    with open(os.path.join(ctx.results, "table.md"), "w") as f:
        f.write(table)
    print(f"\ngeofs benchmark: medians of {ctx.runs} run(s); "
          f"{info['nproc']} x {info['cpu']}, Linux {info['kernel']}, {info['tmp_fs']}")
    if dir_fs and dir_wl:
        print(f"\ndirectories: seq {fmt_size(ctx.size)}, random {fmt_size(ctx.rand_size)} x "
              f"{ctx.time} s, {ctx.files} files\n")
        print(tables[0])
        if any(f in dir_fs for f in ("gocryptfs", "passthrough_ll")):
            print("ratios: the geofs column divided by gocryptfs or passthrough_ll (ptll); "
                  "above 1 is better for throughput rows, below 1 is better for CPU and "
                  "memory rows.")
        if any(w in dir_wl for w in ("meta", "metapar")):
            print(f"metadata: {ctx.files} files, one process; parallel: {ctx.par_procs} "
                  f"processes x {ctx.par_files} files in one directory")
            for line in limit_lines(med):
                print(line)
            if ctx.trace:
                print(f"strace -c and perf of each geofs daemon during create: "
                      f"{os.path.join(ctx.results, 'trace')}")
    if s3_fs:
        print(f"\nobject store ({ctx.s3.describe()['endpoint']}, local radosgw): "
              f"{ctx.s3.summary()}\n")
        print(tables[-1])
        print("ratios: geofs-s3 divided by s3fs, rclone-crypt or the gateway's own ceiling "
              "(radosgw-1M); above 1 is better for "
              "throughput rows, below 1 for CPU and memory rows.")
    print(f"raw fio JSON, daemon logs and results.json: {ctx.results}")
    if errors:
        print("\nerrors (details in results.json and the daemon logs):")
        for e in errors:
            print("  " + " | ".join(e.splitlines()[:2]))
    if interrupted is not None:
        return interrupted
    return 1 if errors else 0


# bench/s3.py (the object-store group) builds on the classes above and imports
# this module by name; when it runs as a script, that name must be this
# module, not a second copy of it.
if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(str(e))
        sys.exit(2)
