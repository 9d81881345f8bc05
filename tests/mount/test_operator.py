"""An operator's first day: `geoctl check` finds everything the mount would
refuse, in one go, each with the command that fixes it; the mount and check
refuse configs whose own files overlap a backend (names and keys abroad)."""

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from harness import DEFAULT_CATEGORIES, GEOCTL, REPO, run


def _jp_site(site_factory):
    """The shipped jp-messenger.conf, its absolute paths moved under a temp
    tree; nothing it names exists yet."""
    site = site_factory(init_keys=False, mark=False)
    with open(os.path.join(REPO, "mountcfg", "jp-messenger.conf")) as f:
        text = re.sub(r"^(\w+\s*=\s*)/", lambda m: m.group(1) + site.root + "/", f.read(),
                      flags=re.M)
    site.write_config(text)
    return site


def _under(site, path):
    return os.path.join(site.root, path.lstrip("/"))


def test_check_lists_every_problem_then_the_mount_works(site_factory):
    site = _jp_site(site_factory)
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    err = cp.stderr
    keyring = _under(site, "/etc/geofs/tokyo-app-01.keyring")
    meta = _under(site, "/srv/geofs/meta")
    logdir = _under(site, "/var/log/geofs")
    assert f"keyring {keyring} does not exist" in err and "geoctl keys init -c" in err, err
    assert f"meta root {meta} does not exist; create it with: mkdir -p -m 0700 {meta}" in err
    assert f"its directory {logdir} does not exist" in err, err
    for b in ("tokyo-1", "tokyo-2", "osaka-1", "seoul-1"):
        assert f"backend {b}: " in err and f"--create {b}" in err, err
    assert "admin_group 'geofs-admin' does not exist" in err and "groupadd geofs-admin" in err
    assert "7 problems the mount would refuse" in err, err
    assert re.search(r"seoul-1 .* MISSING", cp.stdout), cp.stdout

    # What check says the mount refuses, the mount refuses.
    rc, out = site.try_mount()
    assert rc != 0 and f"keyring {keyring} does not exist" in out and meta in out, out

    # Following the advice: keys init makes a new site's directories.
    site.geoctl("keys", "init", "-c", site.config, check=True)
    assert os.stat(meta).st_mode & 0o777 == 0o700
    assert os.stat(logdir).st_mode & 0o777 == 0o700
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "MISSING" not in cp.stdout and "config    " + site.config + ": ok" in cp.stdout
    site.mount()
    with open(site.path("hello"), "wb") as f:
        f.write(b"first day")
    site.unmount()


def test_check_reads_backend_markers(site_factory):
    site = site_factory()
    site.keys_init()
    assert site.geoctl("check", "-c", site.config).returncode == 0
    # A JP marker on the backend the config says is in KR.
    seoul = site.backend_dirs["seoul-1"]
    with open(os.path.join(seoul, "geofs-backend"), "w") as f:
        f.write("geofs-backend 1\nname seoul-1\ncountry JP\n")
    os.unlink(os.path.join(site.backend_dirs["osaka-1"], "geofs-backend"))
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert re.search(r"seoul-1 +KR .* MISMARKED", cp.stdout), cp.stdout
    assert re.search(r"osaka-1 +JP .* UNMARKED", cp.stdout), cp.stdout
    assert "marked as backend seoul-1 in JP, but the config wants backend seoul-1 in KR" \
        in cp.stderr and "--force seoul-1" in cp.stderr, cp.stderr
    assert "has no geofs-backend marker" in cp.stderr and "backend init" in cp.stderr
    cp = site.geoctl("check", "-c", site.config, "--json")
    assert '"ok": false' in cp.stdout.replace('":false', '": false')
    assert "MISMARKED" in cp.stdout
    rc, out = site.try_mount()
    assert rc != 0 and "in JP, but the config wants" in out and "osaka-1" in out, out


