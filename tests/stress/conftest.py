"""The long variants share the mount tests' harness and fixtures."""

import importlib.util
import os
import sys

MOUNT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mount")
sys.path.insert(0, MOUNT)

_spec = importlib.util.spec_from_file_location("mount_conftest", os.path.join(MOUNT, "conftest.py"))
_mount = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mount)

pytest_configure = _mount.pytest_configure
_preconditions = _mount._preconditions
site_factory = _mount.site_factory
site = _mount.site
