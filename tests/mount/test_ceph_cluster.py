"""The Ceph test cluster itself (tests/ceph/cluster.sh, cephtest.py): radosgw
answers signed S3 requests over http and https, only on 127.0.0.1, and two
ceph-fuse mounts of its CephFS see each other's files and user xattrs."""

import errno
import os
import subprocess
import uuid

import cephtest
import harness


def _bucket(cluster):
    return cluster.make_bucket(f"sanity-{uuid.uuid4().hex[:12]}")


def test_s3_put_get_http(ceph_cluster):
    b = _bucket(ceph_cluster)
    data = harness.pattern(1, 300_000)
    st, body = ceph_cluster.s3("PUT", f"/{b}/obj", data)
    assert st == 200, body
    st, body = ceph_cluster.s3("GET", f"/{b}/obj")
    assert (st, body) == (200, data)
    st, body = ceph_cluster.s3("GET", f"/{b}?list-type=2")
    assert st == 200 and b"<Key>obj</Key>" in body
    # exclusive put: RGW answers 412 for an existing key with If-None-Match: *
    st, _ = ceph_cluster.s3("PUT", f"/{b}/obj", b"other", headers={"If-None-Match": "*"})
    assert st == 412
    st, _ = ceph_cluster.s3("DELETE", f"/{b}/obj")
    assert st == 204
    st, _ = ceph_cluster.s3("GET", f"/{b}/obj")
    assert st == 404


def test_s3_wrong_secret_is_refused(ceph_cluster):
    b = _bucket(ceph_cluster)
    st, body = ceph_cluster.s3("PUT", f"/{b}/x", b"x", secret="0" * 40)
    assert st == 403 and b"SignatureDoesNotMatch" in body


def test_s3_https_with_test_ca(ceph_cluster):
    b = _bucket(ceph_cluster)
    data = harness.pattern(2, 70_000)
    st, _ = ceph_cluster.s3("PUT", f"/{b}/tls", data, tls=True)
    assert st == 200
    assert ceph_cluster.s3("GET", f"/{b}/tls", tls=True) == (200, data)
    # without the CA the certificate does not verify (curl exit 60)
    cp = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10",
                         ceph_cluster.rgw_tls_endpoint + "/"],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 60, cp.stderr


def test_cluster_listens_only_on_loopback(ceph_cluster):
    pids = ceph_cluster.daemon_pids()
    assert {"mon", "osd", "mds", "rgw"} <= set(pids)
    out = subprocess.run(["ss", "-Htulnp"], capture_output=True, text=True, check=True).stdout
    seen = {}
    for line in out.splitlines():
        for name, pid in pids.items():
            if f"pid={pid}," in line:
                seen.setdefault(name, []).append(line.split()[4])
    assert set(seen) >= {"mon", "osd", "mds", "rgw"}, seen
    bad = {n: a for n, addrs in seen.items() for a in addrs if not a.startswith("127.0.0.1:")}
    assert not bad, bad
    assert ceph_cluster.rgw_endpoint.startswith("http://127.0.0.1:")


def test_cephfs_two_mounts_share_files_and_xattrs(cephfs_pair):
    a, b = cephfs_pair.a, cephfs_pair.b
    assert os.stat(cephfs_pair.mnt_a).st_dev != os.stat(cephfs_pair.mnt_b).st_dev
    data = harness.pattern(3, 200_000)
    harness.write_file(os.path.join(a, "f"), data)
    assert harness.read_file(os.path.join(b, "f")) == data
    os.setxattr(os.path.join(b, "f"), "user.geofs.t", b"from-b")
    assert os.getxattr(os.path.join(a, "f"), "user.geofs.t") == b"from-b"
    os.link(os.path.join(a, "f"), os.path.join(a, "g"))
    assert os.stat(os.path.join(b, "g")).st_nlink == 2
    os.rename(os.path.join(b, "g"), os.path.join(b, "h"))
    assert sorted(os.listdir(a)) == ["f", "h"]
    os.unlink(os.path.join(a, "f"))
    os.unlink(os.path.join(a, "h"))
    assert os.listdir(b) == []


def test_cephfs_has_no_o_tmpfile(cephfs_pair):
    """What issue 17 is about: CephFS refuses O_TMPFILE (geofs must not need it)."""
    assert harness.errno_of(os.open, cephfs_pair.a, os.O_TMPFILE | os.O_WRONLY, 0o600) \
        == errno.errorcode[errno.EOPNOTSUPP]


def test_rgw_kill_and_restart(ceph_cluster):
    """rgw_stop(kill=True) / rgw_start(): what the outage tests of the S3
    backends use; the object put before the kill is there after it."""
    b = _bucket(ceph_cluster)
    assert ceph_cluster.s3("PUT", f"/{b}/before", b"kept")[0] == 200
    ceph_cluster.rgw_stop(kill=True)
    try:
        assert "rgw" not in ceph_cluster.daemon_pids()
        try:
            ceph_cluster.s3("GET", f"/{b}/before", timeout=5)
        except cephtest.CephError as e:
            assert "failed (7)" in str(e)  # curl: could not connect
        else:
            raise AssertionError("radosgw still answers after rgw_stop(kill=True)")
    finally:
        ceph_cluster.rgw_start()
    assert ceph_cluster.s3("GET", f"/{b}/before") == (200, b"kept")
