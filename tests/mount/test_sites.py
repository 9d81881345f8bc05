"""Sites, keyrings and the audit trail: the 2021 case end to end.

A Japanese home site (keyring with a master) writes personal and public
files. Monitoring sites in China mount the same meta root and backends:
  - `cn`:  its config allows public from anywhere and personal only from the
           origin country; its keyring (no master) holds only the JP:public
           key exported by the home site;
  - `cn_open`: its config allows every category from anywhere, but its
           keyring still lacks JP:personal: the cryptography refuses what the
           config would allow.
Both list every name and read every tag, read the public files, and get
EACCES for every open, create and truncate of personal files; each refusal
is in the site's own audit log, whose hash chain `geoctl audit verify`
checks (and which fails, naming the line, after any edit). Then: key
rotation while mounted (and finishing one that a stale daemon left behind),
and logrotate's rename + SIGHUP keeping one chain across two files.
"""

import errno
import json
import os
import signal
import time

import pytest

from harness import FILE_MANIFEST_SHARDS, HarnessError, manifest_path, pattern, run, stub_manifest
from harness import read_file as read, write_file as write

JP_SITE = "tokyo-app-01"
CN_SITE = "shanghai-mon-01"
CN_OPEN_SITE = "shanghai-ops-02"

PERSONAL = {"/people/alice.txt": b"Alice Sato, +81-90-1234-5678, hi from Tokyo\n",
            "/people/bob.txt": b"Bob Tanaka, +81-80-8765-4321, see you at 7\n"}
PUBLIC = {"/pub/notice.txt": b"Service maintenance on Sunday.\n",
          "/pub/terms.txt": b"Terms of service, version 3.\n"}

EVERYWHERE = {
    "personal": {"store_in": "origin", "access_from": "*"},
    "medical": {"store_in": "origin", "access_from": "*", "replicas": "2"},
    "media": {"store_in": "origin, KR", "access_from": "*", "compress": "off"},
    "public": {"store_in": "*", "access_from": "*"},
}


# ---- helpers ----------------------------------------------------------------

def rel(path):
    return path.lstrip("/")


def ok(cp):
    assert cp.returncode == 0, f"exit {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def home_site(site_factory):
    """The JP site, mounted, with /people (personal, JP) and /pub (public)."""
    jp = site_factory.mounted(name=JP_SITE, country="JP")
    for d, cat in (("people", "personal"), ("pub", "public")):
        os.mkdir(jp.path(d))
        os.setxattr(jp.path(d), "user.geo.category", cat.encode())
        os.setxattr(jp.path(d), "user.geo.origin", b"JP")
    for p, data in {**PERSONAL, **PUBLIC}.items():
        write(jp.path(rel(p)), data)
    return jp


def foreign_site(site_factory, jp, name, categories=None, import_domains=("JP:public",)):
    """A CN site on jp's meta root and backends, with its own keyring (no
    master) holding only the domains exported from jp. Not mounted."""
    keydir = os.path.join(site_factory.top, f"{name}-keys")
    cn = site_factory(name=name, country="CN", share=jp, meta_country="JP",
                      keyring=os.path.join(keydir, "keyring"), init_keys=False,
                      categories=categories)
    ok(cn.geoctl("keys", "init", "-c", cn.config, "--no-master"))
    for dom in import_domains:
        export_import(jp, cn, dom)
    return cn


def export_import(src, dst, domain):
    """geoctl keys export on src, keys import on dst (through a 0600 file)."""
    out = os.path.join(dst.root, f"{domain.replace(':', '-')}-{time.monotonic_ns()}.keyring")
    ok(src.geoctl("keys", "export", "-c", src.config, "--domain", domain, "-o", out))
    assert os.stat(out).st_mode & 0o777 == 0o600
    ok(dst.geoctl("keys", "import", "-c", dst.config, out))
    os.unlink(out)


def audit_records(site, *files):
    """Every record of the site's audit log (and of the given older files
    first), parsed."""
    recs = []
    for f in (*files, site.audit):
        with open(f, "rb") as fh:
            recs += [json.loads(line) for line in fh.read().splitlines()]
    return recs


def denials(recs, path):
    return [r for r in recs if r.get("path") == path and r["result"] == "denied"]


