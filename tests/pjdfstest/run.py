"""Runs pjdfstest (built by `make pjdfstest` from a checkout) against a
fresh geofs mount: `prove -r` over the suite's tests/ with the mount as the
working directory, as root. The mount is the test suite's default site
(tests/mount/harness.py) with -o allow_other (always) and default_permissions
(always on in geofs); nothing else is needed. Exit status: prove's.

usage: run.py PJDFSTEST_BUILD_DIR [prove arguments, e.g. tests/unlink]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mount"))

import harness  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    suite = os.path.abspath(sys.argv[1])
    which = sys.argv[2:] or ["tests"]
    factory = harness.SiteFactory(timeout=4 * 3600)
    rc = 2
    try:
        site = factory.mounted()
        work = site.path("pjd")
        os.mkdir(work)
        rc = subprocess.run(["prove", "-r", *[os.path.join(suite, w) for w in which]],
                            cwd=work).returncode
    finally:
        problems = factory.cleanup()
        for p in problems:
            print("teardown:", p, file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