def test_keyring_owner_and_mode(site_factory):
    site = site_factory()
    site.keys_init()
    os.chown(site.keyring, 65534, 0)
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2
    assert f"{site.keyring}: owned by uid 65534, not by root or uid 0" in cp.stderr, cp.stderr
    assert f"chown 0 {site.keyring}" in cp.stderr
    rc, out = site.try_mount()
    assert rc != 0 and "owned by uid 65534" in out, out
    os.chown(site.keyring, 0, 0)
    os.chmod(site.keyring, 0o640)
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2 and f"chmod 600 {site.keyring}" in cp.stderr, cp.stderr
    os.chmod(site.keyring, 0o600)
    assert site.geoctl("check", "-c", site.config).returncode == 0


# ---- issue 16.4: names and keys never inside a backend ----------------------

def _overlap_case(site, case):
    """Edits site's config for one overlap; returns the two paths that must
    both be named."""
    seoul = site.backend_dirs["seoul-1"]
    text = site.render_config()
    if case == "meta in backend":
        inner = os.path.join(seoul, "meta")
        text = text.replace(f"path = {site.meta}\n", f"path = {inner}\n")
        return text, inner, seoul
    if case == "audit in backend":
        inner = os.path.join(seoul, "audit.log")
        text = text.replace(f"path = {site.audit}\n", f"path = {inner}\n")
        return text, inner, seoul
    if case == "keyring in backend":
        inner = os.path.join(seoul, "site.keyring")
        shutil.copy(site.keyring, inner)
        os.chmod(inner, 0o600)
        text = text.replace(f"keyring = {site.keyring}\n", f"keyring = {inner}\n")
        return text, inner, seoul
    if case == "backend in meta root":
        inner = os.path.join(site.meta, "kr")
        text = text.replace(f"path = {seoul}\n", f"path = {inner}\n")
        return text, inner, site.meta
    if case == "backend through a symlink":
        link = os.path.join(site.root, "link-to-meta")
        os.symlink(site.meta, link)
        text = text.replace(f"path = {seoul}\n", f"path = {link}\n")
        return text, link, site.meta
    raise ValueError(case)


@pytest.mark.parametrize("case", ["meta in backend", "audit in backend", "keyring in backend",
                                  "backend in meta root", "backend through a symlink"])
def test_overlaps_are_refused(site_factory, case):
    site = site_factory()
    site.keys_init()
    text, inner, outer = _overlap_case(site, case)
    site.write_config(text)
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    line = [l for l in cp.stderr.splitlines() if "lies inside" in l]
    assert line and inner in line[0] and outer in line[0], cp.stderr
    assert line[0].startswith(site.config + ":"), line[0]
    rc, out = site.try_mount()
    assert rc != 0 and "lies inside" in out and inner in out and outer in out, out


# ---- issue 15.5: audit says old -> new; no keys for undeclared categories ---

def test_settag_audit_records_old_and_new(site_factory):
    site = site_factory.mounted()
    p = site.path("scan.png")
    with open(p, "wb") as f:
        f.write(b"x" * 100)
    os.setxattr(p, "user.geo.category", b"media")
    site.unmount()
    cp = site.geoctl("audit", "show", "-c", site.config, "--op", "settag", "--json", check=True)
    recs = [json.loads(l) for l in cp.stdout.splitlines()]
    assert len(recs) == 1, cp.stdout
    r = recs[0]
    assert (r["old_category"], r["old_origin"], r["category"], r["origin"]) == \
        ("personal", "JP", "media", "JP"), r
    cp = site.geoctl("audit", "show", "-c", site.config, "--op", "settag", check=True)
    assert "personal/JP->media/JP" in cp.stdout, cp.stdout
    assert site.geoctl("audit", "verify", "-c", site.config).returncode == 0


