"""POSIX parity: the same operations on a geofs mount and on a native
directory (ext4 under the test's temp dir), comparing every result and errno.

Each scenario is a function taking a recorder R. R.do(label, fn, *args)
records what fn returned (or the errno name it raised) and R.note(label, v)
records a derived value; the two recordings must be equal. Scenarios that
run as another user execute in a child process (setpriv) which imports this
module and prints its recording as JSON.

Where geofs must differ from a native directory, the scenario records the
geofs behaviour explicitly (R.geofs is True on the mount) and says why.
POSIX_SHOW=1 prints both recordings side by side (run pytest with -s).
"""

import ctypes
import errno
import hashlib
import json
import mmap
import os
import stat
import sys
import time

import pytest

from harness import NOBODY, PYTHON, HarnessError, pattern, read_file, run_as, write_file

HERE = os.path.dirname(os.path.abspath(__file__))
SHARD = 64 * 1024
USER = 1000                      # a second unprivileged user besides nobody
GROUP_OTHER = 4321               # a group neither user is in
TICK = 0.05                      # > any timestamp granularity (coarse clock)

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_AT_FDCWD = -100


def renameat2(src, dst, flags):
    if _libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), src)


def fallocate(fd, mode, off, length):
    if _libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def put(path, data, mode=None):
    write_file(path, data)
    if mode is not None:
        os.chmod(path, mode)


# ---- the recorder ---------------------------------------------------------------------------

class Rec:
    """Records outcomes of operations under one root."""

    def __init__(self, root, geofs):
        self.root = root
        self.geofs = geofs
        self.out = []

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    def do(self, label, fn, *args, **kw):
        """Calls fn; records its value (None -> 'OK', bytes -> hex or digest)
        or the errno name of the OSError it raised. Returns the value."""
        try:
            v = fn(*args, **kw)
        except OSError as e:
            self.out.append([label, errno.errorcode.get(e.errno, str(e.errno))])
            return None
        self.out.append([label, _plain(v)])
        return v

    def open(self, label, path, flags, mode=0o666, keep=False, **kw):
        """os.open recorded as 'OK' or an errno; closes the fd unless keep."""
        try:
            fd = os.open(path, flags, mode, **kw)
        except OSError as e:
            self.out.append([label, errno.errorcode.get(e.errno, str(e.errno))])
            return None
        self.out.append([label, "OK"])
        if keep:
            return fd
        os.close(fd)
        return None

    def note(self, label, value):
        self.out.append([label, value])

    def mode(self, label, *parts):
        st = os.lstat(self.p(*parts))
        self.note(label, oct(st.st_mode))

    def owner(self, label, *parts):
        st = os.lstat(self.p(*parts))
        self.note(label, [st.st_uid, st.st_gid])


def _plain(v):
    if v is None:
        return "OK"
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        return "bytes:" + v.hex() if len(v) <= 64 else \
            f"bytes[{len(v)}]:{hashlib.sha256(v).hexdigest()[:16]}"
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return "OK"


def _pair(site, name):
    geo = site.path(name)
    nat = os.path.join(site.root, "native", name)
    os.makedirs(geo)
    os.makedirs(nat)
    for d in (geo, nat):
        os.chmod(d, 0o755)
    os.chmod(os.path.join(site.root, "native"), 0o755)
    return geo, nat


def parity(site, scenario, setup=None, uid=None, gid=None, groups=()):
    """Runs setup (as root) then scenario on both roots; returns the geofs
    recording after asserting the two are equal."""
    geo, nat = _pair(site, scenario.__name__)
    outs = []
    for root, is_geo in ((geo, True), (nat, False)):
        if setup:
            setup(Rec(root, is_geo))
        if uid is None:
            r = Rec(root, is_geo)
            scenario(r)
            outs.append(r.out)
        else:
            outs.append(_as_user(scenario.__name__, root, is_geo, uid,
                                 uid if gid is None else gid, groups))
    if os.environ.get("POSIX_SHOW"):
        print(_diff(outs[0], outs[1]))
    assert outs[0] == outs[1], _diff(outs[0], outs[1])
    return outs[0]


def _diff(geo, nat):
    lines = ["geofs and native differ (label: geofs | native):"]
    for i in range(max(len(geo), len(nat))):
        g = geo[i] if i < len(geo) else None
        n = nat[i] if i < len(nat) else None
        mark = "  " if g == n else "!!"
        lines.append(f"{mark} {g} | {n}")
    return "\n".join(lines)


_CHILD = """import json, os, sys
sys.path.insert(0, sys.argv[1])
import test_posix as t
r = t.Rec(sys.argv[3], sys.argv[4] == "1")
getattr(t, sys.argv[2])(r)
print(json.dumps(r.out))
"""


def _as_user(name, root, is_geo, uid, gid, groups):
    cp = run_as([PYTHON, "-c", _CHILD, HERE, name, root, "1" if is_geo else "0"],
                uid=uid, gid=gid, groups=groups)
    if cp.returncode != 0:
        raise HarnessError(f"{name} as uid {uid} failed ({cp.returncode}):\n{cp.stderr}")
    return json.loads(cp.stdout.strip().splitlines()[-1])


# ---- create and open flags ------------------------------------------------------------------