def assert_denied_audited(recs, site_name, path, intent=None, detail=None):
    """An access-denied record for path (with the file's tags) from site."""
    hits = [r for r in denials(recs, path) if r["op"] == "access-denied"]
    assert hits, f"no access-denied record for {path}: {recs[-5:]}"
    for r in hits:
        assert r["site"] == site_name
        assert (r["category"], r["origin"]) == ("personal", "JP"), r
    if intent:
        assert any(r.get("intent") == intent for r in hits), (intent, hits)
    if detail:
        assert any(detail in (r.get("detail") or "") for r in hits), (detail, hits)


def try_open(path, flags):
    """errno name of os.open(path, flags), or the bytes it could read."""
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        return errno.errorcode[e.errno]
    try:
        return os.read(fd, 1 << 20) if (flags & os.O_ACCMODE) != os.O_WRONLY else b""
    finally:
        os.close(fd)


def rotate(site, domain, *extra):
    return site.geoctl("keys", "rotate", "-c", site.config, "--domain", domain, *extra)


def survey(site, domain):
    """`keys rotate --dry-run --json`: the domain's files per key version,
    read from the manifests by geoctl (no binary parsing here)."""
    cp = rotate(site, domain, "--dry-run", "--json")
    assert cp.returncode in (0, 1), cp.stderr
    return json.loads(cp.stdout), cp.returncode


def current_line(site, domain):
    with open(site.keyring) as f:
        cur = [ln.split() for ln in f if ln.startswith(f"current {domain} ")]
    return int(cur[-1][2]) if cur else 1


# ---- the monitoring site sees names and tags, never personal content ------

def test_foreign_site_lists_tags_reads_public_only(site_factory):
    jp = home_site(site_factory)
    cn = foreign_site(site_factory, jp, CN_SITE).mount()

    assert sorted(os.listdir(cn.mnt)) == ["people", "pub"]
    assert sorted(os.listdir(cn.path("people"))) == ["alice.txt", "bob.txt"]
    for p, data in PERSONAL.items():
        # Names, sizes and every tag stay visible without the key.
        assert os.stat(cn.path(rel(p))).st_size == len(data)
        assert cn.xattr(rel(p), "user.geo.category") == "personal"
        assert cn.xattr(rel(p), "user.geo.origin") == "JP"
        assert cn.xattr(rel(p), "user.geo.status") == "ok"
        assert all(x.startswith("JP/") for x in cn.placement(rel(p)))
        info = cn.info(rel(p))
        assert info["category"] == "personal" and info["access_from"] == "JP"
    for p, data in PUBLIC.items():
        assert read(cn.path(rel(p))) == data

    # Every way into the content of a personal file is refused, with EACCES
    # rather than bytes.
    alice = cn.path("people/alice.txt")
    for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC,
                  os.O_RDWR | os.O_APPEND):
        assert try_open(alice, flags) == "EACCES", flags
    with pytest.raises(PermissionError):
        os.truncate(alice, 0)
    with pytest.raises(PermissionError):
        write(cn.path("people/carol.txt"), b"Carol")
    assert not os.path.exists(cn.path("people/carol.txt"))
    # Writing public files from CN works (public may live anywhere).
    write(cn.path("pub/from-cn.txt"), b"ack\n")

    # Nothing changed at home.
    for p, data in PERSONAL.items():
        assert read(jp.path(rel(p))) == data
    assert read(jp.path("pub/from-cn.txt")) == b"ack\n"

    cn.unmount()
    recs = audit_records(cn)
    assert_denied_audited(recs, CN_SITE, "/people/alice.txt", intent="read",
                          detail="site country CN may not access category personal")
    assert_denied_audited(recs, CN_SITE, "/people/alice.txt", intent="write")
    assert_denied_audited(recs, CN_SITE, "/people/alice.txt", intent="read-write")
    assert_denied_audited(recs, CN_SITE, "/people/carol.txt", intent="write")
    opens = [r for r in denials(recs, "/people/alice.txt") if r["op"] == "open"]
    assert len(opens) >= 6          # five opens and the truncate
    assert any(r["op"] == "create" for r in denials(recs, "/people/carol.txt"))
    assert all(r["site"] == CN_SITE for r in recs)
    # The home site's log has none of it.
    assert not [r for r in audit_records(jp) if r["result"] == "denied"]
    ok(cn.geoctl("audit", "verify", "-c", cn.config))