@pytest.mark.parametrize("verb", ["export", "rotate"])
def test_keys_refuse_undeclared_category(site_factory, verb):
    site = site_factory()
    site.keys_init()
    with open(site.keyring) as f:
        before = f.read()
    args = ["keys", verb, "-c", site.config, "--domain", "JP:nosuchcat"]
    if verb == "export":
        args += ["-o", os.path.join(site.root, "out.keyring")]
    cp = site.geoctl(*args)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "declares no category 'nosuchcat'" in cp.stderr and "personal" in cp.stderr
    assert not os.path.exists(os.path.join(site.root, "out.keyring"))
    with open(site.keyring) as f:
        assert f.read() == before
    assert "nosuchcat" not in site.geoctl("keys", "list", "-c", site.config).stdout


# ---- issue 15.2: tags that strand data are refused --------------------------

def test_tag_refuses_stranding_tags(site_factory):
    site = site_factory.mounted()
    p = site.path("profile.txt")
    with open(p, "wb") as f:
        f.write(b"data about someone in France")
    # personal/FR: stored in the origin, and no backend is in France
    cp = site.geoctl("tag", "-o", "FR", p)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "tagged 0 paths, 1 failed" in cp.stdout
    assert f"{p}: not tagged: " in cp.stderr and "FR" in cp.stderr
    assert "no backend in an allowed country" in cp.stderr and "--force" in cp.stderr
    assert site.xattr(p, "user.geo.origin") == "JP"
    # personal/KR: a backend exists in Korea, but this JP site may not open it
    cp = site.geoctl("tag", "-o", "KR", p)
    assert cp.returncode == 2 and "this site (tokyo-app-01, JP) may not access personal" \
        in cp.stderr, cp.stderr
    # media/KR is fine; the same check with an explicit config
    cp = site.geoctl("tag", "-C", "media", "-o", "KR", "-c", site.config, p)
    assert cp.returncode == 0 and "tagged 1 path\n" in cp.stdout, cp.stdout + cp.stderr
    # --force does it anyway
    q = site.path("other.txt")
    with open(q, "wb") as f:
        f.write(b"x")
    cp = site.geoctl("tag", "--force", "-o", "FR", q)
    assert cp.returncode == 0, cp.stderr
    assert site.xattr(q, "user.geo.origin") == "FR"


def test_tag_c_means_config(site_factory):
    site = site_factory.mounted()
    p = site.path("f")
    with open(p, "wb") as f:
        f.write(b"x")
    cp = site.geoctl("tag", "-c", "medical", p)
    assert cp.returncode == 2 and "-C" in cp.stderr, cp.stderr
    assert site.xattr(p, "user.geo.category") == "personal"


# ---- issue 15.7: shell completion with and without bash-completion ----------

COMPLETION = os.path.join(REPO, "contrib", "bash-completion", "geoctl")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
_DRIVER = r'''
[[ $1 == 1 ]] && source "$2"
shift 2
source "$COMPLETION"
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
COMP_LINE="$*"; COMP_LINE=${COMP_LINE// : /:}; COMP_POINT=${#COMP_LINE}
_geoctl
printf '%s\n' "${COMPREPLY[@]}"
'''


def _complete(with_bc, *words, env_config="/nonexistent/geofs.conf"):
    env = dict(os.environ, COMPLETION=COMPLETION, GEOFS_CONFIG=env_config,
               PATH=os.path.dirname(GEOCTL) + ":" + os.environ["PATH"])
    cp = run(["bash", "--norc", "--noprofile", "-c", _DRIVER, "driver", "1" if with_bc else "0",
              BASH_COMPLETION, *words], env=env)
    assert cp.returncode == 0 and "command not found" not in cp.stderr, cp.stderr
    return cp.stdout.split()


