"""A bad config or a missing keyring: the mount does not start, and the
message names the file, the line and what was expected."""

import glob
import os
import re
import stat

import pytest

from harness import REPO

CASES = {
    # name: (section header, new line, where: None = right after the header,
    #        "=KEY" replaces KEY's line, "+KEY" goes after KEY's line)
    "unknown key": ("[category personal]", "colour = blue", None),
    "bad country": ("[backend seoul-1]", "country = XX", "=country"),
    "lower-case country": ("[site]", "country = jp", "=country"),
    "shard too small": ("[data]", "shard_size = 32K", "=shard_size"),
    "shard too large": ("[data]", "shard_size = 32M", "=shard_size"),
    "bad size": ("[data]", "shard_size = lots", "=shard_size"),
    "replicas out of range": ("[category medical]", "replicas = 9", "=replicas"),
    "replicas unsatisfiable": ("[category media]", "replicas = 4", None),
    "bad list item": ("[category public]", "store_in = *, Korea", "=store_in"),
    "duplicate key": ("[backend tokyo-1]", "country = JP", "+country"),
    "bad compress": ("[category media]", "compress = zstd", "=compress"),
    "undeclared default": ("[defaults]", "category = secret", "=category"),
    "key outside section": (None, "stray = 1", None),
    "unknown section": (None, "[bogus]", None),
}


def edit(text, header, line, where):
    """Returns (new text, 1-based line number of `line`)."""
    lines = text.split("\n")
    if header is None:
        lines.insert(0, line)
        return "\n".join(lines), 1
    i = lines.index(header)
    if where is None:
        lines.insert(i + 1, line)
        return "\n".join(lines), i + 2
    j = i + 1
    while not lines[j].startswith(where[1:] + " ="):
        j += 1
    if where[0] == "=":
        lines[j] = line
        return "\n".join(lines), j + 1
    lines.insert(j + 1, line)
    return "\n".join(lines), j + 2


def names_line(output, cfg, line):
    return re.search(rf"{re.escape(os.path.basename(cfg))}:{line}:", output) is not None


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_error_names_its_line(site_factory, case):
    site = site_factory()
    site.keys_init()
    header, line, where = CASES[case]
    text, n = edit(site.render_config(), header, line, where)
    site.write_config(text)
    rc, out = site.try_mount()
    assert rc != 0
    assert not site.is_mounted()
    # an unsatisfiable replicas count may be reported at the section header
    ok = names_line(out, site.config, n) or (
        case == "replicas unsatisfiable" and
        names_line(out, site.config, text.split("\n").index(header) + 1))
    assert ok, f"expected {site.config}:{n}: in:\n{out}"
    cp = site.geoctl("check", "-c", site.config)
    assert cp.returncode == 2
    assert f":{n}:" in cp.stdout + cp.stderr or case == "replicas unsatisfiable"


def test_every_error_is_reported(site_factory):
    site = site_factory()
    site.keys_init()
    text, n1 = edit(site.render_config(), "[backend seoul-1]", "country = XX", "=country")
    text, n2 = edit(text, "[category public]", "bogus = 1", None)
    site.write_config(text)
    rc, out = site.try_mount()
    assert rc != 0
    assert names_line(out, site.config, n1) and names_line(out, site.config, n2), out


def test_missing_required_key(site_factory):
    site = site_factory()
    site.keys_init()
    lines = site.render_config().split("\n")
    i = lines.index("[backend osaka-1]")
    del lines[i + 2]                                  # its country
    assert lines[i + 1].startswith("path")
    site.write_config("\n".join(lines))
    rc, out = site.try_mount()
    assert rc != 0
    assert "country" in out and f":{i + 1}:" in out, out


def test_no_keyring_refuses_and_names_the_command(site_factory):
    site = site_factory(init_keys=False)
    rc, out = site.try_mount()
    assert rc != 0
    assert not site.is_mounted()
    assert "geoctl keys init -c" in out, out
    assert not os.path.exists(site.keyring)


def test_keys_init(site_factory):
    site = site_factory()
    site.keys_init()
    st = os.stat(site.keyring)
    assert stat.S_IMODE(st.st_mode) == 0o600
    before = open(site.keyring, "rb").read()
    cp = site.geoctl("keys", "init", "-c", site.config)
    assert cp.returncode != 0                          # refuses to overwrite
    assert open(site.keyring, "rb").read() == before


def test_missing_config_file(site_factory):
    site = site_factory()
    os.unlink(site.config)
    rc, out = site.try_mount()
    assert rc != 0 and "geofs.conf" in out


def test_relative_paths_resolve_against_config_dir(site_factory):
    site = site_factory()
    text = site.render_config().replace(site.root + "/", "")
    assert site.root not in text
    site.write_config(text)
    site.mount()                                       # the daemon runs with cwd /
    with open(site.path("f"), "wb") as f:
        f.write(b"relative")
    assert sum(site.object_counts().values()) == 1
    assert os.path.exists(os.path.join(site.root, "meta"))


@pytest.mark.parametrize("cfg", sorted(glob.glob(os.path.join(REPO, "mountcfg", "*.conf"))),
                         ids=os.path.basename)
def test_shipped_configs_pass_check(site_factory, cfg):
    """Each shipped config, moved into a temp tree, is valid, and after
    `geoctl keys init` check finds everything the mount needs."""
    site = site_factory()
    os.makedirs(os.path.join(site.root, "mountcfg"))
    copy = os.path.join(site.root, "mountcfg", os.path.basename(cfg))
    with open(cfg) as f:
        text = re.sub(r"^(\w+\s*=\s*)/", lambda m: m.group(1) + site.root + "/", f.read(),
                      flags=re.M)
    with open(copy, "w") as f:
        f.write(text)
    cp = site.geoctl("check", "-c", copy)
    assert cp.returncode == 2 and "geoctl keys init -c" in cp.stderr, cp.stdout + cp.stderr
    site.geoctl("keys", "init", "-c", copy, check=True)
    cp = site.geoctl("check", "-c", copy)
    assert cp.returncode == 0, cp.stdout + cp.stderr
