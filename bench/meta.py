"""meta.py PHASE DIR N -- one timed metadata phase of `make bench`.

PHASE is one of:
  create  create DIR/f00000 .. f<N-1>, each with 4 KiB of random bytes
          (open O_CREAT|O_EXCL, one write, close)
  stat    lstat each of them
  unlink  unlink each of them
Prints one JSON object: {"phase", "n", "seconds", "cpu_user", "cpu_sys"},
where seconds is the wall time of the loop alone (interpreter start-up and
the name list are outside it) and cpu_* is this process's CPU over the loop.

Run with /usr/bin/python3. The loop is plain os.* calls, a few microseconds
each: the plain-directory column of the table shows that floor.
"""

import json
import os
import resource
import sys
import time


def main(argv):
    if len(argv) != 4 or argv[1] not in ("create", "stat", "unlink"):
        sys.stderr.write("usage: meta.py create|stat|unlink DIR N\n")
        return 2
    phase, top, n = argv[1], argv[2], int(argv[3])
    names = [os.path.join(top, "f%05d" % i) for i in range(n)]
    data = os.urandom(4096)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    if phase == "create":
        for p in names:
            fd = os.open(p, flags, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
    elif phase == "stat":
        for p in names:
            os.lstat(p)
    else:
        for p in names:
            os.unlink(p)
    t1 = time.monotonic()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    json.dump({"phase": phase, "n": n, "seconds": t1 - t0,
               "cpu_user": r1.ru_utime - r0.ru_utime,
               "cpu_sys": r1.ru_stime - r0.ru_stime}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
