"""S3 backends (kind = s3) against the real radosgw of the Ceph test cluster.

Every test mounts geofs with its Korean backend in a fresh bucket of the
cluster (tests/mount/cephtest.py) and its Japanese backends on directories,
and checks what lands in the bucket through the S3 API itself:
  round trip; placement (media in KR on S3, medical only in JP dirs) and
  refusal; no plaintext, name or tag in any object or key; a tampered object
  is EIO + audit; fsck names a deleted object, finds and repairs orphans, and
  pages past 1,000 keys; the repatriation S3 -> directories with kill -9 and
  resume; rebalance directories -> S3 and bucket -> bucket (every byte read
  back, the source emptied, fsck clean); radosgw down and back; TLS with
  the test CA (a wrong CA refused); bad and world-readable credentials; bad
  config keys; two mounts on one meta root and one bucket; the secret never
  in a log; streaming, random reads and partial rewrites of one file (the
  read-ahead and drop-behind of fs/shardio.c) read back exactly.
"""

import errno
import json
import os
import random
import re
import signal
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest

from harness import GEOCTL, HarnessError, pattern, run
from harness import read_file as read, write_file as write

CATS = {
    "personal": {"store_in": "origin", "access_from": "origin"},
    "medical": {"store_in": "origin", "access_from": "origin", "replicas": "2"},
    "media": {"store_in": "KR", "access_from": "*", "compress": "off"},
}
MARK = b"S3-PLAINTEXT-MARKER-7f3a"


def new_bucket():
    return "geofs-t-" + uuid.uuid4().hex[:16]


def s3_backend(ceph, creds, bucket, tls=False, **extra):
    b = {"kind": "s3", "country": "KR", "bucket": bucket, "prefix": "geofs/kr",
         "endpoint": ceph.rgw_tls_endpoint if tls else ceph.rgw_endpoint,
         "credentials": creds, "connect_timeout": "2", "request_timeout": "10"}
    if tls:
        b["ca_file"] = ceph.rgw_ca
    b.update(extra)
    return b


def make_site(site_factory, ceph, bucket=None, categories=CATS, mount=True, tls=False, **extra):
    """A site: tokyo-1, osaka-1 directories in JP; seoul-1 an S3 bucket in KR."""
    root = site_factory.top
    creds = os.path.join(root, f"creds-{uuid.uuid4().hex[:8]}")
    ceph.write_credentials(creds)
    bucket = bucket or new_bucket()
    backends = {"tokyo-1": {"country": "JP"}, "osaka-1": {"country": "JP"},
                "seoul-1": s3_backend(ceph, creds, bucket, tls=tls, **extra)}
    site = site_factory(backends=backends, categories=categories)
    site.bucket = bucket
    site.creds = creds
    if mount:
        site.mount()
    return site


def list_keys(ceph, bucket, prefix=""):
    """Every key in the bucket (ListObjectsV2, all pages) -> {key: size}."""
    out, token = {}, None
    while True:
        # sorted parameters, fully encoded: curl signs the query as given
        q = f"list-type=2&prefix={quote(prefix, safe='')}"
        if token:
            q = "continuation-token=" + quote(token, safe="") + "&" + q
        status, body = ceph.s3("GET", f"/{bucket}?{q}")
        assert status == 200, body
        text = body.decode()
        for k, s in re.findall(r"<Key>([^<]*)</Key>.*?<Size>(\d+)</Size>", text):
            out[k] = int(s)
        if "<IsTruncated>true</IsTruncated>" not in text:
            return out
        token = re.search(r"<NextContinuationToken>([^<]*)<", text).group(1)


def object_keys(ceph, site):
    return {k: s for k, s in list_keys(ceph, site.bucket, "geofs/kr/objects/").items()}


def rgw_back(ceph):
    """Restarts radosgw and waits until it serves requests again (it answers
    the port before it can create buckets)."""
    ceph.rgw_start()
    deadline = time.monotonic() + 90
    while True:
        try:
            ceph.make_bucket(new_bucket())
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def tagged(site, name, category):
    d = site.path(name)
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", category.encode())
    return d