def scn_open_flags(R):
    f, d, link, dangling = R.p("f"), R.p("d"), R.p("link"), R.p("dangling")
    R.do("create", put, f, b"0123456789")
    R.do("mkdir", os.mkdir, d)
    R.do("symlink", os.symlink, "f", link)
    R.do("dangling", os.symlink, "newtarget", dangling)
    W = os.O_WRONLY
    R.open("excl existing", f, os.O_CREAT | os.O_EXCL | W)
    R.open("excl on symlink", link, os.O_CREAT | os.O_EXCL | W)
    R.open("excl on dangling", dangling, os.O_CREAT | os.O_EXCL | W)
    R.open("creat through dangling", dangling, os.O_CREAT | W, 0o644)
    R.do("target made", os.path.exists, R.p("newtarget"))
    R.open("nofollow symlink", link, os.O_RDONLY | os.O_NOFOLLOW)
    R.open("nofollow file", f, os.O_RDONLY | os.O_NOFOLLOW)
    R.open("O_DIRECTORY on file", f, os.O_RDONLY | os.O_DIRECTORY)
    R.open("O_DIRECTORY on symlink to file", link, os.O_RDONLY | os.O_DIRECTORY)
    R.open("O_DIRECTORY on dir", d, os.O_RDONLY | os.O_DIRECTORY)
    R.open("dir for writing", d, os.O_WRONLY)
    R.open("O_CREAT on dir", d, os.O_CREAT | W)
    R.open("missing", R.p("nope"), os.O_RDONLY)
    R.open("creat in missing dir", R.p("nodir", "x"), os.O_CREAT | W)
    R.open("file as dir", R.p("f", "x"), os.O_CREAT | W)
    R.do("stat file as dir", os.stat, R.p("f", "x"))
    fd = os.open(f, os.O_RDWR | os.O_APPEND)
    R.do("append write", os.write, fd, b"AB")
    os.lseek(fd, 0, os.SEEK_SET)
    R.do("append after seek", os.write, fd, b"CD")
    R.do("pos after append", os.lseek, fd, 0, os.SEEK_CUR)
    R.do("read appended", os.pread, fd, 100, 0)
    os.close(fd)
    fd = os.open(f, os.O_RDONLY)
    R.do("write to O_RDONLY", os.write, fd, b"x")
    os.close(fd)
    fd = os.open(f, os.O_WRONLY)
    R.do("read from O_WRONLY", os.read, fd, 1)
    os.close(fd)
    R.open("O_TRUNC", f, os.O_RDWR | os.O_TRUNC)
    R.do("size after O_TRUNC", lambda: os.stat(f).st_size)
    R.do("rewrite", put, f, b"xyz")
    R.open("O_RDONLY|O_TRUNC", f, os.O_RDONLY | os.O_TRUNC)
    R.do("size after O_RDONLY|O_TRUNC", lambda: os.stat(f).st_size)
    R.open("creat mode", R.p("m"), os.O_CREAT | W, 0o640)
    R.mode("mode of new file", "m")
    R.open("creat with O_EXCL", R.p("e"), os.O_CREAT | os.O_EXCL | W)
    R.do("read past end", lambda: read_file(R.p("e")))
    R.do("mkfifo", os.mkfifo, R.p("fifo"))
    R.open("fifo nonblock write without reader", R.p("fifo"), os.O_WRONLY | os.O_NONBLOCK)
    R.do("listing", lambda: sorted(os.listdir(R.root)))


def test_open_flags(site):
    parity(site, scn_open_flags)


def scn_tmpfile(R):
    # geofs differs: the high-level FUSE API of libfuse 3.14 has no tmpfile
    # operation, so the kernel answers O_TMPFILE with EOPNOTSUPP; a file
    # without a name cannot be given tags by a directory anyway.
    try:
        fd = os.open(R.root, os.O_TMPFILE | os.O_RDWR, 0o600)
    except OSError as e:
        R.note("O_TMPFILE", "refused" if R.geofs and e.errno == errno.EOPNOTSUPP
               else errno.errorcode[e.errno])
        return
    os.close(fd)
    R.note("O_TMPFILE", "refused" if not R.geofs else "OK on geofs")


def test_tmpfile_refused_on_geofs(site):
    parity(site, scn_tmpfile)


# ---- permissions and ownership --------------------------------------------------------------

def setup_perms(R):
    put(R.p("private"), b"secret", 0o600)
    put(R.p("readable"), b"public", 0o644)
    put(R.p("readonly_mine"), b"ro", 0o444)
    os.chown(R.p("readonly_mine"), NOBODY, NOBODY)
    put(R.p("group_rw"), b"grp", 0o660)
    os.chown(R.p("group_rw"), 0, USER)
    put(R.p("exec"), b"#!/bin/sh\n", 0o755)
    os.mkdir(R.p("closed"), 0o755)
    os.mkdir(R.p("noexec"), 0o766)
    put(R.p("noexec", "inside"), b"i", 0o644)
    os.mkdir(R.p("open"), 0o777)
    os.chmod(R.p("open"), 0o777)
    os.mkdir(R.p("nobodys"), 0o755)
    os.chown(R.p("nobodys"), NOBODY, NOBODY)
    put(R.p("suid"), b"s", 0o4777)
    os.chmod(R.p("suid"), 0o4777)