def test_config_allows_but_keyring_lacks_the_domain(site_factory):
    jp = home_site(site_factory)
    cn = foreign_site(site_factory, jp, CN_OPEN_SITE, categories=EVERYWHERE).mount()

    for p, data in PUBLIC.items():
        assert read(cn.path(rel(p))) == data
    for p in PERSONAL:
        assert cn.xattr(rel(p), "user.geo.category") == "personal"
        assert cn.info(rel(p))["access_from"] == "*"
        for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR):
            assert try_open(cn.path(rel(p)), flags) == "EACCES"
        with pytest.raises(PermissionError):
            os.truncate(cn.path(rel(p)), 0)
    with pytest.raises(PermissionError):
        write(cn.path("people/carol.txt"), b"Carol")
    # Moving shards needs the content too.
    with pytest.raises(PermissionError):
        os.setxattr(cn.path("people/bob.txt"), "user.geo.migrate", b"1")
    for p, data in PERSONAL.items():
        assert read(jp.path(rel(p))) == data

    cn.unmount()
    recs = audit_records(cn)
    assert_denied_audited(recs, CN_OPEN_SITE, "/people/alice.txt", intent="read",
                          detail="keyring lacks the file's key domain JP:personal")
    assert_denied_audited(recs, CN_OPEN_SITE, "/people/bob.txt", intent="write")
    assert_denied_audited(recs, CN_OPEN_SITE, "/people/carol.txt", intent="write",
                          detail="keyring lacks key domain JP:personal")
    assert [r for r in denials(recs, "/people/bob.txt") if r["op"] == "migrate"]
    ok(cn.geoctl("audit", "verify", "-c", cn.config))


def test_raw_access_without_the_key_shows_no_plaintext(site_factory):
    """Invariant 6, second half: the meta root and the backends themselves
    hold no personal plaintext a foreign site could pick up."""
    jp = home_site(site_factory)
    jp.unmount()
    for data in PERSONAL.values():
        marker = data[:16]
        assert jp.grep(marker, "backends") == []
        assert jp.grep(marker, "meta") == []


def test_editing_any_audit_line_is_detected(site_factory):
    jp = home_site(site_factory)
    cn = foreign_site(site_factory, jp, CN_SITE).mount()
    for _ in range(3):
        assert try_open(cn.path("people/alice.txt"), os.O_RDONLY) == "EACCES"
    read(cn.path("pub/notice.txt"))
    cn.unmount()
    ok(cn.geoctl("audit", "verify", "-c", cn.config))

    with open(cn.audit, "rb") as f:
        original = f.read()
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 4
    # Turn a refusal into a success (and back), on every line in turn. The
    # last line shows no edit until a line follows it (see audit verify
    # --help), so it is left out.
    for i in range(len(lines) - 1):
        edited = list(lines)
        rec = json.loads(edited[i])
        rec["result"] = "ok" if rec["result"] != "ok" else "denied"
        edited[i] = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        with open(cn.audit, "wb") as f:
            f.write(b"".join(edited))
        cp = cn.geoctl("audit", "verify", "-c", cn.config)
        assert cp.returncode == 1, (i, cp.stdout, cp.stderr)
        assert f"{cn.audit}, line {i + 2} does not fit" in cp.stdout, (i, cp.stdout)
    # Deleting a line breaks the chain at the line after it.
    with open(cn.audit, "wb") as f:
        f.write(b"".join(lines[:1] + lines[2:]))
    assert cn.geoctl("audit", "verify", "-c", cn.config).returncode == 1
    with open(cn.audit, "wb") as f:
        f.write(original)
    ok(cn.geoctl("audit", "verify", "-c", cn.config))


# ---- key rotation -------------------------------------------------------------

