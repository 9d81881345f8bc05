"""The daemon speaks: log lines for its life events and refusals (stderr in
-f mode, the journal's native protocol under systemd), sd_notify states, and
the hardened unit's capability set. Issue 15 item 4."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from harness import HarnessError, REPO, GEOFS, run, try_as

UNIT = os.path.join(REPO, "contrib", "systemd", "geofs@.service.in")


def wait_for(fn, what, timeout=15.0, poke=None):
    """Polls fn() (poke() between tries) until true; fails loudly on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out waiting for {what}")
        if poke:
            poke()
        time.sleep(0.1)


def log_has(site, pattern):
    return re.search(pattern, site.log(), re.M)


def audit_records(site):
    with open(site.audit, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def keyring_secrets(site):
    """Every hex key of the keyring (the lines' last fields)."""
    with open(site.keyring, encoding="ascii") as f:
        return [w for line in f for w in line.split() if re.fullmatch(r"[0-9a-fA-F]{64}", w)]


def assert_no_secret(site, text):
    secrets = keyring_secrets(site)
    assert secrets, "the keyring holds no key?"
    for k in secrets:
        assert k.lower() not in text.lower(), "a key of the keyring is in the log"


def test_mount_and_unmount_lines(site_factory):
    site = site_factory.mounted()
    assert log_has(site, rf"^geofs: info: mounted {re.escape(site.mnt)}: site tokyo-app-01 \(JP\), "
                         rf"config {re.escape(site.config)}, meta root {re.escape(site.meta)}, "
                         r"backends tokyo-1 JP up, osaka-1 JP up, seoul-1 KR up$"), site.log()
    site.unmount()
    assert log_has(site, rf"^geofs: info: unmounting {re.escape(site.mnt)}$"), site.log()
    assert_no_secret(site, site.log())


def test_refused_setxattr_is_logged_and_audited(site_factory):
    site = site_factory.mounted()
    f = site.path("doc.txt")
    with open(f, "w") as fh:
        fh.write("x")
    # An undeclared category, a code that is no country: EINVAL, named.
    with pytest.raises(OSError) as e:
        os.setxattr(f, "user.geo.category", b"nosuchcat")
    assert e.value.errno == 22
    with pytest.raises(OSError) as e:
        os.setxattr(f, "user.geo.origin", b"XX")
    assert e.value.errno == 22
    # The owner may not loosen: EPERM.
    os.chown(f, 65534, 65534)
    assert try_as(f"os.setxattr({f!r}, 'user.geo.category', b'public')") == "EPERM"
    # Read-only attributes.
    with pytest.raises(OSError):
        os.setxattr(f, "user.geo.placement", b"tokyo-1")

    log = site.log()
    assert re.search(r"^geofs: info: setxattr on /doc\.txt refused \(EINVAL\): "
                     r"user\.geo\.category=nosuchcat: 'nosuchcat' is not a declared category "
                     r"\(declared: personal medical media public\)$", log, re.M), log
    assert re.search(r"refused \(EINVAL\): user\.geo\.origin=XX: 'XX' is not an ISO 3166-1 "
                     r"alpha-2 country code$", log, re.M), log
    assert re.search(r"refused \(EPERM\): user\.geo\.category=public: loosening", log, re.M), log
    assert "user.geo.placement, status and info are read-only" in log

    site.unmount()
    refused = [r for r in audit_records(site) if r["op"] == "settag-refused"]
    assert [(r["path"], r["result"]) for r in refused] == [
        ("/doc.txt", "error:EINVAL"), ("/doc.txt", "error:EINVAL"), ("/doc.txt", "denied")]
    assert "nosuchcat" in refused[0]["detail"] and "not a declared category" in refused[0]["detail"]
    assert refused[0]["category"] == "personal" and refused[0]["origin"] == "JP"
    assert refused[2]["uid"] == 65534
    # The chain still verifies, and geoctl shows the new record type.
    cp = site.geoctl("audit", "verify", "-c", site.config)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    cp = site.geoctl("audit", "show", "-c", site.config, "--op", "settag-refused")
    assert cp.returncode == 0, cp.stderr
    rows = [line for line in cp.stdout.splitlines() if "settag-refused" in line]
    assert len(rows) == 3 and all("/doc.txt" in r for r in rows), cp.stdout


def test_debug_logs_each_call(site_factory):
    site = site_factory()
    site.mount(options=("loglevel=debug",))
    with open(site.path("d.txt"), "w") as fh:
        fh.write("hello")
    os.setxattr(site.path("d.txt"), "user.geo.category", b"medical")
    os.rename(site.path("d.txt"), site.path("e.txt"))
    site.unmount()
    log = site.log()
    for pat in (r"op create /d\.txt \(uid 0 pid \d+\): 0", r"op write - \(uid 0 pid \d+\): 5",
                r"op setxattr /d\.txt \(uid 0 pid \d+\): 0", r"op rename /d\.txt .*: 0",
                r"op lookup /e\.txt .*: ENOENT"):
        assert re.search(r"^geofs: debug: " + pat, log, re.M), (pat, log)
    assert_no_secret(site, log)


def test_info_level_logs_no_calls(site):
    with open(site.path("quiet.txt"), "w") as fh:
        fh.write("x")
    site.unmount()
    assert "op create" not in site.log()


def test_names_are_escaped_in_the_log(site_factory):
    site = site_factory()
    site.mount(options=("loglevel=debug",))
    evil = site.path("a\x1b[31mred\nfake line")
    with open(evil, "w") as fh:
        fh.write("x")
    site.unmount()
    log = site.log()
    assert "\x1b" not in log
    assert r"a\x1b[31mred\x0afake line" in log, log


def test_backend_marked_down_and_back_up(site_factory):
    site = site_factory.mounted()
    objects = os.path.join(site.backend_dirs["seoul-1"], "objects")
    n = [0]

    def write_one():
        n[0] += 1
        with open(site.path(f"f{n[0]}"), "w") as fh:
            fh.write("x")

    run(["chattr", "-R", "+i", objects], check=True)
    try:
        wait_for(lambda: log_has(site, r"^geofs: warning: backend seoul-1 \(KR\) marked down: "
                                       r".*objects: Operation not permitted$"),
                 "the backend-down line", poke=write_one)
    finally:
        run(["chattr", "-R", "-i", objects], check=True)
    wait_for(lambda: log_has(site, r"^geofs: info: backend seoul-1 \(KR\) back up$"),
             "the backend-up line", poke=write_one)
    site.unmount()


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []

    def drain(self):
        while True:
            try:
                self.messages.append(self.sock.recv(65536).decode())
            except socket.timeout:
                return

    def wait(self, pred, what, timeout=15.0):
        def found():
            self.drain()
            return [m for m in self.messages if pred(m)]
        return wait_for(found, what, timeout)

    def close(self):
        self.sock.close()


def test_sd_notify_states(site_factory):
    site = site_factory()
    ns = NotifySocket(os.path.join(site.root, "notify.sock"))
    site.env = {"NOTIFY_SOCKET": ns.path}
    try:
        site.mount()
        ready = ns.wait(lambda m: "READY=1" in m, "READY=1")
        assert f"STATUS=serving {site.mnt}: 3 backends up, 0 down" in ready[0], ns.messages
        ns.messages.clear()

        site.proc.send_signal(signal.SIGHUP)
        ns.wait(lambda m: "READY=1" in m, "READY=1 after the reload")
        assert ns.messages[0].startswith("RELOADING=1"), ns.messages
        assert re.search(r"^MONOTONIC_USEC=\d+$", ns.messages[0], re.M), ns.messages
        assert log_has(site, r"^geofs: info: reload: ok: backends tokyo-1 JP up"), site.log()
        ns.messages.clear()

        # A rejected reload: the old config stays, systemd hears READY again.
        site.write_config(site.render_config() + "\n[bogus]\n")
        assert site.geoctl("reload", site.mnt).returncode != 0
        ns.wait(lambda m: "READY=1" in m, "READY=1 after the rejected reload")
        assert any(m.startswith("RELOADING=1") for m in ns.messages), ns.messages
        assert log_has(site, r"^geofs: error: reload: rejected: .*bogus"), site.log()
        ns.messages.clear()

        site.unmount()
        ns.wait(lambda m: "STOPPING=1" in m, "STOPPING=1")
    finally:
        ns.close()


def parse_journal(data):
    """Fields of one datagram of journald's native protocol."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:                                   # KEY\n<le64 size><bytes>\n
            k = line
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def test_journal_fields_under_systemd(site_factory):
    """With stderr being the journal stream ($JOURNAL_STREAM names its
    dev:inode), geofs sends structured entries to /run/systemd/journal/socket.
    The daemon runs in a private mount namespace where that path is a socket
    this test owns, so nothing of the host's journal is touched."""
    site = site_factory()
    site.keys_init()
    site.mark_backends()
    jdir = os.path.join(site.root, "journal")
    os.makedirs(jdir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(jdir, "socket"))
    sock.settimeout(0.2)
    logp = os.path.join(site.root, "stderr.log")
    logf = open(logp, "wb")
    st = os.fstat(logf.fileno())
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    for k in ("NOTIFY_SOCKET", "INVOCATION_ID"):
        env.pop(k, None)
    script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
              f'mount --bind {jdir} /run/systemd/journal && exec "$@"')
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                             "sh", GEOFS, "-c", site.config, site.mnt, "-f", "-o", "allow_other"],
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                            start_new_session=True)
    entries = []

    def got(event):
        try:
            while True:
                entries.append(parse_journal(sock.recv(1 << 20)))
        except socket.timeout:
            pass
        return [e for e in entries if e.get("GEOFS_EVENT") == event]

    try:
        mount = wait_for(lambda: got("mount"), "the mount entry")[0]
        proc.send_signal(signal.SIGTERM)           # libfuse ends the loop, unmounts
        unmount = wait_for(lambda: got("unmount"), "the unmount entry")[0]
        proc.wait(30)                              # (1: the loop ended by a signal)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        logf.close()
        sock.close()
    assert mount["PRIORITY"] == "6" and mount["SYSLOG_IDENTIFIER"] == "geofs"
    assert mount["GEOFS_PATH"] == site.mnt
    assert mount["MESSAGE"].startswith(f"mounted {site.mnt}: site tokyo-app-01 (JP)"), mount
    assert unmount["GEOFS_PATH"] == site.mnt
    warn = [e for e in entries if "admin_group" in e.get("MESSAGE", "")]
    assert warn and warn[0]["PRIORITY"] == "4"
    with open(logp, "rb") as f:
        assert f.read() == b"", "with the journal, nothing goes to stderr"
    assert_no_secret(site, json.dumps(entries))