def scn_perms_user(R):
    """Run as nobody (uid 65534), and again as uid 1000."""
    me = os.getuid()
    R.do("read private", lambda: read_file(R.p("private")))
    R.do("read readable", lambda: read_file(R.p("readable")))
    R.open("write readable", R.p("readable"), os.O_WRONLY)
    R.open("append readable", R.p("readable"), os.O_WRONLY | os.O_APPEND)
    R.open("trunc readable", R.p("readable"), os.O_RDONLY | os.O_TRUNC)
    R.do("access R", os.access, R.p("readable"), os.R_OK)
    R.do("access W", os.access, R.p("readable"), os.W_OK)
    R.do("access X", os.access, R.p("exec"), os.X_OK)
    R.open("create in closed", R.p("closed", "x"), os.O_CREAT | os.O_WRONLY, 0o644)
    R.do("mkdir in closed", os.mkdir, R.p("closed", "d"))
    R.do("unlink in closed", os.unlink, R.p("readable"))
    R.do("stat through noexec dir", os.stat, R.p("noexec", "inside"))
    R.do("list noexec dir", os.listdir, R.p("noexec"))
    R.do("chmod not mine", os.chmod, R.p("readable"), 0o666)
    R.do("chown to me", os.chown, R.p("readable"), me, -1)
    R.do("utime now not mine", os.utime, R.p("readable"), None)
    R.do("utime now writable", os.utime, R.p("suid"), None)
    R.do("utime explicit not mine", os.utime, R.p("suid"), (1, 1))
    R.do("setxattr not mine", os.setxattr, R.p("readable"), "user.x", b"1")
    # own files
    f = R.p("open", "mine")
    R.do("create in open dir", put, f, b"mine")
    R.owner("owner of new file", "open", "mine")
    R.do("mkdir in open dir", os.mkdir, R.p("open", "mydir"), 0o750)
    R.owner("owner of new dir", "open", "mydir")
    R.mode("mode of new dir", "open", "mydir")
    R.do("chmod mine", os.chmod, f, 0o600)
    R.mode("mode after chmod", "open", "mine")
    R.do("chown mine to root", os.chown, f, 0, -1)
    R.do("chgrp mine to a foreign group", os.chown, f, -1, GROUP_OTHER)
    R.do("chgrp mine to my group", os.chown, f, -1, os.getgid())
    R.do("utime explicit mine", os.utime, f, (1_000_000, 2_000_000))
    R.do("mtime", lambda: int(os.stat(f).st_mtime))
    R.open("owner write to 0444", R.p("readonly_mine"), os.O_WRONLY)
    R.do("owner chmod 0444 -> 0644", os.chmod, R.p("readonly_mine"), 0o644)
    R.do("owner write now", put, R.p("readonly_mine"), b"rw")
    R.do("setxattr mine", os.setxattr, f, "user.note", b"hello")
    R.do("getxattr mine", os.getxattr, f, "user.note")
    R.do("trusted xattr", os.setxattr, f, "trusted.x", b"1")
    R.do("write to suid file", put, R.p("suid"), b"changed")
    R.mode("suid cleared by write", "suid")
    R.do("rmdir in nobody's dir", os.rmdir, R.p("nobodys"))
    R.do("mknod char dev", os.mknod, R.p("open", "dev"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    R.do("listing", lambda: sorted(os.listdir(R.p("open"))))


@pytest.mark.parametrize("uid", [NOBODY, USER])
def test_permissions_as_user(site, uid):
    parity(site, scn_perms_user, setup=setup_perms, uid=uid)


def setup_group(R):
    put(R.p("group_rw"), b"grp", 0o660)
    os.chown(R.p("group_rw"), 0, GROUP_OTHER)
    put(R.p("group_ro"), b"grp", 0o640)
    os.chown(R.p("group_ro"), 0, GROUP_OTHER)
    os.mkdir(R.p("gdir"), 0o770)
    os.chown(R.p("gdir"), 0, GROUP_OTHER)
    os.chmod(R.p("gdir"), 0o770)


def scn_group_member(R):
    """uid 1000 with supplementary group 4321."""
    R.do("write group_rw", put, R.p("group_rw"), b"by member")
    R.do("read group_ro", lambda: read_file(R.p("group_ro")))
    R.open("write group_ro", R.p("group_ro"), os.O_WRONLY)
    R.do("create in group dir", put, R.p("gdir", "f"), b"x")
    R.owner("owner of new file", "gdir", "f")
    R.do("chgrp own file to supplementary group", os.chown, R.p("gdir", "f"), -1, GROUP_OTHER)
    R.owner("after chgrp", "gdir", "f")
    R.do("chmod g+s as member", os.chmod, R.p("gdir", "f"), 0o2755)
    R.mode("mode", "gdir", "f")


def test_supplementary_group(site):
    parity(site, scn_group_member, setup=setup_group, uid=USER, gid=USER, groups=(USER, GROUP_OTHER))


def setup_setgid(R):
    os.mkdir(R.p("sg"))
    os.chown(R.p("sg"), 0, GROUP_OTHER)
    os.chmod(R.p("sg"), 0o2777)


def scn_setgid(R):
    """As nobody (not in the directory's group)."""
    R.do("create", put, R.p("sg", "f"), b"x")
    R.owner("file takes dir group", "sg", "f")
    R.do("mkdir", os.mkdir, R.p("sg", "sub"), 0o755)
    R.owner("dir takes dir group", "sg", "sub")
    R.mode("subdir inherits setgid", "sg", "sub")
    R.do("mkdir deeper", os.mkdir, R.p("sg", "sub", "deeper"), 0o700)
    R.owner("deeper group", "sg", "sub", "deeper")
    R.mode("deeper setgid", "sg", "sub", "deeper")
    R.do("create deeper", put, R.p("sg", "sub", "deeper", "g"), b"y")
    R.owner("deeper file group", "sg", "sub", "deeper", "g")
    # the setgid bit asked for on a new file by a non-member is dropped
    R.open("create g+s file", R.p("sg", "gs"), os.O_CREAT | os.O_WRONLY,
                                                     0o2755)
    R.mode("g+s file mode", "sg", "gs")
    R.do("symlink", os.symlink, "f", R.p("sg", "l"))
    R.owner("symlink group", "sg", "l")
    R.do("mkfifo", os.mkfifo, R.p("sg", "fifo"), 0o644)
    R.owner("fifo group", "sg", "fifo")
    R.do("chmod own file g+s (group not mine)", os.chmod, R.p("sg", "f"), 0o2644)
    R.mode("g+s dropped by chmod", "sg", "f")


def test_setgid_directory(site):
    parity(site, scn_setgid, setup=setup_setgid, uid=NOBODY)


def setup_sticky(R):
    os.mkdir(R.p("tmp"))
    os.chmod(R.p("tmp"), 0o1777)
    put(R.p("tmp", "roots"), b"r", 0o666)
    put(R.p("tmp", "users"), b"u", 0o666)
    os.chown(R.p("tmp", "users"), USER, USER)
    put(R.p("tmp", "nobodys"), b"n", 0o644)
    os.chown(R.p("tmp", "nobodys"), NOBODY, NOBODY)
    os.mkdir(R.p("tmp", "usersdir"))
    os.chown(R.p("tmp", "usersdir"), USER, USER)
    os.mkdir(R.p("own"))
    os.chown(R.p("own"), NOBODY, NOBODY)
    os.chmod(R.p("own"), 0o1777)
    put(R.p("own", "roots"), b"r", 0o644)


def scn_sticky(R):
    """As nobody."""
    R.do("unlink root's", os.unlink, R.p("tmp", "roots"))
    R.do("unlink user's", os.unlink, R.p("tmp", "users"))
    R.do("rename root's away", os.rename, R.p("tmp", "roots"), R.p("tmp", "stolen"))
    R.do("rename own over root's", os.rename, R.p("tmp", "nobodys"), R.p("tmp", "roots"))
    R.do("rmdir user's dir", os.rmdir, R.p("tmp", "usersdir"))
    R.do("write root's (mode 666)", put, R.p("tmp", "roots"), b"w")
    R.do("create own", put, R.p("tmp", "mine"), b"m")
    R.do("rename own", os.rename, R.p("tmp", "mine"), R.p("tmp", "mine2"))
    R.do("unlink own", os.unlink, R.p("tmp", "mine2"))
    R.do("dir owner unlinks root's", os.unlink, R.p("own", "roots"))
    R.do("listing", lambda: sorted(os.listdir(R.p("tmp"))))


def test_sticky_directory(site):
    parity(site, scn_sticky, setup=setup_sticky, uid=NOBODY)


# ---- rename ---------------------------------------------------------------------------------

def scn_rename(R):
    p = R.p
    for n, data in (("a", b"A"), ("b", b"BB"), ("c", b"CCC")):
        put(p(n), data)
    for d in ("e1", "e2", "full", "full/sub", "x", "x/y", "other"):
        os.mkdir(p(d))
    put(p("full", "inside"), b"i")
    R.do("file over file", os.rename, p("a"), p("b"))
    R.do("b now", lambda: read_file(p("b")))
    R.do("a gone", os.path.lexists, p("a"))
    R.do("file over itself", os.rename, p("b"), p("b"))
    R.do("missing source", os.rename, p("nope"), p("z"))
    R.do("into missing dir", os.rename, p("b"), p("nodir", "b"))
    R.do("dir over empty dir", os.rename, p("e1"), p("e2"))
    R.do("e1 gone", os.path.lexists, p("e1"))
    R.do("dir over non-empty dir", os.rename, p("e2"), p("full"))
    R.do("dir into own subdir", os.rename, p("x"), p("x", "y", "x"))
    R.do("dir onto own subdir", os.rename, p("x"), p("x", "y"))
    R.do("file over dir", os.rename, p("c"), p("e2"))
    R.do("dir over file", os.rename, p("e2"), p("c"))
    R.do("file as dir component", os.rename, p("c"), p("b", "c"))
    R.do("across dirs", os.rename, p("c"), p("other", "c2"))
    R.do("across content", lambda: read_file(p("other", "c2")))
    R.do("dir across dirs", os.rename, p("full", "sub"), p("other", "sub"))
    R.do("rename dot", os.rename, p("other", "."), p("dotdir"))
    R.do("rename dotdot", os.rename, p("other", ".."), p("dotdot"))
    R.do("noreplace existing", renameat2, p("b"), p("other", "c2"), RENAME_NOREPLACE)
    R.do("noreplace free", renameat2, p("b"), p("b2"), RENAME_NOREPLACE)
    R.do("exchange files", renameat2, p("b2"), p("other", "c2"), RENAME_EXCHANGE)
    R.do("exchanged 1", lambda: read_file(p("b2")))
    R.do("exchanged 2", lambda: read_file(p("other", "c2")))
    R.do("exchange file/dir", renameat2, p("b2"), p("e2"), RENAME_EXCHANGE)
    R.do("b2 is dir", lambda: stat.S_ISDIR(os.lstat(p("b2")).st_mode))
    R.do("e2 is file", lambda: read_file(p("e2")))
    R.do("exchange with missing", renameat2, p("e2"), p("missing"), RENAME_EXCHANGE)
    R.do("exchange dir into own subdir", renameat2, p("x"), p("x", "y"), RENAME_EXCHANGE)
    R.do("noreplace|exchange", renameat2, p("e2"), p("b2"), RENAME_NOREPLACE | RENAME_EXCHANGE)
    R.do("symlink rename", os.symlink, "e2", p("ln"))
    R.do("rename symlink", os.rename, p("ln"), p("other", "ln2"))
    R.do("readlink after", os.readlink, p("other", "ln2"))
    R.do("hard link", os.link, p("e2"), p("e2link"))
    R.do("rename onto own hard link", os.rename, p("e2"), p("e2link"))
    R.do("both names remain", lambda: [os.path.lexists(p("e2")), os.path.lexists(p("e2link"))])
    R.do("nlink", lambda: os.lstat(p("e2")).st_nlink)
    R.do("listing", lambda: sorted(os.listdir(R.root)))
    R.do("listing other", lambda: sorted(os.listdir(p("other"))))


def test_rename_corner_cases(site):
    parity(site, scn_rename)


def test_rename_exchange_keeps_contents_after_remount(site):
    d = site.path("x")
    os.mkdir(d)
    put(site.path("x", "f"), pattern(1, 3 * SHARD))
    os.mkdir(site.path("x", "dir"))
    put(site.path("x", "dir", "inner"), b"inner")
    renameat2(site.path("x", "f"), site.path("x", "dir"), RENAME_EXCHANGE)
    site.remount()
    assert read_file(site.path("x", "dir")) == pattern(1, 3 * SHARD)
    assert read_file(site.path("x", "f", "inner")) == b"inner"


# ---- links ----------------------------------------------------------------------------------

def scn_links(R):
    p = R.p
    os.mkdir(p("d"))
    put(p("a"), b"first")
    R.do("nlink 1", lambda: os.stat(p("a")).st_nlink)
    R.do("link", os.link, p("a"), p("b"))
    R.do("link across dirs", os.link, p("a"), p("d", "c"))
    R.do("nlink a", lambda: os.stat(p("a")).st_nlink)
    R.do("nlink c", lambda: os.stat(p("d", "c")).st_nlink)
    R.do("same inode", lambda: os.stat(p("a")).st_ino == os.stat(p("d", "c")).st_ino)
    R.do("write via b", put, p("b"), b"second, longer")
    R.do("read via a", lambda: read_file(p("a")))
    R.do("size via c", lambda: os.stat(p("d", "c")).st_size)
    fd = os.open(p("a"), os.O_RDWR)
    os.pwrite(fd, b"X", 0)
    R.do("open fd write seen via c", lambda: read_file(p("d", "c")))
    os.close(fd)
    R.do("unlink a", os.unlink, p("a"))
    R.do("nlink b", lambda: os.stat(p("b")).st_nlink)
    R.do("read b", lambda: read_file(p("b")))
    R.do("link existing name", os.link, p("b"), p("d", "c"))
    R.do("link a dir", os.link, p("d"), p("dlink"))
    R.do("link missing", os.link, p("nope"), p("x"))
    R.do("link to missing dir", os.link, p("b"), p("nodir", "x"))
    R.do("dir nlink", lambda: os.stat(p("d")).st_nlink)
    R.do("mkdir sub", os.mkdir, p("d", "sub"))
    R.do("dir nlink after mkdir", lambda: os.stat(p("d")).st_nlink)
    R.do("unlink b", os.unlink, p("b"))
    R.do("nlink c last", lambda: os.stat(p("d", "c")).st_nlink)
    R.do("read c", lambda: read_file(p("d", "c")))
    R.do("symlink hard link", os.symlink, "d/c", p("s"))
    R.do("link a symlink", os.link, p("s"), p("s2"))
    R.do("s2 is a symlink", lambda: stat.S_ISLNK(os.lstat(p("s2")).st_mode))
    R.do("unlink c", os.unlink, p("d", "c"))
    R.do("dangling through s2", lambda: read_file(p("s2")))
    R.do("unlink dir", os.unlink, p("d"))
    R.do("rmdir file", os.rmdir, p("s"))
    R.do("rmdir non-empty", os.rmdir, p("d"))
    R.do("rmdir dot", os.rmdir, p("d", "sub", "."))
    R.do("listing", lambda: sorted(os.listdir(R.root)))


def test_hard_links(site):
    parity(site, scn_links)


def test_hard_link_survives_remount_and_unlink_of_other(site):
    data = pattern(2, 2 * SHARD + 7)
    put(site.path("a"), data)
    os.link(site.path("a"), site.path("b"))
    site.remount()
    assert os.stat(site.path("b")).st_nlink == 2
    os.unlink(site.path("a"))
    site.remount()
    assert read_file(site.path("b")) == data
    assert os.stat(site.path("b")).st_nlink == 1


# ---- symlinks -------------------------------------------------------------------------------

def scn_symlinks(R):
    p = R.p
    put(p("t"), b"target")
    R.do("dangling", os.symlink, "nowhere", p("dangling"))
    R.do("stat dangling", os.stat, p("dangling"))
    R.do("lstat dangling size", lambda: os.lstat(p("dangling")).st_size)
    R.do("readlink dangling", os.readlink, p("dangling"))
    R.do("loop a", os.symlink, "loop_b", p("loop_a"))
    R.do("loop b", os.symlink, "loop_a", p("loop_b"))
    R.open("open loop", p("loop_a"), os.O_RDONLY)
    R.do("stat loop", os.stat, p("loop_a"))
    R.do("self loop", os.symlink, "self", p("self"))
    R.open("open self", p("self"), os.O_RDONLY)
    R.do("loop as dir", os.stat, p("self", "x"))
    prev = "t"
    for i in range(41):                          # Linux follows at most 40
        os.symlink(prev, p(f"chain{i}"))
        prev = f"chain{i}"
    R.do("chain 40", lambda: read_file(p("chain39")))
    R.do("chain 41", lambda: read_file(p("chain40")))
    long_target = "x" * 4095
    R.do("target 4095", os.symlink, long_target, p("long"))
    R.do("readlink 4095", lambda: os.readlink(p("long")) == long_target)
    R.do("lstat 4095", lambda: os.lstat(p("long")).st_size)
    R.do("target 4096", os.symlink, "x" * 4096, p("toolong"))
    slashy = "/".join(["ab"] * 1365)            # 4094 bytes of path
    R.do("target with components", os.symlink, slashy, p("slashy"))
    R.do("readlink components", lambda: os.readlink(p("slashy")) == slashy)
    R.do("symlink over existing", os.symlink, "t", p("t"))
    R.do("readlink on file", os.readlink, p("t"))
    R.do("relative", os.symlink, "../" + os.path.basename(R.root) + "/t", p("rel"))
    R.do("read relative", lambda: read_file(p("rel")))
    os.mkdir(p("d"))
    R.do("dir link", os.symlink, "d", p("dl"))
    R.do("create through dir link", put, p("dl", "f"), b"via link")
    R.do("listing d", os.listdir, p("d"))
    R.do("rmdir symlink", os.rmdir, p("dl"))
    R.do("unlink symlink to dir", os.unlink, p("dl"))
    R.do("dir still there", os.path.isdir, p("d"))
    R.do("lchown", os.chown, p("dangling"), 1234, 5678, follow_symlinks=False)
    R.do("symlink owner", lambda: [os.lstat(p("dangling")).st_uid, os.lstat(p("dangling")).st_gid])
    R.do("symlink mode", lambda: oct(os.lstat(p("dangling")).st_mode))


def test_symlinks(site):
    parity(site, scn_symlinks)


# ---- long names and paths -------------------------------------------------------------------

def scn_long_names(R):
    p = R.p
    n255, n256 = "n" * 255, "n" * 256
    R.do("create 255", put, p(n255), b"x")
    R.open("create 256", p(n256), os.O_CREAT | os.O_WRONLY)
    R.do("stat 256", os.stat, p(n256))
    R.do("mkdir 255", os.mkdir, p("d" * 255))
    R.do("mkdir 256", os.mkdir, p("d" * 256))
    R.do("symlink 255", os.symlink, "t", p("s" * 255))
    R.do("symlink 256", os.symlink, "t", p("s" * 256))
    R.do("link 256", os.link, p(n255), p("l" * 256))
    R.do("rename to 256", os.rename, p(n255), p("r" * 256))
    R.do("rename to 255", os.rename, p(n255), p("r" * 255))
    R.do("multibyte 255 bytes", put, p("\u00e9" * 127 + "x"), b"utf8")   # 255 bytes
    R.open("multibyte 256 bytes", p("\u00e9" * 128), os.O_CREAT | os.O_WRONLY)
    R.do("setxattr name 255", os.setxattr, p("r" * 255), "user." + "k" * 250, b"v")
    R.do("setxattr name 256", os.setxattr, p("r" * 255), "user." + "k" * 251, b"v")
    R.do("listing", lambda: sorted(len(os.fsencode(n)) for n in os.listdir(R.root)))


def test_long_names(site):
    parity(site, scn_long_names)


def scn_long_paths(R):
    """Paths relative to the scenario root, so both sides see the same lengths;
    the geofs daemon sees /scn_long_paths/<path>, which stays under PATH_MAX."""
    rootfd = os.open(R.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        comp = "c" * 200
        rel = ""
        for _ in range(19):                      # 19 * 201 = 3819
            rel = os.path.join(rel, comp) if rel else comp
            os.mkdir(rel, dir_fd=rootfd)
        budget = 4095 - len("/scn_long_paths/") - len(rel) - 1
        name = "f" * min(budget, 255)
        path = os.path.join(rel, name)
        R.note("path length", len(path) > 3900)
        fd = R.open("create near PATH_MAX", path, os.O_CREAT | os.O_WRONLY, 0o644,
                    keep=True, dir_fd=rootfd)
        if isinstance(fd, int):
            os.write(fd, b"deep")
            os.close(fd)
        fd = os.open(path, os.O_RDONLY, dir_fd=rootfd)
        R.do("read near PATH_MAX", os.read, fd, 10)
        os.close(fd)
        R.do("rename near PATH_MAX", os.rename, path, path[:-1], src_dir_fd=rootfd,
             dst_dir_fd=rootfd)
        R.do("stat", lambda: os.stat(path[:-1], dir_fd=rootfd).st_size)
        R.open("4096-byte path", "c/" * 2047 + "cc", os.O_RDONLY, dir_fd=rootfd)
        R.do("unlink", os.unlink, path[:-1], dir_fd=rootfd)
    finally:
        os.close(rootfd)


def test_long_paths_near_path_max(site):
    parity(site, scn_long_paths)


# ---- timestamps -----------------------------------------------------------------------------

def _times(paths):
    out = []
    for q in paths:
        st = os.lstat(q)
        out.append((st.st_mtime_ns, st.st_ctime_ns))
    return out


def changed(R, label, paths, fn, after=None):
    """Notes, per path, which of (mtime, ctime) fn changed; `after` names the
    same objects after fn where it renames them."""
    before = _times(paths)
    time.sleep(TICK)
    fn()
    after = _times(after or paths)
    R.note(label, [[int(b[0] != a[0]), int(b[1] != a[1])] for b, a in zip(before, after)])


def _write_at(path, data, off):
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, data, off)
    os.close(fd)


def scn_timestamps(R):
    p = R.p
    os.mkdir(p("d"))
    os.mkdir(p("d2"))
    put(p("d", "f"), b"hello")
    f = p("d", "f")
    changed(R, "write", [f], lambda: _write_at(f, b"J", 0))
    changed(R, "read", [f], lambda: read_file(f))
    changed(R, "truncate", [f], lambda: os.truncate(f, 2))
    # Not compared: truncate() to the same size. ext4 updates both times,
    # geofs neither; POSIX asks for the update only "if the file size is
    # changed", so both are conforming.
    changed(R, "O_TRUNC", [f], lambda: os.close(os.open(f, os.O_WRONLY | os.O_TRUNC)))
    changed(R, "chmod", [f], lambda: os.chmod(f, 0o600))
    changed(R, "chown", [f], lambda: os.chown(f, 1234, 1234))
    changed(R, "setxattr", [f], lambda: os.setxattr(f, "user.k", b"v"))
    changed(R, "utime now", [f], lambda: os.utime(f, None))
    changed(R, "create: dir", [p("d")], lambda: put(p("d", "g"), b"g"))
    changed(R, "mkdir: dir", [p("d")], lambda: os.mkdir(p("d", "sub")))
    changed(R, "rename in dir: file, dir", [f, p("d")], lambda: os.rename(f, p("d", "f2")),
            after=[p("d", "f2"), p("d")])
    f = p("d", "f2")
    changed(R, "rename across: file, from, to", [f, p("d"), p("d2")],
            lambda: os.rename(f, p("d2", "f")), after=[p("d2", "f"), p("d"), p("d2")])
    f = p("d2", "f")
    changed(R, "link: file, dir", [f, p("d")], lambda: os.link(f, p("d", "hl")))
    changed(R, "unlink one name: file, dir", [f, p("d")], lambda: os.unlink(p("d", "hl")))
    changed(R, "symlink: dir", [p("d")], lambda: os.symlink("x", p("d", "sl")))
    changed(R, "rmdir: dir", [p("d")], lambda: os.rmdir(p("d", "sub")))
    changed(R, "unlink: dir", [p("d")], lambda: os.unlink(p("d", "g")))
    os.utime(f, ns=(1_000_000_000_123, 2_000_000_000_456))
    R.do("explicit times", lambda: [os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns])
    os.utime(f, ns=(3_000_000_000_000, 2_000_000_000_456))
    R.do("atime only", lambda: [os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns])


def test_timestamps(site):
    parity(site, scn_timestamps)


def scn_timestamps_open_fd(R):
    f = R.p("f")
    put(f, b"hello")
    fd = os.open(f, os.O_RDWR)
    try:
        changed(R, "write, fd open", [f], lambda: os.pwrite(fd, b"abc", 0))
        changed(R, "fstat after write", [f], lambda: os.fstat(fd))
        changed(R, "ftruncate, fd open", [f], lambda: os.ftruncate(fd, 10))
        changed(R, "fsync", [f], lambda: os.fsync(fd))
    finally:
        os.close(fd)


def test_timestamps_while_open(site):
    parity(site, scn_timestamps_open_fd)


def test_timestamps_survive_remount(site):
    p = site.path("f")
    put(p, b"x")
    os.utime(p, ns=(1_111_111_111_111_111_111, 1_222_222_222_222_222_222))
    site.remount()
    st = os.stat(p)
    assert (st.st_atime_ns, st.st_mtime_ns) == (1_111_111_111_111_111_111,
                                                1_222_222_222_222_222_222)


# ---- truncate permissions -------------------------------------------------------------------

def setup_truncate(R):
    put(R.p("roots"), b"0123456789", 0o644)
    put(R.p("shared"), b"0123456789", 0o666)
    put(R.p("mine_ro"), b"0123456789", 0o444)
    os.chown(R.p("mine_ro"), NOBODY, NOBODY)
    os.mkdir(R.p("dir"))


def scn_truncate_user(R):
    """As nobody."""
    R.do("truncate no write perm", os.truncate, R.p("roots"), 0)
    R.do("size kept", lambda: os.stat(R.p("roots")).st_size)
    R.do("truncate shared", os.truncate, R.p("shared"), 3)
    R.do("shared size", lambda: os.stat(R.p("shared")).st_size)
    R.do("truncate own read-only", os.truncate, R.p("mine_ro"), 0)
    fd = os.open(R.p("roots"), os.O_RDONLY)
    R.do("ftruncate O_RDONLY fd", os.ftruncate, fd, 0)
    os.close(fd)
    fd = os.open(R.p("shared"), os.O_RDWR)
    R.do("ftruncate writable fd", os.ftruncate, fd, 1)
    os.close(fd)
    R.do("truncate dir", os.truncate, R.p("dir"), 0)
    R.do("truncate negative", os.truncate, R.p("shared"), -1)
    R.do("truncate missing", os.truncate, R.p("missing"), 0)
    R.do("shared content", lambda: read_file(R.p("shared")))


def test_truncate_permissions(site):
    parity(site, scn_truncate_user, setup=setup_truncate, uid=NOBODY)


def scn_truncate_open_fd_after_chmod(R):
    f = R.p("f")
    put(f, b"abcdef")
    os.chown(f, NOBODY, NOBODY)
    fd = os.open(f, os.O_RDWR)
    os.chmod(f, 0o400)
    R.do("ftruncate after chmod 0400 (root)", os.ftruncate, fd, 2)
    R.do("write after chmod", os.pwrite, fd, b"Z", 5)
    os.close(fd)
    R.do("content", lambda: read_file(f))


def test_ftruncate_checks_at_open(site):
    parity(site, scn_truncate_open_fd_after_chmod)


# ---- O_APPEND with two descriptors ----------------------------------------------------------

def scn_append_two_fds(R):
    f = R.p("log")
    a = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    b = os.open(f, os.O_WRONLY | os.O_APPEND)
    c = os.open(f, os.O_RDWR)                    # not O_APPEND
    try:
        for i in range(20):
            os.write(a if i % 2 else b, f"line {i:02d} from {'a' if i % 2 else 'b'}\n".encode())
        os.pwrite(c, b"HEAD", 0)
        os.write(a, b"tail-a\n")
        R.do("pos a", os.lseek, a, 0, os.SEEK_CUR)
        R.do("pwrite on O_APPEND", os.pwrite, b, b"PW", 0)   # Linux: appends anyway
        R.do("size", lambda: os.fstat(c).st_size)
        R.do("content via c", os.pread, c, 4096, 0)
    finally:
        for fd in (a, b, c):
            os.close(fd)
    R.do("content after close", lambda: read_file(f))


def test_append_two_fds(site):
    parity(site, scn_append_two_fds)


# ---- mmap -----------------------------------------------------------------------------------

def scn_mmap(R):
    f = R.p("m")
    data = pattern(7, 3 * SHARD + 100)
    put(f, data)
    fd = os.open(f, os.O_RDWR)
    try:
        m = mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        R.note("mapped read", m[SHARD - 5:SHARD + 5] == data[SHARD - 5:SHARD + 5])
        m[10:20] = b"S" * 10
        m[2 * SHARD:2 * SHARD + 4] = b"MMAP"
        m.flush()
        R.do("read() sees shared write", os.pread, fd, 10, 10)
        R.do("read() across shard", os.pread, fd, 4, 2 * SHARD)
        m.close()
        p = mmap.mmap(fd, len(data), mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
        p[0:5] = b"PRIV!"
        R.note("private map sees its write", p[0:5] == b"PRIV!")
        R.do("read() does not see private write", os.pread, fd, 5, 0)
        p.close()
        os.pwrite(fd, b"W", 30)
        r = mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ)
        R.note("map sees write()", r[30:31] == b"W")
        r.close()
    finally:
        os.close(fd)
    ref = bytearray(data)
    ref[10:20] = b"S" * 10
    ref[2 * SHARD:2 * SHARD + 4] = b"MMAP"
    ref[30:31] = b"W"
    R.note("whole file after close", read_file(f) == bytes(ref))
    fd = os.open(f, os.O_RDONLY)
    R.do("write map on O_RDONLY fd", mmap.mmap, fd, 10, mmap.MAP_SHARED,
         mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)


def test_mmap(site):
    parity(site, scn_mmap)


def scn_mmap_with_append_fd(R):
    f = R.p("log")
    put(f, b"." * 3 * 4096)
    # a mapping made through an O_RDWR|O_APPEND descriptor: msync writes the
    # page at its offset (O_APPEND applies to write(), not to mappings)
    fd = os.open(f, os.O_RDWR | os.O_APPEND)
    try:
        m = mmap.mmap(fd, 3 * 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[4096:4100] = b"PAGE"
        m.flush()
        m.close()
        R.do("size", lambda: os.fstat(fd).st_size)
        R.do("page written in place", os.pread, fd, 4, 4096)
        R.do("append still appends", os.write, fd, b"END")
        R.do("tail", os.pread, fd, 8, 3 * 4096 - 5)
    finally:
        os.close(fd)
    R.do("whole", lambda: read_file(f))


def test_mmap_write_while_an_append_fd_is_open(site):
    parity(site, scn_mmap_with_append_fd)


def test_mmap_shared_write_durable_after_remount(site):
    f = site.path("m")
    data = bytearray(pattern(8, 2 * SHARD))
    put(f, bytes(data))
    fd = os.open(f, os.O_RDWR)
    m = mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[SHARD - 2:SHARD + 2] = b"EDGE"
    m.flush()
    m.close()
    os.fsync(fd)
    os.close(fd)
    data[SHARD - 2:SHARD + 2] = b"EDGE"
    site.remount()
    assert read_file(f) == bytes(data)


# ---- fallocate ------------------------------------------------------------------------------

def scn_fallocate(R):
    f = R.p("f")
    put(f, b"abc")
    fd = os.open(f, os.O_RDWR)
    try:
        R.do("mode 0 grows", fallocate, fd, 0, 0, 100_000)
        R.do("size", lambda: os.fstat(fd).st_size)
        R.do("zeros", lambda: os.pread(fd, 100_000, 0) == b"abc" + b"\0" * 99_997)
        R.do("mode 0 inside", fallocate, fd, 0, 10, 20)
        R.do("size kept", lambda: os.fstat(fd).st_size)
        R.do("len 0", fallocate, fd, 0, 0, 0)
        R.do("negative offset", fallocate, fd, 0, -1, 10)
        # geofs differs: backends cannot reserve or punch space (objects are
        # whole encrypted shards), so only mode 0 is offered.
        for name, mode in (("KEEP_SIZE", FALLOC_FL_KEEP_SIZE),
                           ("PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)):
            try:
                fallocate(fd, mode, 0, 10)
                R.note(name, "native-ok" if not R.geofs else "OK on geofs")
            except OSError as e:
                R.note(name, "native-ok" if R.geofs and e.errno == errno.EOPNOTSUPP
                       else errno.errorcode[e.errno])
    finally:
        os.close(fd)
    fd = os.open(f, os.O_RDONLY)
    R.do("on O_RDONLY fd", fallocate, fd, 0, 0, 10)
    os.close(fd)
    fd = os.open(f, os.O_RDWR)
    R.do("posix_fallocate", os.posix_fallocate, fd, 0, 200_000)
    os.close(fd)
    R.do("size after posix_fallocate", lambda: os.stat(f).st_size)


def test_fallocate(site):
    parity(site, scn_fallocate)


# ---- statfs ---------------------------------------------------------------------------------

def test_statfs_is_sane(site):
    st = os.statvfs(site.mnt)
    assert st.f_bsize > 0 and st.f_frsize > 0
    assert st.f_blocks > 0
    assert 0 <= st.f_bavail <= st.f_bfree <= st.f_blocks
    assert st.f_files > 0 and 0 <= st.f_ffree <= st.f_files
    assert st.f_namemax == 255
    sub = site.path("d")
    os.mkdir(sub)
    assert os.statvfs(sub).f_blocks == st.f_blocks
    f = site.path("d", "f")
    put(f, b"x")
    fd = os.open(f, os.O_RDONLY)
    try:
        assert os.fstatvfs(fd).f_blocks == st.f_blocks
    finally:
        os.close(fd)
    # totals cover the backends: at least as large as the smallest one
    back = min(os.statvfs(p).f_blocks * os.statvfs(p).f_frsize for p in site.backend_dirs.values())
    assert st.f_blocks * st.f_frsize >= back


# ---- readdir while the directory changes ----------------------------------------------------

def scn_readdir_changing(R):
    d = R.p("d")
    os.mkdir(d)
    stable = [f"stable-{i:04d}-" + "s" * 100 for i in range(300)]
    doomed = [f"doomed-{i:04d}-" + "d" * 100 for i in range(300)]
    for n in stable + doomed:
        os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
    seen = []
    added = 0
    with os.scandir(d) as it:
        for i, e in enumerate(it):
            seen.append(e.name)
            if i % 10 == 0 and doomed:
                os.unlink(os.path.join(d, doomed.pop()))
                os.close(os.open(os.path.join(d, f"new-{added:04d}-" + "n" * 100),
                                 os.O_CREAT | os.O_WRONLY, 0o644))
                added += 1
    st = [n for n in seen if n.startswith("stable-")]
    R.note("every unchanged name exactly once", sorted(st) == sorted(stable))
    R.note("no duplicates at all", len(seen) == len(set(seen)))
    final = set(os.listdir(d))
    R.note("final listing", final == set(stable) | set(doomed) |
           {f"new-{i:04d}-" + "n" * 100 for i in range(added)})
    R.note("rewinddir sees the new state", len(final))


def test_readdir_while_directory_changes(site):
    parity(site, scn_readdir_changing)


def test_readdir_during_concurrent_changes(site):
    """Another process creates and deletes while this one lists repeatedly:
    no error, no duplicates, every stable name in every listing."""
    import subprocess
    d = site.path("busy")
    os.mkdir(d)
    stable = {f"keep{i}" for i in range(100)}
    for n in stable:
        put(os.path.join(d, n), b"")
    code = ("import os, sys\nd = sys.argv[1]\n"
            "for i in range(400):\n"
            "    p = os.path.join(d, f'tmp{i % 37}')\n"
            "    open(p, 'wb').close()\n"
            "    if i % 3: os.unlink(p)\n")
    proc = subprocess.Popen([PYTHON, "-c", code, d], stderr=subprocess.PIPE)
    try:
        for _ in range(50):
            names = os.listdir(d)
            assert len(names) == len(set(names))
            assert stable <= set(names)
            if proc.poll() is not None:
                break
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


# ---- things that are geofs only -------------------------------------------------------------

def test_placement_refusal_is_eacces_where_native_succeeds(site):
    """geofs differs by design: a file whose category may not be stored in any
    available country cannot be created (invariant 1); a native directory has
    no such rule."""
    geo, nat = _pair(site, "refuse")
    for root in (geo, nat):
        os.mkdir(os.path.join(root, "fr"))
    os.setxattr(os.path.join(geo, "fr"), "user.geo.origin", b"FR")
    with pytest.raises(OSError) as e:
        put(os.path.join(geo, "fr", "f"), b"x")
    assert e.value.errno == errno.EACCES
    put(os.path.join(nat, "fr", "f"), b"x")
    assert os.listdir(os.path.join(geo, "fr")) == []


def test_xattr_namespace_differs(site):
    """geofs differs by design: user.geo.* are its interface (readable tags
    on every file) and user.geofs.* are reserved; other user.* behave as on
    ext4."""
    geo, nat = _pair(site, "xa")
    for root in (geo, nat):
        put(os.path.join(root, "f"), b"x")
    g, n = os.path.join(geo, "f"), os.path.join(nat, "f")
    assert os.getxattr(g, "user.geo.category") == b"personal"
    with pytest.raises(OSError) as e:
        os.getxattr(n, "user.geo.category")
    assert e.value.errno == errno.ENODATA
    for p in (g, n):
        os.setxattr(p, "user.plain", b"v")
        assert os.getxattr(p, "user.plain") == b"v"
        with pytest.raises(OSError) as e:
            os.setxattr(p, "user.plain", b"w", os.XATTR_CREATE)
        assert e.value.errno == errno.EEXIST
        with pytest.raises(OSError) as e:
            os.setxattr(p, "user.other", b"w", os.XATTR_REPLACE)
        assert e.value.errno == errno.ENODATA
        os.removexattr(p, "user.plain")
    with pytest.raises(OSError) as e:
        os.setxattr(g, "user.geofs.id", b"0" * 32)
    assert e.value.errno == errno.EPERM


if __name__ == "__main__":          # pragma: no cover - the child entry is _CHILD
    sys.exit("run with pytest")
