"""scripts/layers.sh (make layers-check) on a small source tree of its own,
compiled here: it finds a cycle from the objects' symbols, prints it along
real arrows, fails on one the allowed list lacks and on a listed one that is
gone, leaves out geoctl's calls into the core, and prints the floors. No
mount is needed."""

import os
import subprocess

import pytest

from harness import REPO, run

LAYERS = os.path.join(REPO, "scripts", "layers.sh")

# a <-> b and a <-> d: one strongly connected component that no single
# loop covers; c only calls into it. geoctl's x calls the core's a (left
# out: the core is below geoctl) and its own y.
SOURCES = {
    "fs/a.c": "int b(void); int d(void); int a(void) { return b() + d(); }\n",
    "fs/b.c": "int a(void); int b(void) { return a() + 1; }\n",
    "fs/c.c": "int a(void); int c(void) { return a(); }\n",
    "fs/d.c": "int a(void); int d(void) { return a() - 1; }\n",
    "tools/geoctl/x.c": "int a(void); int y(void); int x(void) { return a() + y(); }\n",
    "tools/geoctl/y.c": "int y(void) { return 7; }\n",
}


@pytest.fixture
def tree(tmp_path):
    for rel, text in SOURCES.items():
        src = tmp_path / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(text)
        obj = tmp_path / "build" / rel.replace(".c", ".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-c", "-o", str(obj), str(src)], check=True)
    return tmp_path


def layers(tree, allow_lines, *args):
    allow = tree / "allow"
    allow.write_text("# test\n" + "".join(line + "\n" for line in allow_lines))
    return run([LAYERS, "--root", str(tree), "--allow", str(allow), *args])


def test_a_cycle_not_allowed_fails_with_its_arrows(tree):
    cp = layers(tree, [])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "cycle: a.c -> b.c -> a.c -> d.c -> a.c   (fs: NOT allowed)" in cp.stdout
    assert "    a.c -> b.c: b\n" in cp.stdout and "    d.c -> a.c: a\n" in cp.stdout
    assert "layers: fs: 4 modules, 5 arrows, 1 cycle\n" in cp.stdout
    # x -> a goes into the core and does not count
    assert "layers: geoctl: 2 modules, 1 arrow, 0 cycles\n" in cp.stdout, cp.stdout
    assert "x.c -> a" not in cp.stdout


def test_an_allowed_cycle_passes_and_a_gone_one_fails(tree):
    cp = layers(tree, ["fs: d.c b.c a.c"])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "(fs: allowed by" in cp.stdout
    cp = layers(tree, ["fs: d.c b.c a.c", "fs: a.c c.c"])
    assert cp.returncode == 1
    assert "fs: a.c c.c is no longer a cycle: remove the line" in cp.stderr, cp.stderr
    # a listed cycle that shrank is a new cycle and a gone one
    cp = layers(tree, ["fs: a.c b.c"])
    assert cp.returncode == 1 and "NOT allowed" in cp.stdout and "no longer" in cp.stderr
    cp = layers(tree, ["geoctl: x.c y.c", "fs: a.c b.c d.c"])
    assert cp.returncode == 1 and "geoctl: x.c y.c is no longer a cycle" in cp.stderr
    cp = layers(tree, ["fs a.c b.c d.c"])
    assert cp.returncode == 1 and 'expected "GROUP: a.c b.c ..."' in cp.stderr


def test_floors(tree):
    cp = layers(tree, [], "--floors")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == [
        "fs (fs/):",
        "  floor 0: {a.c b.c d.c}",
        "  floor 1: c.c",
        "geoctl (tools/geoctl/, on the core):",
        "  floor 0: y.c",
        "  floor 1: x.c",
    ]


def test_objects_follow_the_sources(tree):
    # a stale object of a deleted source is no module ...
    (tree / "fs" / "c.c").unlink()
    cp = layers(tree, ["fs: a.c b.c d.c"])
    assert cp.returncode == 0 and "fs: 3 modules" in cp.stdout, cp.stdout + cp.stderr
    # ... and a source without its object is an error, not a smaller graph
    (tree / "build" / "fs" / "b.o").unlink()
    cp = layers(tree, ["fs: a.c b.c d.c"])
    assert cp.returncode == 2 and "build/fs/b.o: missing (run make all first)" in cp.stderr
