"""-o attr_cache=N: the kernel caches attributes, and geofs drops what could
go stale: a file's attributes at every open (close-to-open coherence across
mounts of one meta root) and every other name of a hard-linked file when it
changes through one. Without the option (the default) nothing is cached;
the rest of the suite covers that mode."""
import os

import pytest

from harness import pattern, read_file as read, write_file as write

CACHE = ("attr_cache=30",)	# far longer than any test: staleness would show


@pytest.fixture
def cached(site_factory):
    s = site_factory()
    s.mount(options=CACHE)
    return s


def test_hard_link_names_see_each_others_writes(cached):
    a, b = cached.path("a"), cached.path("b")
    write(a, b"first")
    os.link(a, b)
    assert os.stat(a).st_size == 5          # a's attributes are now cached
    write(b, b"a much longer second version")
    assert os.stat(a).st_size == len(b"a much longer second version")
    assert read(a) == b"a much longer second version"


def test_link_counts_follow_link_and_unlink(cached):
    a, b, c = cached.path("a"), cached.path("b"), cached.path("c")
    write(a, b"x")
    os.link(a, b)
    os.link(a, c)
    assert [os.stat(p).st_nlink for p in (a, b, c)] == [3, 3, 3]
    os.unlink(b)
    assert [os.stat(p).st_nlink for p in (a, c)] == [2, 2]
    os.rename(c, cached.path("d"))
    os.unlink(cached.path("d"))
    assert os.stat(a).st_nlink == 1


def test_open_on_another_mount_sees_the_closed_file(site_factory):
    one = site_factory()
    one.mount(options=CACHE)
    two = site_factory(share=one, name="tokyo-app-02")
    two.mount(options=CACHE)
    write(one.path("f"), pattern(1, 1000))
    assert read(two.path("f")) == pattern(1, 1000)   # two caches size 1000
    write(one.path("f"), pattern(2, 300000))         # grows on mount one
    assert read(two.path("f")) == pattern(2, 300000)
    write(two.path("f"), pattern(3, 10))             # shrinks on mount two
    assert read(one.path("f")) == pattern(3, 10)


def test_bad_attr_cache_value_refuses_to_mount(site_factory):
    s = site_factory()
    s.write_config()
    s.keys_init()
    rc, out = s.try_mount(options=("attr_cache=soon",))
    assert rc != 0 and "attr_cache" in out
