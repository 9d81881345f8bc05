"""Fixtures for the mount tests; the API is documented in harness.py."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
# The Ceph test cluster (started lazily, once per run; see cephtest.py).
from cephtest import ceph_cluster, cephfs_pair, shared_meta  # noqa: E402,F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session", autouse=True)
def _preconditions():
    if os.geteuid() != 0:
        pytest.exit("the mount tests need root (FUSE allow_other, setpriv)", returncode=2)
    if not os.path.exists("/dev/fuse"):
        pytest.exit("/dev/fuse is missing", returncode=2)
    for b in (harness.GEOFS, harness.GEOCTL):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} not built: run make (or set GEOFS_BUILD)", returncode=2)


@pytest.fixture
def site_factory():
    """Creates Sites; at teardown unmounts and kills every one of them."""
    factory = harness.SiteFactory()
    try:
        yield factory
    finally:
        problems = factory.cleanup()
    if problems:
        pytest.fail("teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def site(site_factory):
    """One mounted site with the default config."""
    return site_factory.mounted()
