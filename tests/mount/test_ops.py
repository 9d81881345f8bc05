"""Operating geofs: make install into a DESTDIR tree, mount -t fuse.geofs and
fstab, -o ro, backend markers, live reload (geoctl reload and SIGHUP), geoctl
status and the Prometheus metrics file."""

import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import time

import pytest

from harness import (BUILD, DEFAULT_CATEGORIES, GEOCTL, PYTHON, REPO, HarnessError,
                     errno_of, pattern, read_file, run, run_as, write_file)

SHARD = 64 * 1024
MARKER = "geofs-backend"

# media goes to Korea unless the policy says otherwise (weight 1000:1)
KR_HEAVY = {
    "tokyo-1": {"country": "JP"},
    "osaka-1": {"country": "JP"},
    "seoul-1": {"country": "KR", "weight": "1000"},
}


def tagged_dir(site, name, category):
    d = site.path(name)
    os.makedirs(d, exist_ok=True)
    os.setxattr(d, "user.geo.category", category.encode())
    return d


def status(site, rc=0):
    cp = site.geoctl("status", "--json", site.mnt)
    assert cp.returncode == rc, cp.stdout + cp.stderr
    return json.loads(cp.stdout)


def wait_counted(site, timeout=20):
    """Status once every backend's initial object count has finished."""
    deadline = time.monotonic() + timeout
    while True:
        st = json.loads(site.geoctl("status", "--json", site.mnt).stdout)
        if all(b["counted"] for b in st["backends"]):
            return st
        if time.monotonic() > deadline:
            raise HarnessError(f"backends still counting after {timeout}s: {st['backends']}")
        time.sleep(0.05)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def reload(site, rc=0):
    cp = site.geoctl("reload", site.mnt)
    assert cp.returncode == rc, cp.stdout + cp.stderr
    return cp


