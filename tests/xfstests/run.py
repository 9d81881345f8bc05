"""Runs xfstests' file exercisers against a fresh geofs mount, as root:
fsx (random reads, writes, truncates, fallocate and mmap, each checked
against an in-memory model of the file) and fsstress (many processes
making, renaming, linking, truncating and removing files), then geoctl
fsck, which must find the tree clean: no object left behind, no stub whose
size is not its manifest's. The mount is the test suite's default site
(tests/mount/harness.py: 64 KiB shards, so every run crosses shards).
Exit status: 0 when every run was clean, else 1 (2: usage).

usage: run.py XFSTESTS_DIR [FSX_OPS [FSSTRESS_OPS]]
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mount"))

import harness  # noqa: E402

# fsx: (name, arguments): buffered and mmap I/O on a file up to 4 MiB with
# writes up to 256 KiB; then the same with no mmap and larger ops; then
# every operation with O_DIRECT off and keep-size fallocate. -S fixes the
# seed so that a failure can be replayed with the same arguments.
FSX_RUNS = [
    ("fsx-mmap", ["-l", "4194304", "-o", "262144", "-S", "1"]),
    ("fsx-rw", ["-l", "16777216", "-o", "1048576", "-R", "-W", "-S", "2"]),
    ("fsx-small", ["-l", "200000", "-o", "8192", "-S", "3"]),
]


def run(cmd, cwd, log):
    print("+", " ".join(cmd), flush=True)
    cp = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True, errors="replace")
    with open(log, "w") as f:
        f.write(cp.stdout)
    tail = cp.stdout.strip().splitlines()[-15:]
    if cp.returncode:
        print("\n".join(tail))
    return cp.returncode


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = os.path.abspath(sys.argv[1])
    fsx_ops = sys.argv[2] if len(sys.argv) > 2 else "20000"
    stress_ops = sys.argv[3] if len(sys.argv) > 3 else "3000"
    logs = os.environ.get("XFSTESTS_LOGS") or os.path.join(os.getcwd(), "xfstests-logs")
    os.makedirs(logs, exist_ok=True)
    factory = harness.SiteFactory(timeout=4 * 3600)
    failed = []
    try:
        site = factory.mounted()
        for name, args in FSX_RUNS:
            work = site.path(name)
            os.mkdir(work)
            cmd = [os.path.join(src, "ltp", "fsx"), "-q", "-N", fsx_ops, *args, "file"]
            if run(cmd, work, os.path.join(logs, name + ".log")):
                failed.append(name)
        work = site.path("fsstress")
        os.mkdir(work)
        cmd = [os.path.join(src, "ltp", "fsstress"), "-d", work, "-n", stress_ops, "-p", "4",
               "-s", "4", "-v"]
        if run(cmd, work, os.path.join(logs, "fsstress.log")):
            failed.append("fsstress")
        site.unmount()
        cp = site.geoctl("fsck", "-c", site.config, "--json", timeout=3600)
        report = json.loads(cp.stdout) if cp.stdout.strip().startswith("{") else None
        if cp.returncode != 0 or not report or report.get("findings"):
            print("fsck after the runs:", cp.returncode, cp.stdout[-2000:], cp.stderr[-2000:])
            failed.append("fsck")
        else:
            print("fsck after the runs: clean")
    finally:
        for p in factory.cleanup():
            print("teardown:", p, file=sys.stderr)
            failed.append("teardown")
    print("xfstests exercisers:", "FAILED " + ", ".join(failed) if failed else "all clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
