"""meta.py [--procs P] PHASE DIR N -- one timed metadata phase of `make bench`.

PHASE is one of:
  create   create DIR/f00000 .. f<N-1>, each with 4 KiB of random bytes
           (open O_CREAT|O_EXCL, one write, close)
  durable  the same, made durable the way an application does it on a
           local filesystem: open O_CREAT|O_EXCL, one write, fdatasync,
           fsync of DIR, close (the physical limit of a durable create on
           the filesystem DIR is on, when DIR is a plain directory)
  stat     lstat each of them
  unlink   unlink each of them
With --procs P, P processes run the phase at once in DIR, each on its own
N names (DIR/p<k>-f00000 ...), released together; the time is from the
release to the end of the last one, so n = P * N.

Prints one JSON object: {"phase", "n", "procs", "seconds", "cpu_user",
"cpu_sys"}, where seconds is the wall time of the loop alone (interpreter
start-up and the name list are outside it) and cpu_* is the CPU of the
loops (all processes).

Run with /usr/bin/python3. The loop is plain os.* calls, a few microseconds
each: the plain-directory column of the table shows that floor.
"""

import json
import os
import resource
import sys
import time

PHASES = ("create", "durable", "stat", "unlink")


def names_of(top, n, prefix="f"):
    return [os.path.join(top, "%s%05d" % (prefix, i)) for i in range(n)]


def loop(phase, top, names):
    """The timed work of one process."""
    data = os.urandom(4096)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    if phase in ("create", "durable"):
        dfd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for p in names:
                fd = os.open(p, flags, 0o644)
                try:
                    os.write(fd, data)
                    if phase == "durable":
                        os.fdatasync(fd)
                        os.fsync(dfd)
                finally:
                    os.close(fd)
        finally:
            os.close(dfd)
    elif phase == "stat":
        for p in names:
            os.lstat(p)
    else:
        for p in names:
            os.unlink(p)


def run_one(phase, top, n):
    names = names_of(top, n)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    loop(phase, top, names)
    t1 = time.monotonic()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"phase": phase, "n": n, "procs": 1, "seconds": t1 - t0,
            "cpu_user": r1.ru_utime - r0.ru_utime, "cpu_sys": r1.ru_stime - r0.ru_stime}


def run_parallel(phase, top, n, procs):
    """procs children, each on its own n names, started by one byte each on
    a pipe once all are ready; the parent times release to last exit."""
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pids = []
    for k in range(procs):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(go_w)
                os.close(ready_r)
                names = names_of(top, n, "p%d-f" % k)
                os.write(ready_w, b"r")
                if os.read(go_r, 1) == b"g":
                    loop(phase, top, names)
                    code = 0
            except BaseException as e:  # noqa: BLE001 -- report, exit non-zero
                sys.stderr.write(f"meta.py: process {k}: {e!r}\n")
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(go_r)
    os.close(ready_w)
    got = 0
    while got < procs:
        b = os.read(ready_r, procs)
        if not b:
            break
        got += len(b)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    os.write(go_w, b"g" * procs)
    bad = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            bad += 1
    t1 = time.monotonic()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.close(go_w)
    os.close(ready_r)
    if bad or got < procs:
        raise RuntimeError(f"{bad} of {procs} processes failed ({got} got ready)")
    return {"phase": phase, "n": n * procs, "procs": procs, "seconds": t1 - t0,
            "cpu_user": r1.ru_utime - r0.ru_utime, "cpu_sys": r1.ru_stime - r0.ru_stime}


def main(argv):
    args = argv[1:]
    procs = 1
    if len(args) >= 2 and args[0] == "--procs":
        procs = int(args[1])
        args = args[2:]
    if len(args) != 3 or args[0] not in PHASES or procs < 1:
        sys.stderr.write("usage: meta.py [--procs P] create|durable|stat|unlink DIR N\n")
        return 2
    phase, top, n = args[0], args[1], int(args[2])
    r = run_one(phase, top, n) if procs == 1 else run_parallel(phase, top, n, procs)
    json.dump(r, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