def daemons_using(config):
    """pids of processes whose command line names config (daemons started by
    mount.fuse3 are not our children)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if os.fsencode(config) in args and any(a.endswith(b"geofs") for a in args[:1]):
            pids.append(int(p))
    return pids


# ---- make install ---------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`make install` into a DESTDIR tree, from the build under test."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    os.chmod(dest, 0o755)
    # -o all: install exactly the binaries under test, never rebuild them.
    cp = run(["make", "-C", REPO, "--no-print-directory", "-o", "all", "install",
              f"BUILD={BUILD}", f"DESTDIR={dest}", "PREFIX=/usr/local"], timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return dest


def test_install_layout(installed):
    p = lambda *a: os.path.join(installed, "usr/local", *a)  # noqa: E731
    for b in ("geofs", "geoctl"):
        assert os.access(p("bin", b), os.X_OK)
    for m in ("share/man/man8/geofs.8", "share/man/man8/geoctl.8",
              "share/man/man5/geofs.conf.5", "share/bash-completion/completions/geoctl",
              "share/geofs/examples/jp-messenger.conf", "share/geofs/examples/fstab.example",
              "lib/systemd/system/geofs@.service"):
        assert os.path.isfile(p(m)), m
    unit = open(p("lib/systemd/system/geofs@.service")).read()
    assert "ExecStart=/usr/local/bin/geofs -c /etc/geofs/%i.conf" in unit
    assert "@BINDIR@" not in unit and "Type=notify" in unit
    assert not os.path.exists(os.path.join(installed, "etc"))     # never /etc


def test_installed_programs_run(installed):
    bindir = os.path.join(installed, "usr/local/bin")
    cp = run([os.path.join(bindir, "geofs"), "--version"])
    assert cp.returncode == 0 and cp.stdout.startswith("geofs "), cp.stdout + cp.stderr
    cp = run([os.path.join(bindir, "geoctl"), "--help"])
    assert cp.returncode == 0
    for verb in ("status", "reload", "backend"):
        assert verb in cp.stdout
        assert run([os.path.join(bindir, "geoctl"), verb, "--help"]).returncode == 0


def test_installed_man_pages_render_clean(installed):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    for page in ("man8/geofs.8", "man8/geoctl.8", "man5/geofs.conf.5"):
        path = os.path.join(installed, "usr/local/share/man", page)
        cp = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                 env=env, stdout=subprocess.DEVNULL)
        assert cp.returncode == 0 and cp.stderr == "", f"{page}: {cp.stderr}"
        text = run(["man", "-l", path], env=env).stdout
        assert "SYNOPSIS" in text and "SEE ALSO" in text


def test_uninstall_removes_everything(installed, tmp_path):
    dest = str(tmp_path / "d")
    args = ["make", "-C", REPO, "--no-print-directory", "-o", "all", f"BUILD={BUILD}",
            f"DESTDIR={dest}", "PREFIX=/opt/geo"]
    assert run(args + ["install"], timeout=120).returncode == 0
    assert os.path.isfile(os.path.join(dest, "opt/geo/bin/geofs"))
    cp = run(args + ["uninstall"], timeout=120)
    assert cp.returncode == 0, cp.stderr
    left = [os.path.join(dp, f) for dp, _dn, fn in os.walk(dest) for f in fn]
    assert left == []


# ---- mount(8), fstab, options ---------------------------------------------

# Runs inside a private mount namespace, where a tmpfs on /usr/local/sbin puts
# the DESTDIR-installed geofs on the PATH mount(8) gives mount.fuse3, without
# touching the host. Prints one JSON object.
_NS_SCRIPT = textwrap.dedent(r"""
    import json, os, subprocess, sys, time
    bindir, config, mnt, fstab, probe = sys.argv[1:6]
    out = {}
    def run(*a):
        return subprocess.run(a, capture_output=True, text=True, timeout=60)
    def mounted():
        return run("findmnt", "-n", mnt).returncode == 0
    def check(tag):
        out[tag + "_findmnt"] = run("findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", mnt).stdout
        out[tag + "_df"] = run("df", "-P", mnt).stdout
        p = os.path.join(mnt, probe)
        with open(p, "wb") as f:
            f.write(b"through mount(8) " + tag.encode())
        out[tag + "_read"] = open(p, "rb").read().decode()
        out[tag + "_placement"] = os.getxattr(p, "user.geo.placement").decode()
        out[tag + "_umount"] = run("umount", mnt).returncode
        deadline = time.monotonic() + 20
        while mounted() and time.monotonic() < deadline:
            time.sleep(0.05)
    run("mount", "-t", "tmpfs", "tmpfs", "/usr/local/sbin")
    os.symlink(os.path.join(bindir, "geofs"), "/usr/local/sbin/geofs")
    try:
        cp = run("mount", "-t", "fuse.geofs", config, mnt, "-o", "allow_other,loglevel=debug")
        out["t_rc"], out["t_err"] = cp.returncode, cp.stderr
        if cp.returncode == 0:
            check("t")
        cp = run("mount", "-T", fstab, mnt)
        out["fstab_rc"], out["fstab_err"] = cp.returncode, cp.stderr
        if cp.returncode == 0:
            check("fstab")
    finally:
        if mounted():
            run("umount", "-l", mnt)
    print(json.dumps(out))