def test_rotate_while_mounted_then_remount(site_factory):
    jp = home_site(site_factory)
    cn = foreign_site(site_factory, jp, CN_SITE).mount()
    keyring_before = read(jp.keyring)
    before, rc = survey(jp, "JP:personal")
    assert rc == 0 and before["files"] == [{"version": 1, "count": 2}]

    cp = ok(rotate(jp, "JP:personal", "--json"))
    out = json.loads(cp.stdout)
    assert (out["action"], out["from"], out["version"]) == ("rotate", 1, 2)
    assert (out["rewrapped"], out["failed"], out["fresh_key"]) == (2, 0, False)
    assert read(jp.keyring) != keyring_before
    assert current_line(jp, "JP:personal") == 2
    assert os.stat(jp.keyring).st_mode & 0o777 == 0o600
    assert b"master" in read(jp.keyring) and "master" not in cp.stdout + cp.stderr
    after, rc = survey(jp, "JP:personal")
    assert rc == 0 and after["files"] == [{"version": 2, "count": 2}]
    assert after["behind"] == 0

    # The running daemon reads the rewrapped manifests (version 2 derives
    # from the master it already holds); after a remount too.
    for p, data in PERSONAL.items():
        assert read(jp.path(rel(p))) == data
    jp.remount()
    for p, data in PERSONAL.items():
        assert read(jp.path(rel(p))) == data
    write(jp.path("people/carol.txt"), b"Carol Ito\n")       # new file: version 2
    assert survey(jp, "JP:personal")[0]["files"] == [{"version": 2, "count": 3}]

    # Rotating JP:public cuts off the CN site until it imports version 2;
    # its old version stays, and nothing else changes for it.
    ok(rotate(jp, "JP:public"))
    cn.remount()
    assert try_open(cn.path("pub/notice.txt"), os.O_RDONLY) == "EACCES"
    export_import(jp, cn, "JP:public")
    cn.remount()
    for p, data in PUBLIC.items():
        assert read(cn.path(rel(p))) == data
    listing = json.loads(ok(cn.geoctl("keys", "list", "-c", cn.config, "--json")).stdout)
    assert sorted((d["domain"], d["version"], d["current"]) for d in listing["domains"]) == \
        [("JP:public", 1, 2), ("JP:public", 2, 2)]
    assert try_open(cn.path("people/alice.txt"), os.O_RDONLY) == "EACCES"


def test_rotate_finishes_what_a_stale_daemon_left(site_factory):
    jp = home_site(site_factory)
    ok(rotate(jp, "JP:personal"))
    # The daemon still has the keyring it mounted with: a new file comes
    # out at version 1, which stays readable.
    write(jp.path("people/dave.txt"), b"Dave\n")
    state, rc = survey(jp, "JP:personal")
    assert rc == 1 and state["behind"] == 1
    assert state["files"] == [{"version": 1, "count": 1}, {"version": 2, "count": 2}]

    # Rerunning finishes the rotation in progress instead of adding v3.
    cp = ok(rotate(jp, "JP:personal"))
    assert "Finishing it" in cp.stdout and "no new version" in cp.stdout
    assert current_line(jp, "JP:personal") == 2
    state, rc = survey(jp, "JP:personal")
    assert rc == 0 and state["files"] == [{"version": 2, "count": 3}]
    cp = ok(rotate(jp, "JP:personal", "--resume"))
    assert "nothing to do" in cp.stdout
    assert current_line(jp, "JP:personal") == 2

    # --force rotates even while files lag behind.
    write(jp.path("people/erin.txt"), b"Erin\n")                 # version 1 again
    out = json.loads(ok(rotate(jp, "JP:personal", "--force", "--json")).stdout)
    assert (out["action"], out["version"], out["rewrapped"]) == ("rotate", 3, 4)
    assert current_line(jp, "JP:personal") == 3
    jp.remount()
    for p, data in {**PERSONAL, "/people/dave.txt": b"Dave\n",
                    "/people/erin.txt": b"Erin\n"}.items():
        assert read(jp.path(rel(p))) == data


def test_rotate_reaches_every_kind_of_file(site_factory):
    """Rotation rewraps a file's key wherever its manifest is: in a manifest
    file (a big file), on the stub (a small file, an empty one, one with two
    names, counted once), and each reads back under the new version after a
    remount."""
    jp = home_site(site_factory)
    shard = 64 * 1024                       # the harness's shard_size
    files = {"people/big.bin": pattern(30, FILE_MANIFEST_SHARDS * shard),
             "people/empty.txt": b"", "people/linked.txt": b"two names\n"}
    for p, data in files.items():
        write(jp.path(p), data)
    os.link(jp.path("people/linked.txt"), jp.path("people/other-name.txt"))
    assert os.path.exists(manifest_path(jp, "people/big.bin"))
    for p in ("people/empty.txt", "people/linked.txt", "people/alice.txt"):
        assert stub_manifest(jp, p) is not None
    before, _ = survey(jp, "JP:personal")
    assert before["files"] == [{"version": 1, "count": 5}]
    out = json.loads(ok(rotate(jp, "JP:personal", "--json")).stdout)
    assert (out["rewrapped"], out["failed"], out["unnamed"]) == (5, 0, 0)
    assert survey(jp, "JP:personal")[0]["files"] == [{"version": 2, "count": 5}]
    jp.remount()
    for p, data in {**{rel(k): v for k, v in PERSONAL.items()}, **files,
                    "people/other-name.txt": files["people/linked.txt"]}.items():
        assert read(jp.path(p)) == data


