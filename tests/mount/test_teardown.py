"""An unmount while handles are open (issue 16, item 9).

After a lazy or forced unmount the kernel drops the handles still open
without a release. The daemon must still close those files when it ends:
commit what was written to them and free their handles, files and
manifests. Under `make SANITIZE=1 test` a leak fails the test, since the
harness refuses a daemon log with a sanitizer report; in every build the
written bytes must be there after the next mount.
"""

import os

import pytest

from harness import UNMOUNT_TIMEOUT, HarnessError, pattern, run

SHARD = 64 * 1024


def _detach(site, how):
    if how == "lazy":
        run(["fusermount3", "-uz", site.mnt], check=True)
    else:
        # MNT_FORCE aborts the FUSE connection at once; the umount itself
        # then fails with EBUSY (files are open) and is done lazily below.
        run(["umount", "-f", site.mnt])


@pytest.mark.parametrize("how", ["lazy", "force"])
def test_unmount_with_open_handles_releases_them(site, how):
    kept = pattern(1, 2 * SHARD + 5)
    with open(site.path("kept"), "wb") as f:
        f.write(kept)
    written = pattern(2, 3 * SHARD + 100)
    wfd = os.open(site.path("written"), os.O_RDWR | os.O_CREAT, 0o644)
    rfd = os.open(site.path("kept"), os.O_RDONLY)
    try:
        assert os.write(wfd, written) == len(written)   # neither closed nor fsynced
        assert os.pread(rfd, 100, 0) == kept[:100]
        _detach(site, how)
        if how == "force":
            # the daemon ends while both handles are still open here
            try:
                rc = site.proc.wait(UNMOUNT_TIMEOUT)
            except Exception as e:  # noqa: BLE001
                raise HarnessError(f"geofs did not exit after umount -f:\n{site.log()}") from e
            assert rc == 0, site.log()
    finally:
        for fd in (wfd, rfd):
            try:
                os.close(fd)
            except OSError:
                pass            # ENOTCONN after a forced unmount
    if site.is_mounted():
        run(["fusermount3", "-uz", site.mnt], check=True)
    site.unmount()              # exit 0, no sanitizer report in its log
    site.mount()
    with open(site.path("written"), "rb") as f:
        assert f.read() == written
    with open(site.path("kept"), "rb") as f:
        assert f.read() == kept