def audit(site):
    with open(site.audit, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- round trip, placement, nothing readable ------------------------------------

def test_round_trip_placement_and_nothing_readable(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "photos-of-tanaka", "media")
    data = MARK + pattern(1, 700_000) + MARK
    write(os.path.join(media, "tanaka-secret.jpg"), data)
    med = tagged(site, "clinic", "medical")
    write(os.path.join(med, "scan.png"), MARK + pattern(2, 100_000))
    assert site.placement(os.path.join(media, "tanaka-secret.jpg")) == ["KR/seoul-1"]
    assert site.placement(os.path.join(med, "scan.png")) == ["JP/osaka-1", "JP/tokyo-1"]

    keys = object_keys(ceph_cluster, site)
    assert len(keys) >= 11                       # 64K shards of 700 KB, one replica
    assert all(re.fullmatch(r"geofs/kr/objects/[0-9a-f]{32}", k) for k in keys)
    allkeys = list_keys(ceph_cluster, site.bucket)
    assert set(allkeys) == set(keys) | {"geofs/kr/geofs-backend"}
    status, marker = ceph_cluster.s3("GET", f"/{site.bucket}/geofs/kr/geofs-backend")
    assert status == 200 and marker == b"geofs-backend 1\nname seoul-1\ncountry KR\n"
    # no plaintext, file name or tag in any key or body
    for k in allkeys:
        for word in (b"tanaka", b"photos", b"media", MARK, b"secret"):
            assert word not in k.encode()
        status, body = ceph_cluster.s3("GET", f"/{site.bucket}/{k}")
        assert status == 200
        for word in (MARK, b"tanaka", b"photos-of", b"media", b"user.geo"):
            assert word not in body, (k, word)
    assert site.grep(MARK) == []                 # the JP directories hold ciphertext too

    site.unmount()
    site.mount()                                 # cold: every byte from the bucket
    assert read(os.path.join(media, "tanaka-secret.jpg")) == data


def test_refused_placement_writes_nothing_to_the_bucket(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    med = tagged(site, "kr-clinic", "medical")
    os.setxattr(med, "user.geo.origin", b"KR")   # medical of KR origin: 2 copies in KR
    before = object_keys(ceph_cluster, site)
    with pytest.raises(OSError) as e:
        write(os.path.join(med, "x.png"), pattern(3, 50_000))
    assert e.value.errno == errno.EACCES
    assert object_keys(ceph_cluster, site) == before
    assert any(r["op"] in ("placement-refused", "create") and r.get("result") != "ok"
               or r["op"] == "placement-refused" for r in audit(site))


# ---- integrity and fsck ----------------------------------------------------------

def test_tampered_object_is_eio_and_audited(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "m", "media")
    p = os.path.join(media, "a.bin")
    write(p, pattern(4, 30_000))
    [key] = object_keys(ceph_cluster, site)
    status, body = ceph_cluster.s3("GET", f"/{site.bucket}/{key}")
    bad = bytearray(body)
    bad[len(bad) // 2] ^= 0x40
    assert ceph_cluster.s3("PUT", f"/{site.bucket}/{key}", data=bytes(bad))[0] == 200
    site.unmount()
    site.mount()
    with pytest.raises(OSError) as e:
        read(p)
    assert e.value.errno == errno.EIO
    assert any(r["op"] == "auth-failure" for r in audit(site))


def test_fsck_deleted_object_and_orphans(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "m", "media")
    write(os.path.join(media, "keep.bin"), pattern(5, 20_000))
    write(os.path.join(media, "gone.bin"), pattern(6, 20_000))
    before = set(object_keys(ceph_cluster, site))
    os.unlink(os.path.join(media, "gone.bin"))
    write(os.path.join(media, "gone.bin"), pattern(6, 20_000))
    [gone_key] = set(object_keys(ceph_cluster, site)) - before
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0 and "clean" in cp.stdout, cp.stdout + cp.stderr

    orphan = "geofs/kr/objects/" + "0123456789abcdef" * 2
    assert ceph_cluster.s3("PUT", f"/{site.bucket}/{orphan}", data=b"x" * 100)[0] == 200
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 1
    assert "ORPHAN-OBJECT" in cp.stdout and "0123456789abcdef" * 2 in cp.stdout
    cp = site.geoctl("fsck", "-c", site.config, "--repair")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert orphan not in list_keys(ceph_cluster, site.bucket)

    assert ceph_cluster.s3("DELETE", f"/{site.bucket}/{gone_key}")[0] == 204
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 1
    assert "/m/gone.bin" in cp.stdout
    assert "/m/keep.bin" not in cp.stdout
    # The missing object is named as the bucket names it: no fan-out.
    hexid = gone_key.rsplit("/", 1)[1]
    assert f" objects/{hexid}: missing" in cp.stdout, cp.stdout


@pytest.mark.slow
def test_fsck_pages_past_1000_keys(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "many", "media")
    for i in range(1100):
        write(os.path.join(media, f"f{i}"), b"%d" % i)
    assert len(object_keys(ceph_cluster, site)) == 1100
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert "checked 1101 files" in cp.stdout or "1100 objects" in cp.stdout, cp.stdout


# ---- repatriation ----------------------------------------------------------------

def test_repatriation_from_s3_to_directories_with_kill_and_resume(site_factory, ceph_cluster):
    cats = {k: dict(v) for k, v in CATS.items()}
    cats["media"]["store_in"] = "origin, KR"
    cats["media"]["compress"] = "off"
    site = make_site(site_factory, ceph_cluster, categories=cats,
                     **{"weight": "1000"})
    media = tagged(site, "photos", "media")
    sums = {}
    for i in range(24):
        p = os.path.join(media, f"p{i}.jpg")
        data = pattern(100 + i, 200_000)
        write(p, data)
        sums[p] = data
    assert all(site.placement(p) == ["KR/seoul-1"] for p in sums)
    # 2021: Japanese media goes home
    site.categories["media"]["store_in"] = "origin"
    site.write_config()
    site.remount()
    proc = subprocess.Popen([GEOCTL, "rebalance", "--bandwidth", "0.5", site.mnt],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:                                         # 200 KB per file at 0.5 MB/s
        while True:
            line = proc.stderr.readline()
            assert line, f"geoctl rebalance ended before any progress: {proc.wait()}"
            if line.startswith("migrated "):
                break
        proc.kill()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    moved_some = sum(site.placement(p) != ["KR/seoul-1"] for p in sums)
    assert 0 < moved_some < len(sums)
    cp = site.geoctl("rebalance", site.mnt, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    for p, data in sums.items():
        assert site.placement(p)[0].startswith("JP/"), p
        assert read(p) == data
    assert site.geoctl("verify", site.mnt).returncode == 0
    assert object_keys(ceph_cluster, site) == {}
    site.unmount()
    assert site.geoctl("fsck", "-c", site.config).returncode == 0


# ---- failures ----------------------------------------------------------------------

def test_radosgw_down_clear_errors_and_back(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "m", "media")
    old = pattern(9, 150_000)
    write(os.path.join(media, "old.bin"), old)
    site.unmount()
    site.mount()                                 # no cached shards
    ceph_cluster.rgw_stop(kill=True)
    try:
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            read(os.path.join(media, "old.bin"))
        assert e.value.errno == errno.EIO
        with pytest.raises(OSError) as e:
            write(os.path.join(media, "new.bin"), pattern(10, 100_000))
        assert e.value.errno == errno.EACCES
        assert time.monotonic() - t0 < 40        # 2 s connect, 10 s request timeouts
        write(site.path("jp.txt"), b"Japan keeps working")   # personal -> JP dirs
        assert read(site.path("jp.txt")) == b"Japan keeps working"
        cp = site.geoctl("status", site.mnt)
        row = next(line for line in cp.stdout.splitlines() if line.startswith("seoul-1"))
        assert "unreachable" in row
        assert re.search(r"backend seoul-1: unreachable: .*(onnect|refused)", cp.stdout), cp.stdout
    finally:
        rgw_back(ceph_cluster)
    deadline = time.monotonic() + 30
    while True:
        try:
            assert read(os.path.join(media, "old.bin")) == old
            write(os.path.join(media, "new.bin"), b"back")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert site.placement(os.path.join(media, "new.bin")) == ["KR/seoul-1"]


def test_closed_port_refuses_the_mount_and_check_names_it(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster, mount=False)
    site.backends["seoul-1"]["endpoint"] = "http://127.0.0.1:9"    # discard: closed
    site.write_config()
    cp = site.geoctl("backend", "check", "-c", site.config)
    assert cp.returncode == 1
    assert "seoul-1" in cp.stdout and "127.0.0.1:9" in cp.stdout
    cp = site.geoctl("check", "-c", site.config)
    assert "UNREACHABLE" in cp.stdout


def test_tls_with_the_test_ca_and_a_wrong_ca(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster, tls=True)
    media = tagged(site, "m", "media")
    write(os.path.join(media, "t.bin"), pattern(11, 90_000))
    site.unmount()
    site.mount()
    assert read(os.path.join(media, "t.bin")) == pattern(11, 90_000)
    site.unmount()
    site.backends["seoul-1"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"
    site.write_config()
    cp = site.geoctl("backend", "check", "-c", site.config)
    assert cp.returncode == 1
    assert re.search(r"(?i)certificate|ssl", cp.stdout + cp.stderr)
    rc, out = site.try_mount()
    assert rc != 0 and "seoul-1" in out


def test_bad_and_world_readable_credentials(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    site.unmount()
    wrong = "WRONG" + ceph_cluster.secret_key[5:]
    with open(site.creds, "w") as f:
        f.write(f"[default]\naws_access_key_id = {ceph_cluster.access_key}\n"
                f"aws_secret_access_key = {wrong}\n")
    cp = site.geoctl("backend", "check", "-c", site.config)
    assert cp.returncode == 1
    assert "403" in cp.stdout + cp.stderr or "Permission denied" in cp.stdout
    assert wrong not in cp.stdout + cp.stderr
    rc, out = site.try_mount()
    assert rc != 0 and "seoul-1" in out and wrong not in out
    ceph_cluster.write_credentials(site.creds)
    os.chmod(site.creds, 0o644)
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2
    assert re.search(re.escape(site.config) + r":\d+: credentials file " + re.escape(site.creds),
                     cp.stdout + cp.stderr)
    rc, out = site.try_mount()
    assert rc != 0 and site.creds in out
    os.chmod(site.creds, 0o600)
    site.mount()


def test_secret_never_in_logs_or_audit(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster)
    media = tagged(site, "m", "media")
    write(os.path.join(media, "a"), pattern(12, 100_000))
    ceph_cluster.rgw_stop()
    try:
        with pytest.raises(OSError):
            write(os.path.join(media, "b"), pattern(13, 100_000))
    finally:
        rgw_back(ceph_cluster)
    site.unmount()
    secret = ceph_cluster.secret_key.encode()
    with open(site.log_path, "rb") as f:
        log = f.read()
    assert b"seoul-1" in log                     # it did log the failure ...
    assert secret not in log                     # ... without the secret
    with open(site.audit, "rb") as f:
        assert secret not in f.read()


def test_config_keys_by_kind(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster, mount=False)
    base = site.render_config()
    cases = [
        ("[backend seoul-1]", "[backend seoul-1]\npath = /srv/x", "key 'path' does not apply"),
        ("[backend tokyo-1]", "[backend tokyo-1]\nendpoint = http://h", "key 'endpoint' does not apply"),
        ("endpoint = ", "endpoint = ftp://x\n#", "bad endpoint 'ftp://x"),
        ("bucket = ", "bucket = Bad_Bucket\n#", "bad bucket 'Bad_Bucket'"),
        ("prefix = geofs/kr", "prefix = /abs", "bad prefix '/abs'"),
        ("connect_timeout = 2", "connect_timeout = 0", "bad connect_timeout '0'"),
    ]
    for old, new, msg in cases:
        text = base.replace(old, new, 1)
        site.write_config(text)
        cp = site.geoctl("check", "-c", site.config)
        assert cp.returncode == 2, (new, cp.stdout)
        assert re.search(re.escape(site.config) + r":\d+: " + re.escape(msg), cp.stderr + cp.stdout), \
            (msg, cp.stderr)


def test_two_mounts_share_one_meta_root_and_bucket(site_factory, ceph_cluster):
    a = make_site(site_factory, ceph_cluster)
    b = site_factory(share=a, name="tokyo-app-02", categories=CATS)
    b.mount()
    media = tagged(a, "shared", "media")
    write(os.path.join(media, "x.bin"), pattern(14, 200_000))
    assert read(os.path.join(b.mnt, "shared", "x.bin")) == pattern(14, 200_000)
    write(os.path.join(b.mnt, "shared", "y.bin"), pattern(15, 80_000))
    assert read(os.path.join(media, "y.bin")) == pattern(15, 80_000)
    assert b.placement(os.path.join(b.mnt, "shared", "y.bin")) == ["KR/seoul-1"]


# ---- migration into S3 and between buckets ---------------------------------------

def migration_files(site, top, seed):
    """Files of several sizes (empty, under one shard, many shards, a hole) in
    directory top -> {path: bytes}."""
    out = {}
    for i, n in enumerate((0, 1, 5_000, 64 * 1024, 300_001, 1_100_000)):
        p = os.path.join(top, f"f{i}.bin")
        out[p] = pattern(seed + i, n)
        write(p, out[p])
    p = os.path.join(top, "sparse.bin")
    with open(p, "wb") as f:
        f.write(b"head")
        f.seek(700_000)
        f.write(b"tail")
    out[p] = b"head" + bytes(700_000 - 4) + b"tail"
    return out


def assert_moved(site, files, where):
    """Every byte reads back, every non-empty file sits only on `where`, verify
    passes and, unmounted, fsck is clean."""
    for p, data in files.items():
        assert read(p) == data, p
        if data.strip(b"\0"):
            assert site.placement(p) == [where], (p, site.placement(p))
    cp = site.geoctl("verify", site.mnt)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    site.unmount()
    cp = site.geoctl("fsck", "-c", site.config)
    assert cp.returncode == 0 and "clean" in cp.stdout, cp.stdout + cp.stderr
    site.mount()                                 # cold: from the new place only
    for p, data in files.items():
        assert read(p) == data, p


def test_rebalance_directories_to_s3(site_factory, ceph_cluster):
    cats = {k: dict(v) for k, v in CATS.items()}
    cats["media"] = {"store_in": "JP", "access_from": "*"}      # LZ4 on
    site = make_site(site_factory, ceph_cluster, categories=cats)
    files = migration_files(site, tagged(site, "video", "media"), 300)
    assert all(site.placement(p)[0].startswith("JP/") for p, d in files.items() if d)
    assert object_keys(ceph_cluster, site) == {}
    on_dirs = len(site.objects())
    assert on_dirs >= 25
    # the media may now live in Korea only: its shards go to the bucket
    site.categories["media"]["store_in"] = "KR"
    site.write_config()
    site.remount()
    cp = site.geoctl("rebalance", site.mnt, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert site.objects() == []                  # nothing left in the directories
    assert len(object_keys(ceph_cluster, site)) == on_dirs
    assert_moved(site, files, "KR/seoul-1")
    assert site.objects() == []


def test_rebalance_between_two_buckets(site_factory, ceph_cluster):
    site = make_site(site_factory, ceph_cluster, mount=False, drain="no")
    other = new_bucket()
    site.backends["busan-1"] = s3_backend(ceph_cluster, site.creds, other, prefix="b",
                                          drain="yes")
    site.write_config()
    site.mount()
    files = migration_files(site, tagged(site, "photos", "media"), 400)
    src = object_keys(ceph_cluster, site)
    assert len(src) >= 25
    assert list_keys(ceph_cluster, other, "b/objects/") == {}
    # Seoul's bucket is retired: everything moves to Busan's
    site.backends["seoul-1"]["drain"] = "yes"
    site.backends["busan-1"]["drain"] = "no"
    site.write_config()
    site.remount()
    cp = site.geoctl("rebalance", site.mnt, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert object_keys(ceph_cluster, site) == {}  # the source bucket is empty
    dst = list_keys(ceph_cluster, other, "b/objects/")
    assert len(dst) == len(src)
    assert sorted(dst.values()) == sorted(src.values())
    assert_moved(site, files, "KR/busan-1")
    assert object_keys(ceph_cluster, site) == {}


# ---- the read path's windows on a remote backend ----------------------------------

def test_streaming_random_and_rewrites_read_back_exactly(site_factory, ceph_cluster):
    """A sequential reader drops decoded shards behind it and opens the
    remote read-ahead window; random readers and partial rewrites then take
    the shards again (rewritten ones are loaded without being cached). Every
    byte must stay exact across all of it, before and after a remount."""
    site = make_site(site_factory, ceph_cluster)
    p = os.path.join(tagged(site, "stream", "media"), "big.bin")
    data = bytearray(pattern(500, 3_000_000))          # 46 shards of 64K
    write(p, bytes(data))
    site.unmount()
    site.mount()
    assert read(p) == bytes(data)                      # streaming, cold
    rnd = random.Random(7)
    with open(p, "r+b") as f:
        for _ in range(200):                           # random reads after the stream
            off = rnd.randrange(len(data))
            n = rnd.randrange(1, 100_000)
            f.seek(off)
            assert f.read(n) == bytes(data[off:off + n]), off
        for _ in range(30):                            # partial rewrites
            off = rnd.randrange(len(data) - 5000)
            chunk = pattern(rnd.randrange(1 << 30), rnd.randrange(1, 5000))
            f.seek(off)
            f.write(chunk)
            data[off:off + len(chunk)] = chunk
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        assert f.read() == bytes(data)                 # stream again, same open
    assert read(p) == bytes(data)
    site.unmount()
    site.mount()
    assert read(p) == bytes(data)
    assert site.geoctl("verify", site.mnt).returncode == 0