def test_rotate_without_master_adds_a_random_key(site_factory):
    jp = home_site(site_factory)
    cn = foreign_site(site_factory, jp, CN_SITE)
    # On a keyring without a master: a fresh key, said so; the domain's
    # files (shared meta root) follow it, and the home site then needs it.
    jp.unmount()
    cp = ok(rotate(cn, "JP:public"))
    assert "new random key" in cp.stdout and "exists only in" in cp.stdout
    assert current_line(cn, "JP:public") == 2
    cn.mount()
    for p, data in PUBLIC.items():
        assert read(cn.path(rel(p))) == data
    # A domain the keyring cannot produce cannot be rotated there.
    cp = rotate(cn, "JP:personal")
    assert cp.returncode == 2 and "cannot produce" in cp.stderr
    assert current_line(cn, "JP:personal") == 1
    # Usage errors.
    assert rotate(cn, "JP:public", "--force", "--resume").returncode == 2
    assert rotate(cn, "XX:public").returncode == 2
    assert cn.geoctl("keys", "rotate", "-c", cn.config).returncode == 2
    help_text = ok(cn.geoctl("keys", "rotate", "--help")).stdout
    for word in ("--resume", "--force", "--dry-run", "Exit status", "SIGHUP"):
        assert word in help_text


# ---- the audit log across logrotate -----------------------------------------

def test_logrotate_rename_and_sighup_keep_one_chain(site_factory):
    jp = home_site(site_factory)
    read(jp.path("people/alice.txt"))
    old = jp.audit + ".1"
    # Denials are flushed at once; make sure the last record is on disk.
    os.makedirs(jp.path("fr"))
    os.setxattr(jp.path("fr"), "user.geo.origin", b"FR")
    with pytest.raises(PermissionError):
        write(jp.path("fr/x.txt"), b"x")
    os.rename(jp.audit, old)
    os.kill(jp.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not os.path.exists(jp.audit):
        if time.monotonic() > deadline:
            raise HarnessError(f"no new audit log after SIGHUP:\n{jp.log()}")
        time.sleep(0.02)
    read(jp.path("people/bob.txt"))
    write(jp.path("pub/new.txt"), b"new\n")
    jp.unmount()

    first = audit_records(jp, old)
    assert first and len(audit_records(jp)) >= 2
    assert [r for r in audit_records(jp) if r.get("path") == "/people/bob.txt"]
    cp = ok(jp.geoctl("audit", "verify", "-c", jp.config))
    assert "audit.log.1" in cp.stdout + cp.stderr
    # The chain really spans both files: drop the old file's last line.
    with open(old, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(old, "wb") as f:
        f.write(b"".join(lines[:-1]))
    assert jp.geoctl("audit", "verify", "-c", jp.config).returncode == 1


def test_geoctl_keys_never_prints_key_bytes(site_factory):
    """geoctl keys never prints key bytes: not in list, rotate or errors."""
    jp = home_site(site_factory)
    with open(jp.keyring) as f:
        secrets = [ln.split()[-1] for ln in f if ln.startswith(("master", "domain"))]
    outputs = [jp.geoctl("keys", "list", "-c", jp.config),
               jp.geoctl("keys", "list", "-c", jp.config, "--json"),
               rotate(jp, "JP:personal"), rotate(jp, "JP:personal", "--dry-run", "--json"),
               jp.geoctl("keys", "rotate", "--help")]
    text = "".join(cp.stdout + cp.stderr for cp in outputs)
    for s in secrets:
        assert s not in text
    found = run(["grep", "-rl", "--exclude-dir=mnt", secrets[0], jp.root]).stdout
    assert found.splitlines() == [jp.keyring]