@pytest.mark.parametrize("with_bc", [False, True], ids=["plain-bash", "bash-completion"])
def test_completion(site_factory, with_bc):
    if with_bc and not os.path.exists(BASH_COMPLETION):
        pytest.skip("bash-completion is not installed")
    site = site_factory()
    site.write_config()
    assert _complete(with_bc, "geoctl", "ch") == ["check"]
    assert "rotate" in _complete(with_bc, "geoctl", "keys", "")
    # categories for tag -C, from -c CONFIG on the line or $GEOFS_CONFIG
    assert sorted(_complete(with_bc, "geoctl", "tag", "-c", site.config, "-C", "me")) == \
        ["media", "medical"]
    assert sorted(_complete(with_bc, "geoctl", "tag", "--category", "p",
                            env_config=site.config)) == ["personal", "public"]
    assert _complete(with_bc, "geoctl", "tag", "-C", "p") == []   # no config: nothing
    # domains for --domain, also after the ':' word break
    doms = _complete(with_bc, "geoctl", "keys", "export", "-c", site.config, "--domain", "K")
    assert "KR:media" in doms and "KR:personal" in doms and not any(
        d.startswith("JP") for d in doms), doms
    assert sorted(_complete(with_bc, "geoctl", "keys", "rotate", "-c", site.config,
                            "--domain", "JP", ":", "me")) == ["media", "medical"]
    if os.path.exists("/usr/share/iso-codes/json/iso_3166-1.json"):
        assert "JP" in _complete(with_bc, "geoctl", "tag", "-o", "j")


# ---- issue 15.6: small things -----------------------------------------------

def test_version_and_help_verb():
    cp = run([GEOCTL, "--version"])
    assert cp.returncode == 0 and re.fullmatch(r"geoctl \d+\.\d+\S*\n", cp.stdout), cp.stdout
    for verb in ("check", "tag", "keys", "audit", "rebalance"):
        cp = run([GEOCTL, "help", verb])
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == run([GEOCTL, verb, "--help"]).stdout
        assert cp.stdout.startswith(f"usage: geoctl {verb}")
    cp = run([GEOCTL, "help", "nope"])
    assert cp.returncode == 2 and "unknown verb 'nope'" in cp.stderr


def test_status_text_is_singular_for_one(site_factory):
    site = site_factory.mounted()
    d = site.path("m")
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", b"media")
    os.setxattr(d, "user.geo.origin", b"KR")
    p = os.path.join(d, "one")
    with open(p, "wb") as f:
        f.write(b"one shard")
    assert site.placement(p) == ["KR/seoul-1"]
    os.setxattr(p, "user.geo.category", b"medical")
    os.setxattr(p, "user.geo.origin", b"JP")
    st = site.xattr(p, "user.geo.status")
    assert st.startswith("misplaced 1 replica in KR, allowed JP"), st
    assert "1 replicas" not in st and "1 shards" not in st
    cp = site.geoctl("verify", "--json", d)
    out = json.loads(cp.stdout)
    assert any(s["reason"].startswith("replicas in KR, allowed JP") for s in out["summary"]), out
    cp = site.geoctl("status", site.mnt)
    assert cp.returncode == 1, cp.stdout + cp.stderr          # a misplaced file is known
    assert "misplaced    1 file known" in cp.stdout, cp.stdout
    assert "since mount  " in cp.stdout and "1 create," in cp.stdout, cp.stdout
    assert not re.search(r"\b1 (opens|creates|reads|writes|files|failures|hits|misses)\b",
                         cp.stdout), cp.stdout


# ---- issue 15.3: Japanese and hostile names ---------------------------------

def _cols(s):
    import unicodedata
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def test_show_columns_use_display_width(site_factory):
    site = site_factory.mounted()
    d = site.path("karte")
    os.mkdir(d)
    for name in ("山田太郎-カルテ.txt", "a.txt", "ｶﾙﾃ-half.txt"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"x")
    cp = site.geoctl("show", "-R", d)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    starts = set()
    for l in lines:
        m = re.search(r"  (TYPE|file|dir) ", l)
        assert m, l
        starts.add(_cols(l[:m.start()]))
    assert len(starts) == 1, cp.stdout


HOSTILE = "evil\x1b[31mred\x1b]0;owned\x07\u009b2J-名前"