""")


def test_mount_t_fuse_geofs_and_fstab(site_factory, installed):
    site = site_factory()
    site.keys_init()
    site.mark_backends()
    fstab = os.path.join(site.root, "fstab")
    with open(fstab, "w") as f:
        f.write(f"{site.config}  {site.mnt}  fuse.geofs  defaults,_netdev,allow_other  0 0\n")
    bindir = os.path.join(installed, "usr/local/bin")
    try:
        cp = run(["unshare", "--mount", "--propagation", "private", PYTHON, "-c", _NS_SCRIPT,
                  bindir, site.config, site.mnt, fstab, "probe"], timeout=120)
    finally:
        # mount.fuse3's daemons are not our children: none may outlive the test.
        try:
            wait_for(lambda: not daemons_using(site.config), 20, "geofs daemons to exit")
        except HarnessError:
            for pid in daemons_using(site.config):
                os.kill(pid, signal.SIGKILL)
            raise
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = json.loads(cp.stdout)
    for tag in ("t", "fstab"):
        assert out[f"{tag}_rc"] == 0, out[f"{tag}_err"]
        src, fstype, opts = out[f"{tag}_findmnt"].split()
        assert (src, fstype) == ("geofs:tokyo-app-01", "fuse.geofs")
        assert "allow_other" in opts and "default_permissions" in opts
        assert "geofs:tokyo-app-01" in out[f"{tag}_df"]
        assert out[f"{tag}_read"] == f"through mount(8) {tag}"
        assert out[f"{tag}_placement"].startswith("JP/")
        assert out[f"{tag}_umount"] == 0


def test_ro_mount_gives_erofs(site_factory):
    site = site_factory.mounted()
    write_file(site.path("kept"), b"written before ro")
    site.unmount()
    site.mount(options=["ro"])
    opts = run(["findmnt", "-n", "-o", "OPTIONS", site.mnt]).stdout
    assert opts.startswith("ro"), opts
    assert read_file(site.path("kept")) == b"written before ro"
    assert errno_of(open, site.path("new"), "wb") == "EROFS"
    assert errno_of(open, site.path("kept"), "r+b") == "EROFS"
    assert errno_of(os.mkdir, site.path("d")) == "EROFS"
    assert errno_of(os.unlink, site.path("kept")) == "EROFS"
    assert errno_of(os.setxattr, site.path("kept"), "user.geo.category", b"public") == "EROFS"
    assert sum(site.object_counts().values()) == 1


def test_loglevel_option(site_factory):
    site = site_factory()
    rc, out = site.try_mount(options=["loglevel=chatty"])
    assert rc != 0 and "loglevel" in out, out
    site.mount(options=["loglevel=debug"])
    write_file(site.path("f"), b"x")


# ---- backend markers ------------------------------------------------------

def test_keys_init_marks_backends(site_factory):
    site = site_factory(mark=False)
    shutil.rmtree(site.backend_dirs["seoul-1"])
    site.keys_init()
    for name, d in site.backend_dirs.items():
        text = open(os.path.join(d, MARKER)).read()
        assert text == f"geofs-backend 1\nname {name}\ncountry {site.backends[name]['country']}\n"
        assert os.path.isdir(os.path.join(d, "objects"))


def test_missing_marker_refuses_mount(site_factory):
    site = site_factory()
    site.keys_init()
    os.unlink(os.path.join(site.backend_dirs["seoul-1"], MARKER))
    rc, out = site.try_mount()
    assert rc == 1, out
    assert "seoul-1" in out and site.backend_dirs["seoul-1"] in out
    assert f"geoctl backend init -c {site.config} seoul-1" in out
    assert site.object_counts()["seoul-1"] == 0
    assert not os.listdir(os.path.join(site.backend_dirs["seoul-1"], "objects"))


def test_missing_backend_dir_refuses_mount(site_factory):
    site = site_factory()
    site.keys_init()
    shutil.rmtree(site.backend_dirs["osaka-1"])
    rc, out = site.try_mount()
    assert rc == 1, out
    assert "osaka-1" in out and site.backend_dirs["osaka-1"] in out and "--create" in out
    assert not os.path.exists(site.backend_dirs["osaka-1"])       # nothing created


def test_marker_of_another_country_refuses_mount(site_factory):
    """A KR share mounted where the JP one should be."""
    site = site_factory()
    site.keys_init()
    shutil.copy(os.path.join(site.backend_dirs["seoul-1"], MARKER),
                os.path.join(site.backend_dirs["tokyo-1"], MARKER))
    rc, out = site.try_mount()
    assert rc == 1, out
    assert "tokyo-1" in out and "KR" in out and "JP" in out and "--force" in out
    cp = site.geoctl("backend", "check", "-c", site.config)
    assert cp.returncode == 1 and "tokyo-1" in cp.stdout
    cp = site.geoctl("backend", "init", "-c", site.config, "tokyo-1")
    assert cp.returncode == 2 and "--force" in cp.stderr            # never silently
    cp = site.geoctl("backend", "init", "-c", site.config, "--force", "tokyo-1")
    assert cp.returncode == 0, cp.stderr
    assert site.geoctl("backend", "check", "-c", site.config).returncode == 0
    site.mount()


def test_backend_init_creates_only_when_asked(site_factory):
    site = site_factory()
    site.keys_init()
    d = os.path.join(site.root, "new", "tokyo-9")
    site.backends["tokyo-9"] = {"country": "JP", "path": d}
    site.backend_dirs["tokyo-9"] = d
    site.write_config()
    cp = site.geoctl("backend", "init", "-c", site.config, "tokyo-9")
    assert cp.returncode == 2 and "--create" in cp.stderr
    assert not os.path.exists(d)
    cp = site.geoctl("backend", "init", "-c", site.config, "--create", "tokyo-9")
    assert cp.returncode == 0 and "marked" in cp.stdout, cp.stderr
    assert os.stat(d).st_mode & 0o777 == 0o700
    cp = site.geoctl("backend", "init", "-c", site.config, "tokyo-9")
    assert cp.returncode == 0 and "already marked" in cp.stdout
    assert site.geoctl("backend", "init", "-c", site.config, "nope").returncode == 2


# ---- live reload ----------------------------------------------------------

def test_reload_changes_placement_of_new_writes(site_factory):
    site = site_factory.mounted(backends=KR_HEAVY)
    d = tagged_dir(site, "media", "media")
    old = [os.path.join(d, f"old{i}") for i in range(4)]
    for i, p in enumerate(old):
        write_file(p, pattern(i, SHARD))
    assert any("KR/seoul-1" in site.placement(p) for p in old)
    held = open(os.path.join(d, "held"), "wb")         # open across the reload
    held.write(pattern(10, SHARD))
    held.flush()

    site.categories["media"]["store_in"] = "origin"
    site.write_config()
    cp = reload(site)
    assert "reloaded" in cp.stdout

    new = os.path.join(d, "new")
    kr_before = site.object_counts()["seoul-1"]
    for i in range(4):
        write_file(f"{new}{i}", pattern(20 + i, SHARD))
        assert all(p.startswith("JP/") for p in site.placement(f"{new}{i}"))
        assert site.xattr(f"{new}{i}", "user.geo.status") == "ok"
    held.write(pattern(11, 2 * SHARD))
    held.close()
    assert site.object_counts()["seoul-1"] == kr_before   # nothing new in KR
    assert any(p.startswith("JP/") for p in site.placement(os.path.join(d, "held")))
    moved = [p for p in old if "KR/seoul-1" in site.placement(p)]
    for p in moved:
        assert site.xattr(p, "user.geo.status").startswith("misplaced")
        assert read_file(p) == pattern(old.index(p), SHARD)      # still readable
    st = status(site, rc=1)                                # findings: misplaced
    assert st["misplaced_files"] >= len(moved) > 0
    assert st["reloads"] == 1
    media = next(c for c in st["policy"]["categories"] if c["name"] == "media")
    assert media["store_in"] == ["origin"]
    assert site.geoctl("rebalance", d).returncode == 0
    assert site.object_counts()["seoul-1"] == 0
    assert status(site)["misplaced_files"] == 0


def test_reload_rejects_broken_config(site_factory):
    site = site_factory.mounted()
    good = open(site.config).read()
    site.write_config(good + "\n[category chat]\nstore_in = origin\naccess_from = nowhere\n")
    cp = reload(site, rc=2)
    assert "keeps the old one" in cp.stderr
    assert re.search(re.escape(site.config) + r":\d+: ", cp.stderr), cp.stderr
    assert errno_of(os.setxattr, site.mnt, "user.geo.reload", b"1") == "EINVAL"
    assert "rejected" in site.log()
    st = status(site)
    assert st["reload_failures"] == 2 and st["reloads"] == 0
    assert "chat" not in [c["name"] for c in st["policy"]["categories"]]
    d = site.path("d")
    os.mkdir(d)
    assert errno_of(os.setxattr, d, "user.geo.category", b"chat") == "EINVAL"
    write_file(site.path("still-works"), b"old config in force")

    # A different meta root cannot be swapped in under a running mount.
    site.write_config(good.replace(f"path = {site.meta}", f"path = {site.meta}2"))
    os.makedirs(site.meta + "2")
    reload(site, rc=2)
    assert "[meta] path" in site.log()


def test_reload_needs_root_or_admin(site_factory):
    site = site_factory.mounted()
    cp = run_as([GEOCTL, "reload", site.mnt])
    assert cp.returncode == 2 and "admin_group" in cp.stderr, cp.stderr
    cp = run_as([GEOCTL, "status", site.mnt])
    assert cp.returncode == 2 and "admin_group" in cp.stderr, cp.stderr


def test_sighup_reloads(site_factory):
    site = site_factory.mounted()
    d = site.path("chats")
    os.mkdir(d)
    assert errno_of(os.setxattr, d, "user.geo.category", b"chat") == "EINVAL"
    site.categories["chat"] = {"store_in": "origin", "access_from": "origin"}
    site.write_config()
    os.kill(site.proc.pid, signal.SIGHUP)
    wait_for(lambda: status(site)["reloads"] == 1, 20, "the SIGHUP reload")
    os.setxattr(d, "user.geo.category", b"chat")
    write_file(os.path.join(d, "m"), b"hello")
    assert site.info(os.path.join(d, "m"))["category"] == "chat"
    assert "SIGHUP" in site.log()


def test_reload_adds_and_drains_backends(site_factory):
    site = site_factory.mounted()
    new = os.path.join(site.root, "backends", "tokyo-2")
    site.backends["tokyo-2"] = {"country": "JP", "path": new}
    site.backend_dirs["tokyo-2"] = new
    site.write_config()
    os.makedirs(new)
    reload(site, rc=2)                                 # unmarked: refused
    assert "tokyo-2" in site.log() and MARKER in site.log()
    assert site.geoctl("backend", "init", "-c", site.config, "tokyo-2").returncode == 0
    reload(site)
    write_file(site.path("before"), pattern(1, 4 * SHARD))
    site.backends["tokyo-1"]["drain"] = "yes"
    site.write_config()
    reload(site)
    st = status(site)
    states = {b["name"]: b["state"] for b in st["backends"]}
    assert states == {"tokyo-1": "draining", "osaka-1": "ok", "seoul-1": "ok",
                      "tokyo-2": "ok"}
    counts = site.object_counts()
    for i in range(4):
        write_file(site.path(f"after{i}"), pattern(2 + i, 4 * SHARD))
        assert "JP/tokyo-1" not in site.placement(site.path(f"after{i}"))
    assert site.object_counts()["tokyo-1"] == counts["tokyo-1"]
    assert site.geoctl("rebalance", site.mnt).returncode == 0
    assert site.object_counts()["tokyo-1"] == 0
    assert read_file(site.path("before")) == pattern(1, 4 * SHARD)


# ---- status and metrics -----------------------------------------------------

def object_usage(site, backend):
    objs = site.objects(backend)
    return len(objs), sum(os.path.getsize(p) for p in objs)


def test_status_numbers_match_what_was_written(site_factory):
    eu = {"store_in": "origin", "access_from": "*"}    # origin FR: no backend there
    site = site_factory.mounted(categories={**DEFAULT_CATEGORIES, "eu": eu})
    st = wait_counted(site)
    assert st["site"] == "tokyo-app-01" and st["country"] == "JP"
    assert st["config"] == site.config and st["pid"] == site.proc.pid
    sizes = [1, SHARD, 3 * SHARD + 5, 100000]
    for i, n in enumerate(sizes):
        write_file(site.path(f"f{i}"), pattern(i, n))
    os.makedirs(site.path("med"))
    os.setxattr(site.path("med"), "user.geo.category", b"medical")
    write_file(site.path("med", "rec"), pattern(9, 2 * SHARD))
    for i, n in enumerate(sizes):
        assert read_file(site.path(f"f{i}")) == pattern(i, n)
    os.makedirs(site.path("fr"))
    os.setxattr(site.path("fr"), "user.geo.category", b"eu")
    os.setxattr(site.path("fr"), "user.geo.origin", b"FR")
    assert errno_of(open, site.path("fr", "x"), "wb") == "EACCES"
    os.unlink(site.path("f0"))

    st = status(site)
    for b in st["backends"]:
        n, nbytes = object_usage(site, b["name"])
        assert (b["objects"], b["bytes"]) == (n, nbytes), b
        assert b["state"] == "ok" and b["counted"] and b["free"] > 0
        assert b["country"] == site.backends[b["name"]]["country"]
    k = st["counters"]
    assert k["creates"] == len(sizes) + 1
    assert k["bytes_written"] == sum(sizes) + 2 * SHARD
    assert k["bytes_read"] == sum(sizes)
    # One refused create: counted once, where placement refuses (placement.c).
    assert k["denied"] >= 1 and k["placement_refused"] == 1
    assert k["integrity_failures"] == 0
    assert st["misplaced_files"] == 0
    assert 0 <= (st["cache"]["hit_rate"] or 0) <= 1
    assert {c["name"] for c in st["policy"]["categories"]} == set(site.categories)

    text = site.geoctl("status", site.mnt)
    assert text.returncode == 0, text.stderr
    for b in st["backends"]:
        assert re.search(rf"^{b['name']}\s+{b['country']}\s+ok\s+{b['objects']}\s",
                         text.stdout, re.M), text.stdout

    # Counts survive a remount (one walk of each backend at mount).
    site.remount()
    st2 = wait_counted(site)
    assert [(b["objects"], b["bytes"]) for b in st2["backends"]] == \
           [(b["objects"], b["bytes"]) for b in st["backends"]]


def test_metrics_file(site_factory):
    site = site_factory(extra="[status]\nmetrics_path = metrics/geofs.prom\n")
    os.makedirs(os.path.join(site.root, "metrics"))
    prom = os.path.join(site.root, "metrics", "geofs.prom")
    site.mount()
    wait_for(lambda: os.path.exists(prom), 20, "the metrics file")
    for i in range(3):
        write_file(site.path(f"f{i}"), pattern(i, SHARD))
    read_file(site.path("f0"))
    site.unmount()                                     # writes it a last time
    text = open(prom).read()
    assert os.listdir(os.path.dirname(prom)) == ["geofs.prom"]   # no temp left
    metrics = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) geofs_\w+ ", line), line
            continue
        name, value = line.rsplit(" ", 1)
        assert name.startswith("geofs_"), line
        metrics[name] = float(value)
    for name in {re.sub(r"\{.*", "", k) for k in metrics}:
        assert f"# TYPE {name} " in text and f"# HELP {name} " in text
    assert metrics['geofs_operations_total{op="create"}'] == 3
    assert metrics["geofs_written_bytes_total"] == 3 * SHARD
    assert metrics["geofs_read_bytes_total"] == SHARD
    assert metrics['geofs_info{site="tokyo-app-01",country="JP"}'] == 1
    for b in site.backends:
        c = site.backends[b]["country"]
        n, nbytes = object_usage(site, b)
        assert metrics[f'geofs_backend_objects{{backend="{b}",country="{c}"}}'] == n
        assert metrics[f'geofs_backend_stored_bytes{{backend="{b}",country="{c}"}}'] == nbytes
        assert metrics[f'geofs_backend_state{{backend="{b}",country="{c}",state="ok"}}'] == 1