def unit_capabilities():
    with open(UNIT) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                return line.split("=", 1)[1].split()
    raise AssertionError("the unit sets no CapabilityBoundingSet=")


def test_mounts_with_the_units_capabilities(site_factory):
    """The hardened unit's capability bounding set and NoNewPrivileges=,
    emulated with setpriv: geofs still mounts and serves other users."""
    caps = unit_capabilities()
    assert "CAP_SYS_ADMIN" in caps
    bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    site = site_factory()
    site.wrapper = ["setpriv", f"--bounding-set={bounding}", "--inh-caps=-all", "--no-new-privs"]
    site.mount()
    with open(f"/proc/{site.proc.pid}/status") as f:
        status = f.read()
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)
    os.mkdir(site.path("shared"))
    os.chmod(site.path("shared"), 0o777)
    assert try_as(f"open({site.path('shared', 'mine')!r}, 'w').write('x')") == "OK"
    st = os.stat(site.path("shared", "mine"))
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    os.chmod(site.path("shared", "mine"), 0)         # root reads it anyway (DAC_OVERRIDE)
    with open(site.path("shared", "mine")) as fh:
        assert fh.read() == "x"
    site.unmount()


def test_unit_verifies_and_stays_hardened(tmp_path):
    """systemd-analyze accepts the unit (with the build's geofs as
    ExecStart) and rates its exposure at most 5.0 (it was 9.6 UNSAFE before
    the hardening; 4.6 with it, see docs/operating.md)."""
    if not os.path.exists("/usr/bin/systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    with open(UNIT) as f:
        text = f.read().replace("@BINDIR@", os.path.dirname(GEOFS))
    assert "Type=notify" in text
    unit = tmp_path / "geofs@.service"
    unit.write_text(text)
    (tmp_path / "geofs@test.service").symlink_to("geofs@.service")
    cp = run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "geofs@test.service")])
    assert cp.returncode == 0 and not cp.stderr.strip(), cp.stderr
    cp = run(["systemd-analyze", "security", "--offline=yes", str(unit)])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", cp.stdout + cp.stderr)
    assert m, cp.stdout + cp.stderr
    assert float(m.group(1)) <= 5.0, cp.stdout