def test_hostile_names_are_escaped_everywhere(site_factory):
    site = site_factory.mounted()
    d = site.path("scans")
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", b"media")
    os.setxattr(d, "user.geo.origin", b"KR")
    p = os.path.join(d, HOSTILE)
    with open(p, "wb") as f:
        f.write(b"x" * 5000)
    os.setxattr(p, "user.geo.category", b"medical")
    os.setxattr(p, "user.geo.origin", b"JP")
    outputs = []
    for args in (["show", p], ["verify", d], ["rebalance", "--dry-run", d], ["rebalance", d],
                 ["verify", d], ["report", d], ["tag", "-v", "-C", "medical", p]):
        cp = site.geoctl(*args)
        outputs.append((args, cp.stdout + cp.stderr))
    for args, out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\u009b" not in out, (args, out)
    joined = "".join(o for _, o in outputs)
    assert "evil\\x1b[31mred" in joined and "-名前" in joined
    # the error path too: a name the daemon refuses
    cp = site.geoctl("tag", "-C", "nosuch", p)
    assert cp.returncode == 2 and "\x1b" not in cp.stderr and "evil\\x1b[31mred" in cp.stderr


def test_progress_line_cuts_names_at_characters(site_factory):
    if not shutil.which("script"):
        pytest.skip("script(1) is not installed")
    site = site_factory.mounted()
    d = site.path("scans")
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", b"media")
    os.setxattr(d, "user.geo.origin", b"KR")
    name = "患者" * 40 + ".png"          # far wider than the line
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(b"y" * 3000)
    os.setxattr(p, "user.geo.category", b"medical")
    os.setxattr(p, "user.geo.origin", b"JP")
    cmd = f"stty cols 80 2>/dev/null; {GEOCTL} rebalance {shlex.quote(d)}"
    cp = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=60)
    assert cp.returncode == 0, cp.stdout
    text = cp.stdout.decode("utf-8")      # strict: a name cut mid-character fails here
    drawn = [seg for seg in re.split(r"\r\x1b\[K", text) if "..." in seg]
    assert drawn, text
    for seg in drawn:
        line = seg.split("\n")[0].rstrip("\r")
        assert _cols(line) <= 80, (line, _cols(line))
        assert line.endswith("患者.png") or line.endswith("者.png"), line


# ---- issue 15.8: the HTML report as evidence --------------------------------

def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_report_is_evidence_and_renders(site_factory):
    site = site_factory.mounted()
    d = site.path("scans")
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", b"media")
    os.setxattr(d, "user.geo.origin", b"KR")
    bad = os.path.join(d, "山田太郎-カルテ.png")
    with open(bad, "wb") as f:
        f.write(os.urandom(70000))
    os.setxattr(bad, "user.geo.category", b"medical")   # shards stay in KR: a violation
    os.setxattr(bad, "user.geo.origin", b"JP")
    with open(site.path("profile.txt"), "wb") as f:
        f.write(b"p" * 1234)
    out = os.path.join(site.root, "report.html")
    deadline = time.monotonic() + 20          # records reach the file within sync_ms
    while os.path.getsize(site.audit) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    cp = site.geoctl("report", "--html", "report.html", site.mnt)   # relative: cwd is root
    assert cp.returncode == 1, cp.stdout + cp.stderr               # bytes outside allowed
    assert f"wrote the HTML report to {out}" in cp.stderr, cp.stderr
    html = open(out, encoding="utf-8").read()
    with open(site.config, "rb") as f:
        cfg_sha = hashlib.sha256(f.read()).hexdigest()
    assert f'<td id="site">tokyo-app-01, Japan (JP)</td>' in html
    assert re.search(r'<td id="version">\d+\.\d+', html)
    assert f'<td id="config">{site.config}</td>' in html
    assert f'<td id="config-sha256">{cfg_sha}</td>' in html
    head = re.search(r'<td id="audit-head">([0-9a-f]{64})</td>', html)
    assert head, html
    assert f"<b>{os.path.realpath(site.mnt)}</b>" in html
    assert "Korea, Republic of (KR)" in html and "Japan (JP)" in html
    assert "1234 bytes" in html                                     # exact, not only 1.2 KiB
    assert 'class="violation"' in html and "not allowed" in html    # in the chart too
    assert "medical / JP" in html and "personal / JP" in html       # split by origin
    site.unmount()
    with open(site.audit, "rb") as f:
        hashes = {hashlib.sha256(l).hexdigest() for l in f.read().split(b"\n") if l}
    assert head.group(1) in hashes

    browser = _chromium()
    if not browser:
        pytest.skip("chromium is not installed (make deps installs it)")
    png = os.path.join(site.root, "report.png")
    profile = os.path.join(site.root, "chromium-profile")
    cp = run([browser, "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
              f"--screenshot={png}", "--window-size=1200,1600", f"file://{out}"],
             timeout=120)
    assert os.path.exists(png), cp.stdout + cp.stderr
    data = open(png, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30000, len(data)


def test_paths_outside_geofs_print_only_the_error(tmp_path):
    for verb in ("verify", "report", "rebalance"):
        cp = run([GEOCTL, verb, str(tmp_path)])
        assert cp.returncode == 2
        assert cp.stdout == "", (verb, cp.stdout)
        assert cp.stderr == f"geoctl: {tmp_path}: not on a geofs mount (it has no user.geo.info)\n"


def test_install_and_uninstall(tmp_path):
    """make install puts a demo.conf whose paths work outside the source
    tree; make uninstall leaves no empty directory behind."""
    dest = tmp_path / "dest"
    build = os.path.dirname(GEOCTL)
    make = ["make", "-s", "-C", REPO, f"BUILD={build}", f"DESTDIR={dest}", "PREFIX=/usr",
            f"DEMO_DIR={tmp_path}/demo"]
    cp = run(make + ["install"], timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    demo = dest / "usr/share/geofs/examples/demo.conf"
    text = demo.read_text()
    values = [l.split("=", 1)[1].strip() for l in text.splitlines()
              if "=" in l and not l.lstrip().startswith("#")]
    assert values and not any(v.startswith("..") for v in values), text
    assert f"path = {tmp_path}/demo/meta" in text
    assert run([GEOCTL, "keys", "init", "-c", str(demo)]).returncode == 0
    cp = run([GEOCTL, "check", "-c", str(demo)])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    cp = run(make + ["uninstall"], timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert not dest.exists() or list(dest.iterdir()) == [], list(dest.rglob("*"))


def test_rebalance_gives_the_one_real_reason(site_factory):
    cats = dict(DEFAULT_CATEGORIES, profile={"store_in": "origin", "access_from": "*"})
    site = site_factory.mounted(categories=cats)
    d = site.path("scans")
    os.mkdir(d)
    os.setxattr(d, "user.geo.category", b"media")
    os.setxattr(d, "user.geo.origin", b"KR")
    fr = os.path.join(d, "fr.png")
    kr = os.path.join(d, "kr.png")
    for p in (fr, kr):
        with open(p, "wb") as f:
            f.write(b"z" * 3000)
    os.setxattr(fr, "user.geo.category", b"profile")     # profile/FR: no backend in FR
    os.setxattr(fr, "user.geo.origin", b"FR")
    os.setxattr(kr, "user.geo.category", b"medical")     # medical/KR: JP may not open it
    cp = site.geoctl("rebalance", d)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    out = cp.stdout + cp.stderr
    assert f"not moved: {fr}: no backend in an allowed country (store_in FR)" in out, out
    assert f"not moved: {kr}: this site (JP) may not access medical files of origin KR" in out
    assert "or this site may not access" not in out
    cp = site.geoctl("rebalance", "--json", d)
    reasons = {f["path"]: f["reason"] for f in json.loads(cp.stdout)["failed"]}
    assert reasons[fr].startswith("no backend in an allowed country"), reasons
